"""The county rollup: each office's current submission summed into the national tables.

The rollup's first sheets are the template itself filled with the county totals
(same layout, defined names and metadata), so ``xxgk check`` and ``xxgk report``
read it like any office's workbook. Then come one row per office, totals by
office kind, completeness, open findings, provenance and native charts. Every
formula carries its correct stored result; outputs are replaced atomically.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Mapping
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Collection, Iterator
from xml.sax.saxutils import escape

from .errors import InputError, UsageError
from .fsutil import atomic_write_text, fault_point, remove_stale_temporaries
from .lifecycle import REVIEW_LABELS, STATE_LABELS, OfficeState, office_states
from .check import unit_level
from .reader import Submission, read_submission
from .spec import Chart, Figure, Spec, recompute
from .template import Filling, write_workbook
from .workspace import Workspace, local_time
from .xlexpr import Cells, Column, Num, Sum, SumIfs, col_letters
from .xlsxread import WorkbookError, iter_rows


@dataclass
class OfficeRow:
    code: str
    name: str
    kind: str
    status: str  # missing / unusable / ok / warnings / errors
    included: bool
    reason: str
    values: Mapping[str, float] = field(default_factory=dict)  # every figure, recomputed (FigureValues)
    submission: Any = None  # the current version's ledger row
    state: OfficeState | None = None

    @property
    def review(self) -> str | None:
        return self.state.review if self.state else None


@dataclass
class MergeResult:
    path: Path
    csv_path: Path
    spec: Spec
    offices: list[OfficeRow]
    totals: dict[str, float]
    kept_texts: list[str] = field(default_factory=list)  # texts carried over from the rollup it replaced

    @property
    def included(self) -> list[OfficeRow]:
        return [o for o in self.offices if o.included]

    @property
    def excluded(self) -> list[OfficeRow]:
        return [o for o in self.offices if not o.included]


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    """Text for an inline string: escaped, without characters XML 1.0 cannot hold."""
    return escape(_NOT_XML.sub("", str(value)))


def _number_text(x: float) -> str:
    x = _tidy(x)
    return str(x) if isinstance(x, int) else repr(float(x))


def _tidy(x: float) -> float | int:
    """Sums of decimals drift (0.1+0.2); counts stay integers."""
    x = round(x, 6)
    return int(x) if float(x).is_integer() else x


def collect(ws: Workspace, include_warnings: bool = False, include_errors: bool = False,
            progress: Callable[[int, int | None], None] | None = None) -> tuple[Spec, list[OfficeRow]]:
    """Each roster office with its current version and whether it goes into the totals.

    In: versions accepted (审核通过) and clean ones (no finding at all). Out, and listed with the
    reason: missing, unusable, returned, and versions with warnings nobody accepted or with
    errors, unless ``include_warnings``/``include_errors`` (or the workspace's merge policy) say so.
    """
    spec = ws.spec
    policy = ws.get("merge_policy")
    include_errors = include_errors or policy == "include-errors"
    include_warnings = include_warnings or include_errors or policy == "include-warnings"
    rows: list[OfficeRow] = []
    with ws.db() as conn:
        states = office_states(ws, conn)
    for n, state in enumerate(states.values(), start=1):
        if progress is not None:
            progress(n, len(states))
        cur = state.current
        if cur is None:
            reason = "未报送" if state.status == "missing" else f"报送的文件无法采用：{state.latest['reason']}"
            rows.append(OfficeRow(state.code, state.name, state.kind, state.status, False, reason, state=state))
            continue
        row = OfficeRow(state.code, state.name, state.kind, cur["status"], False, "", submission=cur, state=state)
        if state.review == "returned":
            row.reason = "已退回修改"
        elif state.review == "accepted" or cur["status"] == "ok":
            row.included = True
        elif cur["status"] == "warnings":
            row.included = include_warnings
            row.reason = "" if include_warnings else "有提醒，尚未审核通过"
        else:
            row.included = include_errors
            row.reason = "" if include_errors else "有错误"
        inputs = {k: v for k, v in json.loads(cur["values_json"] or "{}").items() if spec.has_figure(k)}
        row.values = FigureValues.of(spec, recompute(spec, inputs))
        rows.append(row)
    return spec, rows


class FigureValues(Mapping):
    """One office's figures as doubles in the spec's order, read like a dict: at 10,000 offices a dict each
    would cost some 250 MB, this a tenth of it."""

    __slots__ = ("_index", "_data")

    def __init__(self, index: dict[str, int], data: array):
        self._index, self._data = index, data

    @classmethod
    def of(cls, spec: Spec, values: dict[str, Any]) -> "FigureValues":
        index = _figure_index(spec)
        return cls(index, array("d", (float(values.get(fid) or 0) for fid in index)))

    def __getitem__(self, fid: str) -> float:
        return self._data[self._index[fid]]

    def __iter__(self):
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def data(self) -> array:
        return self._data


_INDEXES: dict[int, tuple[Spec, dict[str, int]]] = {}  # by id: a Spec is not hashable


def _figure_index(spec: Spec) -> dict[str, int]:
    held = _INDEXES.get(id(spec))
    if held is None or held[0] is not spec:
        held = _INDEXES[id(spec)] = (spec, {f.id: i for i, f in enumerate(spec.figures)})
    return held[1]


def _column_sums(offices: list[OfficeRow], spec: Spec) -> dict[str, float]:
    """Each figure summed over ``offices`` in one pass (not one pass per figure)."""
    index = _figure_index(spec)
    total = [0.0] * len(index)
    for o in offices:
        data = o.values.data if isinstance(o.values, FigureValues) else [o.values.get(fid, 0) for fid in index]
        total = [a + b for a, b in zip(total, data)]
    return {fid: _tidy(total[i]) for fid, i in index.items()}


def _kept_texts(spec: Spec, ws: Workspace, out: Path) -> dict[str, str]:
    """The texts the coordinator already wrote into an earlier rollup at ``out`` (merging again keeps them)."""
    if not out.is_file():
        return {}
    sub = read_submission(out)
    same = (sub.readable and sub.spec is spec and sub.office.get("kind") == spec.rollup.kind
            and sub.year == ws.year)
    return {k: v for k, v in sub.prose.items() if v and v.strip()} if same else {}


MAX_TEXTS_BYTES = 1024 * 1024


def read_texts(spec: Spec, path: str | Path) -> dict[str, str]:
    """The unit's own texts from a plain-text or Markdown file, each under its heading as the report prints it.

    Headings are lines reading a text section's heading (一、总体情况, 五、…, 六、…) or one of 总体情况's topics
    (（一）主动公开 …), with or without Markdown's #; text under 一、 before its first topic is its opening.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_TEXTS_BYTES:
            raise InputError(f"{path} 超过1MB，不像是报告的文字部分")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取 {path}：{exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} 不是 UTF-8 编码的文字文件；请用记事本“另存为”UTF-8") from None
    headings = {spec.text_heading(f.id): f.id for f in spec.prose.fields}
    generated = {s.heading for s in spec.sections if s.kind != "prose"}
    parts: dict[str, list[str]] = {}
    key = None
    for n, line in enumerate(text.splitlines(), start=1):
        bare = line.strip().lstrip("#").strip()
        if bare in headings:
            key = headings[bare]
            parts.setdefault(key, [])
        elif bare in generated:
            raise InputError(f"{path} 第{n}行：“{bare}”由表格数据生成，不能在文字中填写")
        elif line.lstrip().startswith("#"):
            raise InputError(f"{path} 第{n}行：无法识别的标题“{bare}”；可用的标题：{'、'.join(headings)}")
        elif bare:
            if key is None:
                raise InputError(f"{path} 第{n}行：文字前面缺少标题（例如“一、总体情况”或“（一）主动公开”）")
            parts[key].append(line.strip())
    texts = {k: "\n".join(v) for k, v in parts.items() if v}
    if not texts:
        raise InputError(f"{path} 中没有找到任何文字部分；每段文字前请写标题，例如“（一）主动公开”")
    return texts


def check_output(ws: Workspace, out: Path) -> Path:
    """Refuse a rollup path that is not an .xlsx or that would overwrite the workspace's own records."""
    if out.suffix.lower() != ".xlsx":
        raise UsageError(f"汇总表应为 .xlsx 文件（同名 .csv 会一并写出）：{out}")
    own_files = {ws.path / n for n in ("settings.json", "ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm",
                                      "roster.csv")}
    for target in (out, out.with_suffix(".csv")):
        resolved = target.resolve()
        if any(resolved == f.resolve() for f in own_files) or any(
                resolved.is_relative_to(folder.resolve()) for folder in (ws.archive, ws.outbox)):
            raise UsageError(f"汇总表不能写到工作区的存档、发件箱或台账、设置、名单文件：{target}")
        if target.is_dir():
            raise UsageError(f"{target} 是文件夹；请给出汇总表的文件名，例如 {target / '全县汇总.xlsx'}")
    return out


def merge(ws: Workspace, out: str | Path, include_errors: bool = False, include_warnings: bool = False,
          texts: dict[str, str] | None = None,
          progress: Callable[[int, int | None], None] | None = None) -> MergeResult:
    """Write the county rollup workbook ``out`` and ``out`` with .csv beside it.

    The rollup carries the workspace's unit (name, code) as its office; its figures are locked and its
    texts (一、总体情况 and its topics, 五、六) are left open for the coordinator. Texts already written
    into an earlier rollup at ``out`` are kept.

    :param include_warnings: also count offices whose current version has warnings nobody accepted.
    :param include_errors: also count offices whose current version has errors (and warnings).
    :param progress: called with (offices read, offices) while the ledger is read.
    :param texts: the unit's own texts by text id (s1, s1.1 …, s5, s6), e.g. from :func:`read_texts`; they
        replace what an earlier rollup held.
    """
    out = check_output(ws, Path(out))
    csv_path = out.with_suffix(".csv")
    for target in (out, csv_path):  # what a killed merge left beside its outputs
        remove_stale_temporaries([out.parent], of=target.name)
    spec, offices = collect(ws, include_warnings, include_errors, progress)
    included = [o for o in offices if o.included]
    sums = _column_sums(included, spec)
    totals = {f.id: sums[f.id] for f in spec.inputs()}
    office_info = {"name": ws.name, "kind": spec.rollup.kind, "code": ws.code, "year": ws.year,
                   "filler": ws.settings.get("signature") or "政务公开办", "phone": ws.settings.get("phone") or "",
                   "date": date.today().isoformat()}
    all_values = recompute(spec, totals)
    kept = {**_kept_texts(spec, ws, out), **(texts or {})}

    sheets: list[_RollupSheets] = []

    def extra(wb, fmt):
        sheets.append(_RollupSheets(spec, wb, fmt, ws, offices, all_values))
        sheets[0].write()

    filling = Filling(office={k: v for k, v in office_info.items() if v not in ("", None)}, values=totals,
                      prose=kept, lock_figures=True, meta={"level": ws.level})
    write_workbook(spec, out, filling, extra=extra, level=ws.level, transform=lambda n, d: sheets[0].rows_part(n, d))
    fault_point("rollup-written")
    atomic_write_text(csv_path, _csv(spec, offices))
    return MergeResult(out, csv_path, spec, offices, all_values, sorted(kept))


def _csv_cell(value: Any) -> str:
    """Text that a spreadsheet would run as a formula is quoted (CSV formula injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _csv(spec: Spec, offices: list[OfficeRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    ids = [f.id for f in spec.figures]
    w.writerow(["code", "name", "kind", "status", "included", *ids])
    for o in offices:
        w.writerow([_csv_cell(v) for v in (o.code, o.name, o.kind, o.status, int(o.included))]
                   + [_tidy(o.values[i]) if i in o.values else "" for i in ids])
    return buf.getvalue()


# The completeness sheet's columns: (key, header). read_rollup finds them by header.
COMPLETENESS = [("code", "单位代码"), ("name", "单位名称"), ("kind", "单位类型"), ("status", "报送状态"),
                ("received", "收到时间"), ("late", "是否逾期"), ("included", "计入汇总"), ("reason", "说明"),
                ("review", "审核")]


@dataclass
class RollupOffice:
    code: str
    name: str
    kind: str
    status: str  # as the sheet says it (通过, 有提醒, 未报送 …)
    included: bool
    reason: str = ""
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class RollupInfo:
    """What a rollup says about the offices it sums: read back from its own sheets by the module that writes them."""

    offices: list[RollupOffice]  # every roster office (completeness), with its figures where it had any
    level: str = "county"  # the collecting unit's level

    @property
    def included(self) -> list[RollupOffice]:
        return [o for o in self.offices if o.included]

    @property
    def missing(self) -> list[RollupOffice]:
        return [o for o in self.offices if o.status == STATE_LABELS["missing"]]

    @property
    def excluded(self) -> list[RollupOffice]:
        """Offices that reported but are not in the totals."""
        return [o for o in self.offices if not o.included and o.status != STATE_LABELS["missing"]]


def read_rollup(sub: Submission, figures: Collection[str] | None = None) -> RollupInfo | None:
    """The offices of a rollup written by :func:`merge` (None when ``sub`` is not a rollup).

    Read from the package, not from ``sub.workbook`` (whose reader skips these sheets): the completeness
    sheet by its headers, the per-office sheet streamed by its row of figure ids, whatever its size.

    :param figures: the figures wanted per office (default all); a report needs only the headline ones.
    """
    spec = sub.spec
    if spec is None or sub.workbook is None or sub.data is None or sub.office.get("kind") != spec.rollup.kind:
        return None
    names = spec.rollup.sheets
    offices: dict[str, RollupOffice] = {}
    try:
        columns: dict[str, int] = {}
        for r, row in iter_rows(io.BytesIO(sub.data), names["completeness"], len(COMPLETENESS)):
            if r == 1:
                by_header = {v: c for c, v in row.items() if isinstance(v, str)}
                columns = {key: by_header[h] for key, h in COMPLETENESS if h in by_header}
                continue
            get = lambda key: row.get(columns.get(key, 0))  # noqa: E731
            code, status = get("code"), get("status")
            if code in (None, "") or not status:
                continue  # the closing sentence
            offices[str(code)] = RollupOffice(str(code), str(get("name") or ""), str(get("kind") or ""), str(status),
                                              get("included") == "是", str(get("reason") or ""))
        id_row = _RollupSheets.HEADER_ROWS
        ids: dict[int, str] = {}
        fixed: dict[int, str] = {}
        for r, row in iter_rows(io.BytesIO(sub.data), names["offices"]):
            if r == 1:
                fixed = {c: v for c, v in row.items() if v in _OFFICE_COLUMNS}
            elif r == id_row:
                # A figure is read from its column in the full list (a headline figure appears twice).
                for c, v in row.items():
                    if isinstance(v, str) and spec.has_figure(v) and (figures is None or v in figures):
                        ids[c] = v
            elif r > id_row:
                at = {_OFFICE_COLUMNS[h]: row.get(c) for c, h in fixed.items()}
                code = str(at.get("code") or "")
                office = offices.get(code)
                if office is None:
                    office = offices[code] = RollupOffice(code, str(at.get("name") or ""), str(at.get("kind") or ""),
                                                          str(at.get("status") or ""), at.get("included") == "是")
                office.values = {fid: row.get(c) or 0 for c, fid in ids.items()}
    except WorkbookError:
        pass  # its national tables were read; what these sheets held up to the damage is kept
    return RollupInfo(list(offices.values()), unit_level(sub, "county"))


# The per-office sheet's fixed columns, by header.
_OFFICE_COLUMNS = {"单位代码": "code", "单位名称": "name", "单位类型": "kind", "状态": "status", "计入汇总": "included"}


class _RollupSheets:
    """The sheets after the national tables."""

    def __init__(self, spec: Spec, wb, fmt, ws: Workspace, offices: list[OfficeRow], totals: dict[str, float]):
        self.spec, self.wb, self.fmt, self.ws, self.offices, self.totals = spec, wb, fmt, ws, offices, totals
        self.names = spec.rollup.sheets
        self.cells: dict[tuple[str, str], Any] = {}
        self.head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                   "valign": "vcenter", "font_name": "宋体"})
        self.text = wb.add_format({"border": 1, "font_name": "宋体"})
        self.num = wb.add_format({"border": 1, "num_format": "0.##", "font_name": "宋体"})

    def sheet(self, key: str):
        ws = self.wb.add_worksheet(self.names[key])
        ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True})
        return ws

    def put(self, ws, row: int, col: int, value: Any, fmt=None) -> None:
        ref = f"{col_letters(col + 1)}{row + 1}"
        self.cells[(ws.get_name(), ref)] = value
        if value is None:
            ws.write_blank(row, col, None, fmt or self.text)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            ws.write_number(row, col, value, fmt or self.num)
        else:
            ws.write_string(row, col, str(value), fmt or self.text)

    def formula(self, ws, row: int, col: int, expr, value: Any = None) -> Any:
        """Write a formula with its result: evaluated from the tree, or given when already known."""
        ref = f"{col_letters(col + 1)}{row + 1}"
        if value is None:
            value = expr.eval(lambda s, c: self.cells.get((s, c)))
        self.cells[(ws.get_name(), ref)] = value
        ws.write_formula(row, col, expr.formula(ws.get_name()), self.num, value)
        return value

    def write(self) -> None:
        self.offices_sheet()
        self.by_kind_sheet()
        self.completeness_sheet()
        self.findings_sheet()
        self.provenance_sheet()
        self.charts_sheet()

    # The figure columns of the per-office and by-kind sheets: three header rows of official labels (table and
    # block, row, column) and a hidden row of figure ids, which is how xxgk reads the sheet back.
    HEADER_ROWS = 4

    def figure_header(self, ws, fixed: list[str]) -> dict[str, int]:
        """The header; the columns of every figure, after the headline figures (what the sheet prints).

        Returns the column of each figure (its full-list column; a headline figure has two)."""
        for c, h in enumerate(fixed):
            ws.merge_range(0, c, 2, c, "", self.head)
            self.put(ws, 0, c, h, self.head)
            self.put(ws, 3, c, None, self.head)
        cols: dict[str, int] = {}
        self.headline_cols: list[tuple[int, str]] = []
        runs: list[list] = []  # [label, first col, last col] of the top row, merged across
        figures = [self.spec.figure(fid) for fid in self.spec.rollup.headline] + list(self.spec.figures)
        for i, f in enumerate(figures):
            c = len(fixed) + i
            if i < len(self.spec.rollup.headline):
                self.headline_cols.append((c, f.id))
            else:
                cols[f.id] = c
            top = f"表{f.table}" + (f" {f.block}" if f.block else "")
            if runs and runs[-1][0] == top:
                runs[-1][2] = c
            else:
                runs.append([top, c, c])
            self.put(ws, 1, c, f.row or "", self.head)
            self.put(ws, 2, c, "/".join(p for p in (f.column_group, f.column) if p) or "数量", self.head)
            self.put(ws, 3, c, f.id, self.head)
        for label, first, last in runs:
            if last > first:
                ws.merge_range(0, first, 0, last, "", self.head)
            self.put(ws, 0, first, label, self.head)
        ws.set_row(0, 30)
        ws.set_row(1, 45)
        ws.set_row(2, 30)
        ws.set_row(3, None, None, {"hidden": True})
        return cols

    def printable(self, ws, title_rows: int, title_cols: int = 0, last_col: int | None = None) -> None:
        """Landscape A4, one page wide, the header rows (and first columns) on every page.

        :param last_col: print only up to this column (the headline figures of a sheet of every figure).
        """
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0, title_rows - 1)
        if title_cols:
            ws.repeat_columns(0, title_cols - 1)
        if last_col is not None:
            ws.print_area(0, 0, self.HEADER_ROWS + max(len(self.offices), 1) + 2, last_col)

    # One row per office, every figure.
    def offices_sheet(self) -> None:
        ws = self.sheet("offices")
        fixed = list(_OFFICE_COLUMNS)
        self.figure_cols = self.figure_header(ws, fixed)
        self.office_rows: dict[str, int] = {}
        r = self.HEADER_ROWS
        for o in self.offices:
            if o.values:
                self.office_rows[o.code] = r
                r += 1
        # The rows themselves are streamed into the saved package (rows_part): XlsxWriter would hold every
        # cell of a province's 10,000 offices × 200 figures in memory until the file is closed.
        self.offices_ws = ws
        self.office_columns = [(c, fid) for c, fid in self.headline_cols] + [(c, fid) for fid, c in self.figure_cols.items()]
        ws.freeze_panes(self.HEADER_ROWS, 2)
        ws.set_column(0, 0, 10)
        ws.set_column(1, 1, 24)
        ws.set_column(5, 5 + len(self.headline_cols) + len(self.spec.figures), 12)
        self.printable(ws, 3, 2, self.headline_cols[-1][0] if self.headline_cols else None)

    def rows_part(self, name: str, data: bytes) -> bytes | Iterator[bytes]:
        """A transform for the saved package: the per-office sheet with its office rows, streamed row by row."""
        if name != f"xl/worksheets/sheet{self.offices_ws.index + 1}.xml":
            return data
        head, sep, tail = data.partition(b"</sheetData>")
        if not sep:
            head, sep, tail = data.partition(b"<sheetData/>")
            head, tail = head + b"<sheetData>", tail
        last_col = col_letters(max(c for c, _ in self.office_columns) + 1)
        last_row = self.HEADER_ROWS + len(self.office_rows)
        head = re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last_col}{last_row}"/>'.encode(), head, count=1)
        return self._office_rows(head, b"</sheetData>" + tail)

    def _office_rows(self, head: bytes, tail: bytes) -> Iterator[bytes]:
        yield head
        text_style, num_style = self.text.xf_index, self.num.xf_index
        letters = [col_letters(c + 1) for c in range(max(c for c, _ in self.office_columns) + 1)]
        columns = [(letters[c], fid) for c, fid in self.office_columns]
        chunk: list[str] = []
        for o in self.offices:
            r = self.office_rows.get(o.code)
            if r is None:
                continue
            n = r + 1
            fixed = [o.code, o.name, o.kind, STATE_LABELS.get(o.status, o.status), "是" if o.included else "否"]
            cells = "".join(f'<c r="{letters[c]}{n}" s="{text_style}" t="inlineStr"><is><t>{_xml_text(v)}</t></is></c>'
                            for c, v in enumerate(fixed))
            values = o.values
            cells += "".join(f'<c r="{col}{n}" s="{num_style}"><v>{_number_text(values.get(fid, 0))}</v></c>'
                             for col, fid in columns)
            chunk.append(f'<row r="{n}">{cells}</row>')
            if len(chunk) >= 200:
                yield "".join(chunk).encode("utf-8")
                chunk = []
        yield "".join(chunk).encode("utf-8")
        yield tail

    def by_kind_sheet(self) -> None:
        ws = self.sheet("by_kind")
        offices_name = self.names["offices"]
        kinds = sorted({o.kind for o in self.offices if o.included}, key=lambda k: self.spec.office_kinds.index(k)
                       if k in self.spec.office_kinds else 99)
        cols = self.kind_cols = self.figure_header(ws, ["单位类型", "计入汇总的单位数"])
        self.kind_rows: dict[str, int] = {}
        rows = sorted(self.office_rows.values())
        first, last = (rows[0] + 1, rows[-1] + 1) if rows else (self.HEADER_ROWS + 1,) * 2
        columns: dict[int, Column] = {}

        def column(c: int) -> Column:
            if c not in columns:
                columns[c] = Column(offices_name, col_letters(c + 1), first, last)
            return columns[c]

        included = (column(4), "是")
        for r, kind in enumerate(kinds + ["合计"], start=self.HEADER_ROWS):
            members = [o for o in self.offices if o.included and (kind == "合计" or o.kind == kind)]
            self.kind_rows[kind] = r
            self.put(ws, r, 0, kind)
            self.put(ws, r, 1, len(members))
            # SUMIFS over the offices sheet: short formulas, however many offices there are. The
            # stored result is the same sum over the same offices (SumIfs.eval gives it too, slowly;
            # tests/test_libreoffice.py has Calc recalculate a rollup and compare).
            criteria = (included,) if kind == "合计" else (included, (column(2), kind))
            targets = [(c, self.spec.figure(fid)) for c, fid in self.headline_cols]
            targets += [(cols[f.id], f) for f in self.spec.figures]
            sums = _column_sums(members, self.spec)
            for c, f in targets:
                expr = SumIfs(column(self.figure_cols[f.id]), criteria) if rows else Num(0)
                self.formula(ws, r, c, expr, value=sums[f.id])
        ws.set_column(0, 1, 14)
        ws.set_column(2, 2 + len(self.headline_cols) + len(self.spec.figures), 12)
        ws.freeze_panes(self.HEADER_ROWS, 2)
        self.printable(ws, 3, 2, self.headline_cols[-1][0] if self.headline_cols else None)

    def completeness_sheet(self) -> None:
        ws = self.sheet("completeness")
        for c, (_, h) in enumerate(COMPLETENESS):
            self.put(ws, 0, c, h, self.head)
        for r, o in enumerate(self.offices, start=1):
            sub = o.submission
            received = local_time(sub["received_at"]).strftime("%Y-%m-%d %H:%M") if sub else ""
            late = "逾期" if o.state is not None and o.state.late(self.ws) else ""
            for c, v in enumerate([o.code, o.name, o.kind, STATE_LABELS.get(o.status, o.status), received, late,
                                   "是" if o.included else "否", o.reason, REVIEW_LABELS.get(o.review or "", "")]):
                self.put(ws, r, c, v)
        n = len(self.offices)
        done = sum(1 for o in self.offices if o.status != "missing")
        self.put(ws, n + 2, 0, f"应报{n}个单位，已报{done}个，计入汇总{sum(1 for o in self.offices if o.included)}个。")
        for c, width in enumerate((10, 26, 12, 10, 18, 10, 10, 30, 10)):
            ws.set_column(c, c, width)
        self.printable(ws, 1)

    def findings_sheet(self) -> None:
        """Every finding of each office's current version, with what review made of it."""
        ws = self.sheet("findings")
        for c, h in enumerate(["单位代码", "单位名称", "级别", "位置", "说明", "代码", "审核意见"]):
            self.put(ws, 0, c, h, self.head)
        r = 1
        for o in self.offices:
            if not o.submission:
                continue
            accepted = {(w["code"], w["message"]): w for w in (o.state.accepted_warnings if o.state else [])}
            for f in json.loads(o.submission["findings_json"] or "[]"):
                where = f"{f['sheet']}!{f['cell']}" if f.get("sheet") and f.get("cell") else ""
                level = "错误" if f["severity"] == "error" else "提醒"
                w = accepted.get((f["code"], f["message"]))
                if w is not None:
                    verdict = f"已接受（{'单位说明' if w['source'] == 'office' else '审核人'}：{w['reason']}）"
                elif o.included:
                    verdict = "未经审核计入汇总"
                else:
                    verdict = o.reason
                for c, v in enumerate([o.code, o.name, level, where, f["message"], f["code"], verdict]):
                    self.put(ws, r, c, v)
                r += 1
        for c, width in enumerate((10, 24, 6, 22, 70, 24, 40)):
            ws.set_column(c, c, width)
        self.printable(ws, 1)

    def provenance_sheet(self) -> None:
        ws = self.sheet("provenance")
        headers = ["单位代码", "单位名称", "文件名", "sha256", "收到时间", "发件人", "存档位置", "审核", "审核人", "审核时间"]
        for c, h in enumerate(headers):
            self.put(ws, 0, c, h, self.head)
        r = 1
        for o in self.offices:
            sub = o.submission
            if not sub:
                continue
            received = local_time(sub["received_at"]).strftime("%Y-%m-%d %H:%M:%S")
            d = o.state.decision if o.state else None
            decided = local_time(d["decided_at"]).strftime("%Y-%m-%d %H:%M") if d else ""
            for c, v in enumerate([o.code, o.name, sub["filename"], sub["sha256"], received, sub["sender"] or "",
                                   sub["archive_path"], REVIEW_LABELS.get(o.review or "", ""),
                                   d["reviewer"] if d else "", decided]):
                self.put(ws, r, c, v)
            r += 1
        for c, width in enumerate((10, 24, 36, 66, 20, 26, 40, 10, 12, 18)):
            ws.set_column(c, c, width)
        self.printable(ws, 1)

    def charts_sheet(self) -> None:
        ws = self.sheet("charts")
        name = ws.get_name()
        row = 0
        breaks: list[int] = []
        for chart_spec in self.spec.rollup.charts:
            labels, exprs = self._series(chart_spec)
            self.put(ws, row, 0, chart_spec.title, self.head)
            self.put(ws, row, 1, "件", self.head)
            first = row + 1
            for i, (label, expr) in enumerate(zip(labels, exprs)):
                self.put(ws, first + i, 0, label)
                self.formula(ws, first + i, 1, expr)
            last = first + len(labels) - 1
            chart = self.wb.add_chart({"type": chart_spec.type})
            chart.add_series({"name": chart_spec.title, "categories": [name, first, 0, last, 0],
                              "values": [name, first, 1, last, 1], "data_labels": {"value": True}})
            chart.set_title({"name": chart_spec.title})
            chart.set_legend({"none": True})
            if chart_spec.type == "bar":
                chart.set_y_axis({"reverse": True})  # categories top-down, in the table's order
            ws.insert_chart(row, 3, chart, {"x_scale": 1.4, "y_scale": 1.2})
            row = max(last + 2, row + 20)
            breaks.append(row)
        ws.set_column(0, 0, 30)
        # Each chart with its figures on a page of its own.
        ws.set_h_pagebreaks(breaks[:-1])
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)

    def _series(self, chart_spec: Chart) -> tuple[list[str], list[Any]]:
        if chart_spec.by == "row_groups":
            # Outcome groups of a table: rows of the section, grouped by their group label.
            table = self.spec.table(chart_spec.table)
            rows = {r.id: r for r in table.rows}
            groups: dict[str, list[Figure]] = {}
            for f in self.spec.figures:
                row = rows.get(f.row_id)
                if (f.table_id != table.id or f.column_id != chart_spec.column or row is None
                        or row.section != chart_spec.section or row.sum):
                    continue
                groups.setdefault(row.group or row.label, []).append(f)
            # Chart categories without the long parenthetical notes of the official labels.
            labels = [re.sub(r"（[^（）]*）$", "", g) if len(g) > 12 else g for g in groups]
            exprs = [Sum(Cells(figs[0].sheet, tuple(f.cell for f in figs))) for figs in groups.values()]
            for figs in groups.values():
                for f in figs:
                    self.cells[(f.sheet, f.cell)] = self.totals[f.id]
            return labels, exprs
        kinds = [k for k in self.kind_rows if k != "合计"]
        col = col_letters(self.kind_cols[chart_spec.figure] + 1)
        by_kind = self.names["by_kind"]
        return kinds, [Sum(Cells(by_kind, (f"{col}{self.kind_rows[k] + 1}",))) for k in kinds]
