"""The narrative annual report, generated from the checked figures (DOCX, HTML, Markdown).

One document model feeds three renderers, so text and tables say the same in
every output. The sentences come from jinja2 templates shipped in the package
(``templates/report/``, overridable with ``--templates``); the tables are laid out
from the spec exactly as the template prints them, merged headers included; the
office's or coordinator's own text is inserted as data, escaped, never as template code.

Published text is a legal document. Before anything is written, :func:`write_report`
refuses (``ReportRefused``, with the list) a report whose required texts are blank,
whose texts contradict its tables, or whose rollup is missing offices; ``draft``,
``force`` and ``allow_incomplete`` write it anyway, each saying so. What the coordinator
needs to know but the public does not (completeness, exclusions, what was forced) goes to
a separate 编制说明 beside the report.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import jinja2
from markupsafe import Markup

from .check import check_submission
from .errors import InputError, UsageError, XxgkError
from .findings import Finding, clean_text
from .fsutil import atomic_path, atomic_write_text
from .merge import RollupInfo, read_rollup
from .reader import Submission, read_submission
from .rules import prose_findings
from .spec import Spec, split_cell
from .textutil import display_width, visible_text
from .xlexpr import col_index, col_letters, general

TEMPLATES = Path(str(resources.files("pipeline.report_templates")))
DRAFT_MARK = "征求意见稿"


def placeholder(heading: str) -> str:
    """What a draft prints where a required text is still to be written."""
    return f"【待补充：{heading}】"


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
    caption: str = ""
    landscape: bool = False  # printed on a landscape page of the Word report

    @property
    def header_rows(self) -> int:
        """How many leading rows are all headers (repeated on each page, kept with the first body row)."""
        n = 0
        for row in self.rows:
            if not row or not all(c.header for c in row):
                break
            n += 1
        return n


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
    subsections: list["Section"] = field(default_factory=list)  # 一、总体情况's topics (（一）主动公开 …)


@dataclass
class ReportDoc:
    title: str
    preamble: list[str]
    sections: list[Section]
    figures: dict[str, float]
    spec: Spec
    name: str = ""  # whose report
    draft: bool = False  # 征求意见稿: placeholders allowed, marked as such
    missing: list[str] = field(default_factory=list)  # required texts not written (their headings)
    contradictions: list[Finding] = field(default_factory=list)  # texts against tables
    notes: list[str] = field(default_factory=list)  # the 编制说明: for the coordinator, never published

    @property
    def title_lines(self) -> list[str]:
        return title_lines(self.title)


# -- numbers and tables ----------------------------------------------------------------

def number(x: Any) -> str:
    """How the report prints a figure: integers plainly, decimals without trailing zeros."""
    if isinstance(x, float) and not x.is_integer():
        return f"{round(x, 4):g}"
    return general(x if not isinstance(x, float) else int(x))


def _width(text: str) -> float:
    """Printed width in full-width characters (digits and Latin letters are half)."""
    return display_width(text) / 2


def balanced_lines(text: str, capacity: float) -> list[str]:
    """``text`` in as few lines of at most ``capacity`` full-width characters as it needs, evenly filled.

    Word and LibreOffice fill each line and leave the rest (结果维/持); even lines (结果/维持) read as the
    printed national tables do.
    """
    total = _width(text)
    if total <= capacity or capacity < 1:
        return [text]
    for n in range(int(-(-total // capacity)), len(text) + 1):
        lines, rest = [], text
        for i in range(n, 1, -1):
            target = _width(rest) / i
            cut, w = 0, 0.0
            while cut < len(rest) - 1 and w + _width(rest[cut]) <= target + 0.25:
                w += _width(rest[cut])
                cut += 1
            lines.append(rest[:max(cut, 1)])
            rest = rest[max(cut, 1):]
        lines.append(rest)
        lines = [line for line in lines if line]
        if all(_width(line) <= capacity for line in lines):
            return lines
    return [text]


def title_lines(title: str, per_line: float = 18) -> list[str]:
    """The title broken into balanced lines, never leaving one character alone on the last line.

    A 2号 title holds 20 full-width characters on the 156 mm text width of GB/T 9704 (18 leaves room for
    fonts whose digits are wider than half a character). A title that does not fit breaks before
    政府信息公开工作年度报告 (the unit and year on the first line); a unit name that alone is too long
    is split evenly.
    """
    if _width(title) <= per_line:
        return [title]
    tail = "政府信息公开工作年度报告"
    head, sep, _ = title.rpartition(tail)
    if not sep or not head:
        return balanced_lines(title, per_line)
    return balanced_lines(head, per_line) + [tail]


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
    widths = [float(spec_table.report_widths.get(col_letters(c), spec_table.widths.get(col_letters(c), 9)))
              for c in range(cmin, cmax + 1)]
    section = spec_table.heading_section
    caption = f"表{spec_table.table}　" + re.sub(r"^[一二三四五六七八九十]+、", "", spec.section(section).heading) \
        if section else f"表{spec_table.table}"
    return Table(table_id, grid, cmax - cmin + 1, _flatten(spec, table_id, figures), widths, caption,
                 spec_table.report_landscape)


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


def _literal(text: str) -> str:
    """Text matplotlib draws as it is: a "$" would start mathtext (and a label like $\\frac{$ would fail)."""
    return str(text).replace("$", r"\$")


def render_chart(chart: Chart, fmt: str) -> bytes:
    """A simple bar chart as PNG (for DOCX) or SVG (for HTML)."""
    chart = Chart(_literal(chart.title), [_literal(label) for label in chart.labels], chart.values, chart.horizontal)
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


def _chart(spec: Spec, by: str):
    return next((c for c in spec.rollup.charts if c.by == by), None)


def _outcomes(spec: Spec, figures: dict[str, float]) -> list[tuple[str, float]]:
    """Each outcome category of table 三 (rows grouped by their group label), as the spec's row_groups chart
    names them: the rows of its section, in its column."""
    chart = _chart(spec, "row_groups")
    if chart is None:
        return []
    cells = {(f.row_id, f.column_id): f.id for f in spec.figures if f.table_id == chart.table}
    out: dict[str, float] = {}
    for r in spec.table(chart.table).rows:
        if r.section == chart.section and not r.sum:
            key = _short(r.group or r.label)
            out[key] = out.get(key, 0) + figures[cells[(r.id, chart.column)]]
    return list(out.items())


def _sum(values: dict[str, float], column) -> float:
    return sum(values.get(fid, 0) for fid in column.figures)


def _ranked(spec: Spec, rollup: RollupInfo) -> list:
    """The offices that received the most applications (the spec's ``top.by``), most first; none that had none."""
    by = spec.rollup.report.top_by
    if by is None:
        return []
    ranked = sorted(rollup.included, key=lambda o: -o.values.get(by, 0))
    return [o for o in ranked if o.values.get(by, 0) > 0]


def _template_dirs(templates: Path | None) -> list[Path]:
    """The folders templates are looked up in: the coordinator's edited copies first, then the package's."""
    if templates is None:
        return [TEMPLATES]
    if not Path(templates).is_dir():
        raise UsageError(f"报告模板文件夹不存在：{templates}")
    return [Path(templates), TEMPLATES]


def _environment(templates: Path | None, **options: Any) -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in _template_dirs(templates)])
    return jinja2.Environment(loader=loader, trim_blocks=True, lstrip_blocks=True, **options)


def _reference_docx(templates: Path | None) -> Path:
    return next(d / "reference.docx" for d in _template_dirs(templates) if (d / "reference.docx").is_file())


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
    rollup: RollupInfo | None = None
    contradictions: list[Finding] = field(default_factory=list)  # its texts against its tables
    notes: list[str] = field(default_factory=list)  # for the 编制说明


def load_source(path: str | Path) -> Source:
    """Read and check the workbook; a report is written only from figures without errors.

    What the texts still lack, and what they say against the tables, is the report's own business:
    it is kept on the source for :func:`write_report` to decide on.
    """
    sub = read_submission(path)
    if not sub.readable:
        raise InputError(f"无法读取 {path}：{sub.findings[0].message if sub.findings else '不是年度报告填报表'}")
    result = check_submission(sub)
    texts = {r.id for r in sub.spec.rules if r.kind in ("prose_length", "prose", "similarity")}
    errors = [f for f in result.findings if f.severity == "error" and f.rule not in texts]
    if errors:
        listing = "；".join(f"{f.where} {f.message}" for f in errors[:3])
        raise InputError(f"{path} 有{len(errors)}项错误，请先修改再生成报告：{listing}")
    prose_rules = {r.id for r in sub.spec.rules if r.kind == "prose"}
    contradictions = [f for f in result.findings if f.rule in prose_rules]
    return Source(sub, result.values, read_rollup(sub, sub.spec.rollup.headline), contradictions)


def _unit_name(source: Source, name: str | None) -> str:
    """Whose report: ``name`` when given, else the workbook's unit (a rollup's is the workspace's)."""
    chosen, hidden = visible_text(clean_text(name if name is not None else source.sub.office.get("name") or "").strip())
    if hidden:
        source.notes.append(f"单位名称含有不可见的控制字符（如改变文字方向的字符），已从标题中去除：{chosen}")
    chosen = re.sub(r"（汇总）$", "", chosen)  # rollups written before the workspace had a name
    if not chosen or chosen in ("本级", "本机关"):
        what = "汇总表" if source.rollup is not None else "报表"
        raise UsageError(f"{source.sub.path} 的{what}没有单位名称，报告标题无从写起；请用 --name 指定（例如 --name 青溪县）")
    return chosen


def _change(prev: dict[str, float] | None, f: dict[str, float]) -> Callable[[str, str], str]:
    def change(fid: str, unit: str) -> str:
        """"，较上年增加2件，增长20.0%" — or decrease, or unchanged; "" without last year's figures."""
        if prev is None or fid not in prev:
            return ""
        before, now = prev[fid], f[fid]
        d = round(now - before, 4)
        if d == 0:
            return "，与上年持平"
        word, rate = ("增加", "增长") if d > 0 else ("减少", "下降")
        text = f"，较上年{word}{number(abs(d))}{unit}"
        if before:
            text += f"，{rate}{abs(d) / before * 100:.1f}%"
        return text
    return change


def _kind_rows(spec: Spec, rollup: RollupInfo) -> tuple[list[list[str]], dict[str, list]]:
    kinds: dict[str, list] = {}
    for o in rollup.included:
        kinds.setdefault(o.kind or "其他", []).append(o)
    order = spec.office_kinds
    rows = []
    for kind in sorted(kinds, key=lambda k: order.index(k) if k in order else 99):
        members = kinds[kind]
        rows.append([kind, number(len(members))] + [number(sum(_sum(o.values, c) for o in members))
                                                     for c in spec.rollup.report.kind_columns])
    return rows, kinds


def build_report(source: Source, previous: Source | None = None, templates: Path | None = None, *,
                 name: str | None = None, draft: bool = False) -> ReportDoc:
    """The document model of the report for ``source``, with year-over-year changes from ``previous``.

    :param name: whose report (the title and first sentence); defaults to the workbook's unit.
    :param draft: print 【待补充：…】 where a required text is blank (the document is then a 征求意见稿).
    """
    sub, spec, f = source.sub, source.sub.spec, source.figures
    prev = previous.figures if previous else None
    unit = _unit_name(source, name)
    year = sub.year
    rollup = source.rollup
    ctx: dict[str, Any] = {"f": f, "prev": prev, "format": spec.format, "year": year, "office_name": unit,
                           "subject": spec.rollup.scope[rollup.level] if rollup else "本机关", "n": number, "change": _change(prev, f),
                           "outcomes": _outcomes(spec, f)}
    kind_rows: list[list[str]] = []
    if rollup:
        kind_rows, kinds = _kind_rows(spec, rollup)
        by = spec.rollup.report.top_by
        ctx.update(included=len(rollup.included), kinds=[(r[0], r[1]) for r in kind_rows],
                   top=[{"name": o.name, "received": o.values.get(by, 0)} for o in _ranked(spec, rollup)[:5]])
    env = _environment(templates, undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.do"],
                       autoescape=False)  # the macros produce plain text; each renderer escapes it
    module = env.get_template("sentences.j2").make_module(ctx)
    para = lambda macro: _paragraphs(str(getattr(module, macro)()))  # noqa: E731

    texts = spec.joined_texts(sub.prose)
    required = {fld.id for fld in spec.required_texts(sub.prose)}
    missing: list[str] = []

    def own(key: str) -> list[str]:
        """A text as written; a required one not written is noted (and in a draft, a placeholder)."""
        text = sub.prose.get(key)
        if key in required and not spec.is_written(text):
            heading = spec.text_heading(key)
            missing.append(heading)
            return [placeholder(heading)] if draft else []
        return _prose(text)

    headings = {s.id: s.heading for s in spec.sections}
    topics = [fld for fld in spec.prose.fields if fld.section == "s1" and fld.label and fld.id in sub.prose]
    generated = {m: para(m) for m in ("county", "s2", "s3", "s4", "s6_fee") if m != "county" or rollup}
    s1 = Section(headings["s1"], generated.get("county", []) + own("s1"))
    for fld in topics:
        body = own(fld.id)
        if body:
            s1.subsections.append(Section(fld.label, body))
    fee = generated["s6_fee"]
    s6_own = own("s6")
    sections = [
        s1,
        Section(headings["s2"], generated["s2"], build_table(spec, "t2", f)),
        Section(headings["s3"], generated["s3"], build_table(spec, "t3", f)),
        Section(headings["s4"], generated["s4"], build_table(spec, "t4", f)),
        Section(headings["s5"], own("s5") or ["无。"]),
        Section(headings["s6"], fee + (s6_own or ([] if fee else ["无。"]))),
    ]
    if rollup:
        _county_tables(spec, f, rollup, kind_rows, kinds, sections[2])
    title = f"{unit}{year}年政府信息公开工作年度报告"
    preamble = [f"本报告依据《中华人民共和国政府信息公开条例》第五十条和《中华人民共和国政府信息公开工作年度报告格式》"
                f"（{spec.basis}）编制，反映{unit}{year}年度政府信息公开工作情况，"
                f"报告中所列数据的统计期限为{year}年1月1日至{year}年12月31日。"]
    doc = ReportDoc(title, preamble, sections, f, spec, unit, draft, missing)
    # The texts against the tables: the office's or coordinator's (checked with the workbook) and ours.
    ours = preamble + [p for paras in generated.values() for p in paras]
    doc.contradictions = list(source.contradictions) + prose_findings(spec, "\n".join(ours), f)
    doc.notes = _notes(doc, source, previous)
    return doc


def _county_tables(spec: Spec, f: dict[str, float], rollup: RollupInfo, kind_rows: list[list[str]],
                   kinds: dict[str, list], s3: Section) -> None:
    """The county's breakdowns, under 三 (they are about applications and their outcomes)."""
    rr = spec.rollup.report
    header = ["单位类型", "单位数"] + [c.label for c in rr.kind_columns]
    s3.extra_tables.append((spec.rollup.sheets["by_kind"], header, kind_rows))
    top_rows = [[o.name, o.kind or ""] + [number(_sum(o.values, c)) for c in rr.top_columns]
                for o in _ranked(spec, rollup)[:rr.top_count]]
    if top_rows:
        s3.extra_tables.append((rr.top_title, ["单位", "类型"] + [c.label for c in rr.top_columns], top_rows))
    by_kind = _chart(spec, "office_kind")
    if by_kind is not None:
        s3.charts.append(Chart(by_kind.title, [r[0] for r in kind_rows],
                               [sum(o.values.get(by_kind.figure, 0) for o in kinds[r[0]]) for r in kind_rows]))
    outcomes = _outcomes(spec, f)
    groups = _chart(spec, "row_groups")
    if outcomes:
        s3.charts.append(Chart(groups.title, [k for k, _ in outcomes], [v for _, v in outcomes], True))


def _notes(doc: ReportDoc, source: Source, previous: Source | None) -> list[str]:
    """The 编制说明: where the figures came from and what the coordinator must know before publishing."""
    sub = source.sub
    out = [f"数据来源：{sub.path.name}（sha256 {sub.sha256}），{doc.spec.format}年格式。", *source.notes]
    if previous:
        out.append(f"上年数据：{previous.sub.path.name}（sha256 {previous.sub.sha256}）。")
    rollup = source.rollup
    if rollup is not None:
        n, included = len(rollup.offices), len(rollup.included)
        out.append(f"应报{n}个单位，已报{n - len(rollup.missing)}个，计入汇总{included}个。")
        for o in rollup.missing:
            out.append(f"未报送：{o.name}（{o.code}）。")
        for o in rollup.excluded:
            out.append(f"未计入汇总：{o.name}（{o.code}），{o.reason or o.status}。")
    for heading in doc.missing:
        out.append(f"待补充：{heading}（文字未填写或只写了“无”）。")
    for f in doc.contradictions:
        out.append(f"文字与表格不一致：{f.where + ' ' if f.where else ''}{f.message}")
    return out


# -- deciding whether it may be published ------------------------------------------------

class ReportRefused(XxgkError):
    """The report would publish something it must not: blank required texts, contradictions, missing offices."""

    exit_code = 1

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        super().__init__(f"未生成报告 {path}：\n" + "\n".join(f"  · {p}" for p in problems))


def _refusals(doc: ReportDoc, source: Source, *, draft: bool, force: bool, allow_incomplete: bool) -> list[str]:
    problems = []
    rollup = source.rollup
    if rollup is not None:
        if not rollup.included:
            problems.append("汇总表没有计入任何单位，不能据此生成报告")
        elif (rollup.missing or rollup.excluded) and not allow_incomplete:
            parts = [f"未报送{len(rollup.missing)}个"] if rollup.missing else []
            parts += [f"未计入汇总{len(rollup.excluded)}个"] if rollup.excluded else []
            problems.append(f"汇总不完整（{'、'.join(parts)}，见编制说明或汇总表“报送情况”）；"
                            f"确需先行发布的，加 --allow-incomplete")
    if doc.missing and not draft:
        problems.append(f"以下文字尚未填写（空白或只写了“无”）：{'、'.join(doc.missing)}；"
                        f"请在{'汇总表' if rollup else '报表'}的“文字部分”表中填写，或加 --draft 生成带【待补充】的征求意见稿")
    if doc.contradictions and not force:
        listed = "；".join(f"{f.where + ' ' if f.where else ''}{f.message}" for f in doc.contradictions[:5])
        more = f"等{len(doc.contradictions)}处" if len(doc.contradictions) > 5 else ""
        problems.append(f"文字与表格不一致：{listed}{more}；请改正后再生成（确需照写的，加 --force，不一致之处列入编制说明）")
    return problems


def notes_path(out: Path) -> Path:
    """The 编制说明 beside a report: 报告.docx → 报告.编制说明.md."""
    return out.with_name(f"{out.stem}.编制说明.md")


def render_notes(doc: ReportDoc) -> str:
    lines = [f"# {doc.title} 编制说明", "", "本说明供编制和审核使用，不属于公开的年度报告。", ""]
    if doc.draft:
        lines += [f"本稿为{DRAFT_MARK}。", ""]
    lines += [f"- {_md_escape(n)}" for n in doc.notes]
    return "\n".join(lines) + "\n"


@dataclass
class ReportResult:
    doc: ReportDoc
    path: Path
    notes_path: Path


def write_report(source_path: str | Path, out: str | Path, previous: str | Path | None = None,
                 templates: str | Path | None = None, *, name: str | None = None, draft: bool = False,
                 force: bool = False, allow_incomplete: bool = False,
                 progress: Callable[[int, int | None], None] | None = None) -> ReportResult:
    """Write the report of an office workbook or county rollup as .docx, .html or .md, and its 编制说明.

    Refuses (:class:`ReportRefused`, nothing written) while a required text is blank (unless ``draft``),
    while a text contradicts the tables (unless ``force``), and for a rollup missing offices (unless
    ``allow_incomplete``) or without any.

    :param source_path: a checked workbook (office or rollup) without errors in its figures.
    :param out: the output file; its suffix picks the format. The 编制说明 goes beside it (``….编制说明.md``).
    :param previous: last year's workbook or rollup, for year-over-year changes.
    :param templates: a folder with edited copies of the report templates (the rest come from the package).
    :param name: whose report, overriding the workbook's unit name.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".docx", ".html", ".htm", ".md"):
        raise UsageError(f"报告只能输出为 .docx、.html 或 .md：{out}")
    templates = Path(templates) if templates else None
    step = progress or (lambda done, total: None)
    step(0, 4)
    source = load_source(source_path)
    prev = load_source(previous) if previous else None
    step(1, 4)
    doc = build_report(source, prev, templates, name=name, draft=draft)
    problems = _refusals(doc, source, draft=draft, force=force, allow_incomplete=allow_incomplete)
    if problems:
        raise ReportRefused(out, problems)
    step(2, 4)
    if suffix == ".md":
        atomic_write_text(out, render_markdown(doc))
    elif suffix in (".html", ".htm"):
        atomic_write_text(out, render_html(doc, templates))
    else:
        with atomic_path(out) as tmp:
            render_docx(doc, tmp, templates)
    step(3, 4)
    notes = notes_path(out)
    atomic_write_text(notes, render_notes(doc))
    step(4, 4)
    return ReportResult(doc, out, notes)


def report_text(doc: ReportDoc) -> str:
    """All the report's sentences as plain text, topics' headings included (for checking them against the tables)."""
    parts = list(doc.preamble)
    for s in doc.sections:
        parts += s.paragraphs
        for sub in s.subsections:
            parts += [sub.heading, *sub.paragraphs]
    return "\n".join(parts)


# -- renderers -----------------------------------------------------------------------------

def _md_escape(text: str, paragraph: bool = False) -> str:
    """Markdown-escape text so that it stays text: no emphasis, links, HTML or table breaks."""
    text = re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)
    if paragraph:  # a paragraph must not start a heading, a list or a quote
        text = re.sub(r"^([#+\->]|\d+(?=\.\s))", r"\\\1", text)
    return text


def render_markdown(doc: ReportDoc) -> str:
    out = [f"# {_md_escape(doc.title)}", ""]
    if doc.draft:
        out += [f"（{DRAFT_MARK}）", ""]
    out += [_md_escape(p, True) + "\n" for p in doc.preamble]

    def tables(s: Section) -> list[str]:
        lines = []
        flat = [(s.table.caption if i == 0 else None, h, r) for i, (h, r) in enumerate(s.table.flat)] if s.table else []
        for caption, header, rows in flat + s.extra_tables:
            if caption:
                lines += [f"**{_md_escape(caption)}**", ""]
            lines.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
            lines.append("|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|")
            lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
            lines.append("")
        return lines

    for s in doc.sections:
        out += [f"## {s.heading}", ""]
        out += [_md_escape(p, True) + "\n" for p in s.paragraphs]
        for sub in s.subsections:
            out += [f"### {_md_escape(sub.heading)}", ""]
            out += [_md_escape(p, True) + "\n" for p in sub.paragraphs]
        out += tables(s)
    if doc.draft and doc.notes:
        out += ["## 编制说明（正式发布前删除）", ""] + [f"- {_md_escape(n)}" for n in doc.notes] + [""]
    return "\n".join(out).rstrip() + "\n"


def render_html(doc: ReportDoc, templates: Path | None = None) -> str:
    env = _environment(templates, autoescape=True)
    charts = {id(c): render_chart(c, "svg").decode("utf-8") for s in doc.sections for c in s.charts}
    # Keep only the <svg> element: the XML prolog and doctype do not belong inside HTML.
    charts = {k: v[v.index("<svg"):] for k, v in charts.items()}
    # The SVG is ours (matplotlib's), not the office's: it goes in unescaped.
    return env.get_template("report.html.j2").render(doc=doc, svg=lambda c: Markup(charts[id(c)]),
                                                     placeholder=_is_placeholder, draft_mark=DRAFT_MARK)


def _is_placeholder(text: str) -> bool:
    return text.startswith("【待补充：")


# Word: GB/T 9704 text width (A4 210 mm less 28 + 26 mm margins) and the landscape page's (297 less 37 + 35).
_PORTRAIT_WIDTH_MM, _LANDSCAPE_WIDTH_MM = 156, 225


def render_docx(doc: ReportDoc, path: Path, templates: Path | None = None) -> None:
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_COLOR_INDEX
    from docx.shared import Cm

    d = Document(str(_reference_docx(templates)))
    body = d.element.body
    for child in list(body):  # keep only the page set-up of the style template
        if not child.tag.endswith("}sectPr"):
            body.remove(child)
    title = d.add_paragraph(style="Title")
    for i, line in enumerate(doc.title_lines):
        if i:
            title.add_run().add_break()
        title.add_run(line)
    if doc.draft:
        d.add_paragraph(f"（{DRAFT_MARK}）", style="Draft Mark")

    def paragraph(text: str, style: str | None = None) -> None:
        p = d.add_paragraph(style=style)
        run = p.add_run(text)
        if _is_placeholder(text):
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW

    for p in doc.preamble:
        paragraph(p)
    for s in doc.sections:
        landscape = s.table is not None and s.table.landscape
        if landscape:
            _docx_section(d, landscape=True)
        d.add_paragraph(s.heading, style="Heading 1")
        for p in s.paragraphs:
            paragraph(p)
        for sub in s.subsections:
            d.add_paragraph(sub.heading, style="Heading 2")
            for p in sub.paragraphs:
                paragraph(p)
        if s.table:
            d.add_paragraph(s.table.caption, style="Figure Caption").paragraph_format.keep_with_next = True
            _docx_table(d, s.table, _LANDSCAPE_WIDTH_MM if landscape else _PORTRAIT_WIDTH_MM)
        for caption, header, rows in s.extra_tables:
            d.add_paragraph(caption, style="Figure Caption").paragraph_format.keep_with_next = True
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
            _docx_table_rows(t, 1)
        for chart in s.charts:
            holder = d.add_paragraph(style="Figure Caption")
            holder.paragraph_format.keep_with_next = True
            holder.add_run().add_picture(io.BytesIO(render_chart(chart, "png")), width=Cm(15))
            d.add_paragraph(chart.title, style="Figure Caption")
        if landscape:
            _docx_section(d, landscape=False)
    if doc.draft and doc.notes:
        d.add_paragraph("编制说明（正式发布前删除）", style="Heading 1")
        for n in doc.notes:
            paragraph(n)
    _docx_page_numbers(d)
    d.core_properties.title = doc.title
    d.save(str(path))


def _docx_section(d, landscape: bool) -> None:
    """A new page in the given orientation, GB/T 9704 margins turned with the page."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.shared import Mm

    sec = d.add_section(WD_SECTION.NEW_PAGE)
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    if landscape:  # the portrait page turned: its left (binding) margin is now the top
        sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(28), Mm(26), Mm(35), Mm(37)
    else:
        sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(37), Mm(35), Mm(28), Mm(26)


def _docx_page_numbers(d) -> None:
    """"— 1 —" in 4号 宋体: odd pages on the right, even pages on the left (GB/T 9704 7.5)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    d.settings.odd_and_even_pages_header_footer = True
    sec = d.sections[0]
    for footer, align in ((sec.footer, WD_ALIGN_PARAGRAPH.RIGHT), (sec.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        p = footer.paragraphs[0]
        p.style = "Footer"
        p.alignment = align
        p.add_run("— ")
        fld = OxmlElement("w:fldSimple")
        fld.set(qn("w:instr"), "PAGE")
        run = OxmlElement("w:r")
        text = OxmlElement("w:t")
        text.text = "1"
        run.append(text)
        fld.append(run)
        p._p.append(fld)
        p.add_run(" —")


def _docx_table_rows(t, header_rows: int) -> None:
    """Header rows repeat on every page and stay with the first body row; no row splits across pages."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for i, row in enumerate(t.rows):
        tr_pr = row._tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:cantSplit"))
        if i < header_rows:
            tr_pr.append(OxmlElement("w:tblHeader"))
            for cell in row.cells:
                for p in cell.paragraphs:
                    p.paragraph_format.keep_with_next = True


_CELL_MARGIN_MM = 1.0  # left and right, inside each table cell (Word's default is 1.9 mm)


def _docx_cell_margins(t, mm: float) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tbl_pr = t._tbl.tblPr
    mar = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(round(mm * 56.7)))  # twentieths of a point
        el.set(qn("w:type"), "dxa")
        mar.append(el)
    tbl_pr.append(mar)


def _docx_table(d, table: Table, width_mm: float) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.shared import Mm

    nrows = len(table.rows)
    t = d.add_table(rows=nrows, cols=table.ncols)
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    # The template's column widths, scaled to the page's text width.
    scale = width_mm / sum(table.widths)
    for i, w in enumerate(table.widths):
        t.columns[i].width = Mm(w * scale)
        for cell in t.columns[i].cells:
            cell.width = Mm(w * scale)
    _docx_cell_margins(t, _CELL_MARGIN_MM)
    char_mm = d.styles["Table Text"].font.size.pt * 25.4 / 72
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
            width = sum(table.widths[c:c + cell.colspan]) * scale - 2 * _CELL_MARGIN_MM
            lines = [cell.text] if cell.figure else balanced_lines(cell.text, int(width / char_mm + 0.05))
            for i, line in enumerate(lines):
                if i:
                    para.add_run().add_break()
                para.add_run(line).bold = cell.header
            c += cell.colspan
    _docx_table_rows(t, table.header_rows)
