"""Rewrite parts of an .xlsx package: for what the writing libraries have no API for."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Collection
from xml.sax.saxutils import escape, unescape

from .xlexpr import col_index, is_number
from .xlsxread import ZIP_ERRORS, rels_part, resolve_target


def rewrite_parts(src: Path, dst: Path, transform: Callable[[str, bytes], Any]) -> None:
    """Copy the package ``src`` to ``dst``, passing each part through ``transform(name, data)``.

    A transform returns the part's bytes, or an iterator of byte chunks that is streamed into the package.
    """
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            out = transform(info.filename, zin.read(info.filename))
            if isinstance(out, (bytes, bytearray)):
                zout.writestr(info, out)
                continue
            target = zipfile.ZipInfo(info.filename, info.date_time)
            target.compress_type = zipfile.ZIP_DEFLATED
            with zout.open(target, "w", force_zip64=True) as fh:
                for chunk in out:
                    fh.write(chunk)


def lock_structure(name: str, data: bytes) -> bytes:
    """Add <workbookProtection lockStructure="1"/> to xl/workbook.xml (XlsxWriter has no API for it)."""
    if name != "xl/workbook.xml":
        return data
    text, n = re.subn(r"(<workbookPr\b[^>]*/>)", r'\1<workbookProtection lockStructure="1"/>', data.decode("utf-8"), count=1)
    if n != 1:
        raise RuntimeError("xl/workbook.xml has no workbookPr element")
    return text.encode("utf-8")


_FORMULA_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"([^>]*)><f>(.*?)</f>(?:<v\s*/>|<v>[^<]*</v>)?</c>', re.S)


def fill_cached_values(sheet_values: dict[str, dict[str, Any]], sheet_parts: dict[str, str]) -> Callable[[str, bytes], bytes]:
    """A transform that stores results in formula cells: a package saved by a program that does not calculate
    (openpyxl, scripts) has none, and previewers show what is stored.

    :param sheet_values: sheet name → {cell: value} for the formula cells to fill.
    :param sheet_parts: sheet name → its part name in the package.
    """
    by_part = {sheet_parts[s]: v for s, v in sheet_values.items() if s in sheet_parts}

    def transform(name: str, data: bytes) -> bytes:
        values = by_part.get(name)
        if not values:
            return data

        def repl(m: re.Match) -> bytes:
            ref = m.group(1).decode()
            if ref not in values:
                return m.group(0)
            value = values[ref]
            attrs = re.sub(rb'\s+t="[^"]*"', b"", m.group(2))
            if isinstance(value, bool):
                return b'<c r="%s"%s t="b"><f>%s</f><v>%d</v></c>' % (m.group(1), attrs, m.group(3), int(value))
            if is_number(value):
                return b'<c r="%s"%s><f>%s</f><v>%s</v></c>' % (m.group(1), attrs, m.group(3), repr(value).encode())
            text = escape(str(value)).encode("utf-8")
            return b'<c r="%s"%s t="str"><f>%s</f><v>%s</v></c>' % (m.group(1), attrs, m.group(3), text)

        return _FORMULA_CELL.sub(repl, data)

    return transform


# --- Editing a package in place ---------------------------------------------------------------------
#
# The feedback workbook is the office's own package with a sheet added, some cells restyled and comments
# attached. openpyxl would rebuild every part from its object model (about 80 ms a workbook, most of
# receive's time at province scale); editing only the parts that change keeps everything else byte for
# byte, and costs a few milliseconds. Parts that Excel marks up with mc:Ignorable (workbook, styles,
# sheets) are edited as text, never re-serialised, so that their namespace prefixes stay as they were.

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL_TYPE = NS_REL
_CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
_CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
_P = rb"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix


class PatchError(Exception):
    """The package is laid out in a way the editor does not handle (the caller falls back)."""


def _attrs(tag: bytes) -> dict[str, str]:
    """The attributes of one start tag, by local name (XML entities are left as written)."""
    return {k.decode().rsplit(":", 1)[-1]: v.decode("utf-8")
            for k, v in re.findall(rb'([A-Za-z_][\w.:-]*)\s*=\s*"([^"]*)"', tag)}


def _set_attr(tag: bytes, name: str, value: str | None) -> bytes:
    """The start tag with attribute ``name`` set to ``value`` (or removed when None)."""
    pattern = re.compile(rb'\s' + name.encode() + rb'\s*=\s*"[^"]*"')
    tag = pattern.sub(b"", tag)
    if value is None:
        return tag
    end = len(tag) - (2 if tag.endswith(b"/>") else 1)
    return tag[:end] + b' %s="%s"' % (name.encode(), escape(value, {'"': "&quot;"}).encode("utf-8")) + tag[end:]


def _unescape(text: str) -> str:
    return unescape(text, {"&quot;": '"', "&apos;": "'"})


def _relative(base: str, part: str) -> str:
    return posixpath.relpath(part, posixpath.dirname(base))


_MINIMAL = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_REL_TYPE}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><bookViews><workbookView/></bookViews>'
        '<sheets></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_REL_TYPE}/styles" Target="styles.xml"/></Relationships>'),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{NS_MAIN}"><fonts count="1"><font><sz val="11"/><name val="宋体"/><family val="3"/>'
        '<charset val="134"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/>'
        '<bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
        'borderId="0"/></cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" '
        'xfId="0"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '</styleSheet>'),
}


class Styles:
    """The cell formats of xl/styles.xml, extended with new fonts, fills and formats as text."""

    def __init__(self, data: bytes):
        self.data = data
        self._lists: dict[str, list[bytes]] = {}
        for name in ("fonts", "fills", "cellXfs"):
            self._lists[name] = self._items(name)
        self._added: dict[str, list[bytes]] = {"fonts": [], "fills": [], "cellXfs": []}
        self._memo: dict[Any, int] = {}

    def _block(self, name: str, data: bytes | None = None) -> re.Match | None:
        return re.search(rb"<" + _P + name.encode() + rb"\b[^>]*?(?:/>|>.*?</" + _P + name.encode() + rb">)",
                         self.data if data is None else data, re.S)

    def _items(self, name: str) -> list[bytes]:
        item = {"fonts": b"font", "fills": b"fill", "cellXfs": b"xf"}[name]
        block = self._block(name)
        items = re.findall(rb"<" + _P + item + rb"\b[^>]*?(?:/>|>.*?</" + _P + item + rb">)",
                           block.group(0), re.S) if block is not None else []
        if not items or re.match(rb"<\w+:", block.group(0)):
            raise PatchError(f"styles.xml: {name} missing, empty or prefixed")
        return items

    def _add(self, name: str, xml: bytes) -> int:
        key = (name, xml)
        if key not in self._memo:
            self._added[name].append(xml)
            self._memo[key] = len(self._lists[name]) + len(self._added[name]) - 1
        return self._memo[key]

    def fill_of(self, xf: int) -> tuple[str | None, str | None]:
        """(pattern type, fgColor rgb) of a format's fill; (None, None) for no fill."""
        items = self._lists["cellXfs"] + self._added["cellXfs"]
        fill_id = int(_attrs(re.match(rb"<[^>]*>", items[xf]).group(0)).get("fillId", 0)) if xf < len(items) else 0
        fills = self._lists["fills"] + self._added["fills"]
        if fill_id >= len(fills):
            return None, None
        pattern = re.search(rb'patternType="([^"]*)"', fills[fill_id])
        rgb = re.search(rb'<' + _P + rb'fgColor\b[^>]*\brgb="([^"]*)"', fills[fill_id])
        kind = pattern.group(1).decode() if pattern else None
        return (None if kind in (None, "none") else kind), (rgb.group(1).decode() if rgb else None)

    def with_colors(self, rgbs: Collection[str]) -> set[int]:
        """The formats whose fill has one of these colours (last six hex digits)."""
        fills = {i for i, fill in enumerate(self._lists["fills"])
                 if any(rgb.encode() in fill for rgb in rgbs)}
        if not fills:
            return set()
        return {i for i, xf in enumerate(self._lists["cellXfs"])
                if int(_attrs(re.match(rb"<[^>]*>", xf).group(0)).get("fillId") or 0) in fills}

    def solid_fill(self, rgb: str | None, kind: str | None = "solid") -> int:
        """The index of a fill (a new one unless added before); 0, no fill, for ``kind`` None."""
        if kind is None:
            return 0
        color = f'<fgColor rgb="{escape(rgb, {chr(34): "&quot;"})}"/><bgColor indexed="64"/>' if rgb else ""
        return self._add("fills", f'<fill><patternFill patternType="{escape(kind)}">{color}</patternFill></fill>'
                         .encode("utf-8"))

    def with_fill(self, xf: int, rgb: str | None, kind: str | None = "solid") -> int:
        """A format like ``xf`` but with the given fill (memoised)."""
        items = self._lists["cellXfs"]
        base = items[xf] if 0 <= xf < len(items) else items[0]
        start = re.match(rb"<[^>]*?/?>", base).group(0)
        fill = self.solid_fill(rgb, kind)
        tag = _set_attr(_set_attr(start, "fillId", str(fill)), "applyFill", "1")
        return self._add("cellXfs", tag + base[len(start):])

    def format(self, *, bold: bool = False, size: float | None = None, color: str | None = None,
               underline: bool = False, fill: str | None = None, wrap: bool = False, vertical: str | None = None) -> int:
        """A new cell format on the workbook's default font (memoised)."""
        font = self._lists["fonts"][0]
        start = re.match(rb"<[^>]*?/?>", font).group(0)
        inner = font[len(start):].rsplit(b"</", 1)[0] if not start.endswith(b"/>") else b""
        if size is not None:
            inner = re.sub(rb"<" + _P + rb"sz\b[^>]*/>", b"", inner) + b'<sz val="%g"/>' % size
        if color is not None:
            inner = re.sub(rb"<" + _P + rb"color\b[^>]*/>", b"", inner) + f'<color rgb="{color}"/>'.encode()
        extra = (b"<b/>" if bold else b"") + (b"<u/>" if underline else b"")
        font_id = self._add("fonts", b"<font>" + extra + inner + b"</font>") if (bold or size or color or underline) else 0
        fill_id = self.solid_fill(fill) if fill else 0
        align = ""
        if wrap or vertical:
            align = "<alignment" + (f' vertical="{vertical}"' if vertical else "") + (' wrapText="1"' if wrap else "") + "/>"
        xml = (f'<xf numFmtId="0" fontId="{font_id}" fillId="{fill_id}" borderId="0" xfId="0"'
               + (' applyFont="1"' if font_id else "") + (' applyFill="1"' if fill_id else "")
               + (' applyAlignment="1">' + align + "</xf>" if align else "/>"))
        return self._add("cellXfs", xml.encode())

    def to_bytes(self) -> bytes:
        data = self.data
        for name in ("fonts", "fills", "cellXfs"):
            if not self._added[name]:
                continue
            block = self._block(name, data)
            text = block.group(0)
            count = len(self._lists[name]) + len(self._added[name])
            start = re.match(rb"<[^>]*>", text).group(0)
            new_start = _set_attr(start, "count", str(count))
            body = text[len(start):]
            at = body.rfind(b"</")
            body = body[:at] + b"".join(self._added[name]) + body[at:]
            data = data[:block.start()] + new_start + body + data[block.end():]
        return data


_CELL_START = re.compile(rb"<(" + _P + rb")c\b([^>]*?)(/?)>")
_ROW_START = re.compile(rb"<(" + _P + rb")row\b([^>]*?)(/?)>")


def _cell_tag(ref: str) -> re.Pattern:
    return re.compile(rb"<" + _P + rb"c\s(?:[^>]*?\s)?r=\"" + ref.encode("ascii") + rb"\"[^>]*>")


def cell_style(sheet: bytes, ref: str) -> int:
    """A cell's format index (``s``, default 0) in a worksheet part; 0 for a cell not written."""
    m = _cell_tag(ref).search(sheet)
    s = re.search(rb'\ss="(\d+)"', m.group(0)) if m is not None else None
    return int(s.group(1)) if s else 0


def set_cell_styles(sheet: bytes, styles: dict[str, int]) -> bytes:
    """The worksheet with the given cells' formats set; cells not in the part are added, empty."""
    todo = {}
    for ref, style in styles.items():
        m = _cell_tag(ref).search(sheet)
        if m is None:
            todo[ref] = style
        else:
            sheet = sheet[:m.start()] + _set_attr(m.group(0), "s", str(style)) + sheet[m.end():]
    if todo and re.search(rb"<" + _P + rb"c(?![^>]*\sr=)[\s>/]", sheet):
        raise PatchError("cells without a reference: a new cell's place is unknown")
    for ref, s in sorted(todo.items(), key=lambda kv: _ref_key(kv[0])):
        sheet = _insert_cell(sheet, ref, s)
    return sheet


def _ref_key(ref: str) -> tuple[int, int]:
    letters = ref.rstrip("0123456789")
    return int(ref[len(letters):]), col_index(letters)


def _insert_cell(sheet: bytes, ref: str, s: int) -> bytes:
    row, col = _ref_key(ref)
    data = re.search(rb"<(" + _P + rb")sheetData\b[^>]*?(/?)>", sheet)
    if data is None:
        raise PatchError("no sheetData")
    prefix = data.group(1)
    cell = b'<%sc r="%s" s="%d"/>' % (prefix, ref.encode(), s)
    if data.group(2):  # <sheetData/>
        body = b"<%srow r=\"%d\">%s</%srow>" % (prefix, row, cell, prefix)
        return sheet[:data.start()] + b"<%ssheetData>%s</%ssheetData>" % (prefix, body, prefix) + sheet[data.end():]
    end = sheet.find(b"</" + prefix + b"sheetData>", data.end())
    for m in _ROW_START.finditer(sheet, data.end(), end):
        r = int(_attrs(m.group(2)).get("r") or 0)
        if r < row:
            continue
        if r > row:
            new = b'<%srow r="%d">%s</%srow>' % (prefix, row, cell, prefix)
            return sheet[:m.start()] + new + sheet[m.start():]
        if m.group(3):  # <row .../>: empty
            return sheet[:m.start()] + m.group(0)[:-2] + b">" + cell + b"</" + m.group(1) + b"row>" + sheet[m.end():]
        close = sheet.find(b"</" + m.group(1) + b"row>", m.end())
        for c in _CELL_START.finditer(sheet, m.end(), close):
            if _ref_key(_attrs(c.group(2))["r"])[1] > col:
                return sheet[:c.start()] + cell + sheet[c.start():]
        return sheet[:close] + cell + sheet[close:]
    return sheet[:end] + b'<%srow r="%d">%s</%srow>' % (prefix, row, cell, prefix) + sheet[end:]


def _vml(comments: list[tuple[str, int]]) -> bytes:
    """The legacy drawing Excel needs to show comments (one hidden note box per commented cell)."""
    shapes = []
    for i, (ref, lines) in enumerate(comments, start=1025):
        row, col = _ref_key(ref)
        shapes.append(
            f'<v:shape id="_x0000_s{i}" type="#_x0000_t202" style="position:absolute;margin-left:59.25pt;'
            f'margin-top:1.5pt;width:320px;height:{40 + 40 * lines}px;z-index:1;visibility:hidden" fillcolor="#ffffe1" '
            'o:insetmode="auto"><v:fill color2="#ffffe1"/><v:shadow color="black" obscured="t"/>'
            '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div style="text-align:left"/>'
            '</v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f'<x:AutoFill>False</x:AutoFill><x:Row>{row - 1}</x:Row><x:Column>{col - 1}</x:Column></x:ClientData>'
            '</v:shape>')
    return ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit">'
            '<o:idmap v:ext="edit" data="1"/></o:shapelayout><v:shapetype id="_x0000_t202" coordsize="21600,21600" '
            'o:spt="202" path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
            '<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>' + "".join(shapes) + "</xml>").encode()


# Elements that may follow <legacyDrawing> in a worksheet (ECMA-376 CT_Worksheet order).
_AFTER_LEGACY = re.compile(rb"<" + _P + rb"(?:legacyDrawingHF|drawingHF|picture|oleObjects|controls|webPublishItems|"
                           rb"tableParts|extLst)\b|</" + _P + rb"worksheet>")


class Package:
    """An .xlsx package held as its parts' bytes: sheets added and removed, cells restyled, comments set,
    every other part left exactly as it was."""

    def __init__(self, data: bytes | None = None):
        self.parts: dict[str, bytes] = {}
        self._infos: dict[str, zipfile.ZipInfo] = {}
        if data is None:
            self.parts = {name: text.encode("utf-8") for name, text in _MINIMAL.items()}
        else:
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    for info in zf.infolist():
                        self.parts[info.filename] = zf.read(info)
                        self._infos[info.filename] = info
            except ZIP_ERRORS as exc:
                raise PatchError(f"damaged package: {exc}") from exc
        self.workbook = "xl/workbook.xml"
        for m in re.finditer(rb"<Relationship\b[^>]*>", self.parts.get("_rels/.rels", b"")):
            a = _attrs(m.group(0))
            if a.get("Type", "").endswith("/officeDocument"):
                self.workbook = resolve_target("", _unescape(a.get("Target", self.workbook)))
        if self.workbook not in self.parts:
            raise PatchError("no workbook part")
        self._styles: Styles | None = None
        self._sheets: list[dict[str, str]] | None = None
        # The calculation chain would name cells of removed sheets; Excel rebuilds it when it is missing.
        for rel in self.rels(self.workbook):
            if rel.get("Type", "").endswith("/calcChain"):
                self.parts.pop(rel["Target"], None)
                self._content_type(rel["Target"], None)
                self._drop_rel(self.workbook, rel["Id"])

    # -- relationships and content types
    def rels(self, part: str) -> list[dict[str, str]]:
        """The relationships of a part: Id, Type, Target (resolved to a part name unless external)."""
        out = []
        for m in re.finditer(rb"<(?:[A-Za-z_][\w.-]*:)?Relationship\b[^>]*>", self.parts.get(rels_part(part), b"")):
            a = {k: _unescape(v) for k, v in _attrs(m.group(0)).items()}
            if a.get("TargetMode") != "External":
                a["Target"] = resolve_target(part, a.get("Target", ""))
            out.append(a)
        return out

    def _add_rel(self, part: str, kind: str, target: str) -> str:
        name = rels_part(part)
        data = self.parts.get(name) or (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                                        b'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                                        b'</Relationships>')
        used = {int(n) for n in re.findall(rb'Id="rId(\d+)"', data)}
        rid = f"rId{max(used, default=0) + 1}"
        rel = f'<Relationship Id="{rid}" Type="{_REL_TYPE}/{kind}" Target="{escape(_relative(part, target))}"/>'
        at = data.rfind(b"</")
        self.parts[name] = data[:at] + rel.encode("utf-8") + data[at:]
        return rid

    def _drop_rel(self, part: str, rid: str) -> None:
        name = rels_part(part)
        pattern = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?Relationship\b[^>]*\bId="' + re.escape(rid.encode()) + rb'"[^>]*/>')
        self.parts[name] = pattern.sub(b"", self.parts.get(name, b""))

    def _content_type(self, part: str, content_type: str | None) -> None:
        data = self.parts["[Content_Types].xml"]
        pattern = re.compile(rb'<Override\b[^>]*\bPartName="/' + re.escape(part.encode("utf-8")) + rb'"[^>]*/>')
        data = pattern.sub(b"", data)
        if content_type is not None:
            at = data.rfind(b"</")
            data = data[:at] + f'<Override PartName="/{escape(part)}" ContentType="{content_type}"/>'.encode() + data[at:]
        self.parts["[Content_Types].xml"] = data

    def _default_type(self, extension: str, content_type: str) -> None:
        data = self.parts["[Content_Types].xml"]
        if re.search(rb'<Default\b[^>]*\bExtension="' + extension.encode() + rb'"', data, re.I) is None:
            at = re.search(rb"<Types\b[^>]*>", data).end()  # Defaults come first in the schema
            self.parts["[Content_Types].xml"] = (data[:at] + f'<Default Extension="{extension}" '
                                                 f'ContentType="{content_type}"/>'.encode() + data[at:])

    def _free(self, pattern: str) -> str:
        n = 1
        while pattern.format(n) in self.parts:
            n += 1
        return pattern.format(n)

    # -- sheets
    def _sheet_tags(self) -> list[re.Match]:
        block = re.search(rb"<" + _P + rb"sheets\b[^>]*?(?:/>|>.*?</" + _P + rb"sheets>)", self.parts[self.workbook], re.S)
        if block is None:
            raise PatchError("workbook without sheets")
        return list(re.finditer(rb"<" + _P + rb"sheet\b[^>]*>", self.parts[self.workbook][:block.end()]))

    def sheets(self) -> list[dict[str, str]]:
        """The sheets in tab order: name, sheetId, state, rid and part."""
        if self._sheets is None:
            self._sheets = self._read_sheets()
        return self._sheets

    def _read_sheets(self) -> list[dict[str, str]]:
        targets = {r["Id"]: r["Target"] for r in self.rels(self.workbook)}
        out = []
        for m in self._sheet_tags():
            a = {k: _unescape(v) for k, v in _attrs(m.group(0)).items()}
            a["rid"] = a.get("id", "")
            a["part"] = targets.get(a["rid"], "")
            out.append(a)
        return out

    def sheet_part(self, name: str) -> str | None:
        return next((s["part"] for s in self.sheets() if s["name"] == name), None)

    def _shift_local_names(self, at: int, by: int) -> None:
        """Defined names scoped to a sheet name it by position: keep them pointing at the same sheet."""

        def repl(m: re.Match) -> bytes:
            tag = m.group(0)
            local = re.search(rb'\blocalSheetId="(\d+)"', tag.split(b">", 1)[0])
            if local is None or int(local.group(1)) < at:
                return tag
            if by < 0 and int(local.group(1)) == at:
                return b""  # scoped to the sheet removed
            return tag.replace(local.group(0), b'localSheetId="%d"' % (int(local.group(1)) + by), 1)

        self.parts[self.workbook] = re.sub(rb"<" + _P + rb"definedName\b[^>]*?(?:/>|>.*?</" + _P + rb"definedName>)",
                                           repl, self.parts[self.workbook], flags=re.S)

    def _drop_names_on(self, sheet: str) -> None:
        """Defined names that refer to a removed sheet would read as broken references: they go with it."""
        quoted = escape("'" + sheet.replace("'", "''") + "'!", {"'": "&apos;"}).encode("utf-8")
        plain = escape(sheet + "!").encode("utf-8")
        refs = [quoted, escape("'" + sheet.replace("'", "''") + "'!").encode("utf-8"), plain]

        def repl(m: re.Match) -> bytes:
            body = m.group(0).split(b">", 1)[-1]
            return b"" if any(r in body and (r != plain or not re.search(rb"[\w.]" + re.escape(r), body))
                              for r in refs) else m.group(0)

        self.parts[self.workbook] = re.sub(rb"<" + _P + rb"definedName\b[^>]*?(?:/>|>.*?</" + _P + rb"definedName>)",
                                           repl, self.parts[self.workbook], flags=re.S)

    def remove_sheet(self, name: str) -> None:
        for index, (m, sheet) in enumerate(zip(self._sheet_tags(), self.sheets())):
            if sheet["name"] != name:
                continue
            wb = self.parts[self.workbook]
            self.parts[self.workbook] = wb[:m.start()] + wb[m.end():]
            self._drop_rel(self.workbook, sheet["rid"])
            self.parts.pop(sheet["part"], None)
            self.parts.pop(rels_part(sheet["part"]), None)
            self._content_type(sheet["part"], None)
            self._shift_local_names(index, -1)
            self._drop_names_on(name)
            self._sheets = None
            return

    def add_sheet(self, name: str, xml: bytes, index: int | None = None, state: str | None = None) -> str:
        """Add a worksheet part (at tab position ``index``, default last) and return its part name."""
        part = self._free("xl/worksheets/sheet{}.xml")
        self.parts[part] = xml
        self._content_type(part, _CT_SHEET)
        rid = self._add_rel(self.workbook, "worksheet", part)
        tags = self._sheet_tags()
        ids = [int(s.get("sheetId") or 0) for s in self.sheets()]
        tag = (f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{max(ids, default=0) + 1}"'
               + (f' state="{state}"' if state else "") + f' xmlns:r="{NS_REL}" r:id="{rid}"/>').encode("utf-8")
        wb = self.parts[self.workbook]
        prefix = re.match(rb"<(" + _P + rb")", tags[0].group(0)).group(1) if tags else b""
        tag = tag.replace(b"<sheet", b"<" + prefix + b"sheet", 1)
        if index is None or index >= len(tags):
            if tags:
                at = tags[-1].end()
            else:
                sheets = re.search(rb"<" + _P + rb"sheets\b[^>]*?(/?)>", wb)
                if sheets.group(1):
                    wb = wb[:sheets.start()] + b"<sheets></sheets>" + wb[sheets.end():]
                    sheets = re.search(rb"<" + _P + rb"sheets\b[^>]*>", wb)
                at = sheets.end()
        else:
            at = tags[index].start()
            self._shift_local_names(index, 1)
            wb = self.parts[self.workbook]
        self.parts[self.workbook] = wb[:at] + tag + wb[at:]
        self._sheets = None
        return part

    def show_first(self) -> None:
        """Open the workbook on its first sheet, and only that one selected."""
        def view(m: re.Match) -> bytes:
            return _set_attr(_set_attr(m.group(0), "activeTab", None), "firstSheet", None)

        self.parts[self.workbook] = re.sub(rb"<" + _P + rb"workbookView\b[^>]*>", view, self.parts[self.workbook])
        for i, sheet in enumerate(self.sheets()):
            data = self.parts.get(sheet["part"])
            if data is None:
                continue
            self.parts[sheet["part"]] = re.sub(
                rb"<" + _P + rb"sheetView\b[^>]*>", lambda m: _set_attr(m.group(0), "tabSelected", "1" if i == 0 else None),
                data, count=1)

    # -- styles and comments
    @property
    def styles(self) -> Styles:
        if self._styles is None:
            part = next((r["Target"] for r in self.rels(self.workbook) if r.get("Type", "").endswith("/styles")), None)
            if part is None or part not in self.parts:
                raise PatchError("no styles part")
            self.styles_part = part
            self._styles = Styles(self.parts[part])
        return self._styles

    def comments(self, part: str) -> list[tuple[str, str, str, bytes]]:
        """A sheet's comments: (cell, author, plain text, the <comment> element as written)."""
        target = next((r["Target"] for r in self.rels(part) if r.get("Type", "").endswith("/comments")), None)
        data = self.parts.get(target or "", b"")
        authors = [_unescape(a.decode("utf-8")) for a in
                   re.findall(rb"<" + _P + rb"author>(.*?)</" + _P + rb"author>", data, re.S)]
        out = []
        for m in re.finditer(rb"<" + _P + rb"comment\b[^>]*?(?:/>|>.*?</" + _P + rb"comment>)", data, re.S):
            a = _attrs(m.group(0).split(b">", 1)[0])
            i = int(a.get("authorId") or 0)
            text = "".join(_unescape(t.decode("utf-8")) for t in
                           re.findall(rb"<" + _P + rb"t\b[^>]*>([^<]*)</" + _P + rb"t>", m.group(0)))
            out.append((a.get("ref", ""), authors[i] if i < len(authors) else "", text, m.group(0)))
        return out

    def set_comments(self, part: str, comments: list[tuple[str, str, str | bytes]]) -> None:
        """Replace a sheet's comments with ``comments`` (cell, author, plain text or a <comment> element as
        read by :meth:`comments`), writing the comments part and the legacy drawing Excel shows them with."""
        rels = self.rels(part)
        old = {r.get("Type", "").rsplit("/", 1)[-1]: r for r in rels}
        for kind in ("comments", "vmlDrawing"):
            if kind in old:
                target = old[kind]["Target"]
                if kind == "vmlDrawing" and re.search(rb'ObjectType="(?!Note")', self.parts.get(target, b"")):
                    raise PatchError("the sheet's drawing holds controls")
                self.parts.pop(target, None)
                self._content_type(target, None)
                self._drop_rel(part, old[kind]["Id"])
        sheet = re.sub(rb"<" + _P + rb"legacyDrawing\b[^>]*/>", b"", self.parts[part])
        if not comments:
            self.parts[part] = sheet
            return
        authors: list[str] = []
        items = []
        for ref, author, body in sorted(comments, key=lambda c: _ref_key(c[0])):
            if author not in authors:
                authors.append(author)
            if isinstance(body, bytes):
                if re.match(rb"<\w+:", body):
                    raise PatchError("prefixed comments")
                start = re.match(rb"<[^>]*>", body).group(0)
                items.append(_set_attr(start, "authorId", str(authors.index(author))) + body[len(start):])
            else:
                items.append(f'<comment ref="{ref}" authorId="{authors.index(author)}"><text><t xml:space="preserve">'
                             f'{escape(body)}</t></text></comment>'.encode("utf-8"))
        xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<comments xmlns="{NS_MAIN}"><authors>'
               + "".join(f"<author>{escape(a)}</author>" for a in authors) + "</authors><commentList>").encode("utf-8")
        xml += b"".join(items) + b"</commentList></comments>"
        target = self._free("xl/comments{}.xml")
        self.parts[target] = xml
        self._content_type(target, _CT_COMMENTS)
        self._add_rel(part, "comments", target)
        vml = self._free("xl/drawings/vmlDrawing{}.vml")
        self.parts[vml] = _vml([(ref, 1 if isinstance(body, bytes) else body.count("\n") + 1)
                                for ref, _, body in sorted(comments, key=lambda c: _ref_key(c[0]))])
        self._default_type("vml", _CT_VML)
        rid = self._add_rel(part, "vmlDrawing", vml)
        prefix = re.search(rb"<(" + _P + rb")worksheet\b", sheet).group(1)
        at = _AFTER_LEGACY.search(sheet)
        tag = b'<%slegacyDrawing xmlns:r="%s" r:id="%s"/>' % (prefix, NS_REL.encode(), rid.encode())
        self.parts[part] = sheet[:at.start()] + tag + sheet[at.start():]

    def to_bytes(self) -> bytes:
        if self._styles is not None:
            self.parts[self.styles_part] = self._styles.to_bytes()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            order = ["[Content_Types].xml", *(p for p in self.parts if p != "[Content_Types].xml")]
            for name in order:
                info = self._infos.get(name)
                target = zipfile.ZipInfo(name, info.date_time if info else (1980, 1, 1, 0, 0, 0))
                target.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(target, self.parts[name])
        return out.getvalue()
