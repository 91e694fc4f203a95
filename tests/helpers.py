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
    texts = {"prose-blank", "prose-thin", "fee-statement-missing", "fee-notice-mention"}
    return [f for f in result.findings if f.code not in texts]
