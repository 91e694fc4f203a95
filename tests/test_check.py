"""xxgk check: every rule and every kind of messy input, with the finding's code and cell."""

import hashlib
import io
import json
import random
import zipfile

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from pipeline import Filling, get_spec, write_workbook
from pipeline.annotate import annotate
from pipeline.check import check_paths, check_submission, parse_number
from pipeline.cli import app
from pipeline.fill import consistent_prose, consistent_values, totals
from pipeline.reader import read_submission

runner = CliRunner()
OFFICE = {"name": "测试县教育局", "kind": "县直部门", "code": "T001", "filler": "李四", "phone": "123", "date": "2026-01-10"}


# Another office's own words: two files of a batch with the same words are 雷同 (rule X4).
OTHER_PROSE = {"s1": "本镇坚持公开为常态，重点公开惠民资金发放、征地拆迁和低保评议等群众关心的事项，"
                     "在各村公开栏同步张贴，并在便民服务中心设置查阅点。",
               "s5": "公开栏更新不及时，今后每月检查一次，重要事项随时更新。"}


def make(tmp_path, spec, values=None, office=None, prose=None, name="t.xlsx", seed=3, index=0):
    values = consistent_values(spec, random.Random(seed), office_kind="县直部门") if values is None else values
    office = {**OFFICE, "year": spec.years[0], **(office or {})}
    # Texts that agree with the figures (each ``index`` its own words), unless a test gives its own.
    prose = {**consistent_prose(spec, values, office["year"], index=index), **(prose or {})}
    return write_workbook(spec, tmp_path / name, Filling(office=office, values=values, prose=prose))


def check(path, **kw):
    return check_submission(read_submission(path), **kw)


def codes(result):
    return [(f.code, f.cell) for f in result.findings]


def test_consistent_workbook_is_clean(spec, tmp_path):
    result = check(make(tmp_path, spec))
    assert result.findings == [] and result.status == "ok"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), fmt=st.sampled_from(["2019", "2021"]),
       kind=st.sampled_from(["县直部门", "乡镇", "街道"]))
def test_any_consistent_filling_checks_clean(tmp_path, seed, fmt, kind):
    spec = get_spec(fmt)
    values = consistent_values(spec, random.Random(seed), office_kind=kind)
    result = check(make(tmp_path, spec, values, office={"kind": kind}))
    assert result.findings == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), fmt=st.sampled_from(["2019", "2021"]), how=st.sampled_from(["text", "negative", "bump"]),
       data=st.data())
def test_single_cell_perturbation_is_found_at_that_cell(tmp_path, seed, fmt, how, data):
    spec = get_spec(fmt)
    values = consistent_values(spec, random.Random(seed), office_kind="县直部门")
    pool = [f for f in spec.inputs() if (how != "bump" or f.table_id == "t3") and spec.types[f.type].min == 0]
    fig = data.draw(st.sampled_from(pool))
    if how == "text":
        values[fig.id] = data.draw(st.sampled_from(["/", "—", "无", "见附件"]))
        expected = ("value-not-number", fig.cell)
    elif how == "negative":
        values[fig.id] = -data.draw(st.integers(1, 50))
        expected = ("value-negative", fig.cell)
    else:
        values[fig.id] += data.draw(st.integers(1, 50))
        # F1 breaks in the perturbed column; it is reported at that column's 本年新收 cell.
        expected = ("balance-mismatch", spec.figure(f"t3.new.{fig.column_id}").cell)
    result = check(make(tmp_path, spec, values))
    assert expected in codes(result)


# -- rules, each consistent and inconsistent -----------------------------------------

def test_f1_per_column(spec, tmp_path):
    values = consistent_values(spec, random.Random(1), office_kind="县直部门")
    values["t3.carry_forward.research"] += 3
    result = check(make(tmp_path, spec, values))
    f1 = [f for f in result.findings if f.rule == "F1"]
    # One finding, at an input cell of the column; the 总计 column's imbalance is the same one, not a
    # second message at a locked total (its outcome still says fail).
    assert [(f.code, f.cell, f.expected - f.actual) for f in f1] == [
        ("balance-mismatch", spec.figure("t3.new.research").cell, 3)]
    assert {(o.key, o.status) for o in result.outcomes if o.rule == "F1" and o.status != "pass"} == {
        ("research", "fail"), ("total", "fail")}
    t = totals(spec, values)
    a, b = t["t3.new.research"], t["t3.carried_over.research"]
    c, d = t["t3.outcome_total.research"], t["t3.carry_forward.research"]
    assert f1[0].message == (f"表三“科研机构”列：第一项 {a} + 第二项 {b} = {a + b}，应等于第三项 {c} + 第四项 {d} = {c + d}，"
                             "差3；请核对这一列的各项数量")
    assert (f1[0].expected_label, f1[0].actual_label) == ("第三项+第四项", "第一项+第二项")
    assert ".0" not in f1[0].message


def _replace_cell(path, sheet, cell, value):
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


@pytest.mark.parametrize("figure,rule", [("t3.new.total", "D1"), ("t3.outcome_total.natural", "D2"), ("t4.review.total", "D4")])
def test_total_overwritten_with_wrong_constant(spec, tmp_path, figure, rule):
    path = make(tmp_path, spec)
    f = spec.figure(figure)
    right = totals(spec, consistent_values(spec, random.Random(3), office_kind="县直部门"))[figure]
    _replace_cell(path, f.sheet, f.cell, right + 5)
    result = check(path)
    at_cell = [(x.code, x.rule) for x in result.findings if x.cell == f.cell]
    assert ("formula-replaced", None) in at_cell
    assert (spec.rule(rule).code, rule) in at_cell
    sums = next(x for x in result.findings if x.rule == rule)
    assert (sums.expected, sums.actual) == (right, right + 5)


def test_total_overwritten_with_right_constant_is_still_an_error(spec, tmp_path):
    path = make(tmp_path, spec)
    f = spec.figure("t3.new.total")
    right = totals(spec, consistent_values(spec, random.Random(3), office_kind="县直部门"))[f.id]
    _replace_cell(path, f.sheet, f.cell, right)
    assert codes(check(path)) == [("formula-replaced", f.cell)]


def test_formula_altered(spec, tmp_path):
    path = make(tmp_path, spec)
    f = spec.figure("t3.new.total")
    _replace_cell(path, f.sheet, f.cell, "=SUM(D5:H5)")
    result = check(path)
    assert ("formula-altered", f.cell) in codes(result)


def test_cached_value_that_differs_is_reported(spec, tmp_path):
    path = make(tmp_path, spec)
    f = spec.figure("t3.new.total")
    # A program that wrote a stale result: patch the stored value in the sheet XML.
    data = _rewrite_cached(path, f, 99999)
    result = check_submission(read_submission(path, data))
    assert ("formula-cached-mismatch", f.cell) in codes(result)


def _rewrite_cached(path, f, value):
    import re

    buf = io.BytesIO()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                data = re.sub(rf'(<c r="{f.cell}"[^>]*><f>[^<]*</f><v>)[^<]*(</v>)'.encode(), rb"\g<1>%d\g<2>" % value, data)
            zout.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize("raw,code", [(None, "value-blank"), ("/", "value-not-number"), ("—", "value-not-number"),
                                      ("无", "value-not-number"), (-2, "value-negative"), (1.5, "value-not-integer")])
def test_d5_values(spec, tmp_path, raw, code):
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    f = spec.figure("t4.direct.upheld")
    values[f.id] = raw
    result = check(make(tmp_path, spec, values))
    assert (code, f.cell) in codes(result)
    assert next(x for x in result.findings if x.cell == f.cell).severity == "error"


@pytest.mark.parametrize("raw,number", [("0 ", 0), ("０", 0), ("１２", 12), (" 7", 7), ("1,234", 1234), ("3", 3)])
def test_numbers_typed_as_text_are_read_with_a_warning(spec, tmp_path, raw, number):
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    f = spec.figure("t4.direct.upheld")
    values[f.id] = raw
    result = check(make(tmp_path, spec, values))
    found = [x for x in result.findings if x.cell == f.cell]
    assert [(x.code, x.expected) for x in found] == [("value-text-number", number)]
    assert parse_number(raw) == ("text-number", number)


def test_decimal_allowed_only_where_the_unit_allows():
    spec = get_spec("2021")
    fee = spec.figure("t2.art20_8.fees.amount")
    assert spec.types[fee.type].number == "decimal"


def test_d7_format_year(spec, tmp_path):
    wrong = 2025 if spec.format == "2019" else 2020
    result = check(make(tmp_path, spec, office={"year": wrong}))
    assert [(f.code, f.rule, f.actual) for f in result.findings] == [("format-year-mismatch", "D7", wrong)]


def test_year_option(spec, tmp_path):
    result = check(make(tmp_path, spec), year=spec.years[0] + 1)
    assert ("office-year-mismatch", "B7") in codes(result)


def test_d8_regulations_warning(spec, tmp_path):
    values = consistent_values(spec, random.Random(3), office_kind="乡镇")
    fid = spec.rule("D8").instances[0].figures[2]
    values[fid] = 4
    result = check(make(tmp_path, spec, values, office={"kind": "乡镇"}))
    d8 = [f for f in result.findings if f.rule == "D8"]
    assert [(f.code, f.cell, f.severity) for f in d8] == [("regulations-not-allowed", spec.figure(fid).cell, "warning")]
    assert d8[0].message.startswith("县级及以下机关没有规章制定权，表二“规章”各项应为0（现合计4）")
    # At county level no office may have 规章, whatever its kind (the 县政府 itself included) …
    other = make(tmp_path, spec, values, office={"kind": "其他"}, name="o.xlsx")
    assert [f.rule for f in check(other).findings] == ["D8"]
    # … at a city's level an office of another kind may (the 设区的市 government), a 乡镇 still may not.
    assert [f.rule for f in check(other, level="city").findings] == []
    assert [f.rule for f in check(make(tmp_path, spec, values, office={"kind": "乡镇"}, name="t.xlsx"), level="city").findings] == ["D8"]


def test_d9_d10_soft_checks(spec, tmp_path):
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    if spec.format == "2019":
        values["t2.art20_5.licensing.prev_count"] = 2
        values["t2.art20_5.licensing.change"] = -5
        rule, cell = "D9", spec.figure("t2.art20_5.licensing.prev_count").cell
    else:
        values["t2.art20_1.normative.made"] = 9
        values["t2.art20_1.normative.repealed"] = 1
        values["t2.art20_1.normative.in_force"] = 3
        rule, cell = "D10", spec.figure("t2.art20_1.normative.in_force").cell
    result = check(make(tmp_path, spec, values))
    found = [f for f in result.findings if f.rule == rule]
    assert [(f.cell, f.severity) for f in found] == [(cell, "warning")]
    assert found[0].message == ("“行政许可”：上一年项目数量 2 + 本年增/减 -5 = -3，小于0；本年增/减不能比上一年项目数量减少得更多"
                                if rule == "D9" else
                                "“行政规范性文件”：现行有效件数 3 + 本年废止件数 1，合计4，少于本年制发件数 9（差5）；现行有效件数不应少于本年制发减本年废止")


def test_d3_previous_year(tmp_path):
    spec = get_spec("2021")
    last = consistent_values(spec, random.Random(5), office_kind="县直部门")
    last_path = write_workbook(spec, tmp_path / "2024.xlsx", Filling(office=dict(OFFICE, year=2024), values=last))
    this = consistent_values(spec, random.Random(6), office_kind="县直部门")
    this_path = make(tmp_path, spec, this, office={"year": 2025})
    report = check_paths([this_path], previous=last_path)
    d3 = [f for f in report.files[0].findings if f.rule == "D3"]
    lt, tt = totals(spec, last), totals(spec, this)
    expected = [c for c in ("natural", "business", "research", "nonprofit", "legal", "other")
                if lt[f"t3.carry_forward.{c}"] != tt[f"t3.carried_over.{c}"]]
    assert expected and [f.figure for f in d3] == [f"t3.carried_over.{c}" for c in expected]
    c = expected[0]
    assert d3[0].message == (f"表三“{spec.figure(f't3.carried_over.{c}').column}”列：本年“上年结转”为"
                             f"{tt[f't3.carried_over.{c}']:g}件，2024年度报告“结转下年度继续办理”为{lt[f't3.carry_forward.{c}']:g}件，"
                             f"应相等（差{abs(tt[f't3.carried_over.{c}'] - lt[f't3.carry_forward.{c}']):g}）")
    # When this year's carry-over equals last year's carry-forward, D3 is silent.
    for c in ("natural", "business", "research", "nonprofit", "legal", "other"):
        this[f"t3.carried_over.{c}"] = lt[f"t3.carry_forward.{c}"]
    this = consistent_values(spec, random.Random(6), office_kind="县直部门") | {
        f"t3.carried_over.{c}": lt[f"t3.carry_forward.{c}"] for c in ("natural", "business", "research", "nonprofit", "legal", "other")}
    fixed = _rebalance(spec, this)
    ok_path = make(tmp_path, spec, fixed, office={"year": 2025}, name="ok.xlsx")
    assert not [f for f in check_paths([ok_path], previous=last_path).files[0].findings if f.rule == "D3"]


def _rebalance(spec, values):
    """Make F1 hold again by adjusting 本年新收 / 结转下年度 after fixing 上年结转."""
    t = totals(spec, values)
    for c in ("natural", "business", "research", "nonprofit", "legal", "other"):
        diff = t[f"t3.new.{c}"] + t[f"t3.carried_over.{c}"] - t[f"t3.outcome_total.{c}"] - t[f"t3.carry_forward.{c}"]
        if diff > 0:
            values[f"t3.carry_forward.{c}"] += diff
        else:
            values[f"t3.new.{c}"] -= diff
    return values


def test_d6_prose_against_tables(spec, tmp_path):
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    t = totals(spec, values)
    received, done, review = t["t3.new.total"], t["t3.outcome_total.total"], t["t4.review.total"]
    good = f"全年共收到政府信息公开申请{received:g}件，办结{done:g}件。行政复议{review:g}件。"
    assert not [f for f in check(make(tmp_path, spec, values, prose={"s1": good})).findings if f.rule == "D6"]
    bad = f"全年共受理政府信息公开申请{received + 2:g}件，办结{done:g}件；被申请行政复议{review + 1:g}件。"
    result = check(make(tmp_path, spec, values, prose={"s1": bad}, name="bad.xlsx"))
    d6 = [f for f in result.findings if f.rule == "D6"]
    assert [(f.figure, f.actual, f.expected) for f in d6] == [
        ("t3.new.total", received + 2, received), ("t4.review.total", review + 1, review)]
    assert all(f.severity == "error" for f in d6)
    # At the text's cell: the sentence is quoted, the office corrects the text or the table.
    assert "全年共受理政府信息公开申请" in d6[0].message and (d6[0].sheet, d6[0].cell) == (spec.prose.sheet, "A3")


def test_fee_rules_2021(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    values["t3.other_fee_unpaid.natural"] += 1
    values["t3.new.natural"] += 1  # keep F1
    values["t6.fee.notices.value"] = 0
    values["t2.art20_8.fees.amount"] = 0.03
    values["t6.fee.collected_amount.value"] = 300
    values["t6.fee.notified_amount.value"] = 300
    result = check(make(tmp_path, spec, values))
    assert [(f.code, f.figure) for f in result.findings] == [
        ("fee-figures-missing", "t6.fee.notices.value"), ("fee-unit-confusion", "t2.art20_8.fees.amount")]
    values["t6.fee.notices.value"] = 1
    values["t6.fee.collected_amount.value"] = 120
    assert check(make(tmp_path, spec, values, name="ok.xlsx")).findings == []
    values["t6.fee.notified_amount.value"] = 100
    over = check(make(tmp_path, spec, values, name="over.xlsx")).findings
    assert [(f.code, f.cell, f.severity) for f in over] == [
        ("fee-collected-exceeds-notified", spec.figure("t6.fee.collected_amount.value").cell, "warning")]
    assert "多20元" in over[0].message


# -- messy files ------------------------------------------------------------------------

def _single(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    result = check_paths([path]).files[0]
    assert result.status == "unreadable"
    return [f.code for f in result.findings]


def test_messy_files(tmp_path):
    spec = get_spec("2021")
    good = make(tmp_path, spec).read_bytes()
    assert _single(tmp_path, "empty.xlsx", b"") == ["file-empty"]
    assert _single(tmp_path, "data.xlsx", "单位,数量\n教育局,3\n".encode("gbk")) == ["file-not-workbook"]
    assert _single(tmp_path, "report.xlsx", b"%PDF-1.7\n...") == ["file-not-workbook"]
    assert _single(tmp_path, "truncated.xlsx", good[: len(good) // 2]) == ["file-corrupt"]
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    assert _single(tmp_path, "report.docx", docx.getvalue()) == ["file-not-workbook"]
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 200
    assert _single(tmp_path, "locked.xlsx", ole + "EncryptionInfo".encode("utf-16-le")) == ["file-encrypted"]
    assert _single(tmp_path, "old.xls", ole + "Workbook".encode("utf-16-le")) == ["file-xls"]
    assert _single(tmp_path, "wps.et", ole + "Workbook".encode("utf-16-le")) == ["file-et"]
    other = io.BytesIO()
    openpyxl.Workbook().save(other)
    assert _single(tmp_path, "other.xlsx", other.getvalue()) == ["file-unknown-template"]


def test_messages_name_the_file_kind(tmp_path):
    path = tmp_path / "report.xlsx"
    path.write_bytes(b"%PDF-1.4")
    msg = check_paths([path]).files[0].findings[0].message
    assert "PDF" in msg and ".xlsx" in msg


def test_xlsm_with_macros_is_read_without_running_them(tmp_path):
    path = make(tmp_path, get_spec("2021"))
    xlsm = tmp_path / "m.xlsm"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(xlsm, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        zout.writestr("xl/vbaProject.bin", b"not really vba")
    result = check_paths([xlsm]).files[0]
    assert [f.code for f in result.findings] == ["file-macros"] and result.status == "warnings"


def test_one_bad_file_does_not_stop_the_batch(tmp_path):
    spec = get_spec("2021")
    make(tmp_path, spec, name="a.xlsx")
    (tmp_path / "b.xlsx").write_bytes(b"")
    make(tmp_path, spec, name="c.xlsx", prose=OTHER_PROSE, index=5)
    (tmp_path / "notes.txt").write_text("ignored in folders")
    report = check_paths([tmp_path])
    assert [(f.path.name, f.status) for f in report.files] == [("a.xlsx", "ok"), ("b.xlsx", "unreadable"), ("c.xlsx", "ok")]


def test_structure_changes(tmp_path):
    spec = get_spec("2021")
    path = make(tmp_path, spec)
    wb = openpyxl.load_workbook(path)
    t3 = spec.sheet_name("t3")
    wb[t3].protection.sheet = False
    wb.create_sheet("我的草稿")
    wb[spec.sheet_name("t4")].title = "表四"
    wb[t3]["A5"] = "一、本年新收申请"
    wb.save(path)
    result = check(path)
    found = [(f.code, f.sheet, f.cell) for f in result.findings]
    assert ("structure-unprotected", t3, None) in found
    assert ("structure-sheet-added", "我的草稿", None) in found
    assert ("structure-sheet-renamed", "表四", None) in found
    assert ("structure-label-changed", t3, "A5") in found
    assert not [f for f in result.findings if f.code.startswith(("value-", "balance"))]


def test_old_template_version(tmp_path):
    spec = get_spec("2021")
    path = make(tmp_path, spec)
    wb = openpyxl.load_workbook(path)
    wb[spec.sheet_name("meta")]["B2"] = "2021.0"
    wb.save(path)
    assert [f.code for f in check(path).findings] == ["template-outdated"]


def test_table_copied_into_another_workbook_is_found_by_labels(spec, tmp_path):
    """No metadata, no names, other positions: the official labels still place every figure."""
    src = make(tmp_path, spec)
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    wb_src = openpyxl.load_workbook(src, data_only=True)
    out = openpyxl.Workbook()
    ws = out.active
    ws.title = "年报"
    row_offset = 0
    for name in [spec.sheet_name(s) for s in ("office", "t2", "t3", "t4", "prose")]:
        sheet = wb_src[name]
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None:
                    ws.cell(row=cell.row + row_offset + 2, column=cell.column + 1, value=cell.value)
        for rng in sheet.merged_cells.ranges:
            ws.merge_cells(start_row=rng.min_row + row_offset + 2, start_column=rng.min_col + 1,
                           end_row=rng.max_row + row_offset + 2, end_column=rng.max_col + 1)
        row_offset += sheet.max_row + 3
    path = tmp_path / "copied.xlsx"
    out.save(path)
    sub = read_submission(path)
    assert sub.identified_by == "labels" and sub.spec.format == spec.format
    for f in spec.inputs():
        assert sub.raw[f.id] == values[f.id], f.id
    result = check_submission(sub)
    assert [f.code for f in result.findings] == ["template-identified-by-labels"]
    assert sub.office["name"] == OFFICE["name"]


# -- output -------------------------------------------------------------------------------

def test_json_output_equals_library_and_exit_codes(tmp_path):
    spec = get_spec("2021")
    make(tmp_path, spec, name="ok.xlsx")
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    values["t3.new.natural"] += 1
    make(tmp_path, spec, values, name="bad.xlsx", prose=OTHER_PROSE, index=5)
    out = runner.invoke(app, ["check", str(tmp_path), "--json"])
    assert out.exit_code == 1
    data = json.loads(out.output)
    assert data == json.loads(json.dumps(check_paths([tmp_path]).to_dict(), ensure_ascii=False, default=str))
    assert data["summary"] == {"files": 2, "ok": 1, "warnings": 0, "errors": 1, "unreadable": 0}
    f = data["files"][0]
    assert {"path", "office", "format", "year", "status", "findings", "outcomes"} <= set(f)
    assert {"code", "severity", "sheet", "cell", "figure", "message", "expected", "actual", "expected_label",
            "actual_label"} <= set(f["findings"][0])
    # Every rule at every location, kept apart: pass, fail, missing, not applicable.
    f1 = {o["key"]: o["outcome"] for o in f["outcomes"] if o["rule"] == "F1"}
    assert f1["natural"] == "fail" and f1["business"] == "pass"
    assert {o["outcome"] for o in f["outcomes"] if o["rule"] == "D3"} == {"not_applicable"}  # no last year given
    ok = runner.invoke(app, ["check", str(tmp_path / "ok.xlsx")])
    assert ok.exit_code == 0 and "通过" in ok.output
    assert runner.invoke(app, ["check", str(tmp_path / "nope.xlsx")]).exit_code == 2


def test_annotated_copy(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    prose = consistent_prose(spec, values)  # the text tells the right figures; the table has two mistakes
    values["t3.new.natural"] += 2
    values["t4.review.upheld"] = "/"
    path = make(tmp_path, spec, values, name="教育局.xlsx", prose=prose)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = check(path)
    out = annotate(result, tmp_path / "feedback")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # the input is untouched
    assert out.name == "教育局.校验结果.xlsx"
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "校验结果" and wb.active.title == "校验结果"
    listing = wb["校验结果"]
    rows = [[c.value for c in r] for r in listing.iter_rows(min_row=5, max_col=7)]
    assert [r[6] for r in rows] == [f.code for f in result.findings]
    assert listing["C5"].hyperlink.location or listing["C5"].hyperlink.target
    new = spec.figure("t3.new.natural")
    cell = wb[new.sheet][new.cell]
    assert "表三“自然人”列：第一项" in cell.comment.text and "差2" in cell.comment.text
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert wb[new.sheet].protection.sheet and wb.security.lockStructure
    # Stored results are present for LibreOffice and previewers.
    cached = openpyxl.load_workbook(out, data_only=True)
    total = spec.figure("t3.new.total")
    assert cached[total.sheet][total.cell].value == totals(spec, values)[total.id]
    f1 = next(i for i in spec.rule("F1").instances if i.key == "natural").placement
    assert "差2" in cached[f1.sheet][f1.cell].value
    # The same findings when the annotated copy is checked again...
    again = check(out)
    assert [(f.code, f.cell) for f in again.findings] == [(f.code, f.cell) for f in result.findings]
    # ...and none once the office corrects it.
    wb[new.sheet][new.cell] = values["t3.new.natural"] - 2
    review = spec.figure("t4.review.upheld")
    wb[review.sheet][review.cell] = 0
    wb.save(tmp_path / "corrected.xlsx")
    corrected = check(tmp_path / "corrected.xlsx")
    assert corrected.findings == []
    # Round two starts clean: the first round's fills, comments and findings are gone from the new feedback.
    round2 = openpyxl.load_workbook(annotate(corrected, tmp_path / "round2"))
    assert round2["校验结果"]["A1"].value.endswith("通过") and round2["校验结果"]["A5"].value is None
    for ws in round2.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.comment is None, (ws.title, c.coordinate)
                assert not str(c.fill.fgColor.rgb).endswith(("FFC7CE", "FFEB9C")), (ws.title, c.coordinate)
    assert round2[new.sheet][new.cell].fill.fgColor.rgb.endswith("FFF2CC")  # the template's input colour again


def test_annotated_feedback_for_an_unreadable_file(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.4")
    result = check_paths([path]).files[0]
    out = annotate(result, tmp_path / "fb")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["校验结果"]
    assert wb["校验结果"]["G5"].value == "file-not-workbook"


def test_office_text_is_never_a_formula_in_feedback(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    values["t4.review.upheld"] = "=HYPERLINK(\"http://evil\",\"x\")"
    result = check(make(tmp_path, spec, values))
    out = annotate(result, tmp_path / "fb")
    wb = openpyxl.load_workbook(out)
    for row in wb["校验结果"].iter_rows(min_row=5):
        for cell in row:
            assert cell.data_type != "f"


def test_annotation_keeps_every_merged_range_and_marks_findings_on_merged_cells(tmp_path):
    """The annotator loads the office's workbook without its merged ranges (openpyxl re-styles each one, which
    cost most of a feedback workbook's time) and writes them back: the same ranges, sheet by sheet."""
    from pipeline.xlsxread import read_workbook

    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(4), office_kind="县直部门")
    path = make(tmp_path, spec, values, name="局.xlsx", prose={"s5": ""})  # a blank text: a finding on a merged cell
    result = check(path)
    out = annotate(result, tmp_path / "fb")
    before, after = read_workbook(str(path)), read_workbook(str(out))
    for name, sheet in before.sheets.items():
        assert sorted(after.sheets[name].merged) == sorted(sheet.merged), name
    blank = next(f for f in result.findings if f.sheet and f.cell
                 and any(f.cell == rng.split(":")[0] for rng in before.sheets[f.sheet].merged))
    wb = openpyxl.load_workbook(out)
    assert wb[blank.sheet][blank.cell].comment is not None
    assert wb[blank.sheet][blank.cell].fill.fgColor.rgb.endswith(("FFC7CE", "FFEB9C"))
