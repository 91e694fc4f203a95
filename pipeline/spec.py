"""The national formats as data, loaded once into typed objects.

A format spec (``pipeline/formats/*.yaml``) is the single source of truth for labels,
figure ids, cell positions, units and rules. This module loads a spec (with the C YAML
loader where there is one), validates it and turns it into typed objects: tables of
blocks, rows and columns; office fields; prose sections; the rollup layout; the flat
:class:`Figure` list; and :class:`Rule` definitions expanded into :class:`RuleInstance`
objects whose parameters the rule's kind (:mod:`pipeline.rules`) has parsed and checked.
Every other module reads these objects, never the YAML.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Callable, Iterable

from .errors import SpecError

FORMATS_PACKAGE = "pipeline.formats"
_CELL_RE = re.compile(r"^([A-Z]{1,3})([1-9][0-9]*)$")
SEVERITIES = ("error", "warning", "info")


def split_cell(cell: str) -> tuple[str, int]:
    """Split "D12" into ("D", 12)."""
    m = _CELL_RE.match(cell)
    if not m:
        raise SpecError(f"不是有效的单元格地址：{cell!r}")
    return m.group(1), int(m.group(2))


def _span(cell: str, merge_to: str | None) -> str:
    """A cell, or the merged range from it to ``merge_to`` (a column letter or a cell)."""
    if not merge_to:
        return cell
    if _CELL_RE.match(merge_to):
        return f"{cell}:{merge_to}"
    return f"{cell}:{merge_to}{split_cell(cell)[1]}"


# -- the parts of a format -----------------------------------------------------------------

@dataclass(frozen=True)
class ValueType:
    """What a cell holds: a count (件), an amount (万元, 元), text or a year."""

    id: str
    number: str | None  # "integer", "decimal" or None (not a number)
    min: float | None
    max: float | None
    unit: str | None
    number_format: str | None
    prompt_title: str
    prompt: str
    error_title: str
    error: str


@dataclass(frozen=True)
class Column:
    id: str | None
    label: str | None
    col: str
    label_row: int | None
    label_cells: str | None
    merge_to: str | None
    group: str | None
    sum: tuple[str, ...]
    rule: str | None
    type: str | None

    @property
    def label_range(self) -> str | None:
        """Where the column's header is printed."""
        if self.label is None:
            return None
        if self.label_cells:
            return self.label_cells
        return _span(f"{self.col}{self.label_row}", self.merge_to)


@dataclass(frozen=True)
class Row:
    id: str | None
    label: str | None
    row: int
    label_cells: str | None
    group: str | None  # the group label a numbered row sits under, e.g. （三）不予公开
    section: str | None  # the row-span label it sits under, e.g. 三、本年度办理结果
    sum: tuple[str, ...]
    rule: str | None
    type: str | None
    aliases: tuple[str, ...]
    import_section: str | None
    import_patterns: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """The official label and the variants real reports use."""
        return ((self.label,) if self.label else ()) + self.aliases


@dataclass(frozen=True)
class Block:
    id: str | None
    label: str | None
    label_text: str | None  # the printed text when it differs from the label (a sub-header)
    label_cells: str | None
    type: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    @property
    def heading(self) -> str | None:
        return self.label_text or self.label


@dataclass(frozen=True)
class Text:
    """Fixed text at a cell or merged range."""

    cells: str
    text: str


@dataclass(frozen=True)
class Table:
    id: str
    table: str  # "二" / "三" / "四" / "六"
    sheet: str  # the sheet's name
    heading_cells: str
    heading_section: str | None
    heading_text: str | None
    labels: tuple[Text, ...]
    blocks: tuple[Block, ...]
    widths: dict[str, float]
    landscape: bool
    freeze: str | None
    report_landscape: bool = False  # printed on a landscape page of the Word report
    report_widths: dict[str, float] = field(default_factory=dict)  # the Word report's widths, where not the template's

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(r for b in self.blocks for r in b.rows)


@dataclass(frozen=True)
class OfficeField:
    id: str
    label: str
    label_cell: str
    cell: str
    merge_to: str | None
    type: str
    required: bool
    choices: tuple[str, ...] | None


@dataclass(frozen=True)
class Summary:
    """The office sheet's one-line verdict over all live checks."""

    label_cell: str
    label: str
    cell: str
    merge_to: str | None
    ok: str
    fail: str
    ok_with_warnings: str
    fail_with_warnings: str


@dataclass(frozen=True)
class OfficeSheet:
    sheet: str
    title: Text
    subtitle: Text
    fields: tuple[OfficeField, ...]
    widths: dict[str, float]
    summary: Summary


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    kind: str  # "prose" / "table"
    import_keywords: tuple[str, ...]
    table: str | None


@dataclass(frozen=True)
class ProseField:
    """A text cell: a section's own (id = section id) or one of its topics (id "s1.1", with a label)."""

    id: str
    section: str
    label: str | None  # the topic's heading, e.g. （一）主动公开 (None: the section's heading)
    label_cell: str
    cell: str
    merge_to: str
    height: float
    hint: str
    since: str | None = None  # the template version that added it
    required: bool = False  # the published report needs it written (not blank, not only 无)


@dataclass(frozen=True)
class ProseSheet:
    sheet: str
    widths: dict[str, float]
    title: Text
    fields: tuple[ProseField, ...]
    empty_words: tuple[str, ...] = ()  # what counts as not written ("无", "暂无")


@dataclass(frozen=True)
class Explanation:
    """The office's explanation of its warnings, for the reviewer; never published."""

    sheet: str
    since: str | None
    label: str
    label_cell: str
    cell: str
    merge_to: str
    height: float
    hint: str


@dataclass(frozen=True)
class Chart:
    title: str
    type: str
    by: str
    table: str | None = None
    section: str | None = None
    column: str | None = None
    figure: str | None = None


@dataclass(frozen=True)
class SumColumn:
    """A column of a report's breakdown: the sum of these figures."""

    label: str
    figures: tuple[str, ...]


@dataclass(frozen=True)
class RollupReport:
    """What the report of a rollup breaks down: by office kind, and the offices with the most applications."""

    kind_columns: tuple[SumColumn, ...] = ()
    top_title: str = ""
    top_by: str | None = None  # the figure offices are ranked by
    top_count: int = 10
    top_columns: tuple[SumColumn, ...] = ()


@dataclass(frozen=True)
class Rollup:
    kind: str  # the office kind a rollup carries
    sheets: dict[str, str]  # role → sheet name
    charts: tuple[Chart, ...]
    headline: tuple[str, ...] = ()  # figures the per-office and by-kind sheets print
    scope: dict[str, str] = field(default_factory=dict)  # level → whose offices (全县各单位 …)
    report: RollupReport = RollupReport()


LEVELS = ("county", "city", "province")  # where a collecting unit sits; rules on 规章 depend on it


@dataclass(frozen=True)
class MetaField:
    key: str
    label: str
    cell: str


@dataclass(frozen=True)
class Meta:
    sheet: str
    fields: tuple[MetaField, ...]


@dataclass(frozen=True)
class Guide:
    sheet: str
    widths: dict[str, float]
    title: str
    paragraphs: tuple[str, ...]
    rules_heading: str


@dataclass(frozen=True)
class Figure:
    """One number of the national tables: an input a clerk fills, or a computed total."""

    id: str
    table: str  # "二" / "三" / "四" / "六"
    table_id: str
    block_id: str | None
    row_id: str | None
    column_id: str | None
    block: str | None  # block label, or the row's group label
    row: str | None
    column: str | None
    column_group: str | None
    kind: str  # "input" / "computed"
    type: str
    unit: str | None
    sheet: str
    cell: str
    merge_to: str | None
    name: str
    sum: tuple[str, ...] = ()
    rule: str | None = None

    @property
    def label(self) -> str:
        """A short Chinese description naming the figure, as used in messages."""
        parts = [f"表{self.table}"]
        for part in (self.block, self.row, self.column):
            if part and part not in parts:
                parts.append(part)
        return "·".join(parts)


@dataclass(frozen=True)
class Label:
    """Fixed text the template prints: a heading, a header, a row label.

    ``role`` is "title", "subtitle", "heading", "header", "label" or "check_label"; a
    label of a table (role header/label/heading with ``table`` set) must read exactly
    so in a returned workbook.
    """

    sheet: str
    cells: str  # "A5" or a merged range "A5:C5"
    text: str
    role: str
    table: str | None = None

    @property
    def cell(self) -> str:
        return self.cells.split(":")[0]


@dataclass(frozen=True)
class Placement:
    """Where a rule instance's live check cell sits in the template."""

    sheet: str
    cell: str
    merge_to: str | None = None


@dataclass(frozen=True)
class RuleInstance:
    """One evaluation of a rule: F1 for the 自然人 column, D5 for 表三, …

    ``params`` are the rule's parameters with the instance's ``$var`` filled in, parsed into
    the typed parameters of the rule's kind.
    """

    rule: "Rule"
    key: str | None  # the foreach value (column id, row id, table id)
    label: str | None  # its Chinese label
    params: Any
    figures: tuple[str, ...] = ()  # every figure the instance reads
    placement: Placement | None = None


@dataclass
class Rule:
    """A rule as written in the spec; its kind (:mod:`pipeline.rules`) evaluates, renders and fills it."""

    id: str
    code: str
    severity: str  # error / warning / info
    title: str
    description: str
    kind: str
    message: str  # the finding's message template
    messages: dict[str, str]  # further templates (the live check's short text, variants)
    tolerance: float
    check_labels: tuple[Label, ...] = ()
    instances: list[RuleInstance] = field(default_factory=list)

    @property
    def impl(self):
        """The rule's kind: how it is evaluated, rendered as a live check and satisfied by fillings."""
        from .rules import kind_of

        return kind_of(self.kind)


# -- the spec ---------------------------------------------------------------------------------

@dataclass
class Spec:
    """A loaded, validated national format."""

    raw: dict[str, Any]  # the YAML as read: for the checksum and ``xxgk spec --json``
    sha256: str
    path: str
    format: str
    title: str
    basis: str
    years: tuple[int, int | None]
    template_version: str
    compatible_versions: dict[str, str]
    name_prefix: str
    ok_text: str
    feedback_sheet: str
    marks_sheet: str
    office_kinds: tuple[str, ...]
    types: dict[str, ValueType]
    sheets: dict[str, str]  # sheet id → sheet name
    office: OfficeSheet
    sections: tuple[Section, ...]
    prose: ProseSheet
    explanation: Explanation | None
    tables: tuple[Table, ...]
    rollup: Rollup
    meta: Meta
    guide: Guide
    figures: list[Figure]
    rules: list[Rule]

    def __post_init__(self) -> None:
        self._by_id = {f.id: f for f in self.figures}
        self._labels: list[Label] | None = None
        self._layout: str | None = None
        self._derived: dict[Any, Any] = {}

    def derived(self, key: Any, build: Callable[[], Any]) -> Any:
        """What another module derives from this spec alone (expression trees, say), built once per spec."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def sheet_name(self, sheet_id: str) -> str:
        return self.sheets[sheet_id]

    def text_heading(self, key: str) -> str:
        """The heading of a text: a section's (一、总体情况) or a topic's (（一）主动公开)."""
        field = next((f for f in self.prose.fields if f.id == key and f.label), None)
        return field.label if field else self.section(key).heading

    def joined_texts(self, parts: dict[str, str]) -> dict[str, str]:
        """The texts the rules read: each section whole (its topics under their headings), and each topic."""
        out = dict(parts)
        for section in {f.section for f in self.prose.fields}:
            fields = [f for f in self.prose.fields if f.section == section and f.id in parts]
            if fields:
                out[section] = "\n".join(f"{f.label}\n{parts[f.id]}" if f.label else parts[f.id]
                                         for f in fields if parts[f.id] or not f.label).strip("\n")
        return out

    def required_texts(self, present: Iterable[str]) -> list[ProseField]:
        """The texts a published report needs, of a workbook holding the text cells ``present``.

        A section whose required topics the workbook lacks (an earlier template version) needs its own text.
        """
        present = set(present)
        out: list[ProseField] = []
        for f in self.prose.fields:
            if f.required and f.id in present:
                out.append(f)
            elif f.label is None and f.id in present and not f.required:
                topics = [t for t in self.prose.fields if t.section == f.section and t.label and t.required]
                if topics and not any(t.id in present for t in topics):
                    out.append(f)
        return out

    def is_written(self, text: str | None) -> bool:
        """Whether a text says something: not blank, not only one of the spec's empty words (无)."""
        visible = re.sub(r"\s+", "", text or "")
        return bool(visible) and visible not in self.prose.empty_words

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)

    @property
    def office_fields(self) -> tuple[OfficeField, ...]:
        return self.office.fields

    def office_field(self, field_id: str) -> OfficeField:
        return next(f for f in self.office.fields if f.id == field_id)

    def figure(self, figure_id: str) -> Figure:
        return self._by_id[figure_id]

    def has_figure(self, figure_id: str) -> bool:
        return figure_id in self._by_id

    def inputs(self) -> list[Figure]:
        return [f for f in self.figures if f.kind == "input"]

    def computed(self) -> list[Figure]:
        return [f for f in self.figures if f.kind == "computed"]

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def name_for(self, key: str) -> str:
        """The workbook defined name for a figure id or other key."""
        return self.name_prefix + key.replace(".", "_")

    def applies_to_year(self, year: int) -> bool:
        start, end = self.years
        return year >= start and (end is None or year <= end)

    def years_text(self) -> str:
        start, end = self.years
        return f"{start}年及以后" if end is None else f"{start}—{end}"

    @property
    def our_sheets(self) -> set[str]:
        """Sheets xxgk adds to a workbook (feedback, review marks, rollup sheets): not an office's change."""
        return {self.feedback_sheet, self.marks_sheet, *self.rollup.sheets.values()}

    @property
    def layout_sha256(self) -> str:
        """A checksum of what a reader relies on: figures, their cells and names, the labels,
        the office and prose cells. Editing a rule's message or a comment leaves it unchanged,
        so templates already sent out stay current."""
        if self._layout is None:
            layout = {
                "figures": [(f.id, f.sheet, f.cell, f.name, f.type, list(f.sum)) for f in self.figures],
                "labels": [(lb.sheet, lb.cells, lb.text) for lb in self.labels()],
                "office": [(f.id, f.cell) for f in self.office.fields],
                "prose": [(f.id, f.cell) for f in self.prose.fields],
                **({"explanation": self.explanation.cell} if self.explanation else {}),
            }
            self._layout = hashlib.sha256(json.dumps(layout, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
        return self._layout

    def labels(self) -> list[Label]:
        """Every fixed text of the template, in writing order, derived from the spec (computed once)."""
        if self._labels is None:
            self._labels = _labels(self)
        return self._labels

    def to_dict(self) -> dict[str, Any]:
        """The machine view printed by ``xxgk spec --json``."""
        return {
            "format": self.format,
            "title": self.title,
            "basis": self.basis,
            "template_version": self.template_version,
            "spec_sha256": self.sha256,
            "layout_sha256": self.layout_sha256,
            "figures": [
                {
                    "id": f.id, "table": f.table, "block": f.block, "row": f.row, "column": f.column,
                    "column_group": f.column_group, "kind": f.kind, "type": f.type, "unit": f.unit,
                    "sheet": f.sheet, "cell": f.cell, "name": f.name,
                    **({"sum": list(f.sum), "rule": f.rule} if f.kind == "computed" else {}),
                }
                for f in self.figures
            ],
            "rules": [
                {"id": r.id, "code": r.code, "severity": r.severity, "kind": r.kind, "title": r.title,
                 "description": r.description}
                for r in self.rules
            ],
        }


def recompute(spec: Spec, values: dict[str, Any]) -> dict[str, float]:
    """Every figure's value: inputs as given (text, blank and anything not a number count 0, as
    SUM does) and every total recomputed from them. Nothing stored in a workbook is trusted."""
    out: dict[str, float] = {}

    def value(fid: str) -> float:
        if fid not in out:
            fig = spec.figure(fid)
            if fig.kind == "computed":
                out[fid] = sum(value(p) for p in fig.sum)
            else:
                v = values.get(fid)
                out[fid] = v if isinstance(v, (int, float)) and not isinstance(v, bool) else 0
        return out[fid]

    for f in spec.figures:
        value(f.id)
    return out


def version_key(version: Any) -> tuple[int, ...]:
    """"2021.2" → (2021, 2), for comparing template versions (an unreadable one sorts first)."""
    try:
        return tuple(int(p) for p in str(version).split("."))
    except ValueError:
        return ()


def input_parts(spec: Spec, fid: str) -> list[str]:
    """The input figures a figure is made of (itself if it is an input)."""
    fig = spec.figure(fid)
    if fig.kind == "input":
        return [fid]
    return [p for part in fig.sum for p in input_parts(spec, part)]


# -- loading ----------------------------------------------------------------------------------

def _figure_id(*parts: str | None) -> str:
    return ".".join(p for p in parts if p)


def _text(d: dict[str, Any]) -> Text:
    return Text(d["cells"], d["text"])


def _column(c: dict[str, Any]) -> Column:
    return Column(c.get("id"), c.get("label"), c["col"], c.get("label_row"), c.get("label_cells"), c.get("merge_to"),
                  c.get("group"), tuple(c.get("sum") or ()), c.get("rule"), c.get("type"))


def _row(r: dict[str, Any]) -> Row:
    return Row(r.get("id"), r.get("label"), int(r["row"]), r.get("label_cells"), r.get("group"), r.get("section"),
               tuple(r.get("sum") or ()), r.get("rule"), r.get("type"), tuple(r.get("aliases") or ()),
               r.get("import_section"), tuple(r.get("import_patterns") or ()))


def _table(raw: dict[str, Any], t: dict[str, Any]) -> Table:
    blocks = tuple(Block(b.get("id"), b.get("label"), b.get("label_text"), b.get("label_cells"), b["type"],
                         tuple(_column(c) for c in b["columns"]), tuple(_row(r) for r in b["rows"]))
                   for b in t["blocks"])
    heading = t["heading"]
    return Table(t["id"], t["table"], raw["sheets"][t["sheet"]], heading["cells"], heading.get("section"),
                 heading.get("text"), tuple(_text(lb) for lb in t.get("labels") or ()), blocks,
                 dict(t.get("widths") or {}), bool(t.get("landscape")), t.get("freeze"),
                 bool(t.get("report_landscape")), dict(t.get("report_widths") or {}))


def _types(raw: dict[str, Any]) -> dict[str, ValueType]:
    return {tid: ValueType(tid, t.get("number"), t.get("min"), t.get("max"), t.get("unit"), t.get("number_format"),
                           t.get("prompt_title", ""), t.get("prompt", ""), t.get("error_title", ""), t.get("error", ""))
            for tid, t in raw["types"].items()}


def _expand_figures(raw: dict[str, Any], tables: tuple[Table, ...], types: dict[str, ValueType]) -> list[Figure]:
    figures: list[Figure] = []
    for table in tables:
        for block in table.blocks:
            columns = {c.id for c in block.columns}
            for row in block.rows:
                for col in block.columns:
                    fid = _figure_id(table.id, block.id, row.id, col.id)
                    type_id = row.type or col.type or block.type
                    if type_id not in types:
                        raise SpecError(f"{fid}：未定义的类型 {type_id}")
                    total: tuple[str, ...] = ()
                    rule = None
                    # A cell in a computed column takes the column's (row-wise) sum.
                    if col.sum:
                        missing = [c for c in col.sum if c not in columns]
                        if missing:
                            raise SpecError(f"{fid}：求和引用了不存在的列 {missing}")
                        total = tuple(_figure_id(table.id, block.id, row.id, c) for c in col.sum)
                        rule = col.rule
                    elif row.sum:
                        total = tuple(_figure_id(table.id, block.id, r, col.id) for r in row.sum)
                        rule = row.rule
                    figures.append(Figure(
                        id=fid, table=table.table, table_id=table.id, block_id=block.id, row_id=row.id,
                        column_id=col.id, block=row.group or block.label, row=row.label, column=col.label,
                        column_group=col.group, kind="computed" if total else "input", type=type_id,
                        unit=types[type_id].unit, sheet=table.sheet, cell=f"{col.col}{row.row}",
                        merge_to=f"{col.merge_to}{row.row}" if col.merge_to else None,
                        name=raw["name_prefix"] + fid.replace(".", "_"), sum=total, rule=rule))
    return figures


def _foreach_items(tables: tuple[Table, ...], source: Any) -> list[tuple[str, str | None]]:
    """Resolve a foreach source to (key, label) pairs.

    "t3.columns" gives every column of table t3's single block (key: column id);
    "t2.art20_1.rows" gives that block's rows (key: "art20_1.<row id>"); a list of
    such sources concatenates them; a list of plain ids (tables, sections) gives those ids.
    """
    if isinstance(source, list):
        if all(isinstance(s, str) and s.endswith((".rows", ".columns")) for s in source):
            return [item for s in source for item in _foreach_items(tables, s)]
        return [(str(item), None) for item in source]
    path, what = source.rsplit(".", 1)
    table_id, _, block_id = path.partition(".")
    table = next(t for t in tables if t.id == table_id)
    blocks = [b for b in table.blocks if (b.id or "") == block_id]
    if len(blocks) != 1:
        raise SpecError(f"foreach 来源不明确：{source}")
    if what == "columns":
        return [(c.id, c.label) for c in blocks[0].columns]
    return [(_figure_id(block_id, r.id), r.label) for r in blocks[0].rows]


def _substitute(value: Any, var: str | None, key: str | None) -> Any:
    """A rule's parameters with ``$var`` replaced by the instance's key, at any depth."""
    if var is None:
        return value
    if isinstance(value, str):
        return Template(value).safe_substitute({var: key})
    if isinstance(value, list):
        return [_substitute(v, var, key) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, var, key) for k, v in value.items()}
    return value


_RULE_FIELDS = {"id", "code", "severity", "title", "description", "kind", "message", "messages", "tolerance",
                "foreach", "check"}


def _expand_rules(raw: dict[str, Any], spec: Spec) -> list[Rule]:
    rules: list[Rule] = []
    for r in raw["rules"]:
        if r["severity"] not in SEVERITIES:
            raise SpecError(f"规则 {r['id']}：严重程度只能是 error、warning 或 info")
        check = r.get("check") or {}
        rule = Rule(id=r["id"], code=r["code"], severity=r["severity"], title=r["title"], description=r["description"],
                    kind=r["kind"], message=r["message"], messages=dict(r.get("messages") or {}),
                    tolerance=float(r.get("tolerance", 1e-6)),
                    check_labels=tuple(Label(raw["sheets"][lb["sheet"]], lb["cells"], lb["text"], "check_label")
                                       for lb in check.get("labels", [])))
        try:
            kind = rule.impl
        except KeyError:
            raise SpecError(f"规则 {rule.id}：未知的规则类型 {rule.kind}") from None
        placements = [Placement(raw["sheets"][c["sheet"]], c["cell"], c.get("merge_to")) for c in check.get("cells", [])]
        params = {k: v for k, v in r.items() if k not in _RULE_FIELDS}
        if "foreach" in r:
            ((var, source),) = r["foreach"].items()
            items = _foreach_items(spec.tables, source)
        else:
            var, items = None, [(None, None)]
        for index, (key, label) in enumerate(items):
            try:
                typed = kind.parse(spec, _substitute(params, var, key))
            except (KeyError, TypeError, ValueError) as exc:
                raise SpecError(f"规则 {rule.id} 的参数有误：{exc}") from None
            figures = tuple(kind.figures(typed))
            for fid in figures:
                if not spec.has_figure(fid):
                    raise SpecError(f"规则 {rule.id} 引用了不存在的数据项 {fid}")
            rule.instances.append(RuleInstance(rule, key, label, typed, figures,
                                               placements[index] if index < len(placements) else None))
        if placements and len(placements) != len(rule.instances):
            raise SpecError(f"规则 {rule.id}：校验单元格数与规则实例数不符")
        rules.append(rule)
    return rules


def _sum_columns(raw: list[dict]) -> tuple[SumColumn, ...]:
    return tuple(SumColumn(c["label"], tuple(c["figures"])) for c in raw)


def _rollup_report(raw: dict[str, Any]) -> RollupReport:
    top = raw.get("top") or {}
    return RollupReport(_sum_columns(raw.get("kind_columns") or []), top.get("title", ""), top.get("by"),
                        int(top.get("count", 10)), _sum_columns(top.get("columns") or []))


def _validate_layout(spec: Spec) -> None:
    """Refuse a spec in which two things claim the same cell, or that names figures it does not have."""
    rr = spec.rollup.report
    named = [*spec.rollup.headline, *(f for c in (*rr.kind_columns, *rr.top_columns) for f in c.figures),
             *([rr.top_by] if rr.top_by else []), *(c.figure for c in spec.rollup.charts if c.figure)]
    unknown = [fid for fid in named if not spec.has_figure(fid)]
    if unknown:
        raise SpecError(f"汇总表（headline、report、charts）引用了不存在的数据项 {'、'.join(unknown)}")
    used: dict[tuple[str, str], str] = {}

    def claim(sheet: str, cell: str, what: str) -> None:
        split_cell(cell)
        if (sheet, cell) in used:
            raise SpecError(f"单元格 {sheet}!{cell} 同时用于 {used[(sheet, cell)]} 和 {what}")
        used[(sheet, cell)] = what

    for f in spec.figures:
        claim(f.sheet, f.cell, f.id)
    for rule in spec.rules:
        for inst in rule.instances:
            if inst.placement:
                claim(inst.placement.sheet, inst.placement.cell, f"规则 {rule.id}")
    for fld in spec.office.fields:
        claim(spec.office.sheet, fld.cell, f"单位信息 {fld.id}")
    for fld in spec.prose.fields:
        claim(spec.prose.sheet, fld.cell, f"文字 {fld.id}")
    if spec.explanation:
        claim(spec.explanation.sheet, spec.explanation.cell, "情况说明")


def _labels(spec: Spec) -> list[Label]:
    out: list[Label] = []
    office = spec.office
    out.append(Label(office.sheet, office.title.cells, office.title.text, "title"))
    out.append(Label(office.sheet, office.subtitle.cells, office.subtitle.text, "subtitle"))
    out += [Label(office.sheet, f.label_cell, f.label, "label") for f in office.fields]
    out.append(Label(office.sheet, office.summary.label_cell, office.summary.label, "label"))
    prose = spec.prose
    out.append(Label(prose.sheet, prose.title.cells, prose.title.text, "title"))
    out += [Label(prose.sheet, f.label_cell, f.label or spec.section(f.section).heading, "heading") for f in prose.fields]
    if spec.explanation:
        ex = spec.explanation
        out.append(Label(ex.sheet, ex.label_cell, ex.label, "heading"))
    for table in spec.tables:
        text = table.heading_text or spec.section(table.heading_section).heading
        out.append(Label(table.sheet, table.heading_cells, text, "heading", table.id))
        out += [Label(table.sheet, lb.cells, lb.text, "header", table.id) for lb in table.labels]
        for block in table.blocks:
            if block.label_cells:
                out.append(Label(table.sheet, block.label_cells, block.heading, "header", table.id))
            for col in block.columns:
                if col.label is not None:
                    out.append(Label(table.sheet, col.label_range, col.label, "header", table.id))
            out += [Label(table.sheet, r.label_cells, r.label, "label", table.id) for r in block.rows if r.label_cells]
    for rule in spec.rules:
        out += list(rule.check_labels)
    return out


def _build(raw: dict[str, Any], sha256: str, path: str) -> Spec:
    sheets = dict(raw["sheets"])
    types = _types(raw)
    o = raw["office"]
    s = o["summary"]
    office = OfficeSheet(
        sheets[o["sheet"]], _text(o["title"]), _text(o["subtitle"]),
        tuple(OfficeField(f["id"], f["label"], f["label_cell"], f["cell"], f.get("merge_to"), f["type"],
                          bool(f.get("required")), tuple(raw[f["choices"]]) if f.get("choices") else None)
              for f in o["fields"]),
        dict(o.get("widths") or {}),
        Summary(s["label_cell"], s["label"], s["cell"], s.get("merge_to"), s["ok"], s["fail"],
                s.get("ok_with_warnings", s["ok"]), s.get("fail_with_warnings", s["fail"])))
    p = raw["prose"]
    prose = ProseSheet(sheets[p["sheet"]], dict(p.get("widths") or {}), _text(p["title"]),
                       tuple(ProseField(str(f.get("id", f["section"])), f["section"], f.get("label"), f["label_cell"],
                                        f["cell"], f["merge_to"], float(f["height"]), f["hint"], f.get("since"),
                                        bool(f.get("required")))
                             for f in p["fields"]), tuple(p.get("empty_words") or ()))
    ex = raw.get("explanation")
    explanation = Explanation(sheets[ex["sheet"]], ex.get("since"), ex["label"], ex["label_cell"], ex["cell"],
                              ex["merge_to"], float(ex["height"]), ex["hint"]) if ex else None
    tables = tuple(_table(raw, t) for t in raw["tables"])
    r = raw["rollup"]
    rollup = Rollup(r["kind"], dict(r["sheets"]), tuple(Chart(**c) for c in r.get("charts", [])),
                    tuple(r.get("headline") or ()), dict(r.get("scope") or {}), _rollup_report(r.get("report") or {}))
    meta = Meta(sheets[raw["meta"]["sheet"]], tuple(MetaField(f["key"], f["label"], f["cell"]) for f in raw["meta"]["fields"]))
    g = raw["guide"]
    guide = Guide(sheets[g["sheet"]], dict(g.get("widths") or {}), g["title"], tuple(g["paragraphs"]), g["rules_heading"])
    y = raw["years"]
    spec = Spec(
        raw=raw, sha256=sha256, path=path, format=str(raw["format"]), title=raw["title"], basis=raw["basis"],
        years=(int(y["from"]), int(y["to"]) if y.get("to") is not None else None),
        template_version=str(raw["template_version"]),
        compatible_versions={str(k): str(v) for k, v in (raw.get("compatible_versions") or {}).items()},
        name_prefix=raw["name_prefix"], ok_text=raw["ok_text"], feedback_sheet=raw["feedback_sheet"],
        marks_sheet=raw.get("marks_sheet", "_xxgk_marks"), office_kinds=tuple(raw["office_kinds"]), types=types,
        sheets=sheets, office=office,
        sections=tuple(Section(sec["id"], sec["heading"], sec["kind"], tuple(sec.get("import_keywords") or ()),
                               sec.get("table")) for sec in raw["sections"]),
        prose=prose, explanation=explanation, tables=tables, rollup=rollup, meta=meta, guide=guide,
        figures=[], rules=[])
    spec.figures = _expand_figures(raw, tables, types)
    spec._by_id = {f.id: f for f in spec.figures}
    if len(spec._by_id) != len(spec.figures):
        raise SpecError(f"格式定义文件 {path} 中有重复的数据项编号")
    spec.rules = _expand_rules(raw, spec)
    _validate_layout(spec)
    return spec


def load_spec(path: str | Path) -> Spec:
    """Load and validate a format spec from a YAML file.

    The built spec is cached (a pickle under the user's cache folder, keyed by the YAML and the code that
    builds it): every ``xxgk`` run and every worker of a batch loads both formats, and building them is
    most of a one-file check's start-up.
    """
    data = Path(path).read_bytes()
    cache_file = _cache_file(data)
    spec = _from_cache(cache_file)
    if spec is not None:
        return spec
    import yaml

    try:  # the C loader parses a spec in a few milliseconds; the pure-Python one takes ~20 times longer
        from yaml import CSafeLoader as loader
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        from yaml import SafeLoader as loader
    try:
        raw = yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        raise SpecError(f"格式定义文件 {path} 无法解析：{exc}") from exc
    try:
        spec = _build(raw, hashlib.sha256(data).hexdigest(), str(path))
    except (KeyError, TypeError) as exc:
        raise SpecError(f"格式定义文件 {path} 缺少或写错了项目：{exc}") from None
    _to_cache(cache_file, spec)
    return spec


def _cache_file(data: bytes) -> Path | None:
    """Where the built spec of these YAML bytes is cached: the key covers the YAML, the modules that build
    and hold a spec, and the Python version (pickles follow the classes)."""
    import os
    import sys

    try:
        key = hashlib.sha256(data)
        here = Path(__file__).parent
        for module in ("spec.py", "rules.py", "xlexpr.py"):
            key.update((here / module).read_bytes())
        key.update(sys.version.encode())
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "xxgk" / f"spec-{key.hexdigest()[:32]}.pickle"
    except (OSError, RuntimeError):
        return None


def _from_cache(path: Path | None) -> "Spec | None":
    import pickle

    try:
        if path is not None and path.is_file():
            spec = pickle.loads(path.read_bytes())
            if isinstance(spec, Spec):
                return spec
    except Exception:  # noqa: BLE001 - a damaged or foreign cache entry: build the spec again
        pass
    return None


def _to_cache(path: Path | None, spec: "Spec") -> None:
    import pickle

    if path is None:
        return
    try:
        from .fsutil import atomic_write_bytes

        atomic_write_bytes(path, pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - a read-only home: no cache, nothing else changes
        pass


@cache
def _format_files() -> dict[str, Path]:
    files = {}
    for entry in resources.files(FORMATS_PACKAGE).iterdir():
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as p:
                # The format id is on the file's first lines: no need to parse the whole spec to list it.
                head = re.search(r'^format:\s*"?(\w+)"?', Path(p).read_text(encoding="utf-8"), re.M)
                if head:
                    files[head.group(1)] = Path(p)
    return files


def available_formats() -> list[str]:
    """The format ids shipped with xxgk, e.g. ["2019", "2021"]."""
    return sorted(_format_files())


@cache
def get_spec(format_id: str) -> Spec:
    """The bundled spec of a national format ("2019" or "2021")."""
    files = _format_files()
    if str(format_id) not in files:
        raise SpecError(f"没有“{format_id}”格式；可用的格式：{'、'.join(sorted(files))}")
    return load_spec(files[str(format_id)])


def format_for_year(year: int) -> Spec:
    """The national format that applies to reports of ``year`` (rule D7)."""
    for fid in available_formats():
        spec = get_spec(fid)
        if spec.applies_to_year(year):
            return spec
    raise SpecError(f"没有适用于{year}年度报告的格式")
