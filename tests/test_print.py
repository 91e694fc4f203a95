"""Workbooks as they print: LibreOffice's PDF export of the blank templates and of a county rollup, read back."""

import re
import subprocess
from pathlib import Path

import pytest

from pipeline import get_spec
from pipeline.merge import merge, read_texts

from helpers import pdf_pages, to_pdf

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def printed(sample_county, tmp_path_factory):
    """The two blank templates and the samples' county rollup, printed to PDF by one LibreOffice run."""
    ws, texts = sample_county
    tmp = tmp_path_factory.mktemp("print")
    rollup = merge(ws, tmp / "rollup.xlsx", texts=read_texts(ws.spec, texts / "texts.md")).path
    paths = [ROOT / "templates" / "xlsx" / "gov2021.xlsx", ROOT / "templates" / "xlsx" / "gov2019.xlsx", rollup]
    pdfs = to_pdf(paths, tmp / "pdf")
    return {name: pdf_pages(pdf) for name, pdf in zip(("2021", "2019", "rollup"), pdfs)}, tmp


def _text(pages) -> str:
    return re.sub(r"\s+", "", "".join(line["text"] for page in pages for line in page["lines"]))


def _outside(pages):
    """Lines printed beyond the paper's edges (cut off)."""
    return [(i + 1, line["text"][:20]) for i, page in enumerate(pages) for line in page["lines"]
            if line["x"] < 0 or line["x2"] > page["width"] + 0.5]


@pytest.mark.parametrize("fmt", ["2021", "2019"])
def test_template_prints_whole_on_a4(printed, fmt):
    pages = printed[0][fmt]
    spec = get_spec(fmt)
    assert _outside(pages) == []
    text = _text(pages)
    severity = {"error": "错误，必须修改", "warning": "提醒，可说明理由", "info": "参考"}
    guide = list(spec.guide.paragraphs) + [f"{r.id} {r.title}（{severity[r.severity]}）：{r.description}"
                                           for r in spec.rules]
    for paragraph in guide:  # 填报说明, every word of it, not cut at either side or at the row's foot
        assert re.sub(r"\s+", "", paragraph) in text, paragraph
    for table in spec.tables:
        if table.heading_section:
            assert spec.section(table.heading_section).heading in text
    assert all({round(p["width"]), round(p["height"])} == {595, 842} for p in pages)  # A4
    assert len(pages) <= 9


def test_rollup_prints_in_a_handful_of_pages(printed):
    pages = printed[0]["rollup"]
    spec = get_spec("2021")
    assert _outside(pages) == []
    assert len(pages) <= 16, [p["lines"][0]["text"] for p in pages if p["lines"]]
    text = _text(pages)
    # The per-office sheet is headed by official labels; the figure ids stay in a hidden row.
    offices = next(p for p in pages if {"单位名称", "计入汇总", "表三"} <= {line["text"] for line in p["lines"]})
    assert offices["width"] > offices["height"]  # landscape
    office_text = _text([offices])
    for label in ("单位代码", "计入汇总", "表三", "总计", "青溪县教育局"):
        assert label in office_text
    assert not re.search(r"t[2346]\.[a-z_]+\.", text)
    # Each chart (with its figures) starts a page of its own. (pdftotext also reports the text of a chart
    # clipped away at a page break, so the test looks at what heads each page.)
    starts = [i for chart in spec.rollup.charts for i, p in enumerate(pages)
              if p["lines"] and p["lines"][0]["text"] == chart.title]
    assert len(starts) == len(spec.rollup.charts) == len(set(starts))
