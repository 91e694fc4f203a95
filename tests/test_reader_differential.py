"""Our one-pass reader against openpyxl, on every workbook the tests have: same values, formulas,
cached results, sheet states, protection, merged ranges and defined names."""

import datetime as dt
import sys
import tempfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import to_excel

from pipeline.xlsxread import read_workbook

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from make_corpus import build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
_CORPUS = Path(tempfile.mkdtemp(prefix="xxgk-diff-"))
_CASES = build(_CORPUS)
WORKBOOKS = sorted(ROOT.glob("samples/**/*.xlsx")) + sorted(ROOT.glob("templates/xlsx/*.xlsx")) + [
    _CORPUS / name for name, (status, _) in sorted(_CASES.items()) if status != "unreadable" and name.endswith(".xlsx")]


def _plain(value):
    """openpyxl turns date-formatted numbers into datetimes; the file holds the number."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return to_excel(value)
    return value


@pytest.mark.parametrize("path", WORKBOOKS, ids=lambda p: p.name)
def test_reader_equals_openpyxl(path):
    ours = read_workbook(str(path))
    formulas = openpyxl.load_workbook(path)
    cached = openpyxl.load_workbook(path, data_only=True)
    assert list(ours.sheets) == formulas.sheetnames
    assert ours.structure_locked == bool(formulas.security and formulas.security.lockStructure)
    assert ours.names == {name: dn.attr_text for name, dn in formulas.defined_names.items()}
    for ws in formulas.worksheets:
        sheet = ours.sheets[ws.title]
        assert sheet.state == ws.sheet_state, ws.title
        assert sheet.protected == bool(ws.protection.sheet), ws.title
        assert sorted(sheet.merged) == sorted(str(r) for r in ws.merged_cells.ranges), ws.title
        theirs = {}
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None or type(cell).__name__ == "MergedCell":
                    continue
                theirs[cell.coordinate] = cell.value
        mine = {ref: c for ref, c in sheet.cells.items() if c.value is not None or c.formula is not None}
        assert set(theirs) <= set(mine), (ws.title, sorted(set(theirs) - set(mine))[:5])
        for ref, value in theirs.items():
            cell = mine[ref]
            if isinstance(value, str) and value.startswith("=") and cell.formula is not None:
                assert "=" + cell.formula == value, (ws.title, ref)
                assert _plain(cached[ws.title][ref].value) == cell.value, (ws.title, ref)
            else:
                assert cell.formula is None, (ws.title, ref)
                assert _plain(value) == cell.value, (ws.title, ref)
