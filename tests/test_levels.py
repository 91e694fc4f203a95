"""Rollups of rollups, from the command line: offices → 3 counties → 2 cities → a province.

Each unit's rollup is identified at the next level by its code, the totals are exact sums at every
level, the per-office sheet of a higher rollup lists the units below it, its provenance names the
rollups it came from, and level-dependent rules (规章 at county level) follow the unit's level.
"""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import Filling, get_spec, write_workbook
from pipeline.fill import consistent_prose, consistent_values
from pipeline.merge import read_rollup
from pipeline.reader import read_submission
from pipeline.xlsxread import read_workbook

SPEC = get_spec("2021")
REGULATIONS = "t2.art20_1.regulations.in_force"
HEADER = "单位代码,单位名称,单位类型,联系邮箱\n"


def xxgk(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stderr
    return result


def office_workbook(folder: Path, code: str, name: str, kind: str, index: int, **values) -> dict[str, float]:
    vals = consistent_values(SPEC, random.Random(index), office_kind=kind)
    vals.update(values)
    office = {"name": name, "kind": kind, "code": code, "year": 2025, "filler": "x", "phone": "1",
              "date": "2026-01-10"}
    prose = consistent_prose(SPEC, vals, 2025, name, index)
    path = write_workbook(SPEC, folder / f"{code}.xlsx", Filling(office=office, values=vals, prose=prose))
    return read_submission(path).raw


def texts_file(folder: Path, unit: str, index: int, rollup: Path) -> Path:
    """The unit's own texts for its rollup's figures, different for every unit (copies would be 雷同)."""
    prose = consistent_prose(SPEC, totals(rollup), 2025, unit, index)
    lines = []
    for fld in SPEC.prose.fields:
        if prose.get(fld.id):
            lines += [SPEC.text_heading(fld.id), prose[fld.id], ""]
    path = folder / f"{unit}文字.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def collect(tmp: Path, name: str, code: str, level: str, roster: str, inbox: Path, out: Path, index: int) -> Path:
    """init, receive, merge (counting warnings, which are reviewed elsewhere): the unit's rollup."""
    (tmp / f"{code}.csv").write_text(HEADER + roster, encoding="utf-8")
    ws = tmp / f"ws-{code}"
    xxgk("init", str(ws), "--roster", str(tmp / f"{code}.csv"), "--year", "2025", "--name", name, "--code", code,
         "--level", level, "--deadline", "2026-03-31")
    xxgk("receive", str(ws), str(inbox), "--quiet")
    target = out / f"{name}汇总.xlsx"
    merged = xxgk("merge", str(ws), "-o", str(target), "--include-warnings")
    assert target.exists(), merged.stdout
    # The coordinator writes the unit's texts once the figures are known, and merges again.
    xxgk("merge", str(ws), "-o", str(target), "--include-warnings", "--texts",
         str(texts_file(tmp, name, index, target)))
    return ws


def status(ws: Path) -> dict[str, dict]:
    return {o["code"]: o for o in json.loads(xxgk("status", str(ws), "--json").stdout)["offices"]}


def totals(path: Path) -> dict[str, float]:
    raw = read_submission(path).raw
    return {f.id: raw.get(f.id) or 0 for f in SPEC.inputs()}


@pytest.fixture(scope="module")
def three_levels(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("levels")
    figures: dict[str, dict] = {}
    rollups = tmp / "rollups"
    counties = {"XA": ("甲县", "city1"), "XB": ("乙县", "city1"), "XC": ("丙县", "city2")}
    index = 0
    for code, (name, _) in counties.items():
        inbox = tmp / f"in-{code}"
        inbox.mkdir()
        rows = ""
        for j, kind in enumerate(["县直部门", "乡镇"]):
            index += 1
            oc = f"{code}{j}"
            extra = {REGULATIONS: 2} if code == "XA" and kind == "县直部门" else {}
            figures[oc] = office_workbook(inbox, oc, f"{name}{kind}{j}", kind, index, **extra)
            rows += f"{oc},{name}{kind}{j},{kind},{oc.lower()}@x.example\n"
        collect(tmp, name, code, "county", rows, inbox, rollups / code, index)
    cities = {"C1": ("东州市", ["XA", "XB"]), "C2": ("西州市", ["XC"])}
    city_ws = {}
    for code, (name, members) in cities.items():
        inbox = tmp / f"in-{code}"
        inbox.mkdir()
        rows = ""
        for m in members:
            # Each county sends its rollup folder as merge wrote it: the workbook and the CSV beside it.
            src = rollups / m / f"{counties[m][0]}汇总.xlsx"
            for part in (src, src.with_suffix(".csv")):
                (inbox / part.name).write_bytes(part.read_bytes())
            rows += f"{m},{counties[m][0]},汇总,{m.lower()}@x.example\n"
        index += 1
        dept = f"{code}D"  # a 市直部门 sends a workbook beside the counties' rollups
        figures[dept] = office_workbook(inbox, dept, f"{name}发改委", "市直部门", index)
        rows += f"{dept},{name}发改委,市直部门,{dept.lower()}@x.example\n"
        city_ws[code] = collect(tmp, name, code, "city", rows, inbox, rollups / code, index)
    inbox = tmp / "in-P"
    inbox.mkdir()
    rows = ""
    for code, (name, _) in cities.items():
        src = rollups / code / f"{name}汇总.xlsx"
        (inbox / src.name).write_bytes(src.read_bytes())
        rows += f"{code},{name},汇总,{code.lower()}@x.example\n"
    province_ws = collect(tmp, "南省", "P", "province", rows, inbox, rollups / "P", index + 1)
    return tmp, rollups, figures, city_ws, province_ws


def _sum(parts: list[dict]) -> dict[str, float]:
    return {f.id: round(sum((p.get(f.id) or 0) for p in parts), 6) for f in SPEC.inputs()}


def test_each_rollup_is_its_units_submission_at_the_next_level(three_levels):
    tmp, rollups, figures, city_ws, province_ws = three_levels
    c1 = status(city_ws["C1"])
    assert {k: v["status"] for k, v in c1.items()} == {"XA": "warnings", "XB": "ok", "C1D": "ok"}
    assert c1["XA"]["current"]["filename"] == "甲县汇总.xlsx"
    # The CSV merge writes beside a rollup is that unit's attachment, not an unusable submission.
    assert [a["filename"] for a in c1["XA"]["attachments"]] == ["甲县汇总.csv"]
    assert [a["filename"] for a in c1["XB"]["attachments"]] == ["乙县汇总.csv"]
    p = status(province_ws)
    assert set(p) == {"C1", "C2"} and all(o["current"] for o in p.values())


def test_totals_are_exact_sums_at_every_level(three_levels):
    tmp, rollups, figures, city_ws, province_ws = three_levels
    county = {c: totals(rollups / c / f"{n}汇总.xlsx") for c, n in (("XA", "甲县"), ("XB", "乙县"), ("XC", "丙县"))}
    for c in county:
        assert county[c] == _sum([figures[f"{c}0"], figures[f"{c}1"]]), c
    c1 = totals(rollups / "C1" / "东州市汇总.xlsx")
    c2 = totals(rollups / "C2" / "西州市汇总.xlsx")
    assert c1 == _sum([county["XA"], county["XB"], figures["C1D"]])
    assert c2 == _sum([county["XC"], figures["C2D"]])
    assert totals(rollups / "P" / "南省汇总.xlsx") == _sum([c1, c2]) == _sum(list(figures.values()))


def test_a_higher_rollup_lists_the_units_below_and_the_rollups_it_came_from(three_levels):
    tmp, rollups, figures, city_ws, province_ws = three_levels
    path = rollups / "P" / "南省汇总.xlsx"
    sub = read_submission(path)
    assert sub.office["name"] == "南省" and sub.office["code"] == "P" and sub.meta["level"] == "province"
    info = read_rollup(sub)
    assert info.level == "province"
    assert [(o.code, o.name, o.kind, o.included) for o in info.offices] == [
        ("C1", "东州市", "汇总", True), ("C2", "西州市", "汇总", True)]
    below = totals(rollups / "C1" / "东州市汇总.xlsx")
    assert {k: info.offices[0].values[k] for k in below} == below
    provenance = read_workbook(str(path)).sheets[SPEC.rollup.sheets["provenance"]]
    names = {c.value for c in provenance.cells.values()}
    assert {"东州市汇总.xlsx", "西州市汇总.xlsx"} <= names


def test_level_rules_follow_the_units_level(three_levels):
    """甲县's rollup carries 规章 from one of its 县直部门: at the city it is still checked as a county's (D8);
    the city's own rollup, checked at the province, is a city's (设区的市 may make 规章)."""
    tmp, rollups, figures, city_ws, province_ws = three_levels
    result = json.loads(xxgk("check", str(rollups / "XA" / "甲县汇总.xlsx"), "--level", "city", "--json").stdout)
    found = {f["code"] for f in result["files"][0]["findings"]}
    assert "regulations-not-allowed" in found
    result = json.loads(xxgk("check", str(rollups / "C1" / "东州市汇总.xlsx"), "--level", "county", "--json").stdout)
    assert "regulations-not-allowed" not in {f["code"] for f in result["files"][0]["findings"]}


def test_the_report_speaks_for_the_level(three_levels):
    tmp, rollups, figures, city_ws, province_ws = three_levels
    out = tmp / "南省报告.md"
    done = xxgk("report", str(rollups / "P" / "南省汇总.xlsx"), "-o", str(out), "--force")
    assert out.exists(), done.stdout
    text = out.read_text(encoding="utf-8")
    assert text.lstrip("# ").startswith("南省2025年政府信息公开工作年度报告")
    assert "全省各单位" in text and "全县" not in text


# -- a rollup of any size reads back ---------------------------------------------------------------------

BIG = 1200  # above the ~850 offices at which a rollup outgrew the reader's 200,000 cells a file


@pytest.fixture(scope="module")
def big_rollup(tmp_path_factory):
    """A county rollup of 1,200 offices, written by merge (the ledger's part replaced by ready office rows)."""
    import importlib

    from pipeline.spec import recompute
    from pipeline.workspace import init_workspace

    merge_module = importlib.import_module("pipeline.merge")  # the module (the package exports its function)
    tmp = tmp_path_factory.mktemp("big")
    roster = tmp / "roster.csv"
    roster.write_text(HEADER + "".join(f"B{i:05d},单位{i:05d},县直部门,\n" for i in range(BIG)), encoding="utf-8")
    ws = init_workspace(tmp / "ws", roster, 2025, "2026-01-31", name="大县", code="DX")
    rng = random.Random(5)
    rows = [merge_module.OfficeRow(f"B{i:05d}", f"单位{i:05d}", "县直部门", "ok", True, "",
                                   recompute(SPEC, consistent_values(SPEC, rng, office_kind="县直部门")))
            for i in range(BIG)]
    real = merge_module.collect
    merge_module.collect = lambda *a, **k: (SPEC, rows)
    try:
        out = tmp / "大县汇总.xlsx"
        merge_module.merge(ws, out)
    finally:
        merge_module.collect = real
    expected = {f.id: round(sum(r.values[f.id] for r in rows), 6) for f in SPEC.inputs()}
    return tmp, out, rows, expected


def test_a_big_rollup_is_checked_and_read_back(big_rollup):
    from pipeline.check import check_paths

    from helpers import figure_findings

    tmp, out, rows, expected = big_rollup
    result = check_paths([out]).files[0]
    assert result.submission.readable and figure_findings(result) == []
    assert {k: round(result.values[k], 6) for k in expected} == expected
    info = read_rollup(result.submission)
    assert len(info.offices) == BIG and len(info.included) == BIG
    # The per-office sheet, as written: code and name first, each headline figure equal to its full-list column.
    from pipeline.xlsxread import iter_rows

    sheet = list(iter_rows(str(out), SPEC.rollup.sheets["offices"]))
    ids = sheet[3][1]
    last = sheet[-1][1]
    assert (last[1], last[2], last[3]) == (rows[-1].code, rows[-1].name, "县直部门")
    for fid in SPEC.rollup.headline:
        cols = [c for c, v in ids.items() if v == fid]
        assert len(cols) == 2 and last[cols[0]] == last[cols[1]] == rows[-1].values[fid], fid
    assert info.offices[-1].values == {f.id: v for f, v in ((f, rows[-1].values[f.id]) for f in SPEC.figures)}


def test_a_big_rollup_reports_and_serves_as_last_year(big_rollup):
    tmp, out, rows, expected = big_rollup
    texts = tmp / "texts.md"
    texts.write_text(texts_file(tmp, "大县", 3, out).read_text(encoding="utf-8"), encoding="utf-8")
    report = tmp / "大县报告.md"
    done = xxgk("report", str(out), "-o", str(report), "--draft")
    assert done.returncode == 0 and report.exists(), done.stdout
    assert "大县2025年政府信息公开工作年度报告" in report.read_text(encoding="utf-8")
    checked = json.loads(xxgk("check", str(out), "--previous", str(out), "--json").stdout)
    assert checked["files"][0]["status"] != "unreadable"


def test_a_big_rollup_is_received_at_the_next_level(big_rollup, tmp_path):
    tmp, out, rows, expected = big_rollup
    (tmp_path / "city.csv").write_text(HEADER + "DX,大县,汇总,\n", encoding="utf-8")
    ws = tmp_path / "city"
    xxgk("init", str(ws), "--roster", str(tmp_path / "city.csv"), "--year", "2025", "--name", "某市", "--code", "MS",
         "--level", "city")
    xxgk("receive", str(ws), str(out))
    assert status(ws)["DX"]["current"]["filename"] == "大县汇总.xlsx"
    # Its feedback holds the national tables and the findings, not the rollup's 1,200-row sheets
    # (loading those made a province's feedback of a 10,000-office rollup near the time budget).
    from openpyxl import load_workbook

    feedback = next((ws / "outbox").rglob("*.xlsx"))
    names = load_workbook(feedback, read_only=True).sheetnames
    assert SPEC.feedback_sheet in names and SPEC.table("t3").sheet in names
    assert not set(SPEC.rollup.sheets.values()) & set(names)
    note = load_workbook(feedback, read_only=True)[SPEC.feedback_sheet]["A2"].value
    assert "“各单位数据”" in note and "以报送的原件为准" in note


# -- the ledger at scale: no statement run per file or per office scans a table ------------------------------

def test_every_repeated_ledger_query_uses_an_index(tmp_path, monkeypatch, capsys):
    """receive, status and merge, traced: each statement run more than once in a run (per file, per office)
    must find its rows through an index, or a ledger of 10,000 offices costs quadratic time. The plans are
    printed (pytest -s shows them)."""
    import re
    import sqlite3
    from collections import Counter

    from pipeline.intake import receive
    from pipeline.merge import merge
    from pipeline.samples import write_sample_mail
    from pipeline.status import workspace_status
    from pipeline.workspace import init_workspace

    mail = tmp_path / "mail"
    write_sample_mail(mail)
    ws = init_workspace(tmp_path / "ws", Path(__file__).parent.parent / "samples" / "roster.csv", 2025,
                        "2026-01-31", name="测试县")
    statements: list[str] = []
    real_connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    literal = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|X'[0-9A-Fa-f]*'")
    repeated = {}
    monkeypatch.setattr(sqlite3, "connect", traced)
    for run in (lambda: receive(ws, [str(mail)]), lambda: workspace_status(ws),
                lambda: merge(ws, tmp_path / "rollup.xlsx", include_warnings=True)):
        statements.clear()
        run()
        # What one command runs more than once (per file, per office).
        shapes = Counter(literal.sub("?", s) for s in statements)
        for s in statements:
            shape = literal.sub("?", s)
            if shapes[shape] > 1 and re.match(r"\s*(SELECT|UPDATE|DELETE|INSERT OR IGNORE|INSERT INTO \w+ \(?.*SELECT)",
                                              s, re.I | re.S) and shape not in repeated:
                repeated[shape] = s
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    assert repeated, "nothing traced"
    conn = real_connect(ws.path / "ledger.sqlite")
    scans = []
    for shape, s in repeated.items():
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + s)]
        print(shape, *plan, sep="\n  ")
        scans += [(shape, step) for step in plan if re.fullmatch(r"SCAN \w+", step)]
    conn.close()
    assert scans == []


def test_a_csv_beside_a_rollup_named_like_nothing_is_the_units_attachment(three_levels, tmp_path):
    """全县汇总.xlsx + 全县汇总.csv in a folder (the name says no county): the rollup is identified by its own
    code, and the CSV goes with it, whatever order the folder lists them in."""
    _, rollups, _, _, _ = three_levels
    inbox = tmp_path / "in"
    inbox.mkdir()
    for suffix in (".xlsx", ".csv"):
        (inbox / f"全县汇总{suffix}").write_bytes((rollups / "XB" / f"乙县汇总{suffix}").read_bytes())
    (tmp_path / "r.csv").write_text(HEADER + "XB,乙县,汇总,xb@x.example\n", encoding="utf-8")
    ws = tmp_path / "ws"
    xxgk("init", str(ws), "--roster", str(tmp_path / "r.csv"), "--year", "2025", "--name", "东州市", "--code", "C1",
         "--level", "city")
    xxgk("receive", str(ws), str(inbox), "--quiet")
    xb = status(ws)["XB"]
    assert xb["status"] == "ok" and xb["current"]["filename"] == "全县汇总.xlsx"
    assert [a["filename"] for a in xb["attachments"]] == ["全县汇总.csv"]
