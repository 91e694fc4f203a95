"""A small, safe, one-pass reader of .xlsx/.xlsm files.

openpyxl gives either formulas or cached results per load, never both, and costs
about 20 ms per small workbook. The checker needs both (a total must still be the
template's formula *and* its stored result is compared with the recomputed one),
so this module reads the parts it needs straight from the zip: sheets and their
states, cells (value, formula, cached result), merged ranges, sheet protection,
workbook structure lock and defined names. Macros are never run (nothing here
executes anything); sizes are bounded, and XML with a document type declaration is
refused before parsing, so no entity can be defined, expanded or fetched (what
defusedxml guards against, at the speed of the C parser).
"""

from __future__ import annotations

import codecs
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO, Any, Collection, Iterator

import xml.etree.ElementTree as ET

from .xlexpr import col_index, col_letters

# Bounds against hostile files: a county's workbook is ~20 KB zipped, ~200 KB inflated. Counted on the
# decoded text (a part in UTF-16 holds half the characters of its bytes), per workbook.
MAX_INFLATED_BYTES = 64 * 1024 * 1024
MAX_PART_BYTES = 32 * 1024 * 1024
MAX_CELLS = 200_000
MAX_SHEETS = 256
MAX_MERGED_AREA = 2_000_000  # cells covered by merged ranges: openpyxl makes an object of each
MAX_SHARED_STRINGS = 200_000
MAX_STYLES = 20_000  # cell formats (Excel itself allows 64,000; the template has a few dozen)


# What a damaged zip raises: bad structure, bad deflate data, truncation, an encrypted member
# (RuntimeError), an unknown compression method or zip version (NotImplementedError).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError, NotImplementedError)


class WorkbookError(Exception):
    """The file is not a readable workbook. ``code`` is the finding code to report."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


class Cell:
    """A cell's value (the cached result for a formula cell) and formula (without the leading "=").

    A cell sharing another's formula gets its own text only when asked: a sheet of 150,000 cells sharing one
    long formula costs nothing until the checker looks at one of them (it looks only at the template's).
    """

    __slots__ = ("value", "_formula", "_shared")

    def __init__(self, value: Any = None, formula: str | None = None, shared: tuple[str, str, str] | None = None):
        self.value, self._formula, self._shared = value, formula, shared

    @property
    def formula(self) -> str | None:
        if self._shared is not None:
            # openpyxl's translator, imported only when a shared formula is read (rarely: not on the check path).
            from openpyxl.formula.translate import Translator

            anchor, master, ref = self._shared
            self._formula = Translator("=" + master, origin=anchor).translate_formula(ref)[1:]
            self._shared = None
        return self._formula

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cell) and (self.value, self.formula) == (other.value, other.formula)

    def __repr__(self) -> str:
        return f"Cell({self.value!r}, {self.formula!r})"


@dataclass
class Sheet:
    name: str
    state: str = "visible"  # visible / hidden / veryHidden
    cells: dict[str, Cell] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    protected: bool = False
    loaded: bool = True  # False: listed in the workbook, its cells not read (see read_workbook's skip)

    def value(self, ref: str) -> Any:
        cell = self.cells.get(ref)
        return cell.value if cell else None


@dataclass
class Workbook:
    sheets: dict[str, Sheet]
    names: dict[str, str]  # workbook-scoped defined names → reference text
    structure_locked: bool
    has_macros: bool

    def sheet(self, name: str) -> Sheet | None:
        return self.sheets.get(name)


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: str) -> str:
    """A tag's local name ("{namespace}c" → "c"); the few tags a workbook uses are remembered."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1]
        if len(_LOCAL_NAMES) < 4096:  # a hostile file's invented tags do not grow it without end
            _LOCAL_NAMES[tag] = name
    return name


def _attr(el, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (r:id lives in another one)."""
    for key, value in el.attrib.items():
        if _local(key) == name:
            return value
    return None


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        f = float(text)
        return int(f) if f.is_integer() and abs(f) < 2**53 else f


class _Zip:
    def __init__(self, source: str | IO[bytes]):
        try:
            self.zf = zipfile.ZipFile(source)
        except ZIP_ERRORS as exc:
            raise WorkbookError("file-corrupt", str(exc)) from exc
        infos = self.zf.infolist()
        names = [i.filename for i in infos]
        if len(names) != len(set(names)):
            # Two parts with one name: which one a program reads differs; refuse rather than guess.
            raise WorkbookError("file-corrupt", "duplicate zip entries")
        self.names = {i.filename for i in infos}
        self.sizes = {i.filename: i.file_size for i in infos}

    def check_inflated(self, unread: set[str]) -> None:
        """Refuse a package whose parts (but those never read, such as a rollup's per-office sheet) inflate
        past the limit: a zip bomb hidden in a part nobody parses still makes other programs suffer."""
        if sum(size for name, size in self.sizes.items() if name not in unread) > MAX_INFLATED_BYTES:
            raise WorkbookError("file-too-large", "inflated")

    def read(self, name: str) -> bytes | None:
        if name not in self.names:
            return None
        info = self.zf.getinfo(name)
        if info.file_size > MAX_PART_BYTES:
            raise WorkbookError("file-too-large", name)
        try:
            with self.zf.open(info) as fh:
                data = fh.read(MAX_PART_BYTES + 1)
        except ZIP_ERRORS as exc:
            # RuntimeError: an encrypted zip member; the rest: truncated or damaged data.
            raise WorkbookError("file-corrupt", f"{name}: {exc}") from exc
        if len(data) > MAX_PART_BYTES:
            raise WorkbookError("file-too-large", name)
        return data

    def xml(self, name: str):
        data = self.read(name)
        if data is None:
            return None
        return parse_xml(name, data)


_BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
         # No BOM: XML must start with "<" (or whitespace), which tells the width and the byte order.
         (b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00", "utf-16-le"),
         (b"\x00<", "utf-16-be")]
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def decode_xml(name: str, data: bytes) -> str:
    """An XML part as text, whatever its encoding (BOM, byte pattern or declaration), refusing DTDs.

    Everything after this counts and searches characters, not bytes: a part in UTF-16 cannot slip past a
    limit, and a document type declaration is found in every encoding.
    """
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        declared = _DECLARED.match(data[:200])
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError, ValueError) as exc:
        raise WorkbookError("file-corrupt", f"{name}: {exc}") from exc
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise WorkbookError("file-unsafe-xml", f"{name}: DTD")
    return _DECLARATION.sub("", text, count=1)  # now text: its declared encoding no longer applies


def parse_xml(name: str, data: bytes | str):
    """Parse one XML part with the C parser, after refusing DTDs (entity expansion, external entities)."""
    text = decode_xml(name, data) if isinstance(data, bytes) else data
    try:
        return ET.fromstring(text)
    except (ET.ParseError, LookupError, ValueError) as exc:
        raise WorkbookError("file-corrupt", f"{name}: {exc}") from exc


_CELL_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_XF_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?xf[\s/>]")
_SI_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")


def count_styles(z: "_Zip") -> None:
    """Refuse a workbook with more cell formats than any real one (openpyxl would build each)."""
    data = z.read("xl/styles.xml")
    if data is not None and len(_XF_TAG.findall(decode_xml("xl/styles.xml", data))) > MAX_STYLES:
        raise WorkbookError("file-too-complex", "单元格格式过多")


def merged_area(refs: list[str]) -> int:
    """How many cells merged ranges cover."""
    total = 0
    for ref in refs:
        first, _, last = ref.partition(":")
        c1, r1 = _split(first)
        c2, r2 = _split(last or first)
        total += (abs(c2 - c1) + 1) * (abs(r2 - r1) + 1)
    return total


@lru_cache(maxsize=16384)  # the template's merged ranges, in every workbook
def _split(ref: str) -> tuple[int, int]:
    letters = ref.rstrip("0123456789$").replace("$", "").upper()
    digits = ref[len(ref.rstrip("0123456789")):]
    return (col_index(letters) if letters.isalpha() else 0), (int(digits) if digits else 0)


def _shared_strings(z: _Zip, target: str | None) -> list[str]:
    data = z.read(target) if target else None
    if data is None:
        return []
    text = decode_xml(target, data)
    if len(_SI_TAG.findall(text)) > MAX_SHARED_STRINGS:
        raise WorkbookError("file-too-complex", "文字条目过多")
    root = parse_xml(target, text)
    out = []
    plain = root.tag[:-len("sst")] + "t"  # <si><t>text</t></si>, as most strings are
    for si in root:
        if _local(si.tag) != "si":
            continue
        if len(si) == 1 and si[0].tag == plain:
            out.append(si[0].text or "")
            continue
        # Rich text: concatenate runs; skip phonetic (rPh) guides.
        out.append("".join(t.text or "" for t in si.iter() if _local(t.tag) == "t" and not _in_rph(si, t)))
    return out


def _in_rph(si, target) -> bool:
    for rph in si:
        if _local(rph.tag) == "rPh" and any(t is target for t in rph.iter()):
            return True
    return False


def rels_part(part: str) -> str:
    """The part holding a part's relationships: xl/workbook.xml → xl/_rels/workbook.xml.rels."""
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def resolve_target(part: str, target: str) -> str:
    """A relationship's target as a part name: absolute from the package root, else relative to ``part``."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(part), target))


def _rels(z: _Zip, part: str) -> dict[str, str]:
    root = z.xml(rels_part(part))
    out: dict[str, str] = {}
    if root is None:
        return out
    for rel in root:
        target = rel.get("Target") or ""
        if rel.get("TargetMode") == "External":
            continue
        out[rel.get("Id") or ""] = resolve_target(part, target)
    return out


# Parts of a worksheet no reader here looks at, cut before parsing: the template's data validations and
# conditional formats are half of each sheet's XML.
_UNREAD = ("dataValidations", "conditionalFormatting", "extLst")
_UNREAD_PREFIXED = re.compile(r"<([A-Za-z_][\w.-]*:(?:dataValidations|conditionalFormatting|extLst))\b[^>]*?"
                              r"(?:/>|>.*?</\1>)", re.S)


def _cut_unread(text: str) -> str:
    """The sheet's XML without those elements (also prefixed); an element left unclosed stays for the parser."""
    if "<![CDATA[" in text or "<!--" in text:
        return text  # markup inside text or comments: only the parser can tell where elements are
    spans = []
    for name in _UNREAD:
        i = text.find("<" + name)
        while i >= 0:
            j = i + 1 + len(name)
            if text[j:j + 1] not in (" ", ">", "/", "\t", "\n", "\r"):
                i = text.find("<" + name, j)  # a longer name that starts the same
                continue
            close = text.find(">", j)
            end = close + 1 if close > 0 and text[close - 1] == "/" else text.find("</" + name + ">", close)
            if close < 0 or end < 0:
                break
            end = end if text[close - 1] == "/" else end + len(name) + 3
            spans.append((i, end))
            i = text.find("<" + name, end)
    if spans:
        pieces, at = [], 0
        for start, end in sorted(spans):
            if start >= at:  # one inside another (in extLst) is cut with it
                pieces.append(text[at:start])
                at = end
        text = "".join(pieces) + text[at:]
    if any(":" + name in text for name in _UNREAD):
        text = _UNREAD_PREFIXED.sub("", text)
    return text


def _read_sheet(z: _Zip, part: str, sheet: Sheet, strings: list[str], budget: list[int]) -> None:
    data = z.read(part)
    if data is None:
        raise WorkbookError("file-corrupt", f"missing {part}")
    # Count cells before building the tree: a sheet claiming a million rows is refused cheaply.
    # The limit is per sheet: a rollup's national tables are read whatever the size of its other sheets.
    text = decode_xml(part, data)
    if len(_CELL_TAG.findall(text)) > MAX_CELLS:
        raise WorkbookError("file-too-many-cells")
    root = parse_xml(part, _cut_unread(text))
    shared: dict[str, tuple[str, str]] = {}  # si -> (anchor cell, formula)
    for child in root:
        tag = _local(child.tag)
        if tag == "sheetData":
            row_num = 0
            cells = sheet.cells
            ns = child.tag[:-len("sheetData")]
            tag_c, tags = ns + "c", {ns + "v": "v", ns + "f": "f", ns + "is": "is"}
            for row in child:
                # r= is optional in the file format: positions then follow from order.
                row_num = int(row.get("r") or row_num + 1)
                col_num, before = 0, None  # the column of the last cell, or the reference it is read from
                for c in row:
                    if c.tag != tag_c and _local(c.tag) != "c":
                        continue
                    ref = c.get("r")
                    if ref:
                        before = ref
                    else:
                        col_num = (_ref_col(before) if before else col_num) + 1
                        before, ref = None, f"{col_letters(col_num)}{row_num}"
                    cells[ref] = _read_cell(c, ref, strings, shared, tags) if len(c) or "t" in c.attrib else Cell()
        elif tag == "sheetProtection":
            sheet.protected = child.get("sheet") in ("1", "true")
        elif tag == "mergeCells":
            sheet.merged = [m.get("ref") for m in child if m.get("ref")]
            budget[1] -= merged_area(sheet.merged)
            if budget[1] < 0:
                raise WorkbookError("file-too-complex", "合并单元格过大")


def _ref_col(ref: str) -> int:
    letters = ref.rstrip("0123456789$").lstrip("$").upper()
    return col_index(letters) if letters.isalpha() else 0


def _read_cell(c, ref: str, strings: list[str], shared: dict[str, tuple[str, str]],
               tags: dict[str, str] | None = None) -> Cell:
    t = c.get("t", "n")
    formula = None
    lazy = None
    raw = None
    inline = None
    for part in c:
        tag = (tags and tags.get(part.tag)) or _local(part.tag)
        if tag == "v":
            raw = part.text
        elif tag == "f":
            text = part.text or ""
            if part.get("t") == "shared":
                si = part.get("si") or ""
                if text:
                    shared[si] = (ref, text)
                elif si in shared:
                    anchor, master = shared[si]
                    lazy = (anchor, master, ref)
            formula = text
        elif tag == "is":
            inline = "".join(x.text or "" for x in part.iter() if _local(x.tag) == "t")
    value: Any = None
    if t == "s" and raw is not None:
        try:
            value = strings[int(raw)]
        except (ValueError, IndexError):
            value = None
    elif t == "inlineStr":
        value = inline
    elif t in ("str", "e"):
        value = raw
    elif t == "b":
        value = raw == "1"
    elif raw is not None:
        try:
            value = _number(raw)
        except ValueError:
            value = raw
    return Cell(value, formula, lazy)


def read_workbook(source: str | IO[bytes], skip: Collection[str] = (), only: Collection[str] | None = None) -> Workbook:
    """Read a workbook's sheets, cells, formulas, protection and defined names in one pass.

    :param skip: sheets listed but not read (``loaded`` False): a rollup's per-office sheets, which can be
        far larger than the national tables a reader needs.
    :param only: read just these sheets.
    :raises WorkbookError: with a finding code when the file cannot be read.
    """
    z = _Zip(source)
    try:
        wb_part = "xl/workbook.xml"
        # The workbook part is named by the package relationships; fall back to the usual name.
        root_rels = z.xml("_rels/.rels")
        if root_rels is not None:
            for rel in root_rels:
                if (rel.get("Type") or "").endswith("/officeDocument"):
                    wb_part = (rel.get("Target") or wb_part).lstrip("/")
        root = z.xml(wb_part)
        if root is None:
            raise WorkbookError("file-not-workbook")
        rels = _rels(z, wb_part)
        strings_part = next((p for p in rels.values() if p.endswith("sharedStrings.xml")), None)
        strings = _shared_strings(z, strings_part)
        sheets: dict[str, Sheet] = {}
        names: dict[str, str] = {}
        structure_locked = False
        count_styles(z)
        budget = [MAX_CELLS, MAX_MERGED_AREA]
        order: list[tuple[Sheet, str]] = []
        unread: set[str] = set()
        for child in root:
            tag = _local(child.tag)
            if tag == "workbookProtection":
                structure_locked = child.get("lockStructure") in ("1", "true")
            elif tag == "sheets":
                for s in child:
                    if len(order) >= MAX_SHEETS:
                        raise WorkbookError("file-too-many-sheets")
                    target = rels.get(_attr(s, "id") or "")
                    sheet = Sheet(name=s.get("name") or "", state=s.get("state") or "visible")
                    if sheet.name in skip or (only is not None and sheet.name not in only):
                        sheet.loaded = False
                        unread.add(target or "")
                    elif target and target in z.names:
                        order.append((sheet, target))
                    sheets[sheet.name] = sheet
            elif tag == "definedNames":
                for dn in child:
                    if dn.get("localSheetId") is None and dn.get("name"):
                        names[dn.get("name")] = (dn.text or "").strip()
        z.check_inflated(unread)
        for sheet, target in order:
            _read_sheet(z, target, sheet, strings, budget)
        return Workbook(sheets, names, structure_locked, has_macros="xl/vbaProject.bin" in z.names)
    finally:
        z.zf.close()


def iter_rows(source: str | IO[bytes], sheet_name: str, max_col: int | None = None
              ) -> Iterator[tuple[int, dict[int, Any]]]:
    """The values of one sheet, row by row (row number, {column number: value}), streamed from the package.

    For sheets too large to hold as cells, such as a province rollup's per-office sheet: memory stays
    at one row, and only columns up to ``max_col`` are decoded. DTDs are refused (defusedxml).
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    z = _Zip(source)
    try:
        rels = _rels(z, "xl/workbook.xml")
        part = _sheet_targets(z, rels).get(sheet_name)
        if not part or part not in z.names:
            return
        strings = _shared_strings(z, next((p for p in rels.values() if p.endswith("sharedStrings.xml")), None))
        shared: dict[str, tuple[str, str]] = {}
        try:
            with z.zf.open(part) as fh:
                row_num = 0
                for _, el in iterparse(fh, events=("end",), forbid_dtd=True):
                    if _local(el.tag) != "row":
                        continue
                    row_num = int(el.get("r") or row_num + 1)
                    values: dict[int, Any] = {}
                    col = 0
                    for c in el:
                        ref = c.get("r")
                        col = _ref_col(ref) if ref else col + 1
                        if max_col is None or col <= max_col:
                            values[col] = _read_cell(c, ref or f"{col_letters(col)}{row_num}", strings, shared).value
                    el.clear()
                    yield row_num, values
        except DefusedXmlException as exc:
            raise WorkbookError("file-unsafe-xml", f"{part}: DTD") from exc
        except (ET.ParseError, *ZIP_ERRORS) as exc:
            raise WorkbookError("file-corrupt", f"{part}: {exc}") from exc
    finally:
        z.zf.close()


def _sheet_targets(z: _Zip, rels: dict[str, str]) -> dict[str, str]:
    root = z.xml("xl/workbook.xml")
    out: dict[str, str] = {}
    for child in root if root is not None else []:
        if _local(child.tag) == "sheets":
            for s in child:
                out[s.get("name") or ""] = rels.get(_attr(s, "id") or "", "")
    return out


def sheet_parts(source: str | IO[bytes]) -> dict[str, str]:
    """Sheet name → its worksheet part name in the package."""
    z = _Zip(source)
    try:
        return _sheet_targets(z, _rels(z, "xl/workbook.xml"))
    finally:
        z.zf.close()
