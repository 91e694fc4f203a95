"""The generated template, checked over the spec (not over a hand-written list of cells)."""

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pipeline import Filling, get_spec, write_workbook
from pipeline.fill import consistent_prose, consistent_values, totals
from pipeline.rules import live_instances
from pipeline.spec import split_cell

from helpers import expand, load_both, validated_cells, xml_parts

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _range(cell, merge_to):
    return expand(f"{cell}:{merge_to}") if merge_to else [cell]


def _unlocked_allowed(spec, filling):
    """Cells a clerk may type in: inputs, unfilled office fields and prose (with their merges)."""
    allowed = set()
    for f in spec.inputs():
        allowed |= {(f.sheet, c) for c in _range(f.cell, f.merge_to)}
    office_sheet = spec.office.sheet
    for fld in spec.office_fields:
        if fld.id not in filling.office:
            allowed |= {(office_sheet, c) for c in _range(fld.cell, fld.merge_to)}
    prose_sheet = spec.prose.sheet
    for fld in spec.prose.fields:
        allowed |= {(prose_sheet, c) for c in _range(fld.cell, fld.merge_to)}
    ex = spec.explanation
    allowed |= {(ex.sheet, c) for c in _range(ex.cell, ex.merge_to)}
    return allowed


@pytest.fixture
def written(spec, tmp_path, consistent):
    filling = Filling(office={"name": "测试县教育局", "kind": "县直部门", "code": "T001", "year": spec.years[0]},
                      values=consistent, prose=consistent_prose(spec, consistent))
    path = write_workbook(spec, tmp_path / "t.xlsx", filling)
    wb, cached = load_both(path)
    return spec, filling, wb, cached


def test_inputs_unlocked_and_validated(written):
    spec, filling, wb, _ = written
    for f in spec.inputs():
        ws = wb[f.sheet]
        assert ws[f.cell].protection.locked is False, f.id
        dv = validated_cells(ws).get(f.cell)
        assert dv is not None, f"{f.id} has no validation"
        t = spec.types[f.type]
        assert dv.type == ("whole" if t.number == "integer" else "decimal"), f.id
        if t.min is not None:
            assert (dv.operator, dv.formula1) == ("greaterThanOrEqual", "0"), f.id
        else:
            assert dv.operator in (None, "between") and dv.formula1 == "-1000000000", f.id
        # errorStyle absent means "stop", the default of the OOXML schema.
        assert dv.showErrorMessage and dv.errorStyle in (None, "stop") and dv.error and dv.prompt, f.id


def test_every_other_cell_locked(written):
    spec, filling, wb, _ = written
    allowed = _unlocked_allowed(spec, filling)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.protection.locked is False:
                    assert (ws.title, cell.coordinate) in allowed, f"{ws.title}!{cell.coordinate} is unlocked"


def test_every_sheet_protected_and_structure_locked(written):
    spec, filling, wb, _ = written
    assert wb.security.lockStructure
    assert [ws.title for ws in wb.worksheets] == list(spec.sheets.values())
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title


def test_computed_cells_are_sums_with_correct_cached_values(written):
    spec, filling, wb, cached = written
    expected = totals(spec, filling.values)
    for f in spec.computed():
        formula = wb[f.sheet][f.cell].value
        m = re.fullmatch(r"=SUM\(([A-Z0-9:,]+)\)", formula)
        assert m, f"{f.id}: {formula}"
        covered = [c for part in m.group(1).split(",") for c in expand(part)]
        assert sorted(covered) == sorted(spec.figure(p).cell for p in f.sum), f.id
        assert cached[f.sheet][f.cell].value == pytest.approx(expected[f.id]), f.id
        assert wb[f.sheet][f.cell].protection.locked


def test_defined_names_point_at_their_cells(written):
    spec, _, wb, _ = written
    for f in spec.figures:
        col, row = split_cell(f.cell)
        assert wb.defined_names[f.name].attr_text == f"'{f.sheet}'!${col}${row}", f.id


def test_hidden_metadata(written):
    spec, _, wb, cached = written
    meta = wb[spec.meta.sheet]
    assert meta.sheet_state == "veryHidden"
    values = {meta[f"A{i}"].value: meta[f"B{i}"].value for i in range(1, 6)}
    assert values["format"] == spec.format
    assert values["template_version"] == spec.template_version
    assert values["spec_sha256"] == spec.layout_sha256
    assert values["office_code"] == "T001"
    assert wb.defined_names["xxgk_meta_format"].attr_text.endswith("!$B$1")


def test_office_fields_prefilled_and_locked(written):
    spec, filling, wb, _ = written
    office = wb[spec.office.sheet]
    for fld in spec.office_fields:
        cell = office[fld.cell]
        if fld.id in filling.office:
            assert cell.value == filling.office[fld.id]
            assert cell.protection.locked
        else:
            assert cell.value is None and cell.protection.locked is False


def _check_values(spec, cached):
    return {(i.rule.id, i.key): cached[i.placement.sheet][i.placement.cell].value for i in live_instances(spec)}


def _summary(spec, cached):
    return cached[spec.office.sheet][spec.office.summary.cell].value


def test_consistent_filling_passes_every_live_check(written):
    spec, _, _, cached = written
    values = _check_values(spec, cached)
    # The office kind 县直部门 and the report year are filled, so every check has something to say.
    assert set(values.values()) == {spec.ok_text}, values
    assert _summary(spec, cached) == spec.office.summary.ok


def test_f1_violation_shows_column_and_difference(spec, tmp_path, consistent):
    values = dict(consistent)
    values["t3.new.legal"] += 2
    path = write_workbook(spec, tmp_path / "bad.xlsx", Filling(office={"kind": "街道", "year": spec.years[0]}, values=values,
                                                               prose=consistent_prose(spec, consistent)))
    _, cached = load_both(path)
    checks = _check_values(spec, cached)
    assert checks[("F1", "legal")] == "第一项+第二项≠第三项+第四项（法律服务机构列，差2）"
    assert checks[("F1", "total")] == "第一项+第二项≠第三项+第四项（总计列，差2）"
    assert checks[("F1", "natural")] == spec.ok_text
    assert _summary(spec, cached) == "有2项校验未通过，请按各表下方的提示修改后再报送。"


def test_blank_template_counts_blanks_and_asks_for_year(spec, tmp_path):
    path = write_workbook(spec, tmp_path / "blank.xlsx")
    _, cached = load_both(path)
    checks = _check_values(spec, cached)
    n_t3 = sum(1 for f in spec.inputs() if f.table_id == "t3")
    assert checks[("D5", "t3")] == f"本表有{n_t3}个单元格空白或不是有效数值（没有发生的事项请填0）"
    assert checks[("D7", None)] == "请在“单位信息”中填写报告年度（四位数字）"
    assert all(v == spec.ok_text for (rule, _), v in checks.items() if rule == "F1")


def test_text_and_negative_values_count_as_invalid(spec, tmp_path, consistent):
    values = dict(consistent)
    t4 = [f.id for f in spec.inputs() if f.table_id == "t4"]
    values[t4[0]] = "/"
    values[t4[1]] = -1
    values[t4[2]] = " 0"
    path = write_workbook(spec, tmp_path / "bad.xlsx", Filling(office={"year": spec.years[0]}, values=values))
    _, cached = load_both(path)
    assert _check_values(spec, cached)[("D5", "t4")] == "本表有3个单元格空白或不是有效数值（没有发生的事项请填0）"


def test_wrong_year_for_format(spec, tmp_path, consistent):
    wrong = 2025 if spec.format == "2019" else 2020
    path = write_workbook(spec, tmp_path / "y.xlsx", Filling(office={"year": wrong}, values=consistent))
    _, cached = load_both(path)
    text = _check_values(spec, cached)[("D7", None)]
    assert text.startswith(f"报告年度{wrong}不应使用本格式")


def test_regulations_warning_for_township(spec, tmp_path, consistent):
    values = dict(consistent)
    inst = spec.rule("D8").instances[0]
    values[inst.figures[2]] = 3  # 现行有效 (对外公开总数): nothing else follows from it
    path = write_workbook(spec, tmp_path / "r.xlsx", Filling(office={"kind": "乡镇", "year": spec.years[0]}, values=values,
                                                             prose=consistent_prose(spec, values)))
    _, cached = load_both(path)
    assert _check_values(spec, cached)[("D8", None)] == "提醒：县级及以下机关没有规章制定权，规章各项应为0（现合计3）"
    # A warning leaves the verdict at "passed, with a 提醒 to look at".
    assert _summary(spec, cached).startswith("校验通过；另有1项提醒")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), kind=st.sampled_from(["县直部门", "乡镇", "街道", "县政府办公室"]))
def test_any_consistent_filling_has_right_cached_values(tmp_path, seed, kind):
    for fmt in ("2019", "2021"):
        spec = get_spec(fmt)
        values = consistent_values(spec, random.Random(seed), office_kind=kind)
        path = write_workbook(spec, tmp_path / f"h{fmt}.xlsx", Filling(office={"kind": kind, "year": spec.years[0]},
                                                                       values=values, prose=consistent_prose(spec, values)))
        _, cached = load_both(path)
        expected = totals(spec, values)
        for f in spec.figures:
            assert cached[f.sheet][f.cell].value == pytest.approx(expected[f.id]), f.id
        assert set(_check_values(spec, cached).values()) == {spec.ok_text}


def test_text_is_never_written_as_a_formula(spec, tmp_path, consistent):
    starts = ["=HYPERLINK(\"http://x\")", "+1", "@SUM(A1)", "-2", "=A1"]
    prose = {fld.id: starts[i % len(starts)] for i, fld in enumerate(spec.prose.fields)}
    path = write_workbook(spec, tmp_path / "p.xlsx", Filling(office={"name": "=1+1"}, values=consistent, prose=prose))
    wb, _ = load_both(path)
    prose_ws = wb[spec.prose.sheet]
    for fld in spec.prose.fields:
        cell = prose_ws[fld.cell]
        assert cell.data_type == "s" and cell.value == prose[fld.id]
    office_ws = wb[spec.office.sheet]
    assert office_ws[spec.office_field("name").cell].data_type == "s"


@pytest.mark.parametrize("fmt", ["2019", "2021"])
def test_committed_templates_are_regenerated_identically(fmt, tmp_path):
    committed = ROOT / "templates" / "xlsx" / f"gov{fmt}.xlsx"
    fresh = write_workbook(get_spec(fmt), tmp_path / f"gov{fmt}.xlsx")
    a, b = xml_parts(committed), xml_parts(fresh)
    assert list(a) == list(b)
    for name in a:
        assert a[name] == b[name], f"{name} differs: run `xxgk template --format {fmt} -o {committed.relative_to(ROOT)}`"
