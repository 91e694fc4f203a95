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


def test_parts_of_a_sheet_never_read_are_cut_without_touching_the_rest(tmp_path, monkeypatch):
    """The reader cuts data validations, conditional formats and extLst out of a sheet before parsing (half of
    the template's XML): cells that mention those words, markup in CDATA, prefixed elements and a longer tag
    that starts the same read exactly as with the whole sheet parsed."""
    import zipfile

    import pipeline.xlsxread as xlsxread

    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lt;dataValidations&gt; 不是元素</t></is></c>'
        '<c r="B1"><v>7</v></c></row></sheetData><sheetProtection sheet="1"/><mergeCells count="1">'
        '<mergeCell ref="C1:D1"/></mergeCells><conditionalFormatting sqref="A1"><cfRule type="expression" '
        'priority="1"><formula>A1&gt;0</formula></cfRule></conditionalFormatting><conditionalFormattingX/>'
        '<dataValidations count="1"><dataValidation sqref="B1"/></dataValidations>'
        '<x:extLst><x:ext uri="u"><dataValidations/></x:ext></x:extLst></x:worksheet>')
    cdata = sheet.replace("<c r=\"B1\"><v>7</v></c>",
                          '<c r="B1"><v>7</v></c><c r="E1" t="inlineStr"><is><t><![CDATA[<dataValidations>]]></t></is></c>')
    for i, text in enumerate((sheet, cdata)):
        path = tmp_path / f"cut{i}.xlsx"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
            z.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                       '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
            z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
                       '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                       'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
            z.writestr("xl/worksheets/sheet1.xml", text)
        cut = read_workbook(str(path)).sheets["S"]
        monkeypatch.setattr(xlsxread, "_cut_unread", lambda t: t)
        whole = read_workbook(str(path)).sheets["S"]
        monkeypatch.undo()
        assert cut == whole and cut.protected and cut.merged == ["C1:D1"]
        assert cut.value("A1") == "<dataValidations> 不是元素" and cut.value("B1") == 7
    assert cut.value("E1") == "<dataValidations>"
    assert xlsxread._cut_unread(sheet).count("dataValidations") == 1  # the cell's text only
