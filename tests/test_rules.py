"""The checks reviewers apply (issue 12): each new rule at its exact cell, in the JSON and in the feedback
workbook; the template's live checks; numbers stored as text."""

import random

import openpyxl
import pytest

from pipeline import Filling, get_spec, write_workbook
from pipeline.annotate import annotate
from pipeline.check import check_paths, check_submission
from pipeline.fill import consistent_prose, consistent_values, totals
from pipeline.reader import read_submission
from pipeline.rules import live_check, live_instances

from helpers import load_both

SPEC = get_spec("2021")
OFFICE = {"name": "规则测试局", "kind": "县直部门", "code": "R01", "filler": "李四", "phone": "1", "date": "2026-01-10",
          "year": 2025}


def _values(seed=3, kind="县直部门", **changes):
    values = consistent_values(SPEC, random.Random(seed), office_kind=kind)
    values.update(changes)
    return values


def _write(tmp_path, values, prose=None, office=None, name="t.xlsx", index=0):
    office = {**OFFICE, **(office or {})}
    text = {**consistent_prose(SPEC, values, 2025, office["name"], index), **(prose or {})}
    return write_workbook(SPEC, tmp_path / name, Filling(office=office, values=values, prose=text))


def _check(path, **kw):
    return check_submission(read_submission(path), **kw)


def _text_cell(key):
    """Where a text is written in the template (一、总体情况's opening, a topic, 五, 六)."""
    return next(f.cell for f in SPEC.prose.fields if f.id == key)


def _found(result, code):
    return [f for f in result.findings if f.code == code]


def _cell(f):
    return f.sheet, f.cell


def _live(path):
    """The template's own check cells, as stored (what a clerk sees before recalculating)."""
    _, cached = load_both(path)
    return {(i.rule.id, i.key): cached[i.placement.sheet][i.placement.cell].value for i in live_instances(SPEC)}


def test_a_number_stored_as_text_is_an_error_and_counts_as_zero(tmp_path):
    values = _values()
    fig = SPEC.figure("t3.new.natural")
    typed = values[fig.id]
    values[fig.id] = f"{typed}"  # pasted as text
    values["t4.review.upheld"] = "０"  # a full-width digit, also text
    result = _check(_write(tmp_path, values))
    found = _found(result, "value-text-number")
    assert [(_cell(f), f.severity) for f in found] == [(("表三 依申请公开", fig.cell), "error"),
                                                      (("表四 复议诉讼", "A5"), "error")]
    assert found[0].message == (f"“{fig.label}”中的“{typed}”是文字，不是数字，表格的合计和校验都按0计算；"
                                f"请选中该单元格，删除后重新输入数字{typed}")
    # As the workbook's own SUMs count it: 0 in the totals; the balance cannot be judged while it is text.
    assert result.values["t3.new.total"] == totals(SPEC, {**values, fig.id: 0})["t3.new.total"]
    f1 = {o.key: o.status for o in result.outcomes if o.rule == "F1"}
    assert f1["natural"] == "missing" and f1["business"] == "pass"
    assert result.status == "errors"


def test_regulations_at_county_level_include_the_county_government(tmp_path):
    values = _values(**{"t2.art20_1.regulations.in_force": 2})
    for kind in ("县级人民政府", "县政府办公室", "街道", "其他"):
        result = _check(_write(tmp_path, values, office={"kind": kind}, name=f"{kind}.xlsx"))
        (f,) = _found(result, "regulations-not-allowed")
        assert (_cell(f), f.severity, f.actual) == (("表二 主动公开", "D4"), "warning", 2), kind
    path = _write(tmp_path, values, office={"kind": "县级人民政府"}, name="live.xlsx")
    assert _live(path)[("D8", None)] == "提醒：县级及以下机关没有规章制定权，规章各项应为0（现合计2）"


def test_fee_amount_in_yuan_is_suspected(tmp_path):
    fee = SPEC.figure("t2.art20_8.fees.amount")
    for value, kind, flagged in ((26.55, "乡镇", False), (12500, "乡镇", True), (12500, "县直部门", True),
                                 (800, "县直部门", False), (1.23456, "县直部门", True)):
        values = _values(kind=kind, **{fee.id: value})
        path = _write(tmp_path, values, office={"kind": kind}, name=f"fee{value}{kind}.xlsx")
        found = _found(_check(path), "fee-unit")
        assert [_cell(f) for f in found] == ([(fee.sheet, fee.cell)] if flagged else []), (value, kind)
        assert (_live(path)[("P1", None)] != SPEC.ok_text) == flagged, (value, kind)


def _table3_only(figures: dict[str, float]) -> dict[str, float]:
    """Consistent values with table 三 all 0 but ``figures``."""
    values = _values()
    for f in SPEC.inputs():
        if f.table_id == "t3":
            values[f.id] = 0
    values.update(figures)
    return values


def test_a_high_carry_over_share_is_a_warning_at_the_carry_over_cell(tmp_path):
    # 4 received: 1 answered, 3 carried into next year (75%).
    values = _table3_only({"t3.new.natural": 4, "t3.disclosed.natural": 1, "t3.carry_forward.natural": 3})
    path = _write(tmp_path, values)
    (f,) = _found(_check(path), "carryover-share")
    assert _cell(f) == ("表三 依申请公开", SPEC.figure("t3.carry_forward.natural").cell)
    assert f.message.startswith("结转下年度继续办理3件，占本年新收与上年结转合计4件的75.0%（超过30%）")
    assert _live(path)[("P2", None)] == "提醒：结转下年度3件，占本年新收与上年结转（4件）的比例超过30%，请核对"
    # One application carried over is not a pattern (at least 2 are needed).
    values.update({"t3.new.natural": 2, "t3.disclosed.natural": 1, "t3.carry_forward.natural": 1})
    assert not _found(_check(_write(tmp_path, values, name="one.xlsx")), "carryover-share")


@pytest.mark.parametrize("text,code,actual,expected", [
    ("全年收到政府信息公开申请{bad_new}件（含上年结转{carried}件），办结{done}件。", "prose-table-mismatch", "bad_new", "new_carried"),
    ("全年受理申请{new}件，办结{bad_done}件，另有{carry_forward}件结转下年度。", "prose-table-mismatch", "bad_done", "done"),
    ("收到申请{new}件，其中自然人{bad_natural}件。", "prose-table-mismatch", "bad_natural", "natural"),
    ("收到申请{new}件，结转下年度继续办理{bad_cf}件。", "prose-table-mismatch", "bad_cf", "carry_forward"),
    ("本年度未收到政府信息公开申请，工作平稳有序推进，公开质量稳步提升。", "prose-says-none", "new", None),
    ("办结{done}件，其中予以公开{disclosed}件，占比{bad_percent}%。", "prose-percent-mismatch", None, None),
    ("本年度制发行政规范性文件{bad_made}件，现行有效行政规范性文件{in_force}件。", "prose-documents-mismatch", "bad_made", "made"),
])
def test_prose_against_the_tables(tmp_path, text, code, actual, expected):
    values = _values(**{"t2.art20_1.normative.made": 2, "t2.art20_1.normative.in_force": 5})
    t = totals(SPEC, values)
    n = {"new": t["t3.new.total"], "carried": t["t3.carried_over.total"], "done": t["t3.outcome_total.total"],
         "carry_forward": t["t3.carry_forward.total"], "natural": t["t3.new.natural"],
         "disclosed": t["t3.disclosed.total"], "made": 2, "in_force": 5,
         "new_carried": t["t3.new.total"] + t["t3.carried_over.total"]}
    n |= {"bad_new": n["new_carried"] + 1, "bad_done": n["done"] + 2, "bad_natural": n["natural"] + 1,
          "bad_cf": n["carry_forward"] + 3, "bad_made": 3,
          "bad_percent": round(n["disclosed"] / n["done"] * 100 + 7, 1) if n["done"] else 50}
    filler = "按照县政务公开工作要点的部署，逐项抓好落实，政务公开质量稳步提升。"
    sentence = text.format(**{k: f"{v:g}" for k, v in n.items()})
    path = _write(tmp_path, values, prose={"s1": filler + sentence})
    result = _check(path)
    found = _found(result, code)
    assert len(found) == 1, [f.message for f in result.findings]
    f = found[0]
    assert _cell(f) == ("文字部分", "A3")  # at the text, which is quoted in the message
    assert sentence.rstrip("。").split("。")[0].split("，")[0] in f.message
    if actual:
        assert (f.actual, f.expected) == (n[actual], n[expected] if expected else 0)
    # The JSON keeps the outcome per rule: this prose rule failed.
    rule = SPEC.rules[[r.code for r in SPEC.rules].index(code)].id
    assert any(o.rule == rule and o.status == "fail" for o in result.outcomes)


def test_prose_agreeing_with_the_tables_passes_every_prose_rule(tmp_path):
    values = _values()
    t = totals(SPEC, values)
    s1 = (f"全年收到政府信息公开申请{t['t3.new.total']:g}件，上年结转{t['t3.carried_over.total']:g}件，"
          f"办结{t['t3.outcome_total.total']:g}件，其中予以公开{t['t3.disclosed.total']:g}件，"
          f"结转下年度继续办理{t['t3.carry_forward.total']:g}件。全年工作扎实推进，各项任务均已完成，群众满意度较高。")
    result = _check(_write(tmp_path, values, prose={"s1": s1}))
    assert result.findings == []
    assert {o.status for o in result.outcomes if o.rule in ("D6", "D6e", "D6d", "D6f")} <= {"pass", "not_applicable"}


@pytest.mark.parametrize("section,text,code,severity,live", [
    ("s1", "", "prose-blank", "error", "“一、总体情况”未填写；请在“文字部分”表中综述本年度的政府信息公开工作"),
    ("s1", "做好政务公开工作。", "prose-blank", "error",
     "“一、总体情况”只有9个字，过于简略；请综述主动公开、依申请公开、政府信息管理、平台建设、监督保障等方面的情况"),
    ("s5", "无", "prose-thin", "warning", "提醒：“五、存在的主要问题及改进情况”只写了“无”；请写明本年度工作存在的主要问题和改进措施"),
    ("s5", "", "prose-thin", "warning", "提醒：“五、存在的主要问题及改进情况”未填写；请写明本年度工作存在的主要问题和改进措施"),
    ("s6", "无其他需要报告的事项。", "fee-statement-missing", "warning",
     "提醒：“六、其他需要报告的事项”未说明信息处理费的收取情况（例如“本年度未收取信息处理费”）"),
])
def test_blank_and_thin_texts(tmp_path, section, text, code, severity, live):
    values = _values(**{"t6.fee.collected_amount.value": 0, "t6.fee.notified_amount.value": 0})
    # 一、总体情况 is its opening and its five topics together: all of them blank, or thin, here.
    texts = {section: text, **({f.id: "" for f in SPEC.prose.fields if f.label} if section == "s1" else {})}
    path = _write(tmp_path, values, prose=texts)
    result = _check(path)
    (f,) = _found(result, code)
    cell = _text_cell(section)
    assert (_cell(f), f.severity) == (("文字部分", cell), severity)
    rule = next(r for r in SPEC.rules if r.code == code)
    assert _live(path)[(rule.id, None)] == live
    # The annotated copy marks the text's cell.
    out = annotate(result, tmp_path / "fb")
    marked = openpyxl.load_workbook(out)["文字部分"][cell]
    assert marked.comment is not None and f.message in marked.comment.text


def test_unpaid_fees_call_for_the_fee_statement(tmp_path):
    values = _table3_only({"t3.new.natural": 2, "t3.other_fee_unpaid.natural": 2, "t6.fee.notices.value": 2})
    result = _check(_write(tmp_path, values, prose={"s6": "本年度未发生其他需要报告的事项。"}))
    (f,) = _found(result, "fee-notice-mention")
    assert (f.severity, _cell(f)) == ("info", ("文字部分", _text_cell("s6")))
    assert f.message == "有2件申请因逾期未缴信息处理费不再处理，第六部分宜说明信息处理费的收取情况和收费通知"
    assert [x.code for x in result.findings if x.severity != "info"] == ["fee-statement-missing"]
    # Saying it is enough.
    ok = _check(_write(tmp_path, values, prose={"s6": "本年度发出收费通知2件，申请人逾期未缴纳信息处理费。"}, name="ok.xlsx"))
    assert ok.findings == [] and ok.status == "ok"


def _previous_year(tmp_path, values, prose):
    office = {**OFFICE, "year": 2024}
    return write_workbook(SPEC, tmp_path / "2024.xlsx", Filling(office=office, values=values, prose=prose))


def test_in_force_documents_carry_on_from_last_year(tmp_path):
    last = _values(seed=4, **{"t2.art20_1.normative.in_force": 10})
    this = _values(seed=5, **{"t2.art20_1.normative.made": 3, "t2.art20_1.normative.repealed": 1,
                              "t2.art20_1.normative.in_force": 11})
    last_path = _previous_year(tmp_path, last, consistent_prose(SPEC, last, 2024, index=7))
    this_path = _write(tmp_path, this)
    (f,) = _found(check_paths([this_path], previous=last_path).files[0], "in-force-continuity")
    assert _cell(f) == ("表二 主动公开", SPEC.figure("t2.art20_1.normative.in_force").cell) and f.severity == "warning"
    assert f.message.startswith("“行政规范性文件”现行有效件数与上年不衔接：上年现行有效10件加本年制发、减本年废止应为本年现行有效，"
                                "而现行有效 11 - 本年制发 3 + 本年废止 1 = 9（差1）")
    fixed = _write(tmp_path, dict(this, **{"t2.art20_1.normative.in_force": 12}), name="fixed.xlsx")
    assert not _found(check_paths([fixed], previous=last_path).files[0], "in-force-continuity")


def test_the_same_data_as_last_year_is_a_warning(tmp_path):
    values = _values(seed=4)
    last = _previous_year(tmp_path, values, consistent_prose(SPEC, values, 2024, index=7))
    result = check_paths([_write(tmp_path, values)], previous=last).files[0]
    (f,) = _found(result, "same-as-last-year")
    assert f.message == "表二、表三、表四的数据与2024年度报告完全相同，请确认没有沿用上年的数据"
    other = _write(tmp_path, _values(seed=9), name="other.xlsx")
    assert not _found(check_paths([other], previous=last).files[0], "same-as-last-year")


def test_text_copied_from_last_year_is_flagged_written_anew_is_not(tmp_path):
    last_values, values = _values(seed=4), _values(seed=5)
    last_prose = consistent_prose(SPEC, last_values, 2024, "规则测试局", 2)
    last = _previous_year(tmp_path, last_values, last_prose)
    s1 = {k: v.replace("2024年", "2025年") for k, v in last_prose.items() if k == "s1" or k.startswith("s1.")}
    copied = _write(tmp_path, values, prose=s1, index=2)
    result = check_paths([copied], previous=last).files[0]
    found = _found(result, "text-similarity-previous")
    # 一、总体情况 (its opening and topics, copied) and 五 (the same wording drawn again), each at its cell.
    assert [(_cell(f), f.actual) for f in found] == [(("文字部分", _text_cell("s1")), "100%"),
                                                     (("文字部分", _text_cell("s5")), "100%")]
    assert found[0].message.startswith("“一、总体情况”与本单位2024年度报告的相似度为100%（超过80%）")
    fresh = _write(tmp_path, values, index=9, name="fresh.xlsx")
    assert not _found(check_paths([fresh], previous=last).files[0], "text-similarity-previous")


def test_text_copied_from_another_office_in_a_batch(tmp_path):
    a = _write(tmp_path, _values(seed=1), office={"name": "甲局"}, name="a.xlsx", index=1)
    b = _write(tmp_path, _values(seed=2), office={"name": "乙局"}, name="b.xlsx", index=4)
    copy_of_a = consistent_prose(SPEC, _values(seed=1), 2025, "甲局", 1)
    c = _write(tmp_path, _values(seed=3), office={"name": "丙局"}, name="c.xlsx", index=6,
               prose={"s5": copy_of_a["s5"] + "（本单位）"})
    report = check_paths([a, b, c], annotate_dir=tmp_path / "fb")
    flagged = {r.office: [(_cell(f), f.message) for f in _found(r, "text-similarity-peer")] for r in report.files}
    assert flagged["乙局"] == []
    ((cell_a, msg_a),) = flagged["甲局"]
    ((cell_c, msg_c),) = flagged["丙局"]
    assert cell_a == cell_c == ("文字部分", _text_cell("s5"))
    assert "与“丙局”报告的相似度为" in msg_a and "与“甲局”报告的相似度为" in msg_c
    # The feedback written during the batch carries the warning too.
    sheet = openpyxl.load_workbook(next(r.annotated for r in report.files if r.office == "丙局"))["文字部分"]
    assert "与“甲局”报告的相似度" in sheet[_text_cell("s5")].comment.text


def test_a_large_batch_is_spooled_and_still_compared(tmp_path):
    """A batch past PARALLEL_FROM keeps its results in a spool, not in memory: the same copying is found,
    the feedback is rewritten, and the report reads back whole (JSON, summary)."""
    import io
    import json

    from pipeline.check import PARALLEL_FROM, SpooledResults

    def own(seed, text):  # each office writes its own words: no two fillers alike
        rng = random.Random(seed)
        return text + "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(3 * len(text))) + "。"

    files = []
    for i in range(PARALLEL_FROM + 2):
        values = _values(seed=100 + i)
        prose = {k: own(i, v) for k, v in consistent_prose(SPEC, values, 2025, f"局{i}", i % 12).items()}
        files.append(_write(tmp_path, values, prose=prose, office={"name": f"局{i}"}, name=f"f{i:02d}.xlsx"))
    copied = consistent_prose(SPEC, _values(seed=100), 2025, "局0", 0)
    copied = {k: own(0, v) for k, v in copied.items()}
    # The copier writes its own words everywhere but 五, which it takes from 局0.
    mine = {k: own(999, v) for k, v in consistent_prose(SPEC, _values(seed=7), 2025, "抄袭局", 5).items()}
    files.append(_write(tmp_path, _values(seed=7), office={"name": "抄袭局"}, name="zz.xlsx",
                        prose={**mine, "s5": copied["s5"] + "（本单位）"}))
    report = check_paths(files, annotate_dir=tmp_path / "fb", jobs=2)
    assert isinstance(report.files, SpooledResults) and len(report.files) == len(files)
    flagged = {r.office for r in report.files if _found(r, "text-similarity-peer")}
    assert flagged == {"局0", "抄袭局"}
    last = report.files[-1]
    assert "与“局0”报告的相似度为" in _found(last, "text-similarity-peer")[0].message
    sheet = openpyxl.load_workbook(last.annotated)["文字部分"]
    assert "与“局0”报告的相似度" in sheet[_text_cell("s5")].comment.text
    out = io.StringIO()
    report.write_json(out)
    data = json.loads(out.getvalue())
    assert len(data["files"]) == len(files) and data["summary"]["files"] == len(files)
    assert data["summary"]["warnings"] >= 2 and data["files"][-1]["office"] == "抄袭局"
    # The spool counts statuses without reading the results back: the same counts as the results read back.
    statuses = [r.status for r in report.files]
    assert data["summary"] == {"files": len(files), **{s: statuses.count(s) for s in ("ok", "warnings", "errors",
                                                                                      "unreadable")}}
    assert report.valid == (statuses.count("errors") + statuses.count("unreadable") == 0)


def test_every_new_live_check_passes_a_consistent_workbook_and_has_its_cell(tmp_path):
    values = _values()
    path = _write(tmp_path, values)
    live = _live(path)
    new = {"P1", "P2", "S2", "S3", "S4", "FEE1", "FEE2", "FEE3"}
    assert new <= {rule for rule, _ in live}
    assert {k: v for k, v in live.items() if v != SPEC.ok_text} == {}
    assert _check(path).findings == []
    # Rules without a live check: they need other reports (last year's, the other offices').
    assert all(live_check(SPEC, i) is None for r in SPEC.rules if r.kind in ("previous", "unchanged", "similarity")
               for i in r.instances)


def test_a_workspace_checks_against_last_years_workspace(tmp_path):
    """With ``previous`` set to last year's workspace, each office is checked against its own last report."""
    from pipeline.intake import receive
    from pipeline.workspace import init_workspace

    roster = tmp_path / "roster.csv"
    roster.write_text("单位代码,单位名称,单位类型,联系邮箱\nR01,规则测试局,县直部门,r@x.example\n", encoding="utf-8")
    last = init_workspace(tmp_path / "2024", roster, 2024, name="测试县")
    last_values = consistent_values(get_spec("2021"), random.Random(4), office_kind="县直部门")
    last_prose = consistent_prose(SPEC, last_values, 2024, "规则测试局", 3)
    lastfile = write_workbook(SPEC, tmp_path / "r01-2024.xlsx", Filling(office={**OFFICE, "year": 2024},
                                                                        values=last_values, prose=last_prose))
    receive(last, [str(lastfile)])
    ws = init_workspace(tmp_path / "2025", roster, 2025, name="测试县")
    with pytest.raises(Exception, match="上年度应为2024年度"):
        ws.set("previous", str(ws.path))
    ws.set("previous", str(last.path))
    this = _values(seed=5)
    copied = _write(tmp_path, this, prose={"s1": last_prose["s1"].replace("2024", "2025")}, index=3)
    (item,) = receive(ws, [str(copied)]).items
    with ws.db() as conn:
        findings = {f["code"] for f in __import__("json").loads(
            conn.execute("SELECT findings_json FROM submissions WHERE id=?", (item.submission_id,)).fetchone()[0])}
    assert "text-similarity-previous" in findings
    lt, tt = totals(SPEC, last_values), totals(SPEC, this)
    assert ("carry-over-mismatch" in findings) == (lt["t3.carry_forward.total"] != tt["t3.carried_over.total"] or any(
        lt[f"t3.carry_forward.{c}"] != tt[f"t3.carried_over.{c}"] for c in ("natural", "business", "legal", "other")))
