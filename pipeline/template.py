"""The locked Excel template offices fill, written from a format spec.

Every label, cell, validation, formula and check comes from the spec. Formula cells
carry their correct cached values (computed by the same expression trees that
render the formulas), so viewers and LibreOffice show right totals without
recalculating.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from math import ceil
from pathlib import Path
from typing import Any, Callable


from . import __version__
from .errors import InputError
from .fsutil import atomic_path
from .xlsxpatch import lock_structure, rewrite_parts
from .rules import computed_formula, live_checks, summary_check
from .spec import OfficeField, Spec, Table, format_for_year, get_spec, split_cell
from .textutil import decode_text, display_width, visible_text
from .xlexpr import Expr, col_index, is_number

# What fits across an A4 page at 100% between default margins, in column-width units (LibreOffice draws
# columns wider than Excel: measured with its PDF export).
_PRINTABLE_WIDTH = {False: 72, True: 110}
# Fixed document timestamp: regenerating a template gives the same bytes.
_EPOCH = dt.datetime(2021, 1, 1)
GENERATOR = f"xxgk {__version__}"

_STYLES: dict[str, dict[str, Any]] = {
    "base": {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "text_wrap": True},
    "title": {"bold": True, "font_size": 16, "align": "center", "text_wrap": False},
    "subtitle": {"align": "center", "font_size": 10},
    "heading": {"bold": True, "font_size": 12, "align": "left"},
    "header": {"bold": True, "align": "center", "border": 1, "bg_color": "#DDEBF7"},
    "label": {"align": "left", "border": 1},
    "input": {"border": 1, "bg_color": "#FFF2CC", "locked": False, "align": "center"},
    "input_text": {"border": 1, "bg_color": "#FFF2CC", "locked": False, "align": "left", "valign": "top"},
    "prefilled": {"border": 1, "bg_color": "#F2F2F2", "align": "left"},
    "locked_input": {"border": 1, "bg_color": "#F2F2F2", "align": "center"},
    "computed": {"border": 1, "bg_color": "#E7E6E6", "bold": True, "align": "center"},
    "check": {"border": 1, "align": "left", "font_size": 10},
    "check_label": {"border": 1, "align": "left", "font_size": 10, "italic": True},
    "para": {"align": "left", "valign": "top"},
    "ok": {"bg_color": "#C6EFCE", "font_color": "#006100"},
    "warn": {"bg_color": "#FFEB9C", "font_color": "#7F6000"},
    "fail": {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
}


@dataclass
class Filling:
    """What to put into a workbook: office fields, figure values and prose.

    Values are written as given: numbers as numbers, strings as text (never as
    formulas), ``None`` as a blank cell. Sample workbooks use this to show what
    clerks really type.
    """

    office: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    prose: dict[str, str] = field(default_factory=dict)
    explanation: str | None = None  # the office's 情况说明 for the reviewer
    lock_office: bool = True
    lock_figures: bool = False  # the rollup: its figures are sums, only its texts are open
    meta: dict[str, str] = field(default_factory=dict)  # provenance (an imported report's source and sha256)


def _range_cols(cells: str) -> tuple[str, str, int, int]:
    first, _, last = cells.partition(":")
    last = last or first
    c1, r1 = split_cell(first)
    c2, r2 = split_cell(last)
    return first, last, r1, r2


class _Writer:
    def __init__(self, spec: Spec, wb: xlsxwriter.Workbook, filling: Filling, level: str = "county"):
        self.spec = spec
        self.level = level
        self.wb = wb
        self.filling = filling
        self.fmt = {name: wb.add_format({**_STYLES["base"], **style}) for name, style in _STYLES.items()}
        for plain in ("ok", "warn", "fail"):  # conditional formats: colours only
            self.fmt[plain] = wb.add_format(_STYLES[plain])
        self.number_fmts: dict[tuple[str, str], Any] = {}
        self.sheets: dict[str, Any] = {}
        self.cells: dict[tuple[str, str], Any] = {}  # what each cell holds, for cached values
        self.heights: dict[tuple[str, int], float] = {}

    # -- primitives -------------------------------------------------------
    def ws(self, sheet_name: str):
        return self.sheets[sheet_name]

    def typed_fmt(self, style: str, type_id: str):
        key = (style, type_id)
        if key not in self.number_fmts:
            num = self.spec.types[type_id].number_format
            props = {**_STYLES["base"], **_STYLES[style]}
            if num:
                props["num_format"] = num
            self.number_fmts[key] = self.wb.add_format(props)
        return self.number_fmts[key]

    def put(self, sheet: str, cells: str, value: Any, fmt) -> None:
        """Write a value (text as text, never a formula) into a cell or a merged range."""
        first, last, r1, r2 = _range_cols(cells)
        ws = self.ws(sheet)
        self.cells[(sheet, first)] = value
        if first != last:
            (fr, fc), (lr, lc) = _rowcol(first), _rowcol(last)
            ws.merge_range(fr, fc, lr, lc, "", fmt)
        self._write(ws, first, value, fmt)
        self._fit(sheet, cells, value)

    def _write(self, ws, cell: str, value: Any, fmt) -> None:
        if value is None:
            ws.write_blank(cell, None, fmt)
        elif isinstance(value, bool):
            ws.write_boolean(cell, value, fmt)
        elif is_number(value):
            ws.write_number(cell, value, fmt)
        elif isinstance(value, (dt.date, dt.datetime)):
            ws.write_datetime(cell, value, fmt)
        else:
            ws.write_string(cell, str(value), fmt)

    def put_formula(self, sheet: str, cells: str, expr: Expr, fmt) -> None:
        first, last, _, _ = _range_cols(cells)
        ws = self.ws(sheet)
        value = expr.eval(lambda s, c: self.cells.get((s, c)))
        self.cells[(sheet, first)] = value
        if first != last:
            (fr, fc), (lr, lc) = _rowcol(first), _rowcol(last)
            ws.merge_range(fr, fc, lr, lc, "", fmt)
        ws.write_formula(first, expr.formula(sheet), fmt, value)
        if isinstance(value, str):
            self._fit(sheet, cells, value)

    def _fit(self, sheet: str, cells: str, value: Any) -> None:
        """Grow the row so wrapped text stays readable on screen and on paper."""
        if not isinstance(value, str) or not value:
            return
        first, last, r1, r2 = _range_cols(cells)
        if r1 != r2:
            return
        widths = self._widths.get(sheet, {})
        c1, c2 = split_cell(first)[0], split_cell(last)[0]
        span = sum(
            widths.get(c, 9) for c in widths if c1 <= c <= c2 and len(c) == len(c1)
        ) or widths.get(c1, 9)
        lines = max(1, ceil(display_width(value) / max(span - 1, 1)))
        self.heights[(sheet, r1)] = max(self.heights.get((sheet, r1), 15), 15 * lines + 3)

    def validate(self, sheet: str, cell: str, type_id: str) -> None:
        t = self.spec.types[type_id]
        opts: dict[str, Any] = {
            "input_title": t.prompt_title[:32],
            "input_message": t.prompt[:255],
        }
        if t.number in ("integer", "decimal"):
            bounds = (
                {"criteria": ">=", "value": t.min}
                if t.min is not None
                else {"criteria": "between", "minimum": -(10**9), "maximum": 10**9}
            )
            opts.update(
                validate="integer" if t.number == "integer" else "decimal",
                **bounds,
                error_title=t.error_title[:32],
                error_message=t.error[:224],
                error_type="stop",
            )
        else:
            opts["validate"] = "any"
        self.ws(sheet).data_validation(cell, opts)

    # -- sheets -----------------------------------------------------------
    def write(self) -> None:
        spec = self.spec
        self._widths: dict[str, dict[str, float]] = {}
        for name in spec.sheets.values():
            self.sheets[name] = self.wb.add_worksheet(name)
        for part in [spec.office, spec.prose, spec.guide, *spec.tables]:
            self._widths.setdefault(part.sheet, {}).update(part.widths)
        for name, widths in self._widths.items():
            for col, width in widths.items():
                self.ws(name).set_column(f"{col}:{col}", width)
        for label in spec.labels():
            self.put(label.sheet, label.cells, label.text, self.fmt[label.role])
        self.write_office()
        self.write_prose()
        for table in spec.tables:
            self.write_table(table)
        self.write_computed()
        self.write_checks()
        self.write_summary()
        self.write_guide()
        self.write_meta()
        self.finish_sheets()

    def write_office(self) -> None:
        spec = self.spec
        sheet = spec.office.sheet
        for fld in spec.office.fields:
            value = self.filling.office.get(fld.id)
            target = f"{fld.cell}:{fld.merge_to}" if fld.merge_to else fld.cell
            locked = value is not None and self.filling.lock_office
            style = "prefilled" if locked else "input_text"
            fmt = self.fmt[style]
            if fld.type == "date":
                fmt = self.wb.add_format({**_STYLES["base"], **_STYLES[style], "num_format": "yyyy-mm-dd"})
            self.put(sheet, target, value, fmt)
            if not locked:
                self._validate_office(sheet, fld)
            self.wb.define_name(spec.name_for(f"office.{fld.id}"), _abs_ref(sheet, fld.cell))

    def _validate_office(self, sheet: str, fld: OfficeField) -> None:
        opts: dict[str, Any] = {"input_title": fld.label[:32], "input_message": f"请填写{fld.label}"}
        if fld.choices:
            opts.update(validate="list", source=list(fld.choices),
                        error_title="请从列表中选择", error_message="请从下拉列表中选择单位类型。")
        elif fld.type == "year":
            opts.update(validate="integer", criteria="between", minimum=2019, maximum=2100,
                        error_title="报告年度有误", error_message="请填写四位数字的年度，例如2025。")
        elif fld.type == "date":
            opts.update(validate="date", criteria=">=", value=dt.date(2019, 1, 1),
                        error_title="日期有误", error_message="请填写日期，例如2026-01-15。")
        else:
            opts["validate"] = "any"
        self.ws(sheet).data_validation(fld.cell, opts)

    def write_prose(self) -> None:
        spec = self.spec
        sheet = spec.prose.sheet
        for fld in spec.prose.fields:
            heading = spec.text_heading(fld.id)
            self.put(sheet, f"{fld.cell}:{fld.merge_to}", self.filling.prose.get(fld.id), self.fmt["input_text"])
            self.ws(sheet).data_validation(
                fld.cell, {"validate": "any", "input_title": heading[:32], "input_message": fld.hint[:255]})
            self.ws(sheet).set_row(split_cell(fld.cell)[1] - 1, fld.height)
            self.wb.define_name(spec.name_for(f"prose.{fld.id}"), _abs_ref(sheet, fld.cell))
        ex = spec.explanation
        if ex:
            self.put(ex.sheet, f"{ex.cell}:{ex.merge_to}", self.filling.explanation, self.fmt["input_text"])
            self.ws(ex.sheet).data_validation(
                ex.cell, {"validate": "any", "input_title": ex.label[:32], "input_message": ex.hint[:255]})
            self.ws(ex.sheet).set_row(split_cell(ex.cell)[1] - 1, ex.height)
            self.wb.define_name(spec.name_for("explanation"), _abs_ref(ex.sheet, ex.cell))

    def write_table(self, table: Table) -> None:
        spec = self.spec
        sheet = table.sheet
        for fig in spec.figures:
            if fig.table_id != table.id:
                continue
            self.wb.define_name(fig.name, _abs_ref(fig.sheet, fig.cell))
            if fig.kind == "input":
                target = f"{fig.cell}:{fig.merge_to}" if fig.merge_to else fig.cell
                locked = self.filling.lock_figures
                self.put(sheet, target, self.filling.values.get(fig.id),
                         self.typed_fmt("locked_input" if locked else "input", fig.type))
                if not locked:
                    self.validate(sheet, fig.cell, fig.type)
        if table.freeze:
            self.ws(sheet).freeze_panes(table.freeze)

    def write_computed(self) -> None:
        # Totals may sum other totals ((七)总计 × 总计): write them once their parts are known.
        pending = self.spec.computed()
        done = {f.id for f in self.spec.inputs()}
        while pending:
            ready = [f for f in pending if all(p in done for p in f.sum)]
            if not ready:
                raise InputError("格式定义中的合计公式存在循环引用")
            for fig in ready:
                target = f"{fig.cell}:{fig.merge_to}" if fig.merge_to else fig.cell
                self.put_formula(fig.sheet, target, computed_formula(self.spec, fig), self.typed_fmt("computed", fig.type))
                done.add(fig.id)
            pending = [f for f in pending if f.id not in done]

    def write_checks(self) -> None:
        spec = self.spec
        for inst, expr in live_checks(spec, self.level):
            p = inst.placement
            target = f"{p.cell}:{p.merge_to}" if p.merge_to else p.cell
            self.put_formula(p.sheet, target, expr, self.fmt["check"])
            self._color(p.sheet, p.cell, spec.ok_text, inst.rule.messages.get("live_prefix", "提醒："))
            self.wb.define_name(spec.name_for(f"check.{inst.rule.id}.{inst.key or 'all'}"), _abs_ref(p.sheet, p.cell))

    def _color(self, sheet: str, cell: str, ok: str, warning_prefix: str) -> None:
        """Green when the check passes, yellow for a 提醒, red otherwise."""
        ws = self.ws(sheet)
        ws.conditional_format(cell, {"type": "cell", "criteria": "==", "value": f'"{ok}"', "format": self.fmt["ok"]})
        ws.conditional_format(cell, {"type": "text", "criteria": "begins with", "value": warning_prefix,
                                     "format": self.fmt["warn"]})
        ws.conditional_format(cell, {"type": "cell", "criteria": "!=", "value": f'"{ok}"', "format": self.fmt["fail"]})

    def write_summary(self) -> None:
        spec, summary = self.spec, self.spec.office.summary
        sheet = spec.office.sheet
        target = f"{summary.cell}:{summary.merge_to}" if summary.merge_to else summary.cell
        self.put_formula(sheet, target, summary_check(spec, self.level), self.fmt["check"])
        self._color(sheet, summary.cell, summary.ok, summary.ok_with_warnings.split("；")[0])
        self.wb.define_name(spec.name_for("check.summary"), _abs_ref(sheet, summary.cell))

    def write_guide(self) -> None:
        spec, guide = self.spec, self.spec.guide
        sheet = guide.sheet
        ws = self.ws(sheet)
        rows = [(guide.title, "title")]
        rows += [(p, "para") for p in guide.paragraphs]
        rows += [("", "para"), (guide.rules_heading, "heading")]
        severity = {"error": "错误，必须修改", "warning": "提醒，可说明理由", "info": "参考"}
        rows += [(f"{r.id} {r.title}（{severity[r.severity]}）：{r.description}", "para") for r in spec.rules]
        for i, (text, style) in enumerate(rows, start=1):
            self.put(sheet, f"A{i}", text, self.fmt[style])
        ws.hide_gridlines(2)

    def write_meta(self) -> None:
        spec, meta = self.spec, self.spec.meta
        sheet = meta.sheet
        values = {
            "format": spec.format,
            "template_version": spec.template_version,
            "spec_sha256": spec.layout_sha256,
            "office_code": self.filling.office.get("code"),
            "generator": GENERATOR,
            **{k: None for k in ("source", "source_sha256", "level")},
            **self.filling.meta,
        }
        for fld in meta.fields:
            col, row = split_cell(fld.cell)
            self.put(sheet, f"A{row}", fld.key, self.fmt["label"])
            self.put(sheet, fld.cell, values[fld.key], self.fmt["label"])
            self.wb.define_name(spec.name_for(f"meta.{fld.key}"), _abs_ref(sheet, fld.cell))
        self.ws(sheet).very_hidden()
        for key in ("format", "template_version", "spec_sha256"):
            self.wb.set_custom_property(spec.name_for(key), str(values[key]))

    def finish_sheets(self) -> None:
        spec = self.spec
        landscape = {t.sheet: t.landscape for t in spec.tables}
        for (sheet, row), height in self.heights.items():
            self.ws(sheet).set_row(row - 1, height)
        for name, ws in self.sheets.items():
            ws.set_paper(9)  # A4
            if landscape.get(name):
                ws.set_landscape()
            ws.fit_to_pages(1, 0)
            # Centred only when it fits: LibreOffice centres a sheet wider than the page and cuts both sides.
            if sum(self._widths.get(name, {}).values()) <= (_PRINTABLE_WIDTH[landscape.get(name, False)]):
                ws.center_horizontally()
            ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True})


def _abs_ref(sheet: str, cell: str) -> str:
    col, row = split_cell(cell)
    quoted = "'" + sheet.replace("'", "''") + "'"
    return f"={quoted}!${col}${row}"


def write_workbook(spec: Spec, path: str | Path, filling: Filling | None = None,
                   extra: Callable[[Any, dict[str, Any]], None] | None = None, level: str = "county",
                   transform: Callable[[str, bytes], Any] | None = None) -> Path:
    """Write the template of ``spec`` to ``path``, optionally pre-filled.

    :param spec: the national format.
    :param path: the .xlsx file to write (replaced atomically).
    :param filling: office fields (locked when given), figure values and prose.
    :param extra: called with the XlsxWriter workbook and the shared cell formats to add
        further sheets (the county rollup) before the file is closed.
    :param level: the level the office reports at (county / city / province): live checks of
        rules that depend on it (规章) follow it.
    :param transform: applied to each part of the closed package (see :func:`rewrite_parts`): the rollup
        streams its per-office rows in this way.
    """
    filling = filling or Filling()
    unknown = set(filling.values) - {f.id for f in spec.inputs()}
    if unknown:
        raise InputError(f"不是本格式的填报项：{'、'.join(sorted(unknown))}")
    path = Path(path)
    with atomic_path(path) as tmp:
        raw_tmp = tmp.with_name(tmp.name + ".raw")
        try:
            import xlsxwriter  # here, not at the top: `xxgk status` and `check` never write a workbook

            wb = xlsxwriter.Workbook(
                str(raw_tmp), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
            )
            wb.set_properties({
                "title": spec.office.title.text,
                "subject": spec.title,
                "comments": f"{spec.basis}；{GENERATOR}",
                "created": _EPOCH,
            })
            writer = _Writer(spec, wb, filling, level)
            writer.write()
            if extra is not None:
                extra(wb, writer.fmt)
            wb.close()
            rewrite_parts(raw_tmp, tmp, lock_structure if transform is None
                          else lambda name, data: transform(name, lock_structure(name, data)))
        finally:
            raw_tmp.unlink(missing_ok=True)
    return path


def resolve_spec(format_id: str | None, year: int | None) -> Spec:
    """The spec named by ``--format``, else the one the report year calls for, else the newest."""
    if format_id:
        return get_spec(format_id)
    if year:
        return format_for_year(year)
    return format_for_year(dt.date.today().year - 1)


def _roster_rows(path: Path) -> list[list[str]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the same message
            raise InputError(f"无法读取名单文件 {path}：{exc}") from None
        return [["" if v is None else str(v) for v in r] for r in wb.active.iter_rows(values_only=True)]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取名单文件 {path}：{exc.strerror}") from exc
    text = decode_text(raw)
    if text is None:
        raise InputError(f"名单文件 {path} 的编码无法识别")  # pragma: no cover - gb18030 decodes any bytes
    return list(csv.reader(io.StringIO(text)))


MAX_ROSTER_BYTES = 5 * 1024 * 1024  # a province's roster of 100,000 offices is about 5 MB
_CODE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff_.\-]{1,64}")


def read_roster(path: str | Path, notices: list[str] | None = None) -> list[dict[str, str]]:
    """Read a roster (CSV in UTF-8 or GBK, or xlsx; columns 单位代码,单位名称,单位类型,联系邮箱).

    :param notices: receives a Chinese line for each name that had invisible characters removed.
    """
    path = Path(path)
    notices = notices if notices is not None else []
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise InputError(f"名单文件 {path} 超过5MB，不像是单位名单；请检查")
    except OSError as exc:
        raise InputError(f"无法读取名单文件 {path}：{exc.strerror}") from None
    rows = [r for r in _roster_rows(path) if any(c.strip() for c in r)]
    columns = ROSTER_COLUMNS
    header = [c.strip() for c in rows[0]] if rows else []
    if not set(columns) <= set(header):
        raise InputError(f"名单文件 {path} 缺少列：需要 {','.join(columns)}")
    offices = []
    for lineno, row in enumerate(rows[1:], start=2):
        cells = dict(zip(header, row))
        office = {key: (cells.get(col) or "").strip() for col, key in columns.items()}
        if not office["code"] or not office["name"]:
            raise InputError(f"名单文件 {path} 第{lineno}行缺少单位代码或单位名称")
        # Codes name folders and files (feedback, reminders): letters, digits, Chinese and - _ . only.
        if not _CODE.fullmatch(office["code"]) or office["code"].startswith("."):
            raise InputError(f"名单文件 {path} 第{lineno}行的单位代码“{office['code']}”含有不能用作文件名的字符；"
                             f"单位代码只能由字母、数字、汉字和 - _ . 组成")
        for key in ("name", "kind"):
            office[key], removed = visible_text(office[key])
            if removed:
                notices.append(f"名单文件第{lineno}行的{'单位名称' if key == 'name' else '单位类型'}含有不可见的控制字符"
                               f"（如改变文字方向的字符），已去除：{office[key]}")
        offices.append(office)
    return offices


ROSTER_COLUMNS = {"单位代码": "code", "单位名称": "name", "单位类型": "kind", "联系邮箱": "email"}


def roster_to_csv(offices: list[dict[str, str]]) -> str:
    """A roster as CSV text in the columns :func:`read_roster` reads."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(ROSTER_COLUMNS))
    for o in offices:
        writer.writerow([o.get(key, "") for key in ROSTER_COLUMNS.values()])
    return buf.getvalue()


def office_filling(office: dict[str, str], year: int | None) -> Filling:
    fields = {"name": office.get("name"), "kind": office.get("kind"), "code": office.get("code")}
    if year:
        fields["year"] = year
    return Filling(office={k: v for k, v in fields.items() if v})


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def write_office_templates(
    roster: str | Path, outdir: str | Path, *, year: int | None = None, format_id: str | None = None
) -> list[Path]:
    """Write one pre-filled template per roster office into ``outdir`` (office fields locked)."""
    spec = resolve_spec(format_id, year)
    offices = read_roster(roster)
    outdir = Path(outdir)
    paths = []
    for office in offices:
        path = outdir / office_filename(office, year, spec)
        write_workbook(spec, path, office_filling(office, year))
        paths.append(path)
    return paths


def _rowcol(ref: str) -> tuple[int, int]:
    """A cell's zero-based (row, column), as XlsxWriter counts."""
    col, row = split_cell(ref)
    return row - 1, col_index(col) - 1


def office_filename(office: dict[str, str], year: int | None, spec: Spec) -> str:
    """A safe file name for an office's workbook, e.g. ``330100001_县教育局_2025.xlsx``."""
    stem = "_".join(p for p in (office.get("code"), office.get("name"), str(year or spec.format)) if p)
    return _UNSAFE.sub("_", stem).strip(". ") + ".xlsx"
