"""The real client: LibreOffice Calc fills a template, recalculates and saves it as .xlsx.

Needs Debian's libreoffice-calc and python3-uno (``.ci/run`` installs them). Skipped
on a developer machine without them; in CI (CI=true) their absence is a failure.
"""

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline import Filling, get_spec, write_workbook
from pipeline.fill import consistent_prose, consistent_values, totals
from pipeline.rules import live_check, live_instances, summary_check
from pipeline.xlexpr import general

from helpers import load_both, validated_cells

SYSTEM_PYTHON = "/usr/bin/python3"
CLIENT = Path(__file__).with_name("lo_client.py")


def _have_libreoffice() -> bool:
    if not shutil.which("soffice") or not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True).returncode == 0


pytestmark = pytest.mark.libreoffice

if not _have_libreoffice():
    if os.environ.get("CI"):
        raise RuntimeError("LibreOffice Calc and python3-uno are required in CI (.ci/run installs them)")
    pytest.skip("LibreOffice Calc / python3-uno not installed", allow_module_level=True)


def run_calc(tmp_path, src, writes, read, notes=()):
    out = tmp_path / f"saved-by-calc-{Path(src).stem}.xlsx"
    job = {
        "input": str(src),
        "output": str(out),
        "profile": str(tmp_path / "lo-profile"),
        "writes": writes,
        "read": read,
        "notes": [list(n) for n in notes],
    }
    proc = subprocess.run(
        [SYSTEM_PYTHON, str(CLIENT)], input=json.dumps(job), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), out


@pytest.mark.parametrize("fmt", ["2019", "2021"])
def test_calc_fills_recalculates_and_saves(fmt, tmp_path):
    spec = get_spec(fmt)
    year = spec.years[0]
    office = {"name": "测试镇人民政府", "kind": "乡镇", "code": "LO01", "year": year}
    src = write_workbook(spec, tmp_path / "template.xlsx", Filling(office=office))

    values = consistent_values(spec, random.Random(11), office_kind="乡镇")
    values["t3.new.natural"] += 2  # break F1 in the 自然人 column, as a clerk's typo would
    writes = [[f.sheet, f.cell, values[f.id]] for f in spec.inputs()]
    # A person cannot type into totals or labels: Calc must refuse both.
    total = spec.computed()[0]
    label_sheet = spec.office.sheet
    label_cell = spec.office_field("name").label_cell
    writes += [[total.sheet, total.cell, 999], [label_sheet, label_cell, "改掉标签"]]
    checks = live_instances(spec)
    summary = spec.office.summary
    read = [[f.sheet, f.cell] for f in spec.computed()]
    read += [[i.placement.sheet, i.placement.cell] for i in checks]
    read += [[label_sheet, summary.cell]]

    result, saved = run_calc(tmp_path, src, writes, read)

    assert result["refused"] == [[total.sheet, total.cell], [label_sheet, label_cell]]
    assert all(result["protected"].values())

    # Before recalculation Calc shows the results stored by xxgk (blank template: 0 and messages).
    _, blank_cached = load_both(src)
    n_computed = len(spec.computed())
    for (sheet, cell), shown in zip(read, result["before"]):
        stored = blank_cached[sheet][cell].value
        if isinstance(stored, str):
            assert shown == stored
        else:
            assert float(shown) == stored

    # After recalculation Calc's own results equal xxgk's evaluation of the same formulas.
    cells = {(s, c): v for s, c, v in writes[:-2]}
    office_sheet = spec.office.sheet
    for fld in spec.office_fields:
        cells[(office_sheet, fld.cell)] = office.get(fld.id)
    expected = totals(spec, values)
    for f in spec.computed():
        cells[(f.sheet, f.cell)] = expected[f.id]
    for inst in checks:
        cells[(inst.placement.sheet, inst.placement.cell)] = live_check(spec, inst).eval(lambda s, c: cells.get((s, c)))
    after = result["after"]
    for f, shown in zip(spec.computed(), after[:n_computed]):
        assert float(shown) == pytest.approx(expected[f.id]), f.id
    for inst, shown in zip(checks, after[n_computed:-1]):
        assert shown == general(cells[(inst.placement.sheet, inst.placement.cell)]), (inst.rule.id, inst.key)
    assert after[n_computed + [i.key for i in checks].index("natural")] == "第一项+第二项≠第三项+第四项（自然人列，差2）"
    assert after[-1] == summary_check(spec).eval(lambda s, c: cells.get((s, c)))

    # The file Calc saved keeps formulas, results, protection, validation and names.
    wb, cached = load_both(saved)
    ours, _ = load_both(src)
    for f in spec.computed():
        assert wb[f.sheet][f.cell].value == ours[f.sheet][f.cell].value, f.id
        assert cached[f.sheet][f.cell].value == pytest.approx(expected[f.id]), f.id
    for f in spec.inputs():
        assert cached[f.sheet][f.cell].value == pytest.approx(values[f.id]), f.id
        assert wb[f.sheet][f.cell].protection.locked is False
        assert f.cell in validated_cells(wb[f.sheet]), f.id
        assert f.name in wb.defined_names
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title


def test_calc_saved_workbook_reads_like_openpyxl_saved(tmp_path):
    """The same filling, saved by Calc and by openpyxl, reads to the same submission."""
    from pipeline.check import check_submission
    from pipeline.reader import read_submission
    import openpyxl

    spec = get_spec("2021")
    office = {"name": "测试街道办事处", "kind": "街道", "code": "LO02", "year": 2025,
              "filler": "王五", "phone": "1", "date": "2026-01-05"}
    src = write_workbook(spec, tmp_path / "template.xlsx", Filling(office=office))
    values = consistent_values(spec, random.Random(12), office_kind="街道")
    values["t4.review.upheld"] = "/"  # typed by the clerk; Calc keeps it as text
    writes = [[f.sheet, f.cell, values[f.id]] for f in spec.inputs()]
    good = dict(values, **{"t4.review.upheld": 0})
    writes += [[spec.prose.sheet, fld.cell, consistent_prose(spec, good, 2025)[fld.section]] for fld in spec.prose.fields]
    _, by_calc = run_calc(tmp_path, src, writes, [])
    wb = openpyxl.load_workbook(src)
    for sheet, cell, value in writes:
        wb[sheet][cell] = value
    by_openpyxl = tmp_path / "saved-by-openpyxl.xlsx"
    wb.save(by_openpyxl)
    from test_reader_differential import test_reader_equals_openpyxl

    test_reader_equals_openpyxl(by_calc)  # the one-pass reader agrees with openpyxl on Calc's file too
    a, b = read_submission(by_calc), read_submission(by_openpyxl)
    assert a.identified_by == b.identified_by == "metadata"
    assert {f.id: a.raw[f.id] for f in spec.inputs()} == {f.id: b.raw[f.id] for f in spec.inputs()}
    assert a.office == b.office
    ra, rb = check_submission(a), check_submission(b)
    assert [(f.code, f.cell) for f in ra.findings] == [(f.code, f.cell) for f in rb.findings]
    assert [(f.code, f.cell) for f in ra.findings] == [("value-not-number", spec.figure("t4.review.upheld").cell)]


def test_rows_inserted_in_calc_are_followed_by_names(tmp_path):
    """A clerk unprotects 表三 and inserts two rows: names and formulas move, values still read right."""
    from pipeline.check import check_submission
    from pipeline.reader import read_submission

    spec = get_spec("2021")
    office = {"name": "测试局", "kind": "县直部门", "code": "LO03", "year": 2025,
              "filler": "赵六", "phone": "1", "date": "2026-01-05"}
    values = consistent_values(spec, random.Random(13), office_kind="县直部门")
    src = write_workbook(spec, tmp_path / "filled.xlsx", Filling(office=office, values=values,
                                                                  prose=consistent_prose(spec, values, 2025)))
    t3 = spec.sheet_name("t3")
    job_insert = [[t3, 7, 2]]  # two rows above （一）予以公开
    out = tmp_path / "moved.xlsx"
    proc = subprocess.run(
        [SYSTEM_PYTHON, str(CLIENT)],
        input=json.dumps({"input": str(src), "output": str(out), "profile": str(tmp_path / "p"),
                          "writes": [], "read": [], "insert_rows": job_insert}),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sub = read_submission(out)
    assert sub.locations["t3.disclosed.natural"] == (t3, "D9")
    assert {f.id: sub.raw[f.id] for f in spec.inputs()} == values
    result = check_submission(sub)
    assert sorted({(f.code, f.sheet) for f in result.findings}) == [
        ("structure-moved", t3), ("structure-unprotected", t3)]


def test_rollup_results_equal_calcs_recalculation(tmp_path):
    """The rollup's stored results (totals by office kind, charts' data) are what Calc computes."""
    from pipeline.merge import merge
    from pipeline.samples import write_sample_mail
    from pipeline.intake import receive
    from pipeline.workspace import init_workspace

    mail = write_sample_mail(tmp_path / "mail")
    ws = init_workspace(tmp_path / "ws", Path(__file__).resolve().parent.parent / "samples" / "roster.csv", 2025, name="青溪县")
    receive(ws, [str(mail[0].parent)])
    result = merge(ws, tmp_path / "rollup.xlsx")
    spec = result.spec
    names = spec.rollup.sheets
    _, cached = load_both(result.path)
    read = []
    for key in ("by_kind", "charts"):
        sheet = cached[names[key]]
        for row in sheet.iter_rows(min_row=2, max_row=sheet.max_row, min_col=2, max_col=min(sheet.max_column, 40)):
            read += [[names[key], c.coordinate] for c in row if isinstance(c.value, (int, float))]
    assert len(read) > 100
    calc, _ = run_calc(tmp_path, result.path, [], read)
    for (sheet, cell), before, after in zip(read, calc["before"], calc["after"]):
        assert float(after) == pytest.approx(float(before)), (sheet, cell)
        assert float(before) == pytest.approx(cached[sheet][cell].value), (sheet, cell)


def _verdicts(spec, result):
    """What the checker says each live check should show: True (passes), False (fails), None (no opinion:
    an input it needs is blank or not a number, so the workbook counts it 0 and may show either)."""
    out = {}
    for inst in live_instances(spec):
        key = (inst.rule.id, inst.key)
        if inst.rule.kind == "domain":  # per table in the workbook, per cell in the checker
            cells = [o for o in result.outcomes if o.rule == inst.rule.id and spec.figure(o.key).table_id == inst.key]
            out[key] = all(o.status == "pass" for o in cells)
            continue
        statuses = {o.status for o in result.outcomes if o.rule == inst.rule.id and o.key == inst.key}
        if "missing" in statuses and inst.rule.kind != "prose_length":
            out[key] = None
        else:
            out[key] = "fail" not in statuses and "missing" not in statuses
    return out


def test_the_workbooks_own_checks_agree_with_the_checker(tmp_path):
    """Random consistent and inconsistent workbooks: each live check cell, recalculated by Calc, says what the
    checker's outcome for that rule and place says."""
    from pipeline.check import check_submission
    from pipeline.fill import random_values
    from pipeline.reader import read_submission

    rng = random.Random(2025)
    files, cases = [], []
    for fmt in ("2019", "2021"):
        spec = get_spec(fmt)
        for i in range(5):
            kind = rng.choice(["县直部门", "乡镇", "街道", "县级人民政府", "其他"])
            if i < 2:
                values = consistent_values(spec, random.Random(rng.random()), office_kind=kind)
            else:  # nothing made consistent, and a clerk's "/" or blank here and there
                values = random_values(spec, random.Random(rng.random()))
                for fid in rng.sample([f.id for f in spec.inputs()], 2):
                    values[fid] = rng.choice(["/", None, "3"])
            prose = consistent_prose(spec, values, spec.years[0], index=i)
            if i == 3:
                prose.update(s1="做好公开工作。", s5="无", s6="")
            office = {"name": f"一致性{fmt}-{i}", "kind": kind, "code": f"A{i}", "year": spec.years[0]}
            path = write_workbook(spec, tmp_path / f"{fmt}-{i}.xlsx", Filling(office=office, values=values, prose=prose))
            read = [[inst.placement.sheet, inst.placement.cell] for inst in live_instances(spec)]
            files.append({"input": str(path), "output": str(tmp_path / f"calc-{fmt}-{i}.xlsx"), "writes": [],
                          "read": read})
            cases.append((spec, path))
    job = {"profile": str(tmp_path / "lo-profile"), "files": files}
    proc = subprocess.run([SYSTEM_PYTHON, str(CLIENT)], input=json.dumps(job), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])["files"]
    judged = failing = 0
    for (spec, path), calc in zip(cases, results):
        result = check_submission(read_submission(path))
        verdicts = _verdicts(spec, result)
        for inst, before, after in zip(live_instances(spec), calc["before"], calc["after"]):
            key = (inst.rule.id, inst.key)
            assert before == after, (path.name, key)  # our stored results are what Calc computes
            if verdicts[key] is None:
                continue
            judged += 1
            failing += not verdicts[key]
            assert (after == spec.ok_text) == verdicts[key], (path.name, key, after,
                                                              [f.message for f in result.findings if f.rule == key[0]])
    assert judged > 150 and failing > 15  # both outcomes were really compared


def test_feedback_shows_in_calc_and_comes_back_for_round_two(tmp_path):
    """The feedback workbook as the office sees it in Calc: the 校验结果 sheet first, each finding's cell red
    with our note on it. The clerk corrects one figure in that copy, Calc saves it and it is sent back: the
    second feedback, made from Calc's package, has only the remaining finding, and no note or colour of the
    first round."""
    from pipeline.annotate import AUTHOR, FILL_RGB, INPUT_RGB, annotate
    from pipeline.check import check_paths

    spec = get_spec("2021")
    office = {"name": "测试镇人民政府", "kind": "乡镇", "code": "LO05", "year": 2025,
              "filler": "赵六", "phone": "1", "date": "2026-01-05"}
    values = consistent_values(spec, random.Random(21), office_kind="乡镇")
    prose = consistent_prose(spec, values, 2025)
    values["t3.new.natural"] += 2  # breaks F1 on the 自然人 column
    values["t4.review.upheld"] = "/"  # not a number
    src = write_workbook(spec, tmp_path / "镇.xlsx", Filling(office=office, values=values, prose=prose))
    first = check_paths([src]).files[0]
    marked = sorted({(f.sheet, f.cell) for f in first.findings if f.sheet and f.cell})
    new, review = spec.figure("t3.new.natural"), spec.figure("t4.review.upheld")
    assert {(new.sheet, new.cell), (review.sheet, review.cell)} <= set(marked)
    feedback = annotate(first, tmp_path / "fb")

    seen, corrected = run_calc(tmp_path, feedback, [[review.sheet, review.cell, 0]], [], notes=marked)
    assert list(seen["protected"])[0] == spec.feedback_sheet  # sheets in tab order
    for (sheet, cell), note, color in zip(marked, seen["notes"], seen["colors"]):
        assert note.startswith("【错误】") or note.startswith("【提醒】"), (sheet, cell, note)
        assert f"{color:06X}" in FILL_RGB.values(), (sheet, cell, color)

    second = check_paths([corrected]).files[0]
    assert {(f.sheet, f.cell) for f in second.findings if f.sheet and f.cell} == {(new.sheet, new.cell)} | {
        (f.sheet, f.cell) for f in first.findings if f.code == "prose-table-mismatch"}
    again = annotate(second, tmp_path / "fb2")
    seen2, _ = run_calc(tmp_path, again, [], [], notes=[(review.sheet, review.cell), (new.sheet, new.cell)])
    assert seen2["notes"][0] == "" and f"{seen2['colors'][0]:06X}" == INPUT_RGB  # corrected: as the template had it
    assert seen2["notes"][1].startswith("【错误】") and f"{seen2['colors'][1]:06X}" == FILL_RGB["error"]
    import openpyxl

    wb = openpyxl.load_workbook(again)
    assert wb.sheetnames.count(spec.feedback_sheet) == 1 and wb.sheetnames[0] == spec.feedback_sheet
    ours = [(ws.title, c.coordinate) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.comment is not None and c.comment.author == AUTHOR]
    assert ours == [(new.sheet, new.cell)] + [(f.sheet, f.cell) for f in second.findings
                                               if f.code == "prose-table-mismatch"]
