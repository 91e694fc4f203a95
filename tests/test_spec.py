"""The specs against the reference wording and counts (national-format.md)."""

import copy
import json
from collections import Counter

import pytest
import yaml

from pipeline import SpecError, get_spec, load_spec
from pipeline.spec import format_for_year

# Official wording, typed from ../shared/reference/national-format.md §3–5 (full-width punctuation).
T3_ROWS_COMMON_HEAD = [
    "一、本年新收政府信息公开申请数量",
    "二、上年结转政府信息公开申请数量",
    "（一）予以公开",
    "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
    "1.属于国家秘密",
    "2.其他法律行政法规禁止公开",
    "3.危及“三安全一稳定”",
    "4.保护第三方合法权益",
    "5.属于三类内部事务信息",
    "6.属于四类过程性信息",
    "7.属于行政执法案卷",
    "8.属于行政查询事项",
    "1.本机关不掌握相关政府信息",
    "2.没有现成信息需要另行制作",
    "3.补正后申请内容仍不明确",
    "1.信访举报投诉类申请",
    "2.重复申请",
    "3.要求提供公开出版物",
    "4.无正当理由大量反复申请",
    "5.要求行政机关确认或重新出具已获取信息",
]
T3_ROWS = {
    "2019": T3_ROWS_COMMON_HEAD + ["（六）其他处理", "（七）总计", "四、结转下年度继续办理"],
    "2021": T3_ROWS_COMMON_HEAD
    + [
        "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        "3.其他",
        "（七）总计",
        "四、结转下年度继续办理",
    ],
}
T3_COLUMNS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
T3_GROUPS = {"（三）不予公开": 8, "（四）无法提供": 3, "（五）不予处理": 5}
T2 = {
    "2019": {
        "第二十条第（一）项": (["规章", "规范性文件"], ["本年新制作数量", "本年新公开数量", "对外公开总数量"]),
        "第二十条第（五）项": (["行政许可", "其他对外管理服务事项"], ["上一年项目数量", "本年增/减", "处理决定数量"]),
        "第二十条第（六）项": (["行政处罚", "行政强制"], ["上一年项目数量", "本年增/减", "处理决定数量"]),
        "第二十条第（八）项": (["行政事业性收费"], ["上一年项目数量", "本年增/减"]),
        "第二十条第（九）项": (["政府集中采购"], ["采购项目数量", "采购总金额"]),
    },
    "2021": {
        "第二十条第（一）项": (["规章", "行政规范性文件"], ["本年制发件数", "本年废止件数", "现行有效件数"]),
        "第二十条第（五）项": (["行政许可"], ["本年处理决定数量"]),
        "第二十条第（六）项": (["行政处罚", "行政强制"], ["本年处理决定数量"]),
        "第二十条第（八）项": (["行政事业性收费"], ["本年收费金额（单位：万元）"]),
    },
}
T4_BLOCKS = ["行政复议", "行政诉讼/未经复议直接起诉", "行政诉讼/复议后起诉"]
T4_COLUMNS = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
HEADINGS = [
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
]


def _table(spec, table):
    return [f for f in spec.figures if f.table == table]


def test_counts_match_the_reference(spec):
    counts = Counter(f.table for f in spec.figures)
    expected = {"2019": {"二": 22, "三": 23 * 7, "四": 15}, "2021": {"二": 10, "三": 25 * 7, "四": 15, "六": 3}}
    assert dict(counts) == expected[spec.format]


def test_table3_rows_and_columns_verbatim(spec):
    figs = _table(spec, "三")
    rows = list(dict.fromkeys(f.row for f in figs))
    assert rows == T3_ROWS[spec.format]
    assert list(dict.fromkeys(f.column for f in figs)) == T3_COLUMNS
    groups = Counter(f.block for f in figs if f.column == "自然人" and f.block)
    expected = dict(T3_GROUPS, **({"（六）其他处理": 3} if spec.format == "2021" else {}))
    assert dict(groups) == expected
    assert {f.column_group for f in figs if f.column in T3_COLUMNS[1:6]} == {"法人或其他组织"}
    assert {f.column_group for f in figs if f.column in ("自然人", "总计")} == {None}


def test_table2_blocks_verbatim(spec):
    figs = _table(spec, "二")
    got = {}
    for f in figs:
        rows, cols = got.setdefault(f.block, ([], []))
        if f.row not in rows:
            rows.append(f.row)
        if f.column not in cols:
            cols.append(f.column)
    assert got == {k: (list(r), list(c)) for k, (r, c) in T2[spec.format].items()}


def test_table4_verbatim(spec):
    figs = _table(spec, "四")
    assert [f.block for f in figs] == [b for b in T4_BLOCKS for _ in T4_COLUMNS]
    assert [f.column for f in figs] == T4_COLUMNS * 3


def test_section_headings(spec):
    assert [s.heading for s in spec.sections] == HEADINGS


def test_units_and_types(spec):
    by_unit = Counter(f.unit for f in spec.figures)
    if spec.format == "2021":
        fee = spec.figure("t2.art20_8.fees.amount")
        assert fee.unit == "万元" and spec.types[fee.type].number == "decimal"
        assert [f.unit for f in _table(spec, "六")] == ["件", "元", "元"]
        assert by_unit["件"] == 10 - 1 + 175 + 15 + 1
    else:
        assert spec.types[spec.figure("t2.art20_5.licensing.change").type].min is None
        assert by_unit["件"] == 22 - 1 + 161 + 15


def test_computed_figures_are_sums_of_existing_ids(spec):
    computed = spec.computed()
    # 总计 column of 表三 (every row) + （七）总计 row (six applicant columns) + 表四 three 总计.
    assert len(computed) == len(T3_ROWS[spec.format]) + 6 + 3
    for f in computed:
        assert f.sum and all(spec.has_figure(p) for p in f.sum)
        assert f.rule in ("D1", "D2", "D4")
    outcome = spec.figure("t3.outcome_total.natural")
    n_outcomes = len(T3_ROWS[spec.format]) - 4  # less 一、二、（七）、四
    assert len(outcome.sum) == n_outcomes


def test_rules_present_with_severity(spec):
    ids = {r.id: r.severity for r in spec.rules}
    for rid in ("F1", "D1", "D2", "D3", "D4", "D5", "D7"):
        assert ids[rid] == "error"
    assert ids["D8"] == "warning"
    assert ids["D9" if spec.format == "2019" else "D10"] == "warning"
    f1 = spec.rule("F1")
    assert [i.label for i in f1.instances] == T3_COLUMNS
    assert [t.figure for t in f1.instances[0].params.left] == ["t3.new.natural", "t3.carried_over.natural"]
    assert f1.instances[0].params.left_names == ("第一项", "第二项")


def test_cells_and_names_unique(spec):
    assert len({(f.sheet, f.cell) for f in spec.figures}) == len(spec.figures)
    assert len({f.name for f in spec.figures}) == len(spec.figures)
    assert all(f.name.startswith("xxgk_") for f in spec.figures)


def test_to_dict_schema(spec):
    d = json.loads(json.dumps(spec.to_dict(), ensure_ascii=False))
    assert d["format"] == spec.format
    keys = {"id", "table", "block", "row", "column", "column_group", "kind", "unit", "sheet", "cell", "name"}
    assert all(keys <= set(f) for f in d["figures"])
    assert {"id", "severity", "description"} <= set(d["rules"][0])


def test_format_for_year():
    assert format_for_year(2019).format == "2019"
    assert format_for_year(2020).format == "2019"
    assert format_for_year(2021).format == "2021"
    assert format_for_year(2030).format == "2021"
    with pytest.raises(SpecError):
        format_for_year(2018)


def test_unknown_format():
    with pytest.raises(SpecError, match="没有“1999”格式"):
        get_spec("1999")


def _write_variant(tmp_path, spec, mutate):
    raw = copy.deepcopy(spec.raw)
    mutate(raw)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_spec_refuses_two_figures_in_one_cell(tmp_path):
    spec = get_spec("2021")

    def mutate(raw):
        raw["tables"][1]["blocks"][0]["rows"][1]["row"] = 5  # 上年结转 onto 本年新收

    with pytest.raises(SpecError, match="同时用于"):
        load_spec(_write_variant(tmp_path, spec, mutate))


def test_spec_refuses_rule_on_unknown_figure(tmp_path):
    spec = get_spec("2021")

    def mutate(raw):
        raw["rules"][0]["left"] = ["t3.nonexistent.$column"]

    with pytest.raises(SpecError, match="不存在的数据项"):
        load_spec(_write_variant(tmp_path, spec, mutate))


def test_new_format_is_a_new_spec_file(tmp_path):
    """A future format loads from a file alone: here the 2021 spec with a renamed label."""
    spec = get_spec("2021")

    def mutate(raw):
        raw["format"] = "2031"
        raw["years"] = {"from": 2031, "to": None}
        raw["tables"][0]["blocks"][0]["rows"][1]["label"] = "规范性文件（新）"

    new = load_spec(_write_variant(tmp_path, spec, mutate))
    assert new.format == "2031"
    assert new.figure("t2.art20_1.normative.made").row == "规范性文件（新）"
    assert new.applies_to_year(2031) and not new.applies_to_year(2030)


def test_a_built_spec_is_cached_and_a_damaged_cache_is_ignored(tmp_path, monkeypatch):
    """load_spec keeps the built spec in the user's cache folder (start-up of every xxgk run and worker);
    the cached one is the same spec, and a damaged cache entry is rebuilt, never an error."""
    from pipeline.spec import _format_files, load_spec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = _format_files()["2021"]
    built = load_spec(path)
    entries = list((tmp_path / "xxgk").glob("spec-*.pickle"))
    assert len(entries) == 1
    cached = load_spec(path)
    assert cached is not built and cached.layout_sha256 == built.layout_sha256
    assert [f.id for f in cached.figures] == [f.id for f in built.figures]
    assert [r.id for r in cached.rules] == [r.id for r in built.rules]
    entries[0].write_bytes(b"not a pickle")
    again = load_spec(path)
    assert again.layout_sha256 == built.layout_sha256


def test_a_rollup_report_naming_an_unknown_figure_is_refused(tmp_path, spec):
    """The report's breakdowns by office kind come from the spec: a figure it does not have is a spec error."""
    def mutate(raw):
        raw["rollup"]["report"]["kind_columns"][0]["figures"] = ["t3.nothing.total"]

    with pytest.raises(SpecError, match="t3.nothing.total"):
        load_spec(_write_variant(tmp_path, spec, mutate))
    assert [c.label for c in spec.rollup.report.kind_columns] == ["收到申请（件）", "办结（件）", "行政复议（件）",
                                                                   "行政诉讼（件）"]
