"""Feedback inside the office's own workbook: a 校验结果 sheet first, and on every cell
with a finding a red (error) or yellow (warning) fill and a comment.

The input file is never modified: a copy named ``原名.校验结果.xlsx`` is written.
The copy is the office's package edited in place (:class:`pipeline.xlsxpatch.Package`): the
sheet, formats and comments are added, every other part stays as the office's program wrote it
(values, protection, layout, merged ranges). Its formula cells carry correct stored results (put
in from the same expression trees the template uses). Text from the office is always written as
text, never as a formula.
"""

from __future__ import annotations

import io
import re
from math import ceil
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .check import CELL_TEXT_LIMIT, FileResult
from .findings import STATUS_LABELS, Finding, clean_text, severity_label
from .fsutil import SUFFIX, annotated_name, atomic_path  # noqa: F401 - annotated_name: kept public here
from .rules import live_checks, summary_check
from .spec import Spec, available_formats, get_spec, split_cell
from .textutil import display_width
from .xlsxpatch import Package, PatchError, cell_style, fill_cached_values, set_cell_styles
from .xlexpr import col_index, col_letters, general, is_number
from .xlsxread import Workbook, WorkbookError, read_workbook

FILL_RGB = {"error": "FFC7CE", "warning": "FFEB9C"}
INPUT_RGB = "FFF2CC"  # the template's input cells (template._STYLES["input"])
AUTHOR = "xxgk"  # the author of our comments
LINK_RGB = "FF0563C1"
COLUMNS = (("序号", 6), ("级别", 6), ("位置", 22), ("说明", 70), ("应为", 12), ("实为", 12), ("代码", 26))


def _side(label: str | None, value: Any) -> Any:
    """One side of an equation as the 应为/实为 columns show it: "第三项+第四项 2"."""
    if value is None:
        return None
    text = general(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    return f"{label} {text}" if label else text



def _spec_of(result: FileResult) -> Spec:
    sub = result.submission
    return sub.spec if sub is not None and sub.spec else get_spec(available_formats()[-1])


def _cached_results(result: FileResult) -> dict[str, dict[str, Any]]:
    """The stored result of every formula xxgk wrote, for the workbook as the office filled it."""
    sub = result.submission
    spec: Spec | None = sub.spec if sub is not None else None
    if spec is None or sub.workbook is None or sub.identified_by == "labels":
        return {}
    # Live checks and the summary are the current template's: an older version's are left to recalculation.
    current = sub.meta.get("template_version") in (None, spec.template_version)
    cells: dict[tuple[str, str], Any] = {}
    for sheet in sub.workbook.sheets.values():
        for ref, cell in sheet.cells.items():
            if cell.formula is None:
                cells[(sheet.name, ref)] = cell.value
    out: dict[str, dict[str, Any]] = {}
    moved = any(sub.locations.get(f.id, (f.sheet, f.cell)) != (f.sheet, f.cell) for f in spec.figures)
    for f in spec.computed():
        loc = sub.locations.get(f.id)
        if loc and sub.formulas.get(f.id):
            cells[loc] = result.values[f.id]
            out.setdefault(loc[0], {})[loc[1]] = result.values[f.id]
    if moved or not current:
        return out  # the live checks' cells are not where the spec puts them: leave them to recalculation
    get = lambda s, c: cells.get((s, c))  # noqa: E731
    for inst, expr in live_checks(spec, result.level):
        p = inst.placement
        value = expr.eval(get)
        cells[(p.sheet, p.cell)] = value
        out.setdefault(p.sheet, {})[p.cell] = value
    out.setdefault(spec.office.sheet, {})[spec.office.summary.cell] = summary_check(spec, result.level).eval(get)
    return out


def _cell(ref: str, value: Any, style: int) -> str:
    """One cell of a sheet we write: numbers as numbers, everything else as text (never a formula)."""
    if value is None:
        return f'<c r="{ref}" s="{style}"/>'
    if is_number(value) and not isinstance(value, bool):
        return f'<c r="{ref}" s="{style}"><v>{value!r}</v></c>'
    text = escape(clean_text(str(value), CELL_TEXT_LIMIT))
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _row(number: int, cells: list[str], height: float | None = None) -> str:
    ht = f' ht="{height:g}" customHeight="1"' if height else ""
    return f'<row r="{number}"{ht}>{"".join(cells)}</row>'


def _sheet_xml(rows: list[str], *, cols: str = "", merges: list[str] = (), links: list[tuple[str, str]] = (),
               view: str = "", page: str = "", fit: bool = False) -> bytes:
    """A worksheet part in the schema's element order."""
    xml = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet '
           'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">']
    if fit:
        xml.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
    xml.append(f'<sheetViews><sheetView workbookViewId="0">{view}</sheetView></sheetViews>'
               '<sheetFormatPr defaultRowHeight="15"/>' + cols + "<sheetData>" + "".join(rows) + "</sheetData>")
    if merges:
        xml.append(f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges)
                   + "</mergeCells>")
    if links:
        xml.append("<hyperlinks>" + "".join(f'<hyperlink ref="{ref}" location="{escape(to, {chr(34): "&quot;"})}"/>'
                                            for ref, to in links) + "</hyperlinks>")
    xml.append('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>' + page)
    xml.append("</worksheet>")
    return "".join(xml).encode("utf-8")


def _feedback_sheet(pkg: Package, result: FileResult, dropped: list[str] = ()) -> bytes:
    """The 校验结果 sheet: what was found, where (a link to the cell), what was expected and what was there."""
    styles = pkg.styles
    title = styles.format(bold=True, size=14, wrap=True, vertical="center")
    wrapped = styles.format(wrap=True, vertical="center")
    header = styles.format(bold=True)
    top, top_wrap = styles.format(vertical="top"), styles.format(vertical="top", wrap=True)
    link = styles.format(vertical="top", color=LINK_RGB, underline=True)
    severity = {k: styles.format(vertical="top", fill="FF" + v) for k, v in FILL_RGB.items()}
    sheets = {s["name"] for s in pkg.sheets()}

    office = result.office or "（未识别单位）"
    errors = sum(1 for f in result.findings if f.severity == "error")
    warnings = len(result.findings) - errors
    intro = (f"文件：{result.path.name}；错误{errors}项，提醒{warnings}项。错误必须修改，提醒请核实"
             "（确实无误的，在“文字部分”表的“情况说明”中写明原因）。"
             "点击“位置”可跳到对应单元格；改好后保存并发回，批注、颜色和本表无须删除。"
             + (f"本反馈只含国家格式的各表，汇总表的{'、'.join(f'“{n}”' for n in dropped)}未附，以报送的原件为准。"
                if dropped else ""))
    last = col_letters(len(COLUMNS))
    rows = [_row(1, [_cell("A1", f"校验结果：{office} {result.year or ''}年度 —— {STATUS_LABELS[result.status]}", title)]),
            _row(2, [_cell("A2", intro, wrapped)], 48 if dropped else 32)]
    if result.explanation:
        text = f"单位情况说明：{result.explanation}"
        rows.append(_row(3, [_cell("A3", text, wrapped)], 15 * max(1, ceil(display_width(text) / 150))))
    else:
        rows.append(_row(3, [_cell("A3", None, wrapped)]))
    rows.append(_row(4, [_cell(f"{col_letters(i)}4", name, header) for i, (name, _) in enumerate(COLUMNS, start=1)]))
    links = []
    for i, f in enumerate(result.findings, start=1):
        r = 4 + i
        values = [i, severity_label(f.severity, result.explained(f)), f.where, f.message,
                  _side(f.expected_label, f.expected), _side(f.actual_label, f.actual), f.code]
        linked = bool(f.sheet and f.cell and f.sheet in sheets)
        cells = []
        for col, value in enumerate(values, start=1):
            style = (severity.get(f.severity, severity["warning"]) if col == 2 else link if col == 3 and linked
                     else top_wrap if col == 4 else top)
            cells.append(_cell(f"{col_letters(col)}{r}", value, style))
        if linked:
            links.append((f"C{r}", "'" + f.sheet.replace("'", "''") + "'!" + f.cell))
        rows.append(_row(r, cells, 15 * max(1, ceil(display_width(f.message) / 68))))
    cols = "<cols>" + "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                              for i, (_, w) in enumerate(COLUMNS, start=1)) + "</cols>"
    view = ('<pane ySplit="4" topLeftCell="A5" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A5" sqref="A5"/>')
    page = '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
    return _sheet_xml(rows, cols=cols, merges=[f"A{r}:{last}{r}" for r in (1, 2, 3)], links=links, view=view,
                      page=page, fit=True)


class _Cells:
    """The formats of the cells the annotator touches, sheet by sheet, written back at the end."""

    def __init__(self, pkg: Package, book: Workbook | None):
        self.pkg, self.book = pkg, book
        self.parts = {s["name"]: s["part"] for s in pkg.sheets()}
        self.changed: dict[str, dict[str, int]] = {}

    def anchor(self, sheet: str, ref: str) -> str:
        """The cell that holds a merged range's format and comment (a covered cell cannot)."""
        merged = self.book.sheets[sheet].merged if self.book is not None and sheet in self.book.sheets else []
        col, row = split_cell(ref)
        c = col_index(col)
        for rng in merged:
            first, last = rng.split(":")
            (c1, r1), (c2, r2) = ((col_index(a), b) for a, b in (split_cell(first), split_cell(last)))
            if c1 <= c <= c2 and r1 <= row <= r2:
                return first
        return ref

    def style(self, sheet: str, ref: str) -> int:
        part = self.parts[sheet]
        changed = self.changed.get(part, {})
        return changed[ref] if ref in changed else cell_style(self.pkg.parts[part], ref)

    def set(self, sheet: str, ref: str, style: int) -> None:
        self.changed.setdefault(self.parts[sheet], {})[ref] = style

    def write(self) -> None:
        for part, styles in self.changed.items():
            self.pkg.parts[part] = set_cell_styles(self.pkg.parts[part], styles)


def _clear_previous_round(pkg: Package, cells: _Cells, spec: Spec, data: bytes) -> dict[str, set[str]]:
    """A feedback copy sent back (corrected or not) starts round two clean: the first round's fills,
    findings sheet and marks go (comments: see :func:`_comments`), so that this round shows only this round."""
    names = {s["name"] for s in pkg.sheets()}
    styles = pkg.styles
    marked: dict[str, set[str]] = {}
    if spec.marks_sheet in names:
        marks = read_workbook(io.BytesIO(data), only={spec.marks_sheet}).sheets[spec.marks_sheet]
        rows = sorted({split_cell(ref)[1] for ref in marks.cells} - {1})
        for r in rows:
            sheet, ref, kind, color = (marks.value(f"{c}{r}") for c in "ABCD")
            if isinstance(sheet, str) and sheet in cells.parts and isinstance(ref, str) and re.fullmatch(r"[A-Z]{1,3}\d{1,7}", ref):
                anchor = cells.anchor(sheet, ref)
                cells.set(sheet, anchor, styles.with_fill(cells.style(sheet, anchor), color or None, kind or None))
                marked.setdefault(sheet, set()).add(anchor)
        pkg.remove_sheet(spec.marks_sheet)
    # Marks sheet deleted by hand: our colours on inputs go back to the template's.
    ours = styles.with_colors(FILL_RGB.values())
    if ours:
        for f in spec.inputs():
            if f.sheet in cells.parts and (xf := cells.style(f.sheet, f.cell)) in ours:
                cells.set(f.sheet, f.cell, styles.with_fill(xf, "FF" + INPUT_RGB))
    if spec.feedback_sheet in names:
        pkg.remove_sheet(spec.feedback_sheet)
    return marked


def _mark_cells(pkg: Package, cells: _Cells, result: FileResult, spec: Spec) -> dict[str, list[tuple[str, str]]]:
    """Colour every cell with a finding, remember its fill in the marks sheet; the comments to add, by sheet."""
    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for f in result.findings:
        if f.sheet and f.cell and f.sheet in cells.parts:
            by_cell.setdefault((f.sheet, cells.anchor(f.sheet, f.cell)), []).append(f)
    styles = pkg.styles
    marks, comments = [], {}
    for (sheet, ref), items in by_cell.items():
        xf = cells.style(sheet, ref)
        kind, color = styles.fill_of(xf)
        marks.append((sheet, ref, kind, color if kind else None))  # what it looked like: the next round puts it back
        worst = "error" if any(f.severity == "error" for f in items) else "warning"
        cells.set(sheet, ref, styles.with_fill(xf, "FF" + FILL_RGB[worst]))
        text = "\n".join(f"【{severity_label(f.severity, result.explained(f))}】{f.message}" for f in items)
        comments.setdefault(sheet, []).append((ref, clean_text(text, 30000)))
    if marks:
        rows = [_row(1, [_cell(f"{c}1", v, 0) for c, v in zip("ABCD", ("sheet", "cell", "fill", "color"))])]
        rows += [_row(r, [_cell(f"{c}{r}", v, 0) for c, v in zip("ABCD", m) if v is not None])
                 for r, m in enumerate(marks, start=2)]
        pkg.add_sheet(spec.marks_sheet, _sheet_xml(rows), state="veryHidden")
    return comments


def _ours(author: str, text: str, ref: str, marked: set[str]) -> bool:
    """A comment of an earlier round: by our author, or, once Calc has saved the copy (it drops comment
    authors), on a cell the marks sheet lists or opening with one of our severity labels."""
    return author == AUTHOR or ref in marked or text.startswith(_LABELS)


_LABELS = tuple(f"【{severity_label(s, e)}】" for s in ("error", "warning", "info") for e in (False, True))


def _comments(pkg: Package, added: dict[str, list[tuple[str, str]]], marked: dict[str, set[str]]) -> None:
    """Each sheet's comments: the office's own kept, the previous round's (ours) dropped, this round's added."""
    for sheet in pkg.sheets():
        part, new = sheet["part"], added.get(sheet["name"], [])
        if part not in pkg.parts:
            continue
        old = pkg.comments(part)
        if not old and not new:
            continue
        refs = {ref for ref, _ in new}
        done = marked.get(sheet["name"], set())
        kept = [(ref, author, raw) for ref, author, text, raw in old
                if not _ours(author, text, ref, done) and ref not in refs]
        if new or len(kept) != len(old):
            pkg.set_comments(part, kept + [(ref, AUTHOR, text) for ref, text in new])


def _package(result: FileResult, spec: Spec) -> bytes | None:
    """The office's package with this round's feedback; None when there is no workbook to annotate."""
    sub = result.submission
    if sub is None or sub.workbook is None or sub.data is None:
        return None
    pkg = Package(sub.data)
    # A rollup's own sheets (a row per office, 10,000 at province scale): the feedback is about its national tables.
    rollup_sheets = set(spec.rollup.sheets.values())
    dropped = [s["name"] for s in pkg.sheets() if s["name"] in rollup_sheets]
    for name in dropped:
        pkg.remove_sheet(name)
    cells = _Cells(pkg, sub.workbook)
    marked = _clear_previous_round(pkg, cells, spec, sub.data)
    cells.parts = {s["name"]: s["part"] for s in pkg.sheets()}
    comments = _mark_cells(pkg, cells, result, spec)
    cells.write()
    _comments(pkg, comments, marked)
    pkg.add_sheet(spec.feedback_sheet, _feedback_sheet(pkg, result, dropped), index=0)
    pkg.show_first()
    parts = {s["name"]: s["part"] for s in pkg.sheets()}
    fill = fill_cached_values(_cached_results(result), parts)
    for part in parts.values():
        if part in pkg.parts:
            pkg.parts[part] = fill(part, pkg.parts[part])
    return pkg.to_bytes()


def _findings_only(result: FileResult, spec: Spec) -> bytes:
    """A workbook with only the 校验结果 sheet: for a file that is no workbook, or one we cannot edit."""
    pkg = Package()
    pkg.add_sheet(spec.feedback_sheet, _feedback_sheet(pkg, result), index=0)
    pkg.show_first()
    return pkg.to_bytes()


def annotate(result: FileResult, outdir: str | Path, name: str | None = None) -> Path:
    """Write the annotated copy of a checked file into ``outdir`` and return its path.

    The copy is made from the bytes that were checked (``result.submission.data``): the file may have moved
    or changed since, and a workspace reads from its archive under the office's original file name. An
    unreadable file, or a package laid out in a way the editor does not handle, gets a workbook with only
    the 校验结果 sheet.

    :param name: the copy's file name (default ``原名.校验结果.xlsx``).
    """
    outdir = Path(outdir)
    target = outdir / (name or annotated_name(result.path))
    spec = _spec_of(result)
    try:
        data = _package(result, spec)
    except (PatchError, WorkbookError, ValueError, KeyError, IndexError, AttributeError, UnicodeDecodeError):
        data = None  # an odd package: the findings still reach the office
    if data is None:
        data = _findings_only(result, spec)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target
