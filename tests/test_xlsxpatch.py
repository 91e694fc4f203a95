"""The package editor the feedback workbook is made with: what it changes, and that it changes nothing else."""

import io
import zipfile

import openpyxl

from pipeline.xlsxpatch import Package, cell_style, set_cell_styles


def _book(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "甲"
    ws["B2"] = 1
    ws["D2"] = "x"
    wb.create_sheet("乙")["A1"] = 2
    wb.create_sheet("丙")["A1"] = 3
    wb.defined_names["global_on_jia"] = openpyxl.workbook.defined_name.DefinedName("global_on_jia", attr_text="'甲'!$B$2")
    wb.defined_names["global_on_bing"] = openpyxl.workbook.defined_name.DefinedName("global_on_bing", attr_text="丙!$A$1")
    wb["乙"].defined_names["local_on_yi"] = openpyxl.workbook.defined_name.DefinedName("local_on_yi", attr_text="'乙'!$A$1")
    path = tmp_path / "b.xlsx"
    wb.save(path)
    return path.read_bytes()


def test_sheets_added_and_removed_keep_every_name_on_its_sheet(tmp_path):
    pkg = Package(_book(tmp_path))
    pkg.add_sheet("新", b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                       b'main"><sheetData><row r="1"><c r="A1"><v>9</v></c></row></sheetData></worksheet>', index=0)
    pkg.remove_sheet("丙")
    pkg.show_first()
    out = tmp_path / "out.xlsx"
    out.write_bytes(pkg.to_bytes())
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["新", "甲", "乙"] and wb["新"]["A1"].value == 9 and wb["甲"]["B2"].value == 1
    assert "global_on_jia" in wb.defined_names and "global_on_bing" not in wb.defined_names
    assert "local_on_yi" in wb["乙"].defined_names  # localSheetId moved from 1 to 2 with its sheet
    assert wb.active.title == "新"


def test_cells_restyled_and_added_in_order():
    sheet = (b'<worksheet><sheetData><row r="2"><c r="B2" s="3"><v>1</v></c><c r="D2"/></row>'
             b'<row r="5"/></sheetData></worksheet>')
    out = set_cell_styles(sheet, {"B2": 7, "C2": 8, "A1": 9, "E5": 4, "A9": 5})
    assert out == (b'<worksheet><sheetData><row r="1"><c r="A1" s="9"/></row><row r="2"><c r="B2" s="7"><v>1</v>'
                   b'</c><c r="C2" s="8"/><c r="D2"/></row><row r="5"><c r="E5" s="4"/></row><row r="9">'
                   b'<c r="A9" s="5"/></row></sheetData></worksheet>')
    assert [cell_style(out, r) for r in ("B2", "C2", "D2", "Z9")] == [7, 8, 0, 0]


def test_everything_not_edited_is_kept_byte_for_byte(tmp_path):
    data = _book(tmp_path)
    pkg = Package(data)
    part = pkg.sheet_part("甲")
    pkg.parts[part] = set_cell_styles(pkg.parts[part], {"B2": pkg.styles.with_fill(0, "FFFFC7CE")})
    pkg.set_comments(part, [("B2", "xxgk", "说明")])
    before = zipfile.ZipFile(io.BytesIO(data))
    after = zipfile.ZipFile(io.BytesIO(pkg.to_bytes()))
    changed = {n for n in before.namelist() if before.read(n) != after.read(n)}
    assert changed == {"[Content_Types].xml", "xl/styles.xml", part}
    wb = openpyxl.load_workbook(io.BytesIO(pkg.to_bytes()))
    assert wb["甲"]["B2"].comment.text == "说明" and wb["甲"]["B2"].fill.fgColor.rgb == "FFFFC7CE"


def test_the_calculation_chain_goes_with_its_relationship_and_content_type(tmp_path):
    """Excel saves xl/calcChain.xml; it names cells of sheets the editor may remove, so it goes, and with it
    everything that points at it (a relationship to a missing part makes Excel repair the file)."""
    data = _book(tmp_path)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace(b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org'
                                    b'/officeDocument/2006/relationships/calcChain" Target="calcChain.xml"/></Relationships>')
            if info.filename == "[Content_Types].xml":
                body = body.replace(b"</Types>", b'<Override PartName="/xl/calcChain.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/></Types>')
            zout.writestr(info, body)
        zout.writestr("xl/calcChain.xml", b'<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                      b'<c r="B2" i="3"/></calcChain>')
    out = zipfile.ZipFile(io.BytesIO(Package(buf.getvalue()).to_bytes()))
    assert "xl/calcChain.xml" not in out.namelist()
    assert b"calcChain" not in out.read("xl/_rels/workbook.xml.rels")
    assert b"calcChain" not in out.read("[Content_Types].xml")
    openpyxl.load_workbook(io.BytesIO(Package(buf.getvalue()).to_bytes()))


def test_the_comment_drawing_gets_its_content_type_in_a_package_without_defaults(tmp_path):
    """Content types given part by part (no <Default> at all): the vml Default still goes in, first in <Types>."""
    import re

    data = _book(tmp_path)
    pkg = Package(data)
    types = pkg.parts["[Content_Types].xml"]
    pkg.parts["[Content_Types].xml"] = re.sub(rb"<Default\b[^>]*/>", b"", types)
    pkg.set_comments(pkg.sheet_part("甲"), [("B2", "xxgk", "说明")])
    out = pkg.parts["[Content_Types].xml"]
    assert re.search(rb'<Types\b[^>]*><Default Extension="vml" ContentType="application/vnd.openxmlformats-'
                     rb'officedocument.vmlDrawing"/>', out)
