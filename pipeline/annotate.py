"""Feedback inside the office's own workbook: a 校验结果 sheet first, and on every cell
with a finding a red (error) or yellow (warning) fill and a comment.

The input file is never modified: a copy named ``原名.校验结果.xlsx`` is written.
The office's values, protection and layout are otherwise untouched, and the
copy's formula cells carry correct stored results (openpyxl drops them on save;
they are put back from the same expression trees the template uses). Text from
the office is always written as text, never as a formula.
"""

from __future__ import annotations

import io
from math import ceil
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill

from .check import CELL_TEXT_LIMIT, STATUS_LABELS, FileResult, severity_label
from .findings import Finding, clean_text
from .fsutil import SUFFIX, annotated_name, atomic_path  # noqa: F401 - annotated_name: kept public here
from .rules import live_check, live_instances, summary_check
from .spec import Spec, available_formats, get_spec, split_cell
from .textutil import display_width
from .xlsxpatch import fill_cached_values, restore_merges, rewrite_parts, strip_merges
from .xlexpr import col_index, general
from .xlsxread import sheet_parts

FILL_RGB = {"error": "FFC7CE", "warning": "FFEB9C"}
_FILL = {k: PatternFill("solid", fgColor=v) for k, v in FILL_RGB.items()}
INPUT_RGB = "FFF2CC"  # the template's input cells (template._STYLES["input"])
AUTHOR = "xxgk"  # the author of our comments


def _side(label: str | None, value: Any) -> Any:
    """One side of an equation as the 应为/实为 columns show it: "第三项+第四项 2"."""
    if value is None:
        return None
    text = general(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    return f"{label} {text}" if label else text



def _text(cell, value: Any) -> None:
    """Write a value as plain text, even if it starts with = + - @, without characters XML cannot hold."""
    cell.value = None if value is None else clean_text(str(value), CELL_TEXT_LIMIT)
    if value is not None:
        cell.data_type = "s"


def _spec_of(result: FileResult) -> Spec:
    sub = result.submission
    return sub.spec if sub is not None and sub.spec else get_spec(available_formats()[-1])


def _write_feedback_sheet(wb, result: FileResult, dropped: list[str] = ()) -> None:
    name = _spec_of(result).feedback_sheet
    if name in wb.sheetnames:
        del wb[name]
    ws = wb.create_sheet(name, 0)
    office = result.office or "（未识别单位）"
    ws["A1"].font = Font(bold=True, size=14)
    _text(ws["A1"], f"校验结果：{office} {result.year or ''}年度 —— {STATUS_LABELS[result.status]}")
    errors = sum(1 for f in result.findings if f.severity == "error")
    warnings = len(result.findings) - errors
    _text(ws["A2"], f"文件：{result.path.name}；错误{errors}项，提醒{warnings}项。错误必须修改，提醒请核实"
                    "（确实无误的，在“文字部分”表的“情况说明”中写明原因）。"
                    "点击“位置”可跳到对应单元格；改好后保存并发回，批注、颜色和本表无须删除。"
                    + (f"本反馈只含国家格式的各表，汇总表的{'、'.join(f'“{n}”' for n in dropped)}未附，以报送的原件为准。"
                       if dropped else ""))
    if result.explanation:
        _text(ws["A3"], f"单位情况说明：{result.explanation}")
    headers = ["序号", "级别", "位置", "说明", "应为", "实为", "代码"]
    for col, text in enumerate(headers, start=1):
        cell = ws.cell(row=4, column=col)
        _text(cell, text)
        cell.font = Font(bold=True)
    for i, f in enumerate(result.findings, start=1):
        row = 4 + i
        values = [i, severity_label(f.severity, result.explained(f)), f.where, f.message,
                  _side(f.expected_label, f.expected), _side(f.actual_label, f.actual), f.code]
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=col)
            if col == 1:
                cell.value = value
            else:
                _text(cell, value)
            cell.alignment = Alignment(wrap_text=col == 4, vertical="top")
        if f.sheet and f.cell and f.sheet in wb.sheetnames:
            link = ws.cell(row=row, column=3)
            link.hyperlink = "#'" + f.sheet.replace("'", "''") + "'!" + f.cell
            link.font = Font(color="0563C1", underline="single")
        ws.cell(row=row, column=2).fill = _FILL.get(f.severity, _FILL["warning"])
        ws.row_dimensions[row].height = 15 * max(1, ceil(display_width(f.message) / 68))
    for col, width in zip("ABCDEFG", (6, 6, 22, 70, 12, 12, 26)):
        ws.column_dimensions[col].width = width
    for row in (1, 2, 3):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(headers))
        ws.cell(row=row, column=1).alignment = Alignment(wrap_text=True, vertical="center")
    ws.row_dimensions[2].height = 48 if dropped else 32
    if result.explanation:
        ws.row_dimensions[3].height = 15 * max(1, ceil(display_width(ws["A3"].value) / 150))
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.freeze_panes = "A5"
    for other in wb.worksheets:
        other.sheet_view.tabSelected = False
    ws.sheet_view.tabSelected = True
    wb.active = 0


def _anchor(ws, ref: str, merges: dict[str, list[str]]):
    """The cell that holds a merged range's value and comment (a covered cell cannot)."""
    col, row = split_cell(ref)
    c, r = col_index(col), row
    for rng in merges.get(ws.title, ()):
        first, last = rng.split(":")
        (c1, r1), (c2, r2) = ((col_index(a), b) for a, b in (split_cell(first), split_cell(last)))
        if c1 <= c <= c2 and r1 <= r <= r2:
            return ws[first]
    return ws[ref]


def _clear_previous_round(wb, spec: Spec, merges: dict[str, list[str]]) -> None:
    """A feedback copy sent back (corrected or not) starts round two clean: the first round's fills,
    comments, findings sheet and marks go, so that this round shows only this round."""
    marks = spec.marks_sheet
    if marks in wb.sheetnames:
        for sheet, ref, fill_type, color in wb[marks].iter_rows(min_row=2, values_only=True):
            if sheet in wb.sheetnames and ref:
                cell = _anchor(wb[sheet], ref, merges)
                cell.fill = PatternFill(fill_type, fgColor=color) if fill_type else PatternFill(None)
        del wb[marks]
    ours = {FILL_RGB[k] for k in FILL_RGB}
    input_fill = PatternFill("solid", fgColor=INPUT_RGB)
    inputs = {(f.sheet, f.cell) for f in spec.inputs()}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.comment is not None and cell.comment.author == AUTHOR:
                    cell.comment = None
                # Marks sheet deleted by hand: our colours on inputs go back to the template's.
                rgb = str(cell.fill.fgColor.rgb or "") if cell.fill is not None and cell.fill.fill_type else ""
                if rgb[-6:] in ours and (ws.title, cell.coordinate) in inputs:
                    cell.fill = input_fill
    if spec.feedback_sheet in wb.sheetnames:
        del wb[spec.feedback_sheet]


def _mark_cells(wb, result: FileResult, spec: Spec, merges: dict[str, list[str]]) -> None:
    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for f in result.findings:
        if f.sheet and f.cell and f.sheet in wb.sheetnames:
            by_cell.setdefault((f.sheet, f.cell), []).append(f)
    marks = []
    for (sheet, ref), items in by_cell.items():
        cell = _anchor(wb[sheet], ref, merges)
        # What the cell looked like, so that the next round can put it back.
        fill = cell.fill
        marks.append((sheet, cell.coordinate, fill.fill_type if fill is not None else None,
                      str(fill.fgColor.rgb) if fill is not None and fill.fill_type else None))
        worst = "error" if any(f.severity == "error" for f in items) else "warning"
        cell.fill = _FILL[worst]
        text = "\n".join(f"【{severity_label(f.severity, result.explained(f))}】{f.message}" for f in items)
        comment = Comment(clean_text(text, 30000), AUTHOR)
        comment.width, comment.height = 320, 40 + 40 * len(items)
        cell.comment = comment
    if marks:
        ws = wb.create_sheet(spec.marks_sheet)
        ws.append(["sheet", "cell", "fill", "color"])
        for row in marks:
            ws.append(list(row))
        ws.sheet_state = "veryHidden"


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
    for inst in live_instances(spec, result.level):
        p = inst.placement
        value = live_check(spec, inst, result.level).eval(get)
        cells[(p.sheet, p.cell)] = value
        out.setdefault(p.sheet, {})[p.cell] = value
    out.setdefault(spec.office.sheet, {})[spec.office.summary.cell] = summary_check(spec, result.level).eval(get)
    return out


def _office_copy(result: FileResult, spec: Spec):
    """The office's workbook from the bytes that were checked, without its merged ranges (see
    :func:`strip_merges`), and those ranges; (None, {}) when openpyxl cannot open it."""
    sub = result.submission
    if sub is None or sub.workbook is None or sub.data is None:
        return None, {}, []
    try:
        # The bytes that were checked, not the path: the file may have moved or changed since,
        # and a workspace reads from its archive under the office's original file name.
        rollup_sheets = set(spec.rollup.sheets.values()) if spec is not None else set()
        data, merges = strip_merges(sub.data, sheet_parts(io.BytesIO(sub.data)), empty=rollup_sheets)
        wb = openpyxl.load_workbook(io.BytesIO(data), keep_vba=False, keep_links=False)
        dropped = [name for name in wb.sheetnames if name in rollup_sheets]
        for name in dropped:
            wb.remove(wb[name])  # a rollup's own sheets: the feedback is about its national tables
            merges.pop(name, None)
        return wb, merges, dropped
    except Exception:  # noqa: BLE001 - an odd file openpyxl cannot open still gets its feedback
        return None, {}, []


def _write(wb, result: FileResult, spec: Spec, cached: dict, target: Path, merges: dict[str, list[str]],
           dropped: list[str] = ()) -> None:
    _clear_previous_round(wb, spec, merges)
    _mark_cells(wb, result, spec, merges)
    _write_feedback_sheet(wb, result, dropped)
    with atomic_path(target) as tmp:
        raw = tmp.with_name(tmp.name + ".raw")
        try:
            wb.save(raw)
            parts = sheet_parts(str(raw))
            rewrite_parts(raw, tmp, restore_merges(merges, parts, then=fill_cached_values(cached, parts)))
        finally:
            raw.unlink(missing_ok=True)


def annotate(result: FileResult, outdir: str | Path, name: str | None = None) -> Path:
    """Write the annotated copy of a checked file into ``outdir`` and return its path.

    The copy is made from the bytes that were checked (``result.submission.data``). An
    unreadable file gets a workbook with only the 校验结果 sheet.

    :param name: the copy's file name (default ``原名.校验结果.xlsx``).
    """
    outdir = Path(outdir)
    target = outdir / (name or annotated_name(result.path))
    spec = _spec_of(result)
    cached = _cached_results(result)
    wb, merges, dropped = _office_copy(result, spec)
    if wb is not None:
        try:
            _write(wb, result, spec, cached, target, merges, dropped)
            return target
        except Exception:  # noqa: BLE001 - styles or parts openpyxl loads but cannot handle
            pass
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    _write(wb, result, spec, {}, target, {})
    return target
