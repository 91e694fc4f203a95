"""The hostile corpus: workbooks and files built to break a reader, each with the outcome it must get.

Run ``python tests/corpus/make_corpus.py DIR`` to write the files; the tests call
:func:`build` into a temporary folder. Nothing here is a hand-saved binary.

Each case: file name → (expected status, finding codes that must be present).
"""

from __future__ import annotations

import io
import random
import re
import sys
import zipfile
from pathlib import Path

import openpyxl

from pipeline import Filling, get_spec, write_workbook
from pipeline.fill import consistent_prose, consistent_values

OFFICE = {"name": "语料测试局", "kind": "县直部门", "code": "C001", "year": 2025, "filler": "x", "phone": "1",
          "date": "2026-01-01"}


def _base(tmp: Path, **overrides) -> bytes:
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(5), office_kind="县直部门")
    values.update(overrides.pop("values", {}))
    prose = {**consistent_prose(spec, values, 2025), **overrides.pop("prose", {})}
    filling = Filling(office={**OFFICE, **overrides.pop("office", {})}, values=values, prose=prose)
    return write_workbook(spec, tmp / "base.xlsx", filling).read_bytes()


def _rezip(data: bytes, change, extra: dict[str, bytes] | None = None, duplicate: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))
        for name, part in (extra or {}).items():
            zout.writestr(name, part)
        if duplicate:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zipfile warns about the duplicate: that is the point
                zout.writestr(duplicate, b"<other/>")
    return out.getvalue()


def _doctype(xml: bytes, dtd: str) -> bytes:
    """Put a DOCTYPE right after the XML declaration (or at the start)."""
    m = re.match(rb"<\?xml[^>]*\?>", xml)
    at = m.end() if m else 0
    return xml[:at] + dtd.encode() + xml[at:]


LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
          '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>')
XXE = '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
# Parts the reader must parse (its refusal is the outcome); others it never reads.
PARSED = re.compile(r"^(xl/workbook\.xml|xl/sharedStrings\.xml|xl/styles\.xml|xl/worksheets/sheet\d+\.xml"
                    r"|_rels/\.rels|xl/_rels/workbook\.xml\.rels)$")


def build(outdir: str | Path) -> dict[str, tuple[str, list[str]]]:
    """Write every case into ``outdir``; return file name → (status, codes that must be found)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    tmp = outdir / "_tmp"
    tmp.mkdir(exist_ok=True)
    base = _base(tmp)
    cases: dict[str, tuple[str, list[str]]] = {}

    def put(name: str, data: bytes, status: str, codes: list[str]) -> None:
        (outdir / name).write_bytes(data)
        cases[name] = (status, codes)

    put("valid.xlsx", base, "ok", [])
    # A zip bomb: a few hundred KB that inflate to 100 MB.
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        with zout.open("xl/media/padding.bin", "w") as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(100):
                fh.write(chunk)
    put("zip_bomb.xlsx", bomb.getvalue(), "unreadable", ["file-too-large"])
    # Entity expansion and external entities, in every XML part.
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        xml_parts = [n for n in z.namelist() if n.endswith((".xml", ".rels"))]
    put("billion_laughs.xlsx", _rezip(base, lambda n, d: _doctype(d, LAUGHS) if n == "xl/workbook.xml" else d),
        "unreadable", ["file-unsafe-xml"])
    for i, part in enumerate(xml_parts):
        data = _rezip(base, lambda n, d, part=part: _doctype(d, XXE) if n == part else d)
        if PARSED.match(part):
            put(f"xxe_{i:02d}.xlsx", data, "unreadable", ["file-unsafe-xml"])
        else:
            put(f"xxe_{i:02d}.xlsx", data, "ok", [])  # never parsed by the reader; annotate must survive it
    # A sheet that claims a million rows, and one that has too many cells.
    put("claims_million_rows.xlsx",
        _rezip(base, lambda n, d: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', d)
               if n.startswith("xl/worksheets/") else d), "ok", [])
    cells = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (r, r) for r in range(1, 300_001))
    sheet = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             b'spreadsheetml/2006/main"><sheetData>' + cells + b"</sheetData></worksheet>")
    put("too_many_cells.xlsx", _rezip(base, lambda n, d: sheet if n == "xl/worksheets/sheet7.xml" else d),
        "unreadable", ["file-too-many-cells"])
    put("many_sheets.xlsx", _many_sheets(3000), "unreadable", ["file-too-many-sheets"])
    put("encrypted.xlsx", _encrypted(base), "unreadable", ["file-encrypted"])
    put("macros.xlsm", _rezip(base, lambda n, d: d, extra={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 fake vba"}),
        "warnings", ["file-macros"])
    put("csv_renamed.xlsx", "单位,数量\n某局,3\n".encode("gbk"), "unreadable", ["file-not-workbook"])
    put("pdf_renamed.xlsx", b"%PDF-1.7\n1 0 obj <<>> endobj\n", "unreadable", ["file-not-workbook"])
    put("zero_bytes.xlsx", b"", "unreadable", ["file-empty"])
    put("truncated.xlsx", base[: len(base) * 2 // 3], "unreadable", ["file-corrupt"])
    put("duplicate_entries.xlsx", _rezip(base, lambda n, d: d, duplicate="xl/workbook.xml"), "unreadable", ["file-corrupt"])
    other = io.BytesIO()
    wb = openpyxl.Workbook()
    wb.active.append(["项目", "金额"])
    wb.active.append(["办公费", 1200])
    wb.save(other)
    put("other_template.xlsx", other.getvalue(), "unreadable", ["file-unknown-template"])
    put("moved_tables.xlsx", _moved(tmp, base), "errors", ["structure-unprotected"])
    inject = "=cmd|' /C calc'!A0"
    put("injection.xlsx", _base(tmp, office={"name": inject, "filler": "+1", "phone": "-1", "date": "@SUM(A1)"},
                                prose={"s1": "=HYPERLINK(\"http://x\")", "s5": "+1+1", "s6": "@x"},
                                values={"t4.review.upheld": inject}), "errors", ["value-not-number"])
    # Excel and XlsxWriter stop at 32,767 characters a cell; other programs write more.
    marked = _base(tmp, prose={"s1": "LONG_PROSE_MARKER"})
    put("long_prose.xlsx", _rezip(marked, lambda n, d: d.replace(b"LONG_PROSE_MARKER", ("政务公开" * 25_000).encode())
                                  if n == "xl/sharedStrings.xml" else d), "warnings", ["text-too-long"])
    put("control_chars.xlsx", _base(tmp, prose={"s1": "控制\x07字符\x1b和\x00空字符" * 6}, office={"name": "局\x08名"}),
        "ok", [])
    put("surrogate.xlsx", _rezip(base, lambda n, d: d.replace(b"<t>", b"<t>&#xD800;", 1) if n == "xl/sharedStrings.xml" else d),
        "unreadable", ["file-corrupt"])
    put("odd_numbers.xlsx", _base(tmp, values={"t4.review.upheld": 1e308, "t4.review.corrected": -0.0,
                                               "t4.review.other": 1.5, "t4.direct.upheld": "NaN",
                                               "t4.direct.corrected": "inf", "t4.direct.other": "1e3"}),
        "errors", ["value-too-large", "value-not-integer", "value-not-number"])
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return cases


def _many_sheets(n: int) -> bytes:
    out = io.BytesIO()
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ' \
         'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        sheets = "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId{i}"/>' for i in range(1, n + 1))
        z.writestr("xl/workbook.xml", f"<workbook {ns}><sheets>{sheets}</sheets></workbook>")
        rels = "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                       f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
        z.writestr("xl/_rels/workbook.xml.rels",
                   f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>')
        for i in range(1, n + 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", f"<worksheet {ns}><sheetData/></worksheet>")
    return out.getvalue()


def _encrypted(base: bytes) -> bytes:
    """A real password-protected workbook (ECMA-376 agile encryption), as Excel writes one."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(base)).encrypt("密码123", out)
    return out.getvalue()


def _moved(tmp: Path, base: bytes) -> bytes:
    """The clerk unprotected 表三 and inserted rows in a program that did not move the names."""
    path = tmp / "moved.xlsx"
    path.write_bytes(base)
    wb = openpyxl.load_workbook(path)
    ws = wb[get_spec("2021").sheet_name("t3")]
    ws.protection.sheet = False
    ws.insert_rows(7, 3)
    wb.save(path)
    return path.read_bytes()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus-out")
    for name, (status, codes) in build(target).items():
        print(f"{name:<28} {status:<11} {' '.join(codes)}")
