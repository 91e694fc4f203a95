"""Rewrite parts of an .xlsx package: for what the writing libraries have no API for."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any, Callable
from xml.sax.saxutils import escape

from .xlexpr import is_number


def rewrite_parts(src: Path, dst: Path, transform: Callable[[str, bytes], bytes]) -> None:
    """Copy the package ``src`` to ``dst``, passing each part through ``transform(name, data)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, transform(info.filename, zin.read(info.filename)))


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
