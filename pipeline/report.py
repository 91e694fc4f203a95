"""The narrative annual report, generated from the checked figures (DOCX, HTML, Markdown).

One document model feeds three renderers, so text and tables say the same in
every output. The sentences come from jinja2 templates in ``templates/report/``
(editable without Python); the tables are laid out from the spec exactly as the
template prints them, merged headers included; the office's own prose is inserted
as data, escaped, never as template code.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from .check import check_submission
from .errors import InputError, UsageError
from .fsutil import atomic_path, atomic_write_text
from .reader import Submission, read_submission
from .spec import Spec, split_cell
from .xlexpr import col_index, col_letters, general

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "report"


# -- the document model ----------------------------------------------------------------

@dataclass
class GridCell:
    text: str
    rowspan: int = 1
    colspan: int = 1
    header: bool = False
    figure: str | None = None


@dataclass
class Table:
    """A national table as printed: rows of cells with spans (covered cells omitted)."""

    id: str
    rows: list[list[GridCell]]
    ncols: int
    flat: list[tuple[list[str], list[list[str]]]]  # Markdown: (header, rows) per sub-table
    widths: list[float] = field(default_factory=list)  # relative column widths, from the template


@dataclass
class Chart:
    title: str
    labels: list[str]
    values: list[float]
    horizontal: bool = False


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    table: Table | None = None
    extra_tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)  # caption, header, rows
    charts: list[Chart] = field(default_factory=list)


@dataclass
class ReportDoc:
    title: str
    preamble: list[str]
    sections: list[Section]
    figures: dict[str, float]
    spec: Spec


# -- numbers and tables ----------------------------------------------------------------

def number(x: Any) -> str:
    """How the report prints a figure: integers plainly, decimals without trailing zeros."""
    if isinstance(x, float) and not x.is_integer():
        return f"{round(x, 4):g}"
    return general(x if not isinstance(x, float) else int(x))


def _span(cells: str) -> tuple[int, int, int, int]:
    first, _, last = cells.partition(":")
    c1, r1 = split_cell(first)
    c2, r2 = split_cell(last or first)
    return r1, col_index(c1), r2, col_index(c2)


def build_table(spec: Spec, table_id: str, figures: dict[str, float]) -> Table:
    """The table's grid from the spec's labels and figure cells, merges as the template has them."""
    anchors: dict[tuple[int, int], GridCell] = {}
    covered: set[tuple[int, int]] = set()
    for label in spec.labels():
        if label.table != table_id or label.role == "heading":
            continue
        r1, c1, r2, c2 = _span(label.cells)
        anchors[(r1, c1)] = GridCell(label.text, r2 - r1 + 1, c2 - c1 + 1, header=label.role == "header")
        covered |= {(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)} - {(r1, c1)}
    for f in spec.figures:
        if f.table_id != table_id:
            continue
        r1, c1, r2, c2 = _span(f"{f.cell}:{f.merge_to}" if f.merge_to else f.cell)
        anchors[(r1, c1)] = GridCell(number(figures[f.id]), r2 - r1 + 1, c2 - c1 + 1, figure=f.id)
        covered |= {(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)} - {(r1, c1)}
    rows_used = sorted({r for r, _ in anchors} | {r for r, _ in covered})
    cols_used = sorted({c for _, c in anchors} | {c for _, c in covered})
    rmin, cmin, cmax = rows_used[0], cols_used[0], cols_used[-1]
    grid: list[list[GridCell]] = []
    for r in range(rmin, rows_used[-1] + 1):
        row = []
        for c in range(cmin, cmax + 1):
            if (r, c) in anchors:
                row.append(anchors[(r, c)])
            elif (r, c) not in covered:
                row.append(GridCell(""))
        grid.append(row)
    spec_table = spec.table(table_id)
    widths = [float(spec_table.widths.get(col_letters(c), 9)) for c in range(cmin, cmax + 1)]
    return Table(table_id, grid, cmax - cmin + 1, _flatten(spec, table_id, figures), widths)


def _flatten(spec: Spec, table_id: str, figures: dict[str, float]) -> list[tuple[list[str], list[list[str]]]]:
    """Tables without merged cells, for Markdown: one per block, or one for blocks of a single row."""
    table = spec.table(table_id)
    figs = [f for f in spec.figures if f.table_id == table_id]
    single_row = all(len(b.rows) == 1 and not b.rows[0].label for b in table.blocks)
    groups = [figs] if single_row else [[f for f in figs if f.block_id == b.id] for b in table.blocks]
    out = []
    for group in groups:
        def col_key(f):
            parts = [f.block if single_row else None, f.column_group, f.column]
            return "/".join(p for p in parts if p)

        def row_key(f):
            # Table 三's rows carry their group ("（三）不予公开 / 1.属于国家秘密").
            parts = [f.block if f.block_id is None else None, f.row]
            return " / ".join(p for p in parts if p) or "数量"

        cols = list(dict.fromkeys(col_key(f) for f in group))
        rows = list(dict.fromkeys(row_key(f) for f in group))
        cells = {(row_key(f), col_key(f)): number(figures[f.id]) for f in group}
        title = group[0].block if not single_row and group[0].block_id else None
        header = [title or "项目", *cols]
        out.append((header, [[r, *[cells.get((r, c), "") for c in cols]] for r in rows]))
    return out


# -- charts ------------------------------------------------------------------------------

def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    wanted = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "SimHei",
              "Microsoft YaHei", "Source Han Sans SC", "AR PL UMing CN")
    have = {f.name for f in font_manager.fontManager.ttflist}
    fonts = [f for f in wanted if f in have]
    plt.rcParams["font.sans-serif"] = fonts + ["DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    plt.rcParams["svg.fonttype"] = "none"  # SVG keeps text as text: the browser draws it
    plt.rcParams["svg.hashsalt"] = "xxgk"  # stable ids: the same figures give the same file
    return plt


def render_chart(chart: Chart, fmt: str) -> bytes:
    """A simple bar chart as PNG (for DOCX) or SVG (for HTML)."""
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(6.4, 3.2 if not chart.horizontal else 0.45 * len(chart.labels) + 1.2), dpi=150)
    if chart.horizontal:
        ypos = list(range(len(chart.labels)))[::-1]
        bars = ax.barh(ypos, chart.values, color="#4472C4")
        ax.set_yticks(ypos, chart.labels)
    else:
        bars = ax.bar(chart.labels, chart.values, color="#4472C4")
    ax.bar_label(bars, labels=[number(v) for v in chart.values], padding=2, fontsize=9)
    ax.set_title(chart.title, fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else {"Software": None})
    plt.close(fig)
    return buf.getvalue()


# -- building the document ---------------------------------------------------------------

def _short(label: str) -> str:
    label = re.sub(r"^（[一二三四五六七八九十]+）", "", label)
    return re.sub(r"（[^（）]*）$", "", label)


def _outcomes(spec: Spec, figures: dict[str, float]) -> list[tuple[str, float]]:
    """Totals of each outcome category of table 三 (rows grouped by their group label)."""
    rows = [r for r in spec.table("t3").rows if r.section and not r.sum]
    out: dict[str, float] = {}
    for r in rows:
        key = _short(r.group or r.label)
        out[key] = out.get(key, 0) + figures[f"t3.{r.id}.total"]
    return list(out.items())


def _environment(templates: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.do"],
        autoescape=False,  # the macros produce plain text; each renderer escapes it
    )


def _paragraphs(text: str) -> list[str]:
    return [re.sub(r"\s*\n\s*", "", p).strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _prose(text: str | None) -> list[str]:
    """The office's own text, split into paragraphs, otherwise untouched."""
    if not text:
        return []
    return [line.strip() for line in str(text).replace("\r\n", "\n").split("\n") if line.strip()]


@dataclass
class Source:
    """A checked workbook to report on, office or county rollup."""

    sub: Submission
    figures: dict[str, float]
    county: dict[str, Any] | None = None


def load_source(path: str | Path) -> Source:
    """Read and check the workbook; a report is written only from figures without errors."""
    sub = read_submission(path)
    result = check_submission(sub)
    if not sub.readable:
        raise InputError(f"无法读取 {path}：{sub.findings[0].message if sub.findings else '不是年度报告填报表'}")
    # The figures must be right; what the texts still lack is the report's own business (its sections 一、五、六).
    texts = {r.id for r in sub.spec.rules if r.kind == "prose_length"}
    errors = [f for f in result.findings if f.severity == "error" and f.rule not in texts]
    if errors:
        listing = "；".join(f"{f.where} {f.message}" for f in errors[:3])
        raise InputError(f"{path} 有{len(errors)}项错误，请先修改再生成报告：{listing}")
    source = Source(sub, result.values)
    if sub.office.get("kind") == sub.spec.rollup.kind:
        source.county = _county_details(sub)
    return source


def _county_details(sub: Submission) -> dict[str, Any]:
    """Per-office rows of a rollup, read back from its own sheets."""
    spec, wb = sub.spec, sub.workbook
    names = spec.rollup.sheets
    sheet = wb.sheets.get(names["offices"])
    offices = []
    if sheet is not None:
        ids = {}
        for ref, cell in sheet.cells.items():
            col, row = split_cell(ref)
            if row == 2 and isinstance(cell.value, str) and spec.has_figure(cell.value):
                ids[col] = cell.value
        rows = sorted({split_cell(ref)[1] for ref in sheet.cells if split_cell(ref)[1] > 2})
        for r in rows:
            values = {fid: sheet.value(f"{col}{r}") or 0 for col, fid in ids.items()}
            offices.append({"code": sheet.value(f"A{r}"), "name": sheet.value(f"B{r}"), "kind": sheet.value(f"C{r}"),
                            "status": sheet.value(f"D{r}"), "included": sheet.value(f"E{r}") == "是", "values": values})
    completeness = wb.sheets.get(names["completeness"])
    expected = submitted = 0
    excluded: dict[str, int] = {}
    if completeness is not None:
        for r in sorted({split_cell(ref)[1] for ref in completeness.cells if split_cell(ref)[1] > 1}):
            if completeness.value(f"A{r}") and completeness.value(f"D{r}"):
                expected += 1
                if completeness.value(f"D{r}") != "未报送":
                    submitted += 1
                if completeness.value(f"G{r}") == "否":
                    reason = completeness.value(f"H{r}") or ""
                    excluded[reason] = excluded.get(reason, 0) + 1
    return {"offices": offices, "expected": expected, "submitted": submitted, "excluded": excluded}


def build_report(source: Source, previous: Source | None = None, templates: Path = TEMPLATES) -> ReportDoc:
    """The document model of the report for ``source``, with year-over-year changes from ``previous``."""
    sub, spec, f = source.sub, source.sub.spec, source.figures
    prev = previous.figures if previous else None
    office_name = str(sub.office.get("name") or "本机关")
    if source.county:
        office_name = office_name.replace("（汇总）", "")
    year = sub.year

    def change(fid: str, unit: str) -> str:
        if prev is None or fid not in prev:
            return ""
        d = round(f[fid] - prev[fid], 4)
        if d > 0:
            return f"，较上年增加{number(d)}{unit}"
        if d < 0:
            return f"，较上年减少{number(-d)}{unit}"
        return "，与上年持平"

    ctx: dict[str, Any] = {"f": f, "prev": prev, "format": spec.format, "year": year, "office_name": office_name,
                           "subject": "全县各单位" if source.county else "本机关",
                           "n": number, "change": change, "outcomes": _outcomes(spec, f)}
    county = source.county
    if county:
        included = [o for o in county["offices"] if o["included"]]
        top = sorted(included, key=lambda o: -o["values"].get("t3.new.total", 0))[:5]
        ctx.update(included=len(included), expected=county["expected"], submitted=county["submitted"],
                   excluded=sum(county["excluded"].values()),
                   excluded_reasons="、".join(f"{r.replace('，未计入', '')}{n}个" for r, n in sorted(county["excluded"].items())),
                   top=[{"name": o["name"], "received": o["values"].get("t3.new.total", 0)} for o in top
                        if o["values"].get("t3.new.total", 0) > 0])
    module = _environment(templates).get_template("sentences.j2").make_module(ctx)
    para = lambda macro: _paragraphs(str(getattr(module, macro)()))  # noqa: E731

    headings = {s.id: s.heading for s in spec.sections}
    prose = sub.prose
    sections = [
        Section(headings["s1"], (para("county") if county else []) + _prose(prose.get("s1"))),
        Section(headings["s2"], para("s2"), build_table(spec, "t2", f)),
        Section(headings["s3"], para("s3"), build_table(spec, "t3", f)),
        Section(headings["s4"], para("s4"), build_table(spec, "t4", f)),
        Section(headings["s5"], _prose(prose.get("s5")) or ["无。"]),
        Section(headings["s6"], para("s6_fee") + (_prose(prose.get("s6")) or ([] if para("s6_fee") else ["无。"]))),
    ]
    if county:
        _county_sections(spec, f, county, sections)
    title = f"{office_name}{year}年政府信息公开工作年度报告"
    preamble = [f"本报告依据《中华人民共和国政府信息公开条例》第五十条和《中华人民共和国政府信息公开工作年度报告格式》"
                f"（{spec.basis}）编制，报告中所列数据的统计期限为{year}年1月1日至{year}年12月31日。"]
    return ReportDoc(title, preamble, sections, f, spec)


def _county_sections(spec: Spec, f: dict[str, float], county: dict[str, Any], sections: list[Section]) -> None:
    included = [o for o in county["offices"] if o["included"]]
    kinds: dict[str, list[dict]] = {}
    for o in included:
        kinds.setdefault(o["kind"] or "其他", []).append(o)
    order = spec.office_kinds
    kind_rows = []
    for kind in sorted(kinds, key=lambda k: order.index(k) if k in order else 99):
        members = kinds[kind]
        s = lambda fid: sum(o["values"].get(fid, 0) for o in members)  # noqa: E731
        kind_rows.append([kind, number(len(members)), number(s("t3.new.total")), number(s("t3.outcome_total.total")),
                          number(s("t4.review.total")), number(s("t4.direct.total") + s("t4.after_review.total"))])
    header = ["单位类型", "单位数", "收到申请（件）", "办结（件）", "行政复议（件）", "行政诉讼（件）"]
    sections[0].extra_tables.append(("按单位类型汇总", header, kind_rows))
    top = sorted(included, key=lambda o: -o["values"].get("t3.new.total", 0))[:10]
    top_rows = [[o["name"], o["kind"] or "", number(o["values"].get("t3.new.total", 0)),
                 number(o["values"].get("t3.outcome_total.total", 0))] for o in top if o["values"].get("t3.new.total", 0)]
    if top_rows:
        sections[2].extra_tables.append(("收到申请较多的单位", ["单位", "类型", "收到申请（件）", "办结（件）"], top_rows))
    outcomes = _outcomes(spec, f)
    sections[2].charts.append(Chart("依申请公开办理结果（件）", [k for k, _ in outcomes], [v for _, v in outcomes], True))
    sections[0].charts.append(Chart("各类单位收到的政府信息公开申请（件）", [r[0] for r in kind_rows],
                                    [sum(o["values"].get("t3.new.total", 0) for o in kinds[r[0]]) for r in kind_rows]))


# -- renderers -----------------------------------------------------------------------------

def _md_escape(text: str, paragraph: bool = False) -> str:
    """Markdown-escape text so that it stays text: no emphasis, links, HTML or table breaks."""
    text = re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)
    if paragraph:  # a paragraph must not start a heading, a list or a quote
        text = re.sub(r"^([#+\->]|\d+(?=\.\s))", r"\\\1", text)
    return text


def render_markdown(doc: ReportDoc) -> str:
    out = [f"# {_md_escape(doc.title)}", ""]
    out += [_md_escape(p, True) + "\n" for p in doc.preamble]
    for s in doc.sections:
        out += [f"## {s.heading}", ""]
        out += [_md_escape(p, True) + "\n" for p in s.paragraphs]
        tables = [(None, h, r) for h, r in (s.table.flat if s.table else [])] + s.extra_tables
        for caption, header, rows in tables:
            if caption:
                out += [f"**{_md_escape(caption)}**", ""]
            out.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
            out.append("|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|")
            out += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_html(doc: ReportDoc, templates: Path = TEMPLATES) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    charts = {id(c): render_chart(c, "svg").decode("utf-8") for s in doc.sections for c in s.charts}
    # Keep only the <svg> element: the XML prolog and doctype do not belong inside HTML.
    charts = {k: v[v.index("<svg"):] for k, v in charts.items()}
    # The SVG is ours (matplotlib's), not the office's: it goes in unescaped.
    return env.get_template("report.html.j2").render(doc=doc, svg=lambda c: Markup(charts[id(c)]))


def render_docx(doc: ReportDoc, path: Path, templates: Path = TEMPLATES) -> None:
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm

    d = Document(str(templates / "reference.docx"))
    body = d.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    d.add_paragraph(doc.title, style="Title")
    for p in doc.preamble:
        d.add_paragraph(p)
    for s in doc.sections:
        d.add_paragraph(s.heading, style="Heading 1")
        for p in s.paragraphs:
            d.add_paragraph(p)
        if s.table:
            _docx_table(d, s.table)
        for caption, header, rows in s.extra_tables:
            d.add_paragraph(caption, style="Figure Caption")
            t = d.add_table(rows=1 + len(rows), cols=len(header))
            t.style = "Table Grid"
            t.alignment = WD_TABLE_ALIGNMENT.CENTER
            for i, text in enumerate(header):
                t.cell(0, i).paragraphs[0].style = "Table Text"
                t.cell(0, i).paragraphs[0].add_run(text).bold = True
            for r, row in enumerate(rows, start=1):
                for c, text in enumerate(row):
                    t.cell(r, c).paragraphs[0].style = "Table Text"
                    t.cell(r, c).paragraphs[0].add_run(text)
        for chart in s.charts:
            holder = d.add_paragraph(style="Figure Caption")
            holder.add_run().add_picture(io.BytesIO(render_chart(chart, "png")), width=Cm(15))
            d.add_paragraph(chart.title, style="Figure Caption")
    # Page numbers: "— 1 —" in the footer (python-docx has no API for fields).
    footer = d.sections[0].footer.paragraphs[0]
    footer.style = "Footer"
    footer.add_run("— ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    footer._p.append(field)
    footer.add_run(" —")
    d.core_properties.title = doc.title
    d.save(str(path))


def _docx_table(d, table: Table) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT

    from docx.shared import Mm

    nrows = len(table.rows)
    t = d.add_table(rows=nrows, cols=table.ncols)
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    # The template's column widths, scaled to the text width of an A4 page (GB/T 9704: 156 mm).
    scale = 156 / sum(table.widths)
    for i, w in enumerate(table.widths):
        t.columns[i].width = Mm(w * scale)
        for cell in t.columns[i].cells:
            cell.width = Mm(w * scale)
    occupied: set[tuple[int, int]] = set()
    for r, row in enumerate(table.rows):
        c = 0
        for cell in row:
            while (r, c) in occupied:
                c += 1
            target = t.cell(r, c)
            if cell.rowspan > 1 or cell.colspan > 1:
                target = target.merge(t.cell(r + cell.rowspan - 1, c + cell.colspan - 1))
            for rr in range(r, r + cell.rowspan):
                for cc in range(c, c + cell.colspan):
                    occupied.add((rr, cc))
            para = target.paragraphs[0]
            para.style = "Table Label" if (not cell.figure and not cell.header) else "Table Text"
            run = para.add_run(cell.text)
            run.bold = cell.header
            c += cell.colspan


def write_report(source_path: str | Path, out: str | Path, previous: str | Path | None = None,
                 templates: str | Path | None = None) -> ReportDoc:
    """Write the report of an office workbook or county rollup as .docx, .html or .md.

    :param source_path: a checked workbook (office or rollup) without errors.
    :param out: the output file; its suffix picks the format.
    :param previous: last year's workbook or rollup, for year-over-year changes.
    :param templates: a folder with edited copies of ``templates/report``.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".docx", ".html", ".htm", ".md"):
        raise UsageError(f"报告只能输出为 .docx、.html 或 .md：{out}")
    templates = Path(templates) if templates else TEMPLATES
    source = load_source(source_path)
    prev = load_source(previous) if previous else None
    doc = build_report(source, prev, templates)
    if suffix == ".md":
        atomic_write_text(out, render_markdown(doc))
    elif suffix in (".html", ".htm"):
        atomic_write_text(out, render_html(doc, templates))
    else:
        with atomic_path(out) as tmp:
            render_docx(doc, tmp, templates)
    return doc


def report_text(doc: ReportDoc) -> str:
    """All the report's sentences as plain text (for checking them against the tables)."""
    parts = list(doc.preamble)
    for s in doc.sections:
        parts += s.paragraphs
    return "\n".join(parts)

