"""Published reports as a stream of cells: scraped text, Markdown, HTML, Word and PDF.

Whatever the source, a report becomes a list of :class:`Token`: one per table cell, and
one per line of running text, each with the line (or table row) it came from. The
importer reads figures from that stream by the spec's labels, so every source style
that keeps the cells in reading order imports the same figures.
"""

from __future__ import annotations

import html.parser
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .reader import normalize_label
from .textutil import decode_text

_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
_UNIT = re.compile(r"^(.*?)(万元|元|件|个|项)$")
_NOT_ZERO = {"/", "／", "—", "-", "－", "——", "无", "空"}
_PIPES = str.maketrans({"｜": "|", "│": "|", "¦": "|"})
_SENTENCE_END = ("。", "；", ";", "：", ":", "！", "？")


@dataclass
class Token:
    """One cell of the source, with where it came from (for messages)."""

    text: str
    where: str
    explicit: bool = False  # a real cell (table, pipe, nbsp line), so an empty one is a blank cell
    line: int = 0  # tokens of one source line share it: running text is rebuilt line by line

    @property
    def norm(self) -> str:
        return normalize_label(self.text)

    def value(self, unit: str | None) -> tuple[bool, Any]:
        """(is a value, the value): a number, None for an explicit blank, or what was typed for "/"."""
        return cell_value(self.text, unit, self.explicit)


def cell_value(text: str, unit: str | None = None, explicit: bool = True) -> tuple[bool, Any]:
    """(is a value, the value) of one cell's text; a number in another money unit is not this cell's."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return (explicit, None)
    if text in _NOT_ZERO:
        return True, text
    m = _UNIT.match(text)
    if m:
        if unit and m.group(2) != unit and m.group(2) in ("元", "万元"):
            return False, None
        text = m.group(1).strip()
    if _NUMBER.match(text):
        n = float(text.replace(",", ""))
        return True, int(n) if n.is_integer() else n
    return False, None


def _is_value(text: str) -> bool:
    return bool(text.strip()) and cell_value(text)[0]


# -- text: scrapes, Markdown, plain text ---------------------------------------------------------

def text_tokens(text: str, name: str) -> list[Token]:
    """Cells of scraped or typed text, whichever way the scraper laid the table out.

    Pipes (leading, trailing, empty, alone on a line), tabs, one cell per line and
    space-separated rows ending in numbers all give the same cells; a line of
    running text stays one token.
    """
    tokens: list[Token] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        where = f"{name}第{lineno}行"
        stripped = line.translate(_PIPES).strip(" \t\r\n\u3000")
        if not stripped:
            continue
        cells = _split_line(stripped)
        if cells is None:
            continue
        if isinstance(cells, list):
            tokens += [Token(c, where, explicit=True, line=lineno) for c in cells]
            continue
        tokens.append(Token(cells.strip("\xa0"), where, explicit=not cells.strip("\xa0"), line=lineno))
    return tokens


def _split_line(line: str) -> list[str] | str | None:
    """The cells of one non-empty line (a list), or the line as one piece of text (a str), or None to skip it."""
    if "|" in line:
        body = line[1:] if line.startswith("|") else line
        body = body[:-1] if body.endswith("|") else body
        if not body.strip():
            # "|" alone separates cells; "| |" or "||" is one empty cell.
            return [""] if line.count("|") >= 2 else None
        cells = [c.replace("\\", "").strip(" \t\u3000") for c in body.split("|")]
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
            return None  # a Markdown rule under the header
        return cells
    if "\t" in line:
        return [c.strip(" \u3000") for c in line.split("\t")]
    # Markdown headings and emphasis are not part of the text.
    line = re.sub(r"^#{1,6}\s+", "", line)
    line = re.sub(r"^\*\*(.*)\*\*$", r"\1", line).replace("\\", "")
    parts = line.split()
    if len(parts) > 1 and _is_value(parts[-1]) and "。" not in line and not parts[0].endswith(_SENTENCE_END):
        # A row typed with spaces ("规章 0 0 0"): label words together, each number a cell.
        cells: list[str] = []
        words: list[str] = []
        for p in parts:
            if _is_value(p):
                if words:
                    cells.append(" ".join(words))
                    words = []
                cells.append(p)
            else:
                words.append(p)
        return cells
    return line


# -- HTML --------------------------------------------------------------------------------------

class _HTMLCells(html.parser.HTMLParser):
    """Table cells in reading order (a rowspan/colspan cell once, where it starts), and paragraphs."""

    def __init__(self, name: str):
        super().__init__(convert_charrefs=True)
        self.name = name
        self.tokens: list[Token] = []
        self.images = 0
        self._cell: list[str] | None = None
        self._text: list[str] = []
        self._skip = 0
        self._table = self._row = 0
        self._line = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "svg"):
            self._skip += 1
        elif tag == "img":
            self.images += 1
        elif tag == "table":
            self._flush()
            self._table += 1
            self._row = 0
        elif tag == "tr":
            self._row += 1
            self._line += 1
        elif tag in ("td", "th"):
            self._flush()
            self._cell = []
        elif tag in ("p", "br", "div", "h1", "h2", "h3", "h4", "li", "title") and self._cell is None:
            self._flush()

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            self.tokens.append(Token(text, f"{self.name}表{self._table}第{self._row}行", explicit=True,
                                     line=self._line))
            self._cell = None
        elif tag in ("p", "div", "h1", "h2", "h3", "h4", "li", "table", "title") and self._cell is None:
            self._flush()

    def handle_data(self, data):
        if self._skip:
            return
        if self._cell is not None:
            self._cell.append(data)
        else:
            self._text.append(data)

    def _flush(self):
        text = "".join(self._text)
        self._text = []
        for line in text.splitlines():
            if line.strip():
                self._line += 1
                self.tokens.append(Token(line.strip(), f"{self.name}正文", line=self._line))

    def close(self):
        super().close()
        self._flush()


def html_tokens(text: str, name: str) -> tuple[list[Token], int]:
    """Cells and paragraphs of an HTML page, and how many images it shows."""
    parser = _HTMLCells(name)
    parser.feed(text)
    parser.close()
    return parser.tokens, parser.images


# -- Word ----------------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MAX_DOCX_INFLATED = 64 * 1024 * 1024


def docx_tokens(path: Path, data: bytes) -> tuple[list[Token], int]:
    """Paragraphs and table cells of a .docx, read from word/document.xml directly (python-docx's table
    model builds a grid per cell access, seconds per report). A cell merged across columns (gridSpan)
    appears once; the continuation of a vertical merge (vMerge) repeats nothing and is skipped."""
    from defusedxml import ElementTree as ET

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            inflated = sum(i.file_size for i in z.infolist())
            if inflated > MAX_DOCX_INFLATED:
                raise InputError(f"{path} 解压后过大（{inflated / 1024 / 1024:.0f}MB），不像是年度报告，不导入")
            xml = z.read("word/document.xml")
            images = sum(1 for n in z.namelist() if n.startswith("word/media/"))
        root = ET.fromstring(xml)
    except (zipfile.BadZipFile, KeyError):
        raise InputError(f"{path} 不是有效的 .docx 文件（已损坏或不是 Word 文档）") from None
    except ET.ParseError as exc:
        raise InputError(f"无法读取 Word 文件 {path}：{exc}") from None
    except ValueError as exc:  # defusedxml refuses entities and DTDs
        raise InputError(f"{path} 含有不安全的内容，不导入（{type(exc).__name__}）") from None
    body = root.find(f"{_W}body")
    tokens: list[Token] = []
    counter = {"table": 0, "line": 0}
    for child in (body if body is not None else []):
        _docx_block(child, path.name, tokens, counter)
    return tokens, images


def _docx_text(el) -> str:
    parts = []
    for node in el.iter():
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag in (f"{_W}tab", f"{_W}br", f"{_W}cr"):
            parts.append(" ")
    return "".join(parts).strip()


def _docx_block(el, name: str, tokens: list[Token], counter: dict) -> None:
    if el.tag == f"{_W}p":
        text = _docx_text(el)
        if text:
            counter["line"] += 1
            tokens.append(Token(text, f"{name}正文", line=counter["line"]))
    elif el.tag == f"{_W}tbl":
        counter["table"] += 1
        t = counter["table"]
        for r, tr in enumerate(el.findall(f"{_W}tr"), start=1):
            counter["line"] += 1
            for tc in tr.findall(f"{_W}tc"):
                vmerge = tc.find(f"{_W}tcPr/{_W}vMerge")
                if vmerge is not None and vmerge.get(f"{_W}val") in (None, "continue"):
                    continue
                tokens.append(Token(_docx_text(tc), f"{name}表{t}第{r}行", explicit=True, line=counter["line"]))
    elif el.tag == f"{_W}sdt":  # content controls wrap paragraphs and tables
        content = el.find(f"{_W}sdtContent")
        for child in (content if content is not None else []):
            _docx_block(child, name, tokens, counter)


# -- PDF -----------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^(?:[-—–－\s]*\d{1,3}[-—–－\s]*|第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?)$")


def pdf_tokens(path: Path, data: bytes) -> tuple[list[Token], list[int]]:
    """Text lines and table cells of a text PDF in reading order, and the pages whose content is images.

    pdfplumber finds tables by their ruling lines (as LibreOffice and Word draw them) and gives their
    cells; pypdf gives text only, in content order, so a table's cells could not be told from prose.
    """
    import pdfplumber

    tokens: list[Token] = []
    image_pages: list[int] = []
    line = 0
    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many kinds for a damaged file
        raise InputError(f"{path} 不是有效的 PDF 文件（{type(exc).__name__}）") from None
    with pdf:
        for pno, page in enumerate(pdf.pages, start=1):
            tables = page.find_tables()
            boxes = [t.bbox for t in tables]
            items: list[tuple[float, int, list[Token]]] = []
            for t_index, table in enumerate(tables, start=1):
                rows = []
                for r, row in enumerate(table.extract(), start=1):
                    cells = [_cjk_spaces(" ".join((c or "").split())) for c in row if c is not None]
                    rows.append([Token(c, f"{path.name}第{pno}页表{t_index}第{r}行", explicit=True) for c in cells])
                items.append((table.bbox[1], 0, rows))
            outside = page.filter(lambda obj: obj.get("object_type") != "char" or not any(
                b[0] <= obj["x0"] and obj["x1"] <= b[2] and b[1] <= obj["top"] and obj["bottom"] <= b[3]
                for b in boxes))
            for top, text in _paragraphs(outside.extract_text_lines(keep_blank_chars=False), page):
                items.append((top, 1, [[Token(text, f"{path.name}第{pno}页")]]))
            chars = len(page.chars)
            covered = sum((i["x1"] - i["x0"]) * (i["bottom"] - i["top"]) for i in page.images)
            if page.images and covered > 0.3 * page.width * page.height and chars < 50:
                image_pages.append(pno)
            for _, _, rows in sorted(items, key=lambda it: (it[0], it[1])):
                for row in rows:
                    line += 1
                    for tok in row:
                        tok.line = line
                        tokens.append(tok)
    return tokens, image_pages


_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_CJK_SPACE = re.compile(f"(?<=[{_CJK}])\\s+|\\s+(?=[{_CJK}])")


def _cjk_spaces(text: str) -> str:
    """PDF text extraction puts a space between Chinese and Latin/digits ("申请 53 件"); Chinese has none."""
    return _CJK_SPACE.sub("", text)


def _paragraphs(lines: list[dict], page) -> list[tuple[float, str]]:
    """A page's text lines joined into paragraphs: a line that reached the right margin continues into
    the next line when that one is not indented (Chinese paragraphs indent their first line)."""
    lines = [ln for ln in lines if ln["text"].strip() and not _PAGE_NUMBER.match(ln["text"].strip())]
    if not lines:
        return []
    widths = sorted(c["width"] for c in page.chars) or [10.0]
    char = widths[len(widths) // 2]
    left, right = min(ln["x0"] for ln in lines), max(ln["x1"] for ln in lines)
    out: list[tuple[float, str]] = []
    full = False
    for ln in lines:
        text = _cjk_spaces(ln["text"].strip())
        if out and full and ln["x0"] <= left + char / 2:
            out[-1] = (out[-1][0], out[-1][1] + text)
        else:
            out.append((ln["top"], text))
        full = ln["x1"] >= right - 1.5 * char
    return out


# -- any source -----------------------------------------------------------------------------------

SUFFIXES = (".txt", ".text", ".md", ".html", ".htm", ".docx", ".pdf")


@dataclass
class Document:
    """A published report as cells, with what the reader could not see."""

    tokens: list[Token]
    images: int = 0  # pictures in the document
    image_pages: tuple[int, ...] = ()  # PDF pages that are pictures (scans)


def read_document(path: Path, data: bytes) -> Document:
    """The cells of a published report, by its kind (suffix, then content)."""
    suffix = path.suffix.lower()
    if suffix == ".docx":
        tokens, images = docx_tokens(path, data)
        return Document(tokens, images)
    if suffix == ".pdf" or data[:5] == b"%PDF-":
        tokens, pages = pdf_tokens(path, data)
        return Document(tokens, len(pages), tuple(pages))
    text = decode(data, path)
    if suffix in (".html", ".htm") or re.search(r"<(table|html|body)\b", text[:5000], re.I):
        tokens, images = html_tokens(text, path.name)
        return Document(tokens, images)
    return Document(text_tokens(text, path.name))


def decode(data: bytes, path: Path) -> str:
    text = decode_text(data)
    if text is None:
        raise InputError(f"{path} 的编码无法识别")  # pragma: no cover - gb18030 decodes anything
    return text
