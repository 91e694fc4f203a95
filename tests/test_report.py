"""The narrative report: numbers equal the figures (checked by rule D6), national tables, golden files, LibreOffice."""

import os
import random
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import Filling, get_spec, write_workbook
from pipeline.rules import prose_findings
from pipeline.cli import app
from pipeline.fill import consistent_values, totals
from pipeline.merge import merge
from pipeline.report import build_report, load_source, number, render_html, render_markdown, report_text, write_report
from pipeline.samples import write_sample_mail
from pipeline.intake import receive
from pipeline.workspace import init_workspace

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
OFFICE = ROOT / "samples" / "QX003_青溪县教育局_2025.xlsx"
HEADINGS = [s.heading for s in get_spec("2021").sections]
runner = CliRunner()


@pytest.fixture(scope="module")
def rollup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("county")
    mail = write_sample_mail(tmp / "mail")
    ws = init_workspace(tmp / "ws", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="青溪县")
    receive(ws, [str(mail[0].parent)])
    return merge(ws, tmp / "rollup.xlsx").path


def _table_numbers(doc):
    """The figures of tables 二、三、四 as the report must print them."""
    return Counter(number(doc.figures[f.id]) for f in doc.spec.figures if f.table in ("二", "三", "四"))


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self._fig, self.text = [], None, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "td" and "data-figure" in attrs:
            self._fig = attrs["data-figure"]

    def handle_data(self, data):
        self.text.append(data)
        if self._fig:
            self.cells.append((self._fig, data))
            self._fig = None


@pytest.mark.parametrize("which", ["office", "county"])
def test_every_number_equals_its_figure(which, rollup, tmp_path):
    path = OFFICE if which == "office" else rollup
    doc = build_report(load_source(path))
    d6 = doc.spec  # every prose rule of the format (D6 and its family)
    # The sentences, checked by the same rule that checks offices' own text.
    assert prose_findings(d6, report_text(doc), doc.figures) == []
    # HTML: every table cell of a figure shows that figure.
    html = render_html(doc)
    parser = _Cells()
    parser.feed(html)
    assert {fid: text for fid, text in parser.cells} == {
        f.id: number(doc.figures[f.id]) for f in doc.spec.figures if f.table in ("二", "三", "四")}
    assert prose_findings(d6, "".join(parser.text), doc.figures) == []
    # Markdown: the same numbers in the tables, the same sentences.
    md = render_markdown(doc)
    md_numbers = Counter()
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| 项目") and "---" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] in {"单位类型"} or not any(re.fullmatch(r"[\d.]+", c) for c in cells[1:]):
                continue
            md_numbers.update(c for c in cells[1:] if re.fullmatch(r"[\d.]+", c))
    expected = _table_numbers(doc)
    assert md_numbers - Counter() >= expected  # county extra tables add numbers; none is missing
    assert prose_findings(d6, md.replace("\\", ""), doc.figures) == []
    for heading in HEADINGS:
        assert f"## {heading}" in md and f"<h2>{heading}</h2>" in html
    # DOCX: text and the national tables.
    from docx import Document

    out = write_report(path, tmp_path / "r.docx")
    d = Document(str(tmp_path / "r.docx"))
    text = "\n".join(p.text for p in d.paragraphs)
    assert prose_findings(d6, text, doc.figures) == []
    for heading in HEADINGS:
        assert heading in [p.text for p in d.paragraphs if p.style.name == "Heading 1"]
    from docx.oxml.ns import qn

    docx_numbers = Counter()
    for table in d.tables:
        for tc in table._tbl.iter(qn("w:tc")):  # each physical cell once, merged ones included
            text = "".join(t.text or "" for t in tc.iter(qn("w:t")))
            if re.fullmatch(r"[\d.]+", text):
                docx_numbers[text] += 1
    assert docx_numbers - Counter() >= expected
    assert out.title.endswith("2025年政府信息公开工作年度报告")


def test_golden_markdown(rollup, tmp_path):
    for name, path in (("office_report.md", OFFICE), ("county_report.md", rollup)):
        md = render_markdown(build_report(load_source(path)))
        golden = GOLDEN / name
        if os.environ.get("XXGK_UPDATE_GOLDEN"):
            golden.write_text(md, encoding="utf-8")
        assert md == golden.read_text(encoding="utf-8"), f"{name} differs (XXGK_UPDATE_GOLDEN=1 to accept)"


def test_golden_html_without_charts(rollup):
    for name, path in (("office_report.html", OFFICE), ("county_report.html", rollup)):
        html = re.sub(r"<svg.*?</svg>", "<svg/>", render_html(build_report(load_source(path))), flags=re.S)
        golden = GOLDEN / name
        if os.environ.get("XXGK_UPDATE_GOLDEN"):
            golden.write_text(html, encoding="utf-8")
        assert html == golden.read_text(encoding="utf-8"), f"{name} differs (XXGK_UPDATE_GOLDEN=1 to accept)"


def test_county_report_has_charts_and_breakdown(rollup):
    doc = build_report(load_source(rollup))
    assert [c.title for s in doc.sections for c in s.charts] == ["各类单位收到的政府信息公开申请（件）", "依申请公开办理结果（件）"]
    html = render_html(doc)
    assert html.count("<svg") == 2 and "按单位类型汇总" in html
    assert "应报12个单位，已报11个" in report_text(doc)


def _office(tmp_path, values, prose=None, name="o.xlsx", year=2025):
    spec = get_spec("2021")
    office = {"name": "测试县某局", "kind": "县直部门", "code": "T1", "year": year, "filler": "x", "phone": "1", "date": "2026-01-01"}
    return write_workbook(spec, tmp_path / name, Filling(office=office, values=values, prose=prose or {}))


def test_zero_cases_read_naturally(tmp_path):
    spec = get_spec("2021")
    path = _office(tmp_path, {f.id: 0 for f in spec.inputs()})
    text = report_text(build_report(load_source(path)))
    assert "本年度未收到政府信息公开申请" in text
    assert "本年度未发生因政府信息公开工作引起的行政复议、行政诉讼" in text
    assert "未收取信息处理费" in text
    assert "0件" not in text


def test_year_over_year(tmp_path):
    spec = get_spec("2021")
    last = consistent_values(spec, random.Random(1), office_kind="县直部门")
    this = consistent_values(spec, random.Random(2), office_kind="县直部门")
    prev = _office(tmp_path, last, name="2024.xlsx", year=2024)
    cur = _office(tmp_path, this, name="2025.xlsx")
    doc = build_report(load_source(cur), load_source(prev))
    d = totals(spec, this)["t3.new.total"] - totals(spec, last)["t3.new.total"]
    phrase = f"较上年增加{number(d)}件" if d > 0 else (f"较上年减少{number(-d)}件" if d < 0 else "与上年持平")
    assert phrase in report_text(doc)


def test_office_prose_is_data_not_template(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    prose = {"s1": "{{ 7*7 }}{% for x in range(3) %}x{% endfor %}<script>alert(1)</script> *强调* | 竖线",
             "s5": "# 不是标题", "s6": "=1+1"}
    path = _office(tmp_path, values, prose)
    doc = build_report(load_source(path))
    html = render_html(doc)
    assert "{{ 7*7 }}" in html and "49" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S).split("一、总体情况")[1][:200]
    assert "&lt;script&gt;" in html and "<script>" not in html
    md = render_markdown(doc)
    assert "\\<script\\>" in md and "\\*强调\\*" in md and "\\| 竖线" in md and "\\# 不是标题" in md


def test_report_refuses_a_workbook_with_errors(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    values["t3.new.natural"] += 1
    path = _office(tmp_path, values)
    result = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "r.md")])
    # One imbalance, told once (not again at the 总计 column), with its terms.
    assert result.exit_code == 1 and "有1项错误" in result.output and "表三“自然人”列：第一项" in result.output
    assert not (tmp_path / "r.md").exists()
    bad = runner.invoke(app, ["report", str(OFFICE), "-o", str(tmp_path / "r.pdf")])
    assert bad.exit_code == 2


def test_docx_opens_in_libreoffice(rollup, tmp_path):
    if not shutil.which("soffice") or not shutil.which("pdftotext"):
        if os.environ.get("CI"):
            pytest.fail("LibreOffice Writer and poppler-utils are required in CI (.ci/run installs them)")
        pytest.skip("LibreOffice Writer / pdftotext not installed")
    write_report(rollup, tmp_path / "county.docx")
    proc = subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(tmp_path / "county.docx")],
                          capture_output=True, text=True, timeout=300)
    pdf = tmp_path / "county.pdf"
    assert pdf.exists(), proc.stdout + proc.stderr
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 3
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    text = re.sub(r"\s+", "", text)  # pdftotext spaces out digits among Chinese and breaks lines
    for heading in HEADINGS:
        assert heading in text, heading
    assert "青溪县2025年政府信息公开工作年度报告" in text
