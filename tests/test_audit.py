"""`xxgk audit`: published reports imported, checked and scored; generated variants give exactly their findings."""

import json
import random
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import Filling, get_spec, write_workbook
from pipeline.audit import audit, load_scorecard
from pipeline.cli import app
from pipeline.errors import UsageError
from pipeline.fill import consistent_prose, consistent_values
from pipeline.report import build_report, load_source, render_markdown

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ["QX002_青溪县发展和改革局_2025", "QX003_青溪县教育局_2025", "QX007_青溪县住房和城乡建设局_2025"]
runner = CliRunner()


@pytest.fixture(scope="module")
def published():
    """The bundled samples as published (our report's Markdown), by file name."""
    return {name: render_markdown(build_report(load_source(ROOT / "samples" / f"{name}.xlsx"))) for name in SAMPLES}


def _folder(tmp_path, reports: dict[str, str]) -> Path:
    folder = tmp_path / "reports"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for name, text in reports.items():
        (folder / f"{name}.md").write_text(text, encoding="utf-8")
    return folder


def _codes(report) -> dict[str, Counter]:
    return {row.path.stem: Counter(f.code for f in row.findings) for row in report.rows}


def _section(md: str, heading: str) -> str:
    start = md.index(heading)
    nxt = re.search(r"^## ", md[start + 2:], re.M)
    return md[start:start + 2 + nxt.start()] if nxt else md[start:]


def _old_format(office: str) -> str:
    """A 2025 report written on the 2019 format's tables (as some offices still publish)."""
    spec = get_spec("2019")
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    info = {"name": office, "kind": "县直部门", "code": "X", "year": 2020, "filler": "x", "phone": "1",
            "date": "2021-01-05"}
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = write_workbook(spec, Path(tmp) / "o.xlsx", Filling(office=info, values=values,
                                                                 prose=consistent_prose(spec, values, 2020)))
        return render_markdown(build_report(load_source(path))).replace("2020", "2025").replace("2021年", "2026年")


def _wrong_total(md: str) -> str:
    """表三's first row with its 总计 one more than its parts."""
    line = next(l for l in md.splitlines() if l.startswith("| 一、本年新收政府信息公开申请数量"))
    cells = line.strip("|").split("|")
    cells[-1] = f" {int(cells[-1]) + 1} "
    return md.replace(line, "|" + "|".join(cells) + "|")


VARIANTS = {
    "missing-section": (lambda md, others: md.replace(_section(md, "## 四、"), ""),
                        {"report-section-missing": 1, "import-section-missing": 1}),
    "wrong-total": (lambda md, others: _wrong_total(md), {"row-total-mismatch": 1}),
    "old-format": (lambda md, others: _old_format("青溪县住房和城乡建设局"),
                   {"format-year-mismatch": 1, "report-basis-outdated": 1}),
}


def test_baseline_samples_are_read_whole(tmp_path, published):
    report = audit([_folder(tmp_path, published)])
    assert [r.path.stem for r in report.rows] == SAMPLES
    for row in report.rows:
        assert row.error is None and row.imported.uncertain == {}
        assert row.imported.year == 2025 and row.imported.spec.format == "2021"
        assert row.imported.office in row.path.stem
        assert not [f for f in row.findings if f.severity == "error"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_gives_exactly_its_findings(tmp_path, published, variant):
    base = _codes(audit([_folder(tmp_path, published)]))
    make, expected = VARIANTS[variant]
    target = SAMPLES[2]
    changed = dict(published, **{target: make(published[target], published)})
    report = audit([_folder(tmp_path, changed)])
    got = _codes(report)
    for name in SAMPLES[:2]:
        assert got[name] == base[name], name  # the other reports are untouched
    if variant == "old-format":
        assert got[target] == Counter(expected)  # a different report altogether: only its own findings
    else:
        assert got[target] - base[target] == Counter(expected) and not base[target] - got[target]
    row = next(r for r in report.rows if r.path.stem == target)
    card = load_scorecard()
    lost = sum(c.deduct.get(code, 0) * n for c in card.criteria for code, n in Counter(expected).items())
    baseline_row = audit([_folder(tmp_path, published)]).rows[2]
    assert row.score == max(0, baseline_row.score - lost) or variant == "old-format"


def test_copied_sections_are_found_on_both_reports(tmp_path, published):
    base = _codes(audit([_folder(tmp_path, published)]))
    source, target = published[SAMPLES[0]], published[SAMPLES[2]]
    copied = target
    for heading in ("## 一、", "## 五、"):
        copied = copied.replace(_section(target, heading), _section(source, heading))
    report = audit([_folder(tmp_path, dict(published, **{SAMPLES[2]: copied}))])
    got = _codes(report)
    assert got[SAMPLES[1]] == base[SAMPLES[1]]
    for a, b in ((SAMPLES[0], SAMPLES[2]), (SAMPLES[2], SAMPLES[0])):
        # The copier also states the other office's numbers, which its own tables contradict (D6).
        extra = {"text-similarity-peer"} | ({"prose-table-mismatch"} if a == SAMPLES[2] else set())
        assert set(got[a] - base[a]) == extra and not base[a] - got[a]
        row = next(r for r in report.rows if r.path.stem == a)
        other = next(r for r in report.rows if r.path.stem == b)
        assert row.similar_to == other.imported.office and row.similarity == 1.0
        said = [f.message for f in row.findings if f.code == "text-similarity-peer"]
        # 五 is copied too, but at under 40 characters it is below what X4 compares (its min_chars).
        assert any(m.startswith(f"“一、总体情况”与“{other.imported.office}”报告的相似度为100%") for m in said)


def test_previous_year_copy_is_found(tmp_path, published):
    last = tmp_path / "last"
    last.mkdir()
    (last / "住建局2024.md").write_text(published[SAMPLES[2]].replace("2025", "2024"), encoding="utf-8")
    report = audit([_folder(tmp_path, published)], previous=last)
    row = next(r for r in report.rows if r.path.stem == SAMPLES[2])
    assert "text-similarity-previous" in {f.code for f in row.findings}


def test_cli_writes_the_workbook_html_and_json(tmp_path, published):
    from openpyxl import load_workbook

    folder = _folder(tmp_path, published)
    (folder / "notes.md").write_text("# 编制说明\n\n这不是报告。", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "damaged.pdf").write_bytes(b"%PDF-1.4\n" + b"\0" * 100)
    out, page = tmp_path / "audit.xlsx", tmp_path / "audit.html"
    result = runner.invoke(app, ["audit", str(folder), "-o", str(out), "--html", str(page), "--json"])
    assert result.exit_code == 1, result.output  # the damaged PDF; the batch went on
    data = json.loads(result.output)
    by_name = {Path(r["path"]).name: r for r in data["reports"]}
    assert by_name["notes.md"]["skipped"] and by_name["damaged.pdf"]["error"]
    assert by_name[f"{SAMPLES[0]}.md"]["figures_read"] == 169 and by_name[f"{SAMPLES[0]}.md"]["score"] is not None
    wb = load_workbook(out, read_only=True)
    assert wb.sheetnames == ["评估结果", "问题清单"]
    rows = list(wb["评估结果"].values)
    assert rows[0][0] == "文件" and len(rows) == 1 + 5
    assert "评估结果" in page.read_text(encoding="utf-8")
    assert "Traceback" not in result.output


def test_scorecard_is_data(tmp_path, published):
    card = tmp_path / "card.yaml"
    card.write_text("title: 本地评估\ncriteria:\n  - {id: a, name: 数据准确, points: 50, deduct: {row-total-mismatch: 20}}\n",
                    encoding="utf-8")
    changed = dict(published, **{SAMPLES[2]: _wrong_total(published[SAMPLES[2]])})
    report = audit([_folder(tmp_path, changed)], scorecard=card)
    assert [r.score for r in report.rows] == [50, 50, 30]
    bad = tmp_path / "bad.yaml"
    bad.write_text("criteria:\n  - {id: a, name: x, points: -3}\n", encoding="utf-8")
    with pytest.raises(UsageError, match="bad.yaml"):
        load_scorecard(bad)
    result = runner.invoke(app, ["audit", str(tmp_path), "-o", str(tmp_path / "x.xlsx"), "--scorecard", str(bad)])
    assert result.exit_code == 2 and "bad.yaml" in result.output
