"""Text as people see it: the width of Chinese text on a terminal and in a spreadsheet column."""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns the text takes on a terminal or in a spreadsheet: wide (CJK) characters count two."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F"))


def pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` display columns (str.ljust counts characters, not columns)."""
    return text + " " * max(0, width - display_width(text))


def table(header: list[str], rows: list[list[str]], gap: int = 2) -> list[str]:
    """Rows of text in aligned columns (the last column is not padded)."""
    lines = [header, *rows]
    measured = [[display_width(c) for c in r[:-1]] for r in lines]
    widths = [max(m[i] for m in measured) for i in range(len(header) - 1)]
    out = []
    for r, m in zip(lines, measured):
        cells = [c + " " * (w - n) for c, n, w in zip(r[:-1], m, widths)] + [r[-1]]
        out.append((" " * gap).join(cells).rstrip())
    return out


def decode_text(data: bytes) -> str | None:
    """Text as Chinese offices save it: UTF-8 (with or without a BOM) or GB18030 (Windows tools); None if neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def cn_date(d) -> str:
    """A date as official Chinese text writes it: 2026年1月31日 (no leading zeros)."""
    return f"{d.year}年{d.month}月{d.day}日"


def cn_datetime(dt) -> str:
    """A moment as a reply letter writes it: 2026年2月3日 10:45."""
    return f"{cn_date(dt)} {dt:%H:%M}"


def visible_text(text: str) -> tuple[str, bool]:
    """A name or title without invisible format characters (bidi overrides U+202A–U+202E and U+2066–U+2069,
    zero-width characters): they can make a name read differently from what it is. Returns (text, whether any
    was removed)."""
    kept = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return kept, kept != text
