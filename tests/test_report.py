"""The narrative report: numbers equal the figures (checked by rule D6), national tables, golden files; what may
be published (whose report, required texts, completeness, contradictions); the 公文 layout as LibreOffice prints it."""

import os
import random
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import Filling, get_spec, write_workbook
from pipeline.cli import app
from pipeline.fill import consistent_prose, consistent_values, totals
from pipeline.merge import merge, read_texts
from pipeline.report import (ReportRefused, build_report, load_source, notes_path, number, render_html,
                             render_markdown, report_text, title_lines, write_report)
from pipeline.rules import prose_findings
from pipeline.samples import COUNTY_TEXTS
from pipeline.workspace import init_workspace

from helpers import pdf_pages, to_pdf

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
OFFICE = ROOT / "samples" / "QX003_青溪县教育局_2025.xlsx"
HEADINGS = [s.heading for s in get_spec("2021").sections]
TOPICS = ["（一）主动公开", "（二）依申请公开", "（三）政府信息管理", "（四）政府信息公开平台建设", "（五）监督保障"]
runner = CliRunner()


@pytest.fixture(scope="module")
def county(sample_county):
    return sample_county


@pytest.fixture(scope="module")
def rollup(county):
    """The county rollup with the coordinator's texts written."""
    ws, tmp = county
    return merge(ws, tmp / "rollup.xlsx", texts=read_texts(ws.spec, tmp / "texts.md")).path


@pytest.fixture(scope="module")
def blank_rollup(county):
    """The county rollup as merge leaves it: texts not yet written."""
    ws, tmp = county
    return merge(ws, tmp / "blank" / "rollup.xlsx").path


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
    assert prose_findings(d6, report_text(doc), doc.figures) == [] and doc.contradictions == []
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
    for topic in TOPICS:  # 总体情况's five topics, as subheadings
        assert f"### {topic}" in md and f"<h3>{topic}</h3>" in html
    # DOCX: text and the national tables.
    from docx import Document
    from docx.oxml.ns import qn

    out = write_report(path, tmp_path / "r.docx", allow_incomplete=True)
    d = Document(str(tmp_path / "r.docx"))
    text = "\n".join(p.text for p in d.paragraphs)
    assert prose_findings(d6, text, doc.figures) == []
    assert [p.text for p in d.paragraphs if p.style.name == "Heading 1"] == HEADINGS
    assert [p.text for p in d.paragraphs if p.style.name == "Heading 2"] == TOPICS
    docx_numbers = Counter()
    for table in d.tables:
        for tc in table._tbl.iter(qn("w:tc")):  # each physical cell once, merged ones included
            text = "".join(t.text or "" for t in tc.iter(qn("w:t")))
            if re.fullmatch(r"[\d.]+", text):
                docx_numbers[text] += 1
    assert docx_numbers - Counter() >= expected
    assert out.doc.title.endswith("2025年政府信息公开工作年度报告")


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


def test_county_report_has_charts_and_breakdown_under_applications(rollup):
    doc = build_report(load_source(rollup))
    s3 = doc.sections[2]
    assert [c.title for c in s3.charts] == ["各类单位收到的政府信息公开申请（件）", "依申请公开办理结果（件）"]
    assert [caption for caption, _, _ in s3.extra_tables][0] == "按单位类型汇总"
    html = render_html(doc)
    assert html.count("<svg") == 2 and "按单位类型汇总" in html


# -- whose report -------------------------------------------------------------------------

def test_rollup_carries_the_workspaces_unit_and_the_report_its_name(rollup, tmp_path):
    source = load_source(rollup)
    assert source.sub.office["name"] == "青溪县" and source.sub.office["code"] == "QX"
    doc = build_report(source)
    assert doc.title == "青溪县2025年政府信息公开工作年度报告"
    assert "青溪县2025年度" in doc.preamble[0]
    assert "本级" not in report_text(doc) and "（汇总）" not in report_text(doc)
    out = tmp_path / "县报告.md"
    result = runner.invoke(app, ["report", str(rollup), "-o", str(out), "--allow-incomplete", "--name", "青溪县人民政府"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("# 青溪县人民政府2025年政府信息公开工作年度报告")


def test_a_rollup_without_a_unit_name_asks_for_one(county, tmp_path):
    ws, _ = county
    ws.settings["name"] = ""  # a rollup written before the workspace had a name (it was titled 本级)
    try:
        path = merge(ws, tmp_path / "r.xlsx").path
    finally:
        ws.settings["name"] = "青溪县"
    result = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "r.md"), "--draft", "--allow-incomplete"])
    assert result.exit_code == 2 and "--name" in result.output and not (tmp_path / "r.md").exists()


# -- the county's own text ------------------------------------------------------------------

def test_rollup_figures_are_locked_and_its_texts_open(blank_rollup):
    import openpyxl

    spec = get_spec("2021")
    wb = openpyxl.load_workbook(blank_rollup)
    for f in spec.inputs()[:20]:
        assert wb[f.sheet][f.cell].protection.locked, f.id
    for fld in spec.prose.fields:
        assert not wb[spec.prose.sheet][fld.cell].protection.locked, fld.id
        assert wb[spec.prose.sheet][fld.cell].value is None
    assert [wb[spec.prose.sheet][fld.label_cell].value for fld in spec.prose.fields if fld.label] == TOPICS


def test_report_refuses_blank_required_texts_and_drafts_with_placeholders(blank_rollup, tmp_path):
    out = tmp_path / "县报告.docx"
    result = runner.invoke(app, ["report", str(blank_rollup), "-o", str(out), "--allow-incomplete"])
    assert result.exit_code == 1, result.output
    assert "以下文字尚未填写" in result.output and "--draft" in result.output
    for heading in TOPICS + ["五、存在的主要问题及改进情况"]:
        assert heading in result.output
    assert not out.exists() and not notes_path(out).exists()
    # --draft: the same report with 【待补充】 where the text goes, marked 征求意见稿.
    result = runner.invoke(app, ["report", str(blank_rollup), "-o", str(out), "--allow-incomplete", "--draft"])
    assert result.exit_code == 0, result.output
    from docx import Document

    d = Document(str(out))
    texts = [p.text for p in d.paragraphs]
    assert "（征求意见稿）" in texts[:3]
    for topic in TOPICS:
        assert f"【待补充：{topic}】" in texts
    assert "【待补充：五、存在的主要问题及改进情况】" in texts
    md = tmp_path / "县报告.md"
    assert runner.invoke(app, ["report", str(blank_rollup), "-o", str(md), "--allow-incomplete", "--draft"]).exit_code == 0
    assert "（征求意见稿）" in md.read_text(encoding="utf-8")


@pytest.mark.parametrize("text", ["", "无", "  无。 ", "暂无"])
def test_only_none_is_not_written(tmp_path, text):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(5), office_kind="县直部门")
    prose = consistent_prose(spec, values, 2025)
    prose["s5"] = text
    path = _office(tmp_path, values, prose)
    with pytest.raises(ReportRefused) as exc:
        write_report(path, tmp_path / "r.md")
    assert "五、存在的主要问题及改进情况" in str(exc.value)


def test_a_workbook_of_the_earlier_template_needs_its_whole_text(tmp_path):
    """A 2021.1 workbook has no topic cells: its 一、总体情况 cell is what must be written."""
    spec = get_spec("2021")
    assert [f.id for f in spec.required_texts(["s1", "s5", "s6"])] == ["s1", "s5"]
    assert [f.id for f in spec.required_texts([f.id for f in spec.prose.fields])] == [
        "s1.1", "s1.2", "s1.3", "s1.4", "s1.5", "s5"]


# -- only publishable text ----------------------------------------------------------------

def test_completeness_goes_to_the_notes_never_into_the_report(rollup, tmp_path):
    out = tmp_path / "县报告.md"
    refused = runner.invoke(app, ["report", str(rollup), "-o", str(out)])
    assert refused.exit_code == 1 and "汇总不完整" in refused.output and "--allow-incomplete" in refused.output
    assert not out.exists()
    result = runner.invoke(app, ["report", str(rollup), "-o", str(out), "--allow-incomplete"])
    assert result.exit_code == 0, result.output
    published = out.read_text(encoding="utf-8")
    for internal in ("未报送", "未计入", "应报", "已退回", "无法采用", "sha256"):
        assert internal not in published, internal
    notes = notes_path(out).read_text(encoding="utf-8")
    assert notes_path(out).name == "县报告.编制说明.md"
    assert "应报12个单位，已报11个" in notes and "未报送：青溪县生态环境分局（QX006）" in notes
    assert "不属于公开的年度报告" in notes


def test_a_rollup_of_no_office_is_never_reported(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("单位代码,单位名称,单位类型,联系邮箱\nA1,甲局,县直部门,\n", encoding="utf-8")
    ws = init_workspace(tmp_path / "ws", roster, 2025, "2026-01-31", name="空县")
    path = merge(ws, tmp_path / "r.xlsx").path
    result = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "r.md"), "--allow-incomplete", "--draft",
                                 "--force"])
    assert result.exit_code == 1 and "没有计入任何单位" in result.output
    assert not (tmp_path / "r.md").exists()


def test_merging_again_keeps_the_coordinators_texts(county, tmp_path):
    ws, tmp = county
    out = tmp_path / "r.xlsx"
    merge(ws, out, texts={"s1.1": "主动公开的情况。", "s5": "问题和改进。"})
    again = merge(ws, out)
    assert again.kept_texts == ["s1.1", "s5"]
    sub = load_source(out).sub
    assert sub.prose["s1.1"] == "主动公开的情况。" and sub.prose["s5"] == "问题和改进。"


def test_texts_file_is_read_by_its_headings(tmp_path):
    spec = get_spec("2021")
    path = tmp_path / "t.md"
    path.write_text(COUNTY_TEXTS.format(year=2025), encoding="utf-8")
    texts = read_texts(spec, path)
    assert sorted(texts) == ["s1", "s1.1", "s1.2", "s1.3", "s1.4", "s1.5", "s5", "s6"]
    assert texts["s1.4"].startswith("完成县政府门户网站集约化改造")
    for bad, words in (("# 三、收到和处理政府信息公开申请情况\n正文", "由表格数据生成"),
                       ("## 其他\n正文", "无法识别的标题"), ("正文", "缺少标题"), ("# 一、总体情况\n", "没有找到")):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(Exception) as exc:
            read_texts(spec, path)
        assert words in str(exc.value)


# -- text and tables agree ------------------------------------------------------------------

def _office(tmp_path, values, prose=None, name="o.xlsx", year=2025, fmt="2021"):
    spec = get_spec(fmt)
    office = {"name": "测试县某局", "kind": "县直部门", "code": "T1", "year": year, "filler": "x", "phone": "1",
              "date": f"{year + 1}-01-01"}
    if prose is None:
        prose = consistent_prose(spec, values, year)
    return write_workbook(spec, tmp_path / name, Filling(office=office, values=values, prose=prose))


def test_a_contradiction_stops_the_report(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(7), office_kind="县直部门")
    received = totals(spec, values)["t3.new.total"]
    prose = consistent_prose(spec, values, 2025)
    prose["s1.2"] = f"本年度共收到政府信息公开申请{received + 1}件，均按时答复。"
    path = _office(tmp_path, values, prose)
    out = tmp_path / "r.docx"
    result = runner.invoke(app, ["report", str(path), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert f"文字“本年度共收到政府信息公开申请{received + 1}件" in result.output and f"表格中的{received}件" in result.output
    assert "--force" in result.output and not out.exists()
    forced = runner.invoke(app, ["report", str(path), "-o", str(out), "--force"])
    assert forced.exit_code == 0 and "照写了1处文字与表格不一致" in forced.output
    assert f"申请{received + 1}件" in notes_path(out).read_text(encoding="utf-8")


def test_generated_sentences_are_checked_too(tmp_path):
    """An edited sentence template that prints a wrong number is caught before anything is written."""
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(8), office_kind="县直部门")
    path = _office(tmp_path, values)
    mine = tmp_path / "mine"
    mine.mkdir()
    original = (ROOT / "templates" / "report" / "sentences.j2").read_text(encoding="utf-8")
    (mine / "sentences.j2").write_text(original.replace('办结{{ n(done) }}件', '办结{{ n(done + 1) }}件'),
                                       encoding="utf-8")
    result = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "r.md"), "--templates", str(mine)])
    assert result.exit_code == 1 and "文字与表格不一致" in result.output and "办结" in result.output
    # The folder need not hold every template: the rest come from the package.
    (mine / "sentences.j2").write_text(original, encoding="utf-8")
    ok = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "r.html"), "--templates", str(mine)])
    assert ok.exit_code == 0, ok.output


def test_year_over_year_with_percentages(tmp_path):
    spec = get_spec("2021")
    last = consistent_values(spec, random.Random(1), office_kind="县直部门")
    this = consistent_values(spec, random.Random(2), office_kind="县直部门")
    prev = _office(tmp_path, last, name="2024.xlsx", year=2024)
    cur = _office(tmp_path, this, name="2025.xlsx")
    doc = build_report(load_source(cur), load_source(prev))
    before, now = totals(spec, last)["t3.new.total"], totals(spec, this)["t3.new.total"]
    d = now - before
    if d > 0:
        phrase = f"较上年增加{number(d)}件，增长{d / before * 100:.1f}%"
    elif d < 0:
        phrase = f"较上年减少{number(-d)}件，下降{-d / before * 100:.1f}%"
    else:
        phrase = "与上年持平"
    assert f"收到政府信息公开申请{number(now)}件，{phrase}" in report_text(doc)
    result = runner.invoke(app, ["report", str(cur), "-o", str(tmp_path / "r.md"), "--previous", str(prev)])
    assert result.exit_code == 0 and phrase in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_zero_cases_read_naturally(tmp_path):
    spec = get_spec("2021")
    zeros = {f.id: 0 for f in spec.inputs()}
    path = _office(tmp_path, zeros)
    text = report_text(build_report(load_source(path)))
    assert "本年度未收到政府信息公开申请" in text
    assert "本年度未发生因政府信息公开工作引起的行政复议、行政诉讼" in text
    assert "未收取信息处理费" in text


@pytest.mark.parametrize("fmt", ["2021", "2019"])
def test_every_nonzero_table_two_figure_is_in_the_text(fmt, tmp_path):
    spec = get_spec(fmt)
    year = 2025 if fmt == "2021" else 2020
    for fig in [f for f in spec.inputs() if f.table_id == "t2"]:
        values = {f.id: 0 for f in spec.inputs()}
        values[fig.id] = 37.5 if spec.types[fig.type].number != "integer" else (-37 if fig.type == "signed_count" else 37)
        doc = build_report(load_source(_office(tmp_path, values, name=f"{fig.id}.xlsx", year=year, fmt=fmt)))
        s2 = "".join(doc.sections[1].paragraphs)
        assert number(abs(values[fig.id])) in s2, (fig.id, s2)


def test_office_prose_is_data_not_template(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(3), office_kind="县直部门")
    prose = consistent_prose(spec, values, 2025)
    prose.update({"s1": "{{ 7*7 }}{% for x in range(3) %}x{% endfor %}<script>alert(1)</script> *强调* | 竖线",
                  "s5": "# 不是标题", "s6": "=1+1"})
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


# -- the document as a 公文 -------------------------------------------------------------------

@pytest.mark.parametrize("title, lines", [
    ("青溪县2025年政府信息公开工作年度报告", ["青溪县2025年政府信息公开工作年度报告"]),
    ("青溪县人民政府办公室2025年政府信息公开工作年度报告", ["青溪县人民政府办公室2025年", "政府信息公开工作年度报告"]),
    ("某局2025年政府信息公开工作年度报告", ["某局2025年政府信息公开工作年度报告"]),
    ("青溪县住房和城乡建设局综合行政执法大队城关中队2025年政府信息公开工作年度报告",
     ["青溪县住房和城乡建设局综合", "行政执法大队城关中队2025年", "政府信息公开工作年度报告"]),
])
def test_title_lines_are_balanced(title, lines):
    assert title_lines(title) == lines
    assert all(len(line) > 1 for line in lines)


def test_docx_layout(rollup, tmp_path):
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn

    out = write_report(rollup, tmp_path / "r.docx", allow_incomplete=True).path
    d = Document(str(out))
    title = d.paragraphs[0]
    assert title.style.name == "Title" and title.text == "青溪县2025年政府信息公开工作年度报告"
    assert title.style.font.size.pt == 22 and d.styles["Normal"].font.size.pt == 16
    assert d.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert d.styles["Heading 2"].element.rPr.rFonts.get(qn("w:eastAsia")).startswith("楷体")
    orient = [s.orientation for s in d.sections]
    assert orient == [WD_ORIENT.PORTRAIT, WD_ORIENT.LANDSCAPE, WD_ORIENT.PORTRAIT]  # table 四 on its own page
    first = d.sections[0]
    assert round(first.top_margin.mm) == 37 and round(first.left_margin.mm) == 28
    for table in d.tables:
        rows = table._tbl.findall(qn("w:tr"))
        assert rows[0].find(f"{qn('w:trPr')}/{qn('w:tblHeader')}") is not None
        assert all(r.find(f"{qn('w:trPr')}/{qn('w:cantSplit')}") is not None for r in rows)
    assert d.settings.odd_and_even_pages_header_footer
    # A title too long for one line breaks where title_lines says, with a line break, not a second paragraph.
    long = write_report(rollup, tmp_path / "l.docx", allow_incomplete=True, name="青溪县人民政府办公室").path
    title = Document(str(long)).paragraphs[0]
    assert len(title._p.findall(f".//{qn('w:br')}")) == 1 and title.text == "青溪县人民政府办公室2025年\n政府信息公开工作年度报告"
    assert "PAGE" in d.sections[0].footer._element.xml and "PAGE" in d.sections[0].even_page_footer._element.xml


def _one_character_lines(lines):
    """Lines that hold a single Chinese character: a word broken one character per line."""
    return [ln["text"] for ln in lines if re.fullmatch(r"[\u4e00-\u9fff]", ln["text"])]


def test_docx_prints_as_a_document(rollup, tmp_path):
    """LibreOffice's PDF of the county report: the title whole, table 四 landscape with readable headers."""
    out = write_report(rollup, tmp_path / "county.docx", allow_incomplete=True).path
    (pdf,) = to_pdf([out], tmp_path)
    pages = pdf_pages(pdf)
    assert len(pages) >= 4
    first = [ln["text"] for ln in pages[0]["lines"]]
    assert first[0] == "青溪县2025年政府信息公开工作年度报告", first[:4]
    for page in pages:
        assert _one_character_lines(page["lines"]) == [], page["lines"][:20]
    landscape = [i for i, p in enumerate(pages) if p["width"] > p["height"]]
    assert len(landscape) == 1
    text = "".join(ln["text"] for ln in pages[landscape[0]]["lines"])
    assert "四、政府信息公开行政复议、行政诉讼情况" in text and "未经复议直接起诉" in text
    everything = "".join(ln["text"] for p in pages for ln in p["lines"])
    for heading in HEADINGS + TOPICS:
        assert heading in everything, heading
    assert "未报送" not in everything and "征求意见稿" not in everything


def test_html_for_a_portal(rollup):
    html = render_html(build_report(load_source(rollup)))
    assert '<html lang="zh-CN">' in html
    assert "<caption>表三　收到和处理政府信息公开申请情况</caption>" in html
    assert 'scope="col"' in html and 'scope="row"' in html and "<thead>" in html
    assert "<link" not in html and "<script" not in html and "src=" not in html  # one self-contained file


def test_html_report_in_a_browser_at_large_font_sizes(browser, rollup, tmp_path):
    """A reader who sets a large font: the text follows it and only the tables' own boxes scroll sideways."""
    from selenium.webdriver.common.by import By

    out = write_report(rollup, tmp_path / "r.html", allow_incomplete=True).path
    browser.set_window_size(800, 1000)
    try:
        browser.get(out.as_uri())
        base = browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
        browser.execute_script("document.documentElement.style.fontSize = '200%'")
        large = browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
        assert large == pytest.approx(2 * base)
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        for wrap in browser.find_elements(By.CSS_SELECTOR, ".table-wrap"):
            assert wrap.value_of_css_property("overflow-x") == "auto"
        captions = [c.text for c in browser.find_elements(By.TAG_NAME, "caption")]
        assert captions[:3] == ["表二　主动公开政府信息情况", "表三　收到和处理政府信息公开申请情况", "按单位类型汇总"]
        title = browser.find_element(By.TAG_NAME, "h1").text
        assert title.replace("\n", "") == "青溪县2025年政府信息公开工作年度报告"
        browser.save_screenshot(str(tmp_path / "large.png"))
    finally:
        browser.set_window_size(1100, 1400)
