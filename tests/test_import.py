"""Importing published reports: the seed as scraped, and round trips through our own reports."""

import functools
import json
import tempfile
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from pipeline import Filling, get_spec, write_workbook
from pipeline.check import check_paths
from pipeline.cli import app
from pipeline.fill import consistent_prose, consistent_values
from pipeline.importer import import_report, import_tokens, text_tokens as _text_tokens
from pipeline.reader import normalize_label
from pipeline.report import build_report, load_source, render_markdown, write_report

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_933a5e646555734d.txt"
runner = CliRunner()


@pytest.fixture(scope="module")
def seed_import(tmp_path_factory):
    if not SEED.exists():
        pytest.skip("the seed report is not beside the checkout")
    return import_report(SEED, tmp_path_factory.mktemp("seed"))


def test_seed_imports_to_the_figures_it_shows(seed_import):
    result = seed_import
    assert_accounted(result)
    spec = get_spec("2019")
    assert result.spec.format == "2019" and result.year == 2020
    shown = {f.id: 0 for f in spec.inputs()}
    shown["t2.art20_8.fees.prev_count"] = 1
    shown["t2.art20_8.fees.change"] = None  # blank in the report
    # The scrape lost cells in three rows of 表三: those rows stay empty and are reported.
    lost_rows = ["new", "carried_over", "withheld_secret"]
    lost = [f.id for f in spec.inputs() if f.table_id == "t3" and f.row_id in lost_rows]
    for fid in lost:
        shown[fid] = None
    assert result.figures == shown
    assert sorted(result.uncertain) == sorted(lost)
    assert [f.code for f in result.findings] == ["import-uncertain"] * 3
    assert "加强平台建设" in result.prose["s1"] and "工作重视程度仍然不够" in result.prose["s5"]
    assert result.prose["s6"] == "无。"


def test_check_on_the_imported_seed_reports_the_blank_cell(seed_import):
    findings = check_paths([seed_import.workbook]).files[0].findings
    blank = [(f.code, f.figure) for f in findings if f.code == "value-blank"]
    assert ("value-blank", "t2.art20_8.fees.change") in blank


def _office_workbook(tmp_path, seed, name="o.xlsx"):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(seed), office_kind="县直部门")
    office = {"name": "往返测试局", "kind": "县直部门", "code": "R1", "year": 2025, "filler": "x", "phone": "1",
              "date": "2026-01-01"}
    return spec, values, write_workbook(spec, tmp_path / name, Filling(office=office, values=values,
                                                                      prose=consistent_prose(spec, values, 2025)))


def assert_accounted(imported):
    """Every figure of the format is placed or uncertain (with a reason), never both, never neither."""
    inputs = {f.id for f in imported.spec.inputs()}
    assert imported.placed | set(imported.uncertain) == inputs
    assert not imported.placed & set(imported.uncertain)
    assert all(imported.uncertain.values())
    assert all(imported.figures[f] is None for f in imported.uncertain)


def _same_figures(imported, spec, values):
    assert_accounted(imported)
    expected = {f.id: values[f.id] for f in spec.inputs()}
    got = {k: v for k, v in imported.figures.items()}
    assert imported.uncertain == {}
    for fid, v in expected.items():
        assert got[fid] == pytest.approx(v), fid


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), fmt=st.sampled_from(["html", "md", "docx"]))
def test_round_trip_through_our_reports(tmp_path, seed, fmt):
    spec, values, path = _office_workbook(tmp_path, seed)
    out = tmp_path / f"report.{fmt}"
    write_report(path, out)
    imported = import_report(out, tmp_path / "imported")
    assert imported.spec.format == "2021" and imported.year == 2025 and imported.office == "往返测试局"
    _same_figures(imported, spec, values)
    assert check_paths([imported.workbook]).files[0].status in ("ok", "warnings")


def _flatten(md: str, style: str, drop_empty: bool = False) -> str:
    """A Markdown report flattened as scrapers flatten HTML: one cell per line, pipes, split labels."""
    lines = []
    for line in md.splitlines():
        if line.startswith("|") and "---" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if style == "pipes":
                lines.append(" | ".join(cells))
            else:
                for c in cells:
                    if style == "split" and len(c) > 6 and not re.fullmatch(r"[\d.]+", c):
                        lines += [c[:3], c[3:]]  # "本年新\n制作数量"
                    else:
                        lines.append(c)
                    lines.append("")
        else:
            lines.append(line.lstrip("#").strip())
    return "\n".join(lines)


@pytest.mark.parametrize("style", ["cells", "pipes", "split"])
def test_flattened_text_imports_identically(tmp_path, style):
    spec, values, path = _office_workbook(tmp_path, 11)
    md = render_markdown(build_report(load_source(path)))
    src = tmp_path / f"flat-{style}.txt"
    src.write_text(_flatten(md, style), encoding="utf-8")
    _same_figures(import_report(src, tmp_path / "out"), spec, values)


def test_dropped_cells_are_reported_exactly(tmp_path):
    spec, values, path = _office_workbook(tmp_path, 12)
    md = render_markdown(build_report(load_source(path)))
    lines = _flatten(md, "cells").splitlines()
    # Drop one value cell from the 予以公开 row of 表三, as a scrape that loses an empty cell.
    at = next(i for i, line in enumerate(lines) if line.strip() == "（一）予以公开")
    value_lines = [i for i in range(at + 1, len(lines)) if re.fullmatch(r"[\d.]+", lines[i].strip())]
    del lines[value_lines[2]]
    src = tmp_path / "dropped.txt"
    src.write_text("\n".join(lines), encoding="utf-8")
    imported = import_report(src, tmp_path / "out")
    row = [f.id for f in spec.inputs() if f.table_id == "t3" and f.row_id == "disclosed"]
    assert sorted(imported.uncertain) == sorted(row)
    assert all(imported.figures[f] is None for f in row)
    others = {f.id for f in spec.inputs()} - set(row)
    for fid in others:
        assert imported.figures[fid] == pytest.approx(values[fid]), fid


def test_altered_labels_and_units(tmp_path):
    text = "\n".join([
        "二、主动公开政府信息情况", "第二十条第（一）项", "信息内容", "本年发件", "本年废止件数", "现行有效件",
        "规章", "0", "0", "0", "规范性文件", "3", "1", "5",
        "第二十条第（八）项", "信息内容", "本年收费金额（单位：万元）", "行政事业性收费", "26.55",
    ])
    tokens = _text_tokens(text, "t.txt")
    imported = import_tokens(tokens, Path("t.txt"), "0", year=2022)
    assert_accounted(imported)
    assert imported.spec.format == "2021"
    assert imported.figures["t2.art20_1.normative.made"] == 3
    assert imported.figures["t2.art20_1.normative.in_force"] == 5
    assert imported.figures["t2.art20_8.fees.amount"] == 26.55


def test_units_in_cells(tmp_path):
    text = "\n".join(["二、主动公开政府信息情况", "第二十条第（九）项", "信息内容", "采购项目数", "采购总金额",
                      "政府集中采购", "3", "251000元"])
    imported = import_tokens(_text_tokens(text, "t.txt"), Path("t.txt"), "0", year=2019)
    assert_accounted(imported)
    assert imported.spec.format == "2019"
    assert imported.figures["t2.art20_9.procurement.projects"] == 3
    assert imported.figures["t2.art20_9.procurement.amount"] == 251000


def test_import_cli_json(seed_import, tmp_path):
    result = runner.invoke(app, ["import", str(SEED), "-o", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    f = data["files"][0]
    assert {"path", "format", "year", "office", "figures", "uncertain", "findings"} <= set(f)
    assert f["format"] == "2019" and f["figures"]["t2.art20_8.fees.prev_count"] == 1
    bad = runner.invoke(app, ["import", str(tmp_path / "x.rtf"), "-o", str(tmp_path)])
    assert bad.exit_code == 2


# -- every way a scraper lays out a table (issue 16) -------------------------------------------

def _table_rows(md: str):
    """The report's Markdown as (kind, payload) lines: ("row", cells) for table rows, ("text", line) otherwise."""
    for line in md.splitlines():
        if line.startswith("|"):
            if "---" not in line:
                yield "row", [c.strip() for c in line.strip().strip("|").split("|")]
        else:
            yield "text", line.lstrip("#").strip()


_FULL = str.maketrans({**{chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}, " ": "\u3000"})


def scrape(md: str, style: str) -> str:
    """The report as one scrape style renders it."""
    out: list[str] = []
    for kind, x in _table_rows(md):
        if kind == "text":
            out.append(x)
            continue
        cells = x
        if style == "trailing":
            out.append(" | ".join(cells) + " |")
        elif style == "leading":
            out.append("| " + " | ".join(cells))
        elif style == "lost-header":  # header rows lose their texts: "第二十条第（一）项 | |||"
            numeric = any(re.fullmatch(r"[\d.]+", c) for c in cells)
            out.append(" | ".join(cells) if numeric else cells[0] + " | " + "|" * (len(cells) - 1))
        elif style == "cell-pipe":
            out += [f"{c} |" for c in cells]
        elif style == "pipe-lines":
            for c in cells:
                out += [c, "|"]
        elif style == "cells":
            for c in cells:
                out += [c, ""]
        elif style == "tabs":
            out.append("\t".join(cells))
        elif style == "spaces":
            out.append(" ".join(cells))
        elif style == "split":
            for c in cells:
                out += [c[:3], c[3:]] if len(c) > 6 and not re.fullmatch(r"[\d.]+", c) else [c]
        elif style == "fullwidth":  # full-width digits and punctuation, ideographic spaces inside labels
            out.append(" | ".join(c.translate(_FULL) if re.fullmatch(r"[\d.]+", c) else
                                  (c[:2] + "\u3000" + c[2:]).translate(_FULL) for c in cells))
        else:
            raise ValueError(style)
    return "\n".join(out)


STYLES = ["trailing", "leading", "lost-header", "cell-pipe", "pipe-lines", "cells", "tabs", "spaces", "split",
          "fullwidth"]


@functools.lru_cache(maxsize=1)
def _report_md():
    with tempfile.TemporaryDirectory() as tmp:
        spec, values, path = _office_workbook(Path(tmp), 23)
        return spec, values, render_markdown(build_report(load_source(path)))


@pytest.fixture
def report_md():
    return _report_md()


@pytest.mark.parametrize("style", STYLES)
def test_every_scrape_style_imports_the_same_figures(tmp_path, report_md, style):
    spec, values, md = report_md
    src = tmp_path / f"{style}.txt"
    src.write_text(scrape(md, style), encoding="utf-8")
    imported = import_report(src, tmp_path / "out")
    _same_figures(imported, spec, values)
    assert imported.year == 2025 and imported.office == "往返测试局"


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_dropped_cells_in_any_style_are_exactly_the_uncertain_rows(data):
    """Drop value cells from the report's tables, then scrape it in any style: exactly the rows that lost
    one are uncertain, every other figure is read."""
    spec, values, md = _report_md()
    style = data.draw(st.sampled_from(STYLES))
    lines = md.splitlines()
    rows, current_block = [], None  # (line index, index of its last number, its figures)
    for n, line in enumerate(lines):
        if not line.startswith("|") or "---" in line:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        numeric = [i for i, c in enumerate(cells) if re.fullmatch(r"[\d.]+", c)]
        if not numeric:
            current_block = cells[0]
            continue
        group, _, label = cells[0].rpartition(" / ")
        figs = [f.id for f in spec.inputs() if (f.table_id == "t4" and label == "数量") or (
            f.row == label and f.block in (None, current_block, group))]
        rows.append((n, numeric[-1], figs))
    drops = data.draw(st.sets(st.integers(0, len(rows) - 1), min_size=1, max_size=3))
    expected = {fid for r in drops for fid in rows[r][2]}
    for r in drops:
        n, last, _ = rows[r]
        cells = [c.strip() for c in lines[n].strip().strip("|").split("|")]
        del cells[last]
        lines[n] = "| " + " | ".join(cells) + " |"
    text = scrape("\n".join(lines), style)
    imported = import_tokens(_text_tokens(text, "drop.txt"), Path("drop.txt"), "0")
    assert_accounted(imported)
    assert set(imported.uncertain) == expected
    for fid in {f.id for f in spec.inputs()} - expected:
        assert imported.figures[fid] == pytest.approx(values[fid]), fid


# -- format by evidence, metadata, missing parts, structure (issue 16) -------------------------

def _md_for(year: int, fmt: str = "2021", seed: int = 5, name: str = "往返测试局") -> tuple:
    spec = get_spec(fmt)
    values = consistent_values(spec, random.Random(seed), office_kind="县直部门")
    office = {"name": name, "kind": "县直部门", "code": "R1", "year": year, "filler": "x", "phone": "1",
              "date": "2026-01-01"}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_workbook(spec, Path(tmp) / "o.xlsx", Filling(office=office, values=values,
                                                                 prose=consistent_prose(spec, values, year)))
        return spec, values, render_markdown(build_report(load_source(path)))


def _import_text(text: str, **kw):
    return import_tokens(_text_tokens(text, "r.txt"), Path("r.txt"), "0", **kw)


def test_old_format_labels_for_a_later_year_import_in_that_format_with_d7():
    spec, values, md = _md_for(2020, "2019")
    md = md.replace("2020", "2022")  # a 2022 report written on the 2019 format's tables
    imported = _import_text(md)
    assert imported.year == 2022 and imported.spec.format == "2019"
    assert_accounted(imported)
    d7 = [f for f in imported.findings if f.rule == "D7"]
    assert len(d7) == 1 and d7[0].code == "format-year-mismatch" and "2022" in d7[0].message


def test_few_labels_visible_the_unique_ones_decide():
    """Only 表二 survives the scrape: its 2021 column headers decide, though 2019 shares the row labels."""
    spec, values, md = _md_for(2022)
    table2 = md[md.index("**表二"):md.index("## 三、")]
    imported = _import_text("二、主动公开政府信息情况\n" + table2)
    assert imported.spec.format == "2021"
    assert imported.figures["t2.art20_1.normative.made"] == values["t2.art20_1.normative.made"]
    assert_accounted(imported)


def test_labels_that_fit_both_formats_the_year_decides():
    text = "二、主动公开政府信息情况\n第二十条第（一）项\n规章 | 0 | 0 | 0\n行政规范性文件 | 1 | 0 | 1\n"
    assert _import_text(text, year=2020).spec.format == "2019"
    assert _import_text(text, year=2023).spec.format == "2021"


@pytest.mark.parametrize("title, office, year", [
    ("东州市审计局2022年政府信息公开工作年度报告", "东州市审计局", 2022),
    ("2022年东州市审计局政府信息公开工作年度报告", "东州市审计局", 2022),
    ("东州市审计局关于2022年度政府信息公开工作的年度报告", "东州市审计局", 2022),
    ("首页 > 政务公开 > 年度报告 > 东州镇人民政府2022年度政府信息公开工作年度报告", "东州镇人民政府", 2022),
    ("TITLE: 东州市民政局2022年政府信息公开工作年度报告", "东州市民政局", 2022),
    ("【2022年度】东州街道办事处2022年度政府信息公开工作年度报告", "东州街道办事处", 2022),
])
def test_title_orders(title, office, year):
    imported = _import_text(title + "\n一、总体情况\n正文。")
    assert (imported.office, imported.year) == (office, year)


@pytest.mark.parametrize("sentence", [
    "本报告中所列数据的统计期限自2022年1月1日起至2022年12月31日止。",
    "本报告所列数据统计期限为2022 年1 月1 日至2022 年12 月31 日。",
    "本报告中所列数据的统计期限自2022  1  1  日起至2022  12  31  日止。",  # digits and 年/月 lost in the scrape
])
def test_year_from_the_statistics_period(sentence):
    imported = _import_text("政府信息公开工作年度报告\n" + sentence + "\n一、总体情况\n正文。")
    assert imported.year == 2022
    assert "report-period" not in [f.code for f in imported.findings]


def test_missing_section_makes_its_table_uncertain_without_searching_the_document():
    spec, values, md = _md_for(2023)
    cut = md[:md.index("## 四、")] + md[md.index("## 五、"):]
    imported = _import_text(cut)
    t4 = {f.id for f in spec.inputs() if f.table_id == "t4"}
    assert set(imported.uncertain) == t4
    assert_accounted(imported)
    codes = [f.code for f in imported.findings]
    assert codes.count("import-section-missing") == 1 and "report-section-missing" in codes
    missing = next(f for f in imported.findings if f.code == "import-section-missing")
    assert "四、政府信息公开行政复议、行政诉讼情况" in missing.message and "个数，应为" not in missing.message


def test_missing_block_label_makes_the_block_uncertain_with_a_finding():
    spec, values, md = _md_for(2023)
    imported = _import_text(md.replace("第二十条第（六）项", "第二十条"))
    block = {f.id for f in spec.inputs() if f.block_id == "art20_6"}
    assert set(imported.uncertain) == block
    found = [f for f in imported.findings if f.code == "import-block-missing"]
    assert len(found) == 1 and "第二十条第（六）项" in found[0].message and found[0].actual == len(block)


def test_structure_findings_of_a_published_report():
    spec, values, md = _md_for(2023)
    md = md.replace("国办公开办函〔2021〕30号", "国办公开办函〔2019〕60号")
    md = md.replace("统计期限为2023年1月1日至2023年12月31日", "统计期限为2022年1月1日至2022年12月31日")
    md = md.replace("## 五、存在的主要问题及改进情况", "## 六、其他需要报告的事项X").replace(
        "## 六、其他需要报告的事项\n", "## 五、存在的主要问题及改进情况\n")
    md += "\n发布时间：2024-02-20\n\n往返测试局\n"
    imported = _import_text(md)
    by_code = {f.code: f for f in imported.findings}
    assert by_code["report-basis-outdated"].actual == "国办公开办函〔2019〕60号"
    assert by_code["report-title-year"].actual == 2023
    assert by_code["report-period"].expected == 2023
    assert "report-section-order" in by_code
    assert by_code["report-late"].expected == "2024-01-31" and imported.published.isoformat() == "2024-02-20"
    # A government's own report is due by 3月31日.
    gov = _import_text(md.replace("往返测试局", "东州县人民政府"))
    assert "report-late" not in {f.code for f in gov.findings}


def test_clean_report_has_no_structure_findings():
    spec, values, md = _md_for(2023)
    imported = _import_text(md)
    assert [f.code for f in imported.findings if f.code.startswith("report-")] == []
    assert imported.sections == ("s1", "s2", "s3", "s4", "s5", "s6")


def test_docx_with_merged_label_cells(tmp_path):
    """表三 as offices lay it out in Word: 三、本年度办理结果 and the group labels merged down (vMerge),
    ungrouped labels merged across (gridSpan). Each merged cell is read once, where it starts."""
    from docx import Document

    spec, values, md = _md_for(2023)
    rows = [x for kind, x in _table_rows(md) if kind == "row"]
    start = next(i for i, r in enumerate(rows) if r[0] == "项目")
    t3 = [r for r in rows[start + 1:] if len(r) == 8 and r[0] != "项目"][:25]
    doc = Document()
    doc.add_paragraph("往返测试局2023年政府信息公开工作年度报告")
    doc.add_paragraph("三、收到和处理政府信息公开申请情况")
    table = doc.add_table(rows=len(t3), cols=10)
    for r, cells in enumerate(t3):
        group, _, label = cells[0].rpartition(" / ")
        for c, v in enumerate(cells[1:]):
            table.cell(r, 3 + c).text = v
        if label.startswith(("一、", "二、", "四、")):
            table.cell(r, 0).merge(table.cell(r, 2)).text = label
        else:
            if group:
                table.cell(r, 2).text = label
            else:
                table.cell(r, 1).merge(table.cell(r, 2)).text = label
    outcome = [r for r, cells in enumerate(t3) if not cells[0].startswith(("一、", "二、", "四、"))]
    table.cell(outcome[0], 0).merge(table.cell(outcome[-1], 0)).text = "三、本年度办理结果"
    for group in ("（三）不予公开", "（四）无法提供", "（五）不予处理", "（六）其他处理"):
        span = [r for r, cells in enumerate(t3) if cells[0].startswith(group)]
        table.cell(span[0], 1).merge(table.cell(span[-1], 1)).text = group
    path = tmp_path / "merged.docx"
    doc.save(path)
    imported = import_report(path, tmp_path / "out")
    t3_inputs = [f.id for f in spec.inputs() if f.table_id == "t3"]
    assert not set(t3_inputs) & set(imported.uncertain)
    for fid in t3_inputs:
        assert imported.figures[fid] == values[fid], fid
    assert_accounted(imported)


# -- PDF (issue 16) ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory):
    """Our report as Word, exported to PDF by LibreOffice Writer (tables drawn with lines)."""
    from helpers import to_pdf

    tmp = tmp_path_factory.mktemp("pdf")
    spec, values, path = _office_workbook(tmp, 31)
    docx = tmp / "往返测试局年报.docx"
    write_report(path, docx)
    return spec, values, to_pdf([docx], tmp)[0]


def test_text_pdf_imports_to_the_same_figures(report_pdf, tmp_path):
    spec, values, pdf = report_pdf
    imported = import_report(pdf, tmp_path)
    assert imported.spec.format == "2021" and imported.year == 2025 and imported.office == "往返测试局"
    _same_figures(imported, spec, values)
    assert imported.sections == ("s1", "s2", "s3", "s4", "s5", "s6")
    assert [f.code for f in imported.findings] == []
    assert "信息处理费" in imported.prose["s6"]


def test_image_only_pdf_gives_the_finding_and_every_figure_uncertain(report_pdf, tmp_path):
    import subprocess

    from PIL import Image

    spec, values, pdf = report_pdf
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = [Image.open(p).convert("RGB") for p in sorted(tmp_path.glob("page*.png"))]
    scan = tmp_path / "扫描件.pdf"
    pages[0].save(scan, save_all=True, append_images=pages[1:])
    imported = import_report(scan, tmp_path / "out")
    assert_accounted(imported)
    assert set(imported.uncertain) == {f.id for f in spec.inputs()}
    found = [f for f in imported.findings if f.code == "import-tables-images"]
    assert len(found) == 1 and found[0].message.startswith("表格为图片，无法核对数据")
    assert re.search(r"第1(、\d+)*页", found[0].message)


def test_damaged_pdf_is_one_clear_error(tmp_path):
    bad = tmp_path / "坏.pdf"
    bad.write_bytes(b"%PDF-1.7\n" + b"\x00" * 300)
    result = runner.invoke(app, ["import", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "坏.pdf" in result.output and "Traceback" not in result.output


def test_html_with_one_table_as_a_picture(tmp_path):
    """表三 published as an <img>: its figures are uncertain with 表格为图片; the other tables are read."""
    spec, values, path = _office_workbook(tmp_path, 41)
    page = tmp_path / "r.html"
    write_report(path, page)
    html = page.read_text(encoding="utf-8")
    start = html.index("<table", html.index("三、收到和处理政府信息公开申请情况"))
    end = html.index("</table>", start) + len("</table>")
    page.write_text(html[:start] + '<p><img src="t3.png" alt="表三"></p>' + html[end:], encoding="utf-8")
    imported = import_report(page, tmp_path / "out")
    assert_accounted(imported)
    t3 = {f.id for f in spec.inputs() if f.table_id == "t3"}
    assert set(imported.uncertain) == t3
    found = [f for f in imported.findings if f.code == "import-tables-images"]
    assert len(found) == 1 and "表三" in found[0].message
    for f in spec.inputs():
        if f.id not in t3:
            assert imported.figures[f.id] == pytest.approx(values[f.id]), f.id


def test_a_portal_page_around_the_report(tmp_path):
    """The report inside a government portal page: layout tables for navigation, a breadcrumb, a metadata
    table with 发布日期, a page title with the site's name. The report's own figures and facts come out."""
    spec, values, path = _office_workbook(tmp_path, 43)
    page = tmp_path / "r.html"
    write_report(path, page)
    html = page.read_text(encoding="utf-8")
    body = html[html.index("<body>") + 6:html.index("</body>")]
    portal = (
        "<html><head><title>往返测试局2025年政府信息公开工作年度报告_东州县人民政府</title></head><body>"
        "<table><tr><td>首页</td><td>政务公开</td><td>政府信息公开年报</td></tr></table>"
        "<div>当前位置：首页 &gt; 政务公开 &gt; 年度报告</div>"
        "<table><tr><td>索引号</td><td>000014349/2026-00012</td><td>发布机构</td><td>往返测试局</td></tr>"
        "<tr><td>发布日期</td><td>2026-01-20</td><td>文号</td><td></td></tr></table>"
        f"<div class='article'>{body}</div>"
        "<table><tr><td>【打印本页】</td><td>【关闭窗口】</td></tr></table></body></html>")
    page.write_text(portal, encoding="utf-8")
    imported = import_report(page, tmp_path / "out")
    _same_figures(imported, spec, values)
    assert (imported.office, imported.year) == ("往返测试局", 2025)
    assert imported.published.isoformat() == "2026-01-20"
    assert not [f for f in imported.findings if f.code.startswith("report-")]
