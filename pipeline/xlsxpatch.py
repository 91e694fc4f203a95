"""Rewrite parts of an .xlsx package: for what the writing libraries have no API for."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Collection
from xml.sax.saxutils import escape

from .xlexpr import is_number


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
    """A transform that stores results in formula cells (openpyxl saves formulas without them).

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


_MERGES = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCells\b[^>]*?(?:/>|>.*?</(?:[A-Za-z_][\w.-]*:)?mergeCells>)", re.S)
_MERGE_REF = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref=\"([A-Z]+[0-9]+:[A-Z]+[0-9]+)\"")
# Elements that follow <mergeCells> in a worksheet (ECMA-376 CT_Worksheet order): it goes before the first.
_AFTER_MERGES = re.compile(rb"<(?:phoneticPr|conditionalFormatting|dataValidations|hyperlinks|printOptions|pageMargins|"
                           rb"pageSetup|headerFooter|rowBreaks|colBreaks|customProperties|cellWatches|ignoredErrors|"
                           rb"smartTags|drawing|legacyDrawing|legacyDrawingHF|picture|oleObjects|controls|webPublishItems|"
                           rb"tableParts|extLst)\b|</worksheet>")


_SHEET_DATA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheetData\b[^>]*?(?:/>|>)")


def strip_merges(data: bytes, parts: dict[str, str], empty: Collection[str] = ()) -> tuple[bytes, dict[str, list[str]]]:
    """The package without its merged ranges, and each sheet's ranges; the sheets named in ``empty`` also
    without their cells.

    openpyxl spends most of a load re-styling the border of every merged range (a tenth of a second for
    the template's 86); the annotator loads without them and :func:`restore_merges` puts them back as they were.
    A rollup's per-office sheet (a row per office, 10,000 at province scale) would take longer to load than
    everything else: the annotator leaves it out.
    """
    by_part = {part: name for name, part in parts.items()}
    merges: dict[str, list[str]] = {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            if by_part.get(info.filename) in empty:
                start = _SHEET_DATA.search(body)
                end = body.rfind(b"sheetData>")
                if start is not None and not start.group(0).endswith(b"/>") and end > start.end():
                    body = body[:start.end()] + body[body.rfind(b"<", 0, end):]
            if info.filename in by_part:
                found = _MERGES.search(body)
                if found:
                    merges[by_part[info.filename]] = [m.decode("ascii") for m in _MERGE_REF.findall(found.group(0))]
                    body = body[:found.start()] + body[found.end():]
            zout.writestr(info, body)
    return out.getvalue(), merges


def restore_merges(merges: dict[str, list[str]], parts: dict[str, str],
                   then: Callable[[str, bytes], bytes] = lambda name, data: data) -> Callable[[str, bytes], bytes]:
    """A transform that writes each sheet's merged ranges back into the saved package (then applies ``then``)."""
    by_part = {parts[s]: refs for s, refs in merges.items() if s in parts and refs}

    def transform(name: str, data: bytes) -> bytes:
        refs = by_part.get(name)
        if refs:
            xml = (f'<mergeCells count="{len(refs)}">' + "".join(f'<mergeCell ref="{r}"/>' for r in refs)
                   + "</mergeCells>").encode("ascii")
            at = _AFTER_MERGES.search(data)
            if at is not None:
                data = data[:at.start()] + xml + data[at.start():]
        return then(name, data)

    return transform
