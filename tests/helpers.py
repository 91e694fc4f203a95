"""Test helpers: open a workbook both ways, compare workbooks at the XML level."""

from __future__ import annotations

import re
import zipfile

import openpyxl
from openpyxl.utils.cell import range_boundaries, get_column_letter


def load_both(path):
    """(formulas workbook, cached-values workbook): openpyxl cannot give both from one load."""
    return openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True)


def expand(ref: str) -> list[str]:
    """"D5:E6" → ["D5", "D6", "E5", "E6"]."""
    min_col, min_row, max_col, max_row = range_boundaries(ref)
    return [f"{get_column_letter(c)}{r}" for c in range(min_col, max_col + 1) for r in range(min_row, max_row + 1)]


def validated_cells(ws) -> dict[str, object]:
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in str(dv.sqref).split():
            for cell in expand(rng):
                out[cell] = dv
    return out


_VOLATILE = [
    (re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>"), b""),
    (re.compile(rb"<calcPr[^>]*/>"), b""),
]


def xml_parts(path) -> dict[str, bytes]:
    """The workbook's parts with timestamps and calc settings removed (as XlsxWriter's tests do)."""
    parts = {}
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            data = z.read(name)
            for pattern, repl in _VOLATILE:
                data = pattern.sub(repl, data)
            if name.endswith(".rels"):
                data = b"".join(sorted(re.findall(rb"<Relationship [^>]*/>", data)))
            parts[name] = data
    return parts


def figure_findings(result):
    """A checked rollup's findings, less those about its texts (the county writes them after merging)."""
    texts = {"prose-blank", "prose-topic-blank", "prose-thin", "fee-statement-missing", "fee-notice-mention"}
    return [f for f in result.findings if f.code not in texts]


# -- what a person sees on paper: LibreOffice's PDF export, read back with poppler ----------------------

def need_pdf_tools() -> None:
    """Skip (fail in CI) unless LibreOffice and poppler-utils are installed (.ci/run installs them)."""
    import os
    import shutil

    import pytest

    if not (shutil.which("soffice") and shutil.which("pdftotext") and shutil.which("pdfinfo")):
        if os.environ.get("CI"):
            pytest.fail("LibreOffice and poppler-utils are required in CI (.ci/run installs them)")
        pytest.skip("LibreOffice / poppler-utils not installed")


def to_pdf(paths, outdir):
    """Convert documents and workbooks to PDF with one LibreOffice run, as printing them would."""
    import subprocess
    from pathlib import Path

    need_pdf_tools()
    outdir = Path(outdir)
    paths = [Path(p) for p in paths]
    proc = subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{outdir}/lo-profile",
                           "--convert-to", "pdf", "--outdir", str(outdir), *map(str, paths)],
                          capture_output=True, text=True, timeout=600)
    pdfs = [outdir / (p.stem + ".pdf") for p in paths]
    missing = [p for p in pdfs if not p.exists()]
    assert not missing, f"LibreOffice wrote no {missing}: {proc.stdout} {proc.stderr}"
    return pdfs


def pdf_pages(pdf) -> list[dict]:
    """Each page's size in points (width, height) and its text lines as laid out (pdftotext -bbox-layout)."""
    import subprocess
    import xml.etree.ElementTree as ET

    xhtml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages = []
    for page in ET.fromstring(xhtml).iter(f"{{{ns['h']}}}page"):
        lines = []
        for line in page.iter(f"{{{ns['h']}}}line"):
            words = [w.text or "" for w in line.iter(f"{{{ns['h']}}}word")]
            lines.append({"text": "".join(words), "x": float(line.get("xMin")), "y": float(line.get("yMin")),
                          "x2": float(line.get("xMax")), "y2": float(line.get("yMax"))})
        pages.append({"width": float(page.get("width")), "height": float(page.get("height")), "lines": lines})
    return pages
