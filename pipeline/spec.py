"""The national formats as data.

A format spec (``pipeline/formats/*.yaml``) is the single source of truth for
labels, figure ids, cell positions, units and rules. This module loads a spec,
validates it and expands it into flat :class:`Figure` and :class:`RuleInstance`
lists that every other module works from.
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
from typing import Any

import yaml

from .errors import SpecError

FORMATS_PACKAGE = "pipeline.formats"
_CELL_RE = re.compile(r"^([A-Z]{1,3})([1-9][0-9]*)$")


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
    """One evaluation of a rule: F1 for the 自然人 column, D5 for 表三, …"""

    rule: "Rule"
    key: str | None  # the foreach value (column id, row id, table id)
    label: str | None  # its Chinese label
    left: tuple[str, ...] = ()
    right: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    placement: Placement | None = None


@dataclass
class Rule:
    """A consistency rule as written in the spec."""

    id: str
    code: str
    severity: str
    title: str
    description: str
    kind: str
    message: str
    raw: dict[str, Any]
    instances: list[RuleInstance] = field(default_factory=list)

    @property
    def messages(self) -> dict[str, str]:
        return self.raw.get("messages", {})


@dataclass
class Spec:
    """A loaded, validated national format."""

    raw: dict[str, Any]
    sha256: str
    path: str
    figures: list[Figure]
    rules: list[Rule]

    def __post_init__(self) -> None:
        self._by_id = {f.id: f for f in self.figures}

    # Plain attributes of the spec file, named for readability at call sites.
    @property
    def format(self) -> str:
        return str(self.raw["format"])

    @property
    def title(self) -> str:
        return self.raw["title"]

    @property
    def basis(self) -> str:
        return self.raw["basis"]

    @property
    def template_version(self) -> str:
        return str(self.raw["template_version"])

    @property
    def compatible_versions(self) -> dict[str, str]:
        """Earlier template versions that still read as current: version → its layout checksum."""
        return {str(k): str(v) for k, v in (self.raw.get("compatible_versions") or {}).items()}

    @property
    def explanation(self) -> dict[str, Any] | None:
        """Where the office explains its warnings for the reviewer (internal, never published)."""
        return self.raw.get("explanation")

    @property
    def ok_text(self) -> str:
        return self.raw["ok_text"]

    @property
    def office_kinds(self) -> list[str]:
        return list(self.raw["office_kinds"])

    @property
    def years(self) -> tuple[int, int | None]:
        y = self.raw["years"]
        return int(y["from"]), (int(y["to"]) if y.get("to") is not None else None)

    @property
    def types(self) -> dict[str, dict[str, Any]]:
        return self.raw["types"]

    def sheet_name(self, sheet_id: str) -> str:
        return self.raw["sheets"][sheet_id]

    @property
    def tables(self) -> list[dict[str, Any]]:
        return self.raw["tables"]

    @property
    def sections(self) -> list[dict[str, Any]]:
        return self.raw["sections"]

    def section(self, section_id: str) -> dict[str, Any]:
        return next(s for s in self.sections if s["id"] == section_id)

    @property
    def office_fields(self) -> list[dict[str, Any]]:
        return self.raw["office"]["fields"]

    def office_field(self, field_id: str) -> dict[str, Any]:
        return next(f for f in self.office_fields if f["id"] == field_id)

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
        return self.raw["name_prefix"] + key.replace(".", "_")

    def applies_to_year(self, year: int) -> bool:
        start, end = self.years
        return year >= start and (end is None or year <= end)

    def years_text(self) -> str:
        start, end = self.years
        return f"{start}年及以后" if end is None else f"{start}—{end}"

    @property
    def layout_sha256(self) -> str:
        """A checksum of what a reader relies on: figures, their cells and names, the labels,
        the office and prose cells. Editing a rule's message or a comment leaves it unchanged,
        so templates already sent out stay current."""
        layout = {
            "figures": [(f.id, f.sheet, f.cell, f.name, f.type, list(f.sum)) for f in self.figures],
            "labels": [(lb.sheet, lb.cells, lb.text) for lb in self.labels()],
            "office": [(f["id"], f["cell"]) for f in self.office_fields],
            "prose": [(f["section"], f["cell"]) for f in self.raw["prose"]["fields"]],
            **({"explanation": self.explanation["cell"]} if self.explanation else {}),
        }
        return hashlib.sha256(json.dumps(layout, ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    def labels(self) -> list[Label]:
        """Every fixed text of the template, in writing order, derived from the spec."""
        return _labels(self.raw)

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
                    "id": f.id,
                    "table": f.table,
                    "block": f.block,
                    "row": f.row,
                    "column": f.column,
                    "column_group": f.column_group,
                    "kind": f.kind,
                    "type": f.type,
                    "unit": f.unit,
                    "sheet": f.sheet,
                    "cell": f.cell,
                    "name": f.name,
                    **({"sum": list(f.sum), "rule": f.rule} if f.kind == "computed" else {}),
                }
                for f in self.figures
            ],
            "rules": [
                {"id": r.id, "code": r.code, "severity": r.severity, "title": r.title, "description": r.description}
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


def split_cell(cell: str) -> tuple[str, int]:
    """Split "D12" into ("D", 12)."""
    m = _CELL_RE.match(cell)
    if not m:
        raise SpecError(f"不是有效的单元格地址：{cell!r}")
    return m.group(1), int(m.group(2))


def _figure_id(*parts: str | None) -> str:
    return ".".join(p for p in parts if p)


def _expand_figures(raw: dict[str, Any]) -> list[Figure]:
    figures: list[Figure] = []
    types = raw["types"]
    for table in raw["tables"]:
        sheet = raw["sheets"][table["sheet"]]
        for block in table["blocks"]:
            columns = {c["id"]: c for c in block["columns"]}
            for row in block["rows"]:
                for col in block["columns"]:
                    fid = _figure_id(table["id"], block.get("id"), row.get("id"), col.get("id"))
                    cell = f"{col['col']}{row['row']}"
                    type_id = row.get("type") or col.get("type") or block["type"]
                    if type_id not in types:
                        raise SpecError(f"{fid}：未定义的类型 {type_id}")
                    total: tuple[str, ...] = ()
                    rule = None
                    # A cell in a computed column takes the column's (row-wise) sum.
                    if col.get("sum"):
                        total = tuple(
                            _figure_id(table["id"], block.get("id"), row.get("id"), c) for c in col["sum"]
                        )
                        rule = col["rule"]
                        missing = [c for c in col["sum"] if c not in columns]
                        if missing:
                            raise SpecError(f"{fid}：求和引用了不存在的列 {missing}")
                    elif row.get("sum"):
                        total = tuple(
                            _figure_id(table["id"], block.get("id"), r, col.get("id")) for r in row["sum"]
                        )
                        rule = row["rule"]
                    merge_to = f"{col['merge_to']}{row['row']}" if col.get("merge_to") else None
                    figures.append(
                        Figure(
                            id=fid,
                            table=table["table"],
                            table_id=table["id"],
                            block_id=block.get("id"),
                            row_id=row.get("id"),
                            column_id=col.get("id"),
                            block=row.get("group") or block.get("label"),
                            row=row.get("label"),
                            column=col.get("label"),
                            column_group=col.get("group"),
                            kind="computed" if total else "input",
                            type=type_id,
                            unit=types[type_id].get("unit"),
                            sheet=sheet,
                            cell=cell,
                            merge_to=merge_to,
                            name=raw["name_prefix"] + fid.replace(".", "_"),
                            sum=total,
                            rule=rule,
                        )
                    )
    return figures


def _foreach_items(raw: dict[str, Any], source: Any) -> list[tuple[str, str | None]]:
    """Resolve a foreach source to (key, label) pairs.

    "t3.columns" gives every column of table t3's single block (key: column id);
    "t2.art20_1.rows" gives that block's rows (key: "art20_1.<row id>"); a list of
    such sources concatenates them; a list of plain ids (tables) gives those ids.
    """
    if isinstance(source, list):
        if all(isinstance(s, str) and s.endswith((".rows", ".columns")) for s in source):
            return [item for s in source for item in _foreach_items(raw, s)]
        return [(str(item), None) for item in source]
    path, what = source.rsplit(".", 1)
    table_id, _, block_id = path.partition(".")
    table = next(t for t in raw["tables"] if t["id"] == table_id)
    blocks = [b for b in table["blocks"] if (b.get("id") or "") == block_id]
    if len(blocks) != 1:
        raise SpecError(f"foreach 来源不明确：{source}")
    if what == "columns":
        return [(c["id"], c.get("label")) for c in blocks[0]["columns"]]
    return [(_figure_id(block_id, r["id"]), r.get("label")) for r in blocks[0]["rows"]]


def _expand_rules(raw: dict[str, Any], figures: dict[str, Figure]) -> list[Rule]:
    rules: list[Rule] = []
    for r in raw["rules"]:
        rule = Rule(
            id=r["id"],
            code=r["code"],
            severity=r["severity"],
            title=r["title"],
            description=r["description"],
            kind=r["kind"],
            message=r["message"],
            raw=r,
        )
        if r["severity"] not in ("error", "warning"):
            raise SpecError(f"规则 {rule.id}：严重程度只能是 error 或 warning")
        placements = [
            Placement(raw["sheets"][c["sheet"]], c["cell"], c.get("merge_to"))
            for c in r.get("check", {}).get("cells", [])
        ]
        if "foreach" in r:
            ((var, source),) = r["foreach"].items()
            items = _foreach_items(raw, source)
        else:
            var, items = None, [(None, None)]
        for index, (key, label) in enumerate(items):
            subst = (lambda s: Template(s).substitute({var: key})) if var else (lambda s: s)
            left = tuple(subst(x) for x in r.get("left", []))
            right = tuple(subst(x) for x in r.get("right", []))
            named = tuple(r.get("figures", [])) + tuple(r.get("if_nonzero", [])) + tuple(r.get("then_nonzero", []))
            named += tuple(f for p in r.get("patterns", []) for alt in p["figures"] for f in alt)
            for fid in left + right + named:
                if fid not in figures:
                    raise SpecError(f"规则 {rule.id} 引用了不存在的数据项 {fid}")
            rule.instances.append(
                RuleInstance(
                    rule=rule,
                    key=key,
                    label=label,
                    left=left,
                    right=right,
                    figures=left + right + named,
                    placement=placements[index] if index < len(placements) else None,
                )
            )
        if placements and len(placements) != len(rule.instances):
            raise SpecError(f"规则 {rule.id}：校验单元格数与规则实例数不符")
        rules.append(rule)
    return rules


def _validate_layout(raw: dict[str, Any], figures: list[Figure], rules: list[Rule]) -> None:
    """Refuse a spec in which two things claim the same cell."""
    used: dict[tuple[str, str], str] = {}

    def claim(sheet: str, cell: str, what: str) -> None:
        split_cell(cell)
        if (sheet, cell) in used:
            raise SpecError(f"单元格 {sheet}!{cell} 同时用于 {used[(sheet, cell)]} 和 {what}")
        used[(sheet, cell)] = what

    for f in figures:
        claim(f.sheet, f.cell, f.id)
    for rule in rules:
        for inst in rule.instances:
            if inst.placement:
                claim(inst.placement.sheet, inst.placement.cell, f"规则 {rule.id}")
    office_sheet = raw["sheets"][raw["office"]["sheet"]]
    for fld in raw["office"]["fields"]:
        claim(office_sheet, fld["cell"], f"单位信息 {fld['id']}")
    prose_sheet = raw["sheets"][raw["prose"]["sheet"]]
    for fld in raw["prose"]["fields"]:
        claim(prose_sheet, fld["cell"], f"文字 {fld['section']}")
    if raw.get("explanation"):
        ex = raw["explanation"]
        claim(raw["sheets"][ex["sheet"]], ex["cell"], "情况说明")


def _labels(raw: dict[str, Any]) -> list[Label]:
    sheet = lambda sid: raw["sheets"][sid]  # noqa: E731
    out: list[Label] = []
    office = raw["office"]
    osheet = sheet(office["sheet"])
    out.append(Label(osheet, office["title"]["cells"], office["title"]["text"], "title"))
    out.append(Label(osheet, office["subtitle"]["cells"], office["subtitle"]["text"], "subtitle"))
    out += [Label(osheet, f["label_cell"], f["label"], "label") for f in office["fields"]]
    out.append(Label(osheet, office["summary"]["label_cell"], office["summary"]["label"], "label"))
    prose = raw["prose"]
    psheet = sheet(prose["sheet"])
    sections = {s["id"]: s for s in raw["sections"]}
    out.append(Label(psheet, prose["title"]["cells"], prose["title"]["text"], "title"))
    out += [Label(psheet, f["label_cell"], sections[f["section"]]["heading"], "heading") for f in prose["fields"]]
    if raw.get("explanation"):
        ex = raw["explanation"]
        out.append(Label(sheet(ex["sheet"]), ex["label_cell"], ex["label"], "heading"))
    for table in raw["tables"]:
        tsheet, tid = sheet(table["sheet"]), table["id"]
        heading = table["heading"]
        text = heading.get("text") or sections[heading["section"]]["heading"]
        out.append(Label(tsheet, heading["cells"], text, "heading", tid))
        out += [Label(tsheet, lb["cells"], lb["text"], "header", tid) for lb in table.get("labels", [])]
        for block in table["blocks"]:
            if block.get("label_cells"):
                out.append(Label(tsheet, block["label_cells"], block.get("label_text") or block["label"], "header", tid))
            for col in block["columns"]:
                if col.get("label") is None:
                    continue
                cells = col.get("label_cells")
                if not cells:
                    row = col["label_row"]
                    cells = f"{col['col']}{row}" + (f":{col['merge_to']}{row}" if col.get("merge_to") else "")
                out.append(Label(tsheet, cells, col["label"], "header", tid))
            out += [Label(tsheet, r["label_cells"], r["label"], "label", tid) for r in block["rows"] if r.get("label_cells")]
    for rule in raw["rules"]:
        for lb in rule.get("check", {}).get("labels", []):
            out.append(Label(sheet(lb["sheet"]), lb["cells"], lb["text"], "check_label"))
    return out


def load_spec(path: str | Path) -> Spec:
    """Load and validate a format spec from a YAML file."""
    data = Path(path).read_bytes()
    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise SpecError(f"格式定义文件 {path} 无法解析：{exc}") from exc
    figures = _expand_figures(raw)
    by_id = {f.id: f for f in figures}
    if len(by_id) != len(figures):
        raise SpecError(f"格式定义文件 {path} 中有重复的数据项编号")
    rules = _expand_rules(raw, by_id)
    _validate_layout(raw, figures, rules)
    return Spec(raw=raw, sha256=hashlib.sha256(data).hexdigest(), path=str(path), figures=figures, rules=rules)


@cache
def _format_files() -> dict[str, Path]:
    files = {}
    for entry in resources.files(FORMATS_PACKAGE).iterdir():
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as p:
                head = yaml.safe_load(Path(p).read_text(encoding="utf-8"))
                files[str(head["format"])] = Path(p)
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
