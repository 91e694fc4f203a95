"""Import published reports (scraped text, HTML, DOCX, Markdown) into figures.

A published report is a stream of cells: one per line in a scrape, one per table
cell in HTML, DOCX and Markdown. The spec's labels drive the reading: a row label
is followed by its row's values, in column order. A row whose values cannot all be
placed with certainty (a scrape that lost cells) is left empty and reported as
uncertain, with the line it came from; nothing is guessed.
"""

from __future__ import annotations

import hashlib
import stat
import html.parser
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, UsageError
from .findings import Finding
from .reader import normalize_label
from .spec import Block, Spec, Table, available_formats, format_for_year, get_spec
from .template import Filling, office_filename, write_workbook

_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
_UNIT = re.compile(r"^(.*?)(万元|元|件|个|项)$")
_NOT_ZERO = {"/", "／", "—", "-", "－", "——", "无", "空"}


@dataclass
class Token:
    """One cell of the source, with where it came from (for messages)."""

    text: str
    where: str
    explicit: bool = False  # a real cell (table, nbsp line), so an empty one is a blank cell

    @property
    def norm(self) -> str:
        return normalize_label(self.text)

    def value(self, unit: str | None) -> tuple[bool, Any]:
        """(is a value, the value): a number, None for an explicit blank, or what was typed for "/"."""
        text = unicodedata.normalize("NFKC", self.text).strip()
        if not text:
            return (self.explicit, None)
        if text in _NOT_ZERO:
            return True, text
        m = _UNIT.match(text)
        if m:
            if unit and m.group(2) != unit and m.group(2) in ("元", "万元"):
                return False, None  # a number in another unit: not this cell's
            text = m.group(1).strip()
        if _NUMBER.match(text):
            n = float(text.replace(",", ""))
            return True, int(n) if n.is_integer() else n
        return False, None


# -- sources to tokens ---------------------------------------------------------------------

def _text_tokens(text: str, name: str) -> list[Token]:
    tokens = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        where = f"{name}第{lineno}行"
        stripped = line.strip(" \t\r\n\u3000")
        if not stripped:
            continue
        if "|" in stripped and len([c for c in stripped.strip("|").split("|") if c.strip()]) >= 2:
            # A Markdown or pipe-separated row: one cell between each pair of pipes.
            cells = stripped.strip("|").split("|")
            if all(re.fullmatch(r"\s*:?-{3,}:?\s*", c) for c in cells):
                continue
            tokens += [Token(c.replace("\\", "").strip(), where, explicit=True) for c in cells]
            continue
        # Markdown headings and emphasis are not part of the text.
        stripped = re.sub(r"^#{1,6}\s+", "", stripped)
        stripped = re.sub(r"^\*\*(.*)\*\*$", r"\1", stripped).replace("\\", "")
        # A line of non-breaking spaces is a scraped empty cell; other text is one cell.
        tokens.append(Token(stripped.strip("\xa0"), where, explicit=not stripped.strip("\xa0")))
    return tokens


class _HTMLCells(html.parser.HTMLParser):
    """Table cells in reading order (a rowspan/colspan cell once, where it starts), and paragraphs."""

    def __init__(self, name: str):
        super().__init__(convert_charrefs=True)
        self.name = name
        self.tokens: list[Token] = []
        self._cell: list[str] | None = None
        self._text: list[str] = []
        self._skip = 0
        self._table = self._row = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "svg"):
            self._skip += 1
        elif tag == "table":
            self._flush()
            self._table += 1
            self._row = 0
        elif tag == "tr":
            self._row += 1
        elif tag in ("td", "th"):
            self._flush()
            self._cell = []
        elif tag in ("p", "br", "div", "h1", "h2", "h3", "li") and self._cell is None:
            self._flush()

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            self.tokens.append(Token(text, f"{self.name}表{self._table}第{self._row}行", explicit=True))
            self._cell = None
        elif tag in ("p", "div", "h1", "h2", "h3", "li", "table") and self._cell is None:
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
                self.tokens.append(Token(line.strip(), f"{self.name}正文"))

    def close(self):
        super().close()
        self._flush()


def _docx_tokens(path: Path) -> list[Token]:
    from docx import Document
    from docx.oxml.ns import qn

    try:
        doc = Document(str(path))
    except Exception as exc:  # noqa: BLE001 - any unreadable document is one message
        raise InputError(f"无法读取 Word 文件 {path}：{exc}") from None
    tokens: list[Token] = []
    body = doc.element.body
    t_index = 0
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            text = "".join(t.text or "" for t in child.iter(qn("w:t"))).strip()
            if text:
                tokens.append(Token(text, f"{path.name}正文"))
        elif child.tag == qn("w:tbl"):
            t_index += 1
            for r, tr in enumerate(child.iter(qn("w:tr")), start=1):
                for tc in tr.iter(qn("w:tc")):
                    # A vertically merged continuation cell repeats nothing: skip it.
                    vmerge = tc.find(f"{qn('w:tcPr')}/{qn('w:vMerge')}")
                    if vmerge is not None and vmerge.get(qn("w:val")) in (None, "continue"):
                        continue
                    text = "".join(t.text or "" for t in tc.iter(qn("w:t"))).strip()
                    tokens.append(Token(text, f"{path.name}表{t_index}第{r}行", explicit=True))
    return tokens


def tokens_of(path: Path, data: bytes) -> list[Token]:
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return _docx_tokens(path)
    text = _decode(data, path)
    if suffix in (".html", ".htm") or re.search(r"<(table|html|body)\b", text[:5000], re.I):
        parser = _HTMLCells(path.name)
        parser.feed(text)
        parser.close()
        return parser.tokens
    return _text_tokens(text, path.name)


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path} 的编码无法识别")  # pragma: no cover - gb18030 decodes anything


# -- tokens to figures ------------------------------------------------------------------------

_SECTION = re.compile(r"^[一二三四五六][、.．]")


@dataclass
class Imported:
    """What a published report gave: figures (None where not certain), prose, findings."""

    path: Path
    sha256: str
    spec: Spec
    year: int | None
    office: str | None
    figures: dict[str, Any]
    uncertain: list[str]
    prose: dict[str, str]
    findings: list[Finding] = field(default_factory=list)
    workbook: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.spec.format, "year": self.year, "office": self.office,
                "sha256": self.sha256, "workbook": str(self.workbook) if self.workbook else None,
                "figures": self.figures, "uncertain": self.uncertain,
                "findings": [f.to_dict() for f in self.findings]}


def _row_texts(spec: Spec, table_id: str) -> list[str]:
    return [text for r in spec.table(table_id).rows for text in r.labels]


def detect_format(tokens: list[Token], year: int | None, forced: str | None) -> Spec:
    """The format whose labels the report uses; the year only breaks a tie."""
    if forced:
        return get_spec(forced)
    norms = {t.norm for t in tokens}
    scores = {}
    for fid in available_formats():
        spec = get_spec(fid)
        labels = {normalize_label(lb.text) for lb in spec.labels() if lb.table} | {
            normalize_label(t) for tid in ("t2", "t3") for t in _row_texts(spec, tid)}
        scores[fid] = len(labels & norms) / max(len(labels), 1)
    best = max(scores.values())
    tied = [f for f, s in scores.items() if s == best]
    if len(tied) > 1 and year:
        return format_for_year(year)
    return get_spec(sorted(tied)[-1])


def _match_row(token: Token, labels: dict[str, str]) -> str | None:
    """The row id a label cell names: the whole label, or its last part after " / " (group / row)."""
    norm = token.norm
    if norm in labels:
        return labels[norm]
    if "/" in norm:
        tail = norm.rsplit("/", 1)[1]
        return labels.get(tail)
    return None


def _section_bounds(spec: Spec, tokens: list[Token]) -> dict[str, int]:
    """Where each of the six sections starts (token index), by its heading."""
    keywords = {s.id: s.import_keywords for s in spec.sections}
    row_labels = {normalize_label(t) for tid in ("t3",) for t in _row_texts(spec, tid)}
    starts: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        text = unicodedata.normalize("NFKC", tok.text).strip()
        if not _SECTION.match(text) or tok.norm in row_labels or len(text) > 40:
            continue
        for sid, words in keywords.items():
            if sid not in starts and any(w in text for w in words):
                starts[sid] = i
                break
    return starts


def import_tokens(tokens: list[Token], path: Path, sha256: str, *, year: int | None = None,
                  format_id: str | None = None) -> Imported:
    """Place the figures of a tokenised report."""
    text_all = "\n".join(t.text for t in tokens)
    found_year = year or _year_of(text_all)
    spec = detect_format(tokens, found_year, format_id)
    starts = _section_bounds(spec, tokens)
    order = sorted(starts.items(), key=lambda kv: kv[1])
    ends = {sid: (order[i + 1][1] if i + 1 < len(order) else len(tokens)) for i, (sid, _) in enumerate(order)}
    figures: dict[str, Any] = {f.id: None for f in spec.inputs()}
    uncertain: list[str] = []
    notes: list[Finding] = []
    for table in spec.tables:
        section = table.heading_section
        if not section:
            continue
        lo, hi = starts.get(section, 0), ends.get(section, len(tokens))
        _place_table(spec, table, tokens[lo:hi], figures, uncertain, notes)
    prose = {}
    for s in spec.sections:
        if s.kind == "prose" and s.id in starts:
            body = [t for t in tokens[starts[s.id] + 1:ends[s.id]] if not t.explicit]
            prose.update(_split_topics(spec, s.id, body))
    _place_prose_figures(spec, prose, figures, uncertain)
    office = _office_of(text_all)
    return Imported(path, sha256, spec, found_year, office, figures, uncertain, prose, notes)


def _split_topics(spec: Spec, section: str, body: list[Token]) -> dict[str, str]:
    """A section's text, split at its topics' official headings (（一）主动公开) where the report has them."""
    topics = {unicodedata.normalize("NFKC", f.label).strip(): f.id for f in spec.prose.fields
              if f.section == section and f.label}
    parts: dict[str, list[str]] = {section: []}
    key = section
    for tok in body:
        heading = topics.get(unicodedata.normalize("NFKC", tok.text).strip())
        if heading:
            key = heading
            parts.setdefault(key, [])
            continue
        parts[key].append(tok.text)
    return {k: "\n".join(v) for k, v in parts.items()}


def _place_table(spec: Spec, table: Table, tokens: list[Token], figures: dict, uncertain: list[str],
                 notes: list[Finding]) -> None:
    tid = table.id
    figs = [f for f in spec.inputs() if f.table_id == tid] + [f for f in spec.computed() if f.table_id == tid]
    labelled = any(r.label for r in table.rows)
    if not labelled:
        # A table of one unlabelled row (表四): its values in column order, all of them or none.
        cols = [f for f in spec.figures if f.table_id == tid]
        values = [v for ok, v in (t.value(None) for t in tokens) if ok]
        values = [v for v in values if v is not None] if len(values) != len(cols) else values
        if len(values) == len(cols):
            for f, v in zip(cols, values):
                if f.kind == "input":
                    figures[f.id] = v
        else:
            _uncertain([f for f in cols if f.kind == "input"], tokens[0] if tokens else None, uncertain, notes,
                       f"找到{len(values)}个数，应为{len(cols)}个")
        return
    for block in table.blocks:
        labels = {normalize_label(text): r.id for r in block.rows for text in r.labels}
        start, stop = _block_span(block, table, tokens)
        i = start
        while i < stop:
            row_id, width = _match_row(tokens[i], labels), 1
            # A label a scrape broke over lines ("本年新收政府信息\n公开申请数量"): join up to three pieces.
            for k in (2, 3):
                if row_id is not None or i + k > stop:
                    break
                if any(t.value(None)[0] or not t.norm for t in tokens[i:i + k]):
                    break
                row_id = _match_row(Token("".join(t.text for t in tokens[i:i + k]), tokens[i].where), labels)
                width = k
            if row_id is None:
                i += 1
                continue
            columns = [c.id for c in block.columns]
            row = next(r for r in block.rows if r.id == row_id)
            cells = [f for f in figs if f.block_id == block.id and f.row_id == row_id]
            cells.sort(key=lambda f: columns.index(f.column_id))
            values, j = [], i + width
            while j < stop:
                ok, v = tokens[j].value(cells[min(len(values), len(cells) - 1)].unit if cells else None)
                if not ok:
                    break
                values.append(v)
                j += 1
            while len(values) > len(cells) and values[-1] is None:
                values.pop()  # trailing empty cells of a scraped table
            if len(values) == len(cells):
                for f, v in zip(cells, values):
                    if f.kind == "input":
                        figures[f.id] = v
            else:
                _uncertain([f for f in cells if f.kind == "input"], tokens[i], uncertain, notes,
                           f"“{row.label}”找到{len(values)}个数，应为{len(cells)}个")
            i = j


def _label_at(tokens: list[Token], i: int, wanted: set[str]) -> int:
    """How many tokens from i spell one of the wanted labels (a scrape may break one over lines); 0 if none."""
    text = ""
    for k in range(3):
        if i + k >= len(tokens) or not tokens[i + k].norm or (k and tokens[i + k].value(None)[0]):
            break
        text += tokens[i + k].norm
        if text in wanted:
            return k + 1
    return 0


def _block_span(block: Block, table: Table, tokens: list[Token]) -> tuple[int, int]:
    """Tokens from a block's own label to the next block's label (the whole table when unlabelled)."""
    if not block.label_cells:
        return 0, len(tokens)
    label = normalize_label(block.heading)
    start = next((i for i in range(len(tokens)) if _label_at(tokens, i, {label})), None)
    if start is None:
        return 0, 0
    others = {normalize_label(b.heading) for b in table.blocks if b.label_cells} - {label}
    stop = next((i for i in range(start + 1, len(tokens)) if _label_at(tokens, i, others)), len(tokens))
    return start, stop


def _uncertain(figs, token: Token | None, uncertain: list[str], notes: list[Finding], why: str) -> None:
    where = token.where if token else ""
    for f in figs:
        uncertain.append(f.id)
    if figs:
        notes.append(Finding("import-uncertain", "warning",
                             f"{why}（{where}），无法确定各数所在的单元格，已留空，请核对原文后填写",
                             None, None, figs[0].id, None, None, token.text if token else None))


def _place_prose_figures(spec: Spec, prose: dict[str, str], figures: dict, uncertain: list[str]) -> None:
    """Figures reported in sentences (信息处理费), by the patterns the spec gives."""
    for f in spec.inputs():
        row = next((r for r in spec.table(f.table_id).rows if r.id == f.row_id and r.import_patterns), None)
        if row is None:
            continue
        text = unicodedata.normalize("NFKC", prose.get(row.import_section, ""))
        for pattern in row.import_patterns:
            m = re.search(pattern, text)
            if m:
                figures[f.id] = _num(m.group(1)) if m.groups() else 0
                break
        else:
            uncertain.append(f.id)


def _num(text: str) -> int | float:
    n = float(text.replace(",", ""))
    return int(n) if n.is_integer() else n


def _year_of(text: str) -> int | None:
    m = re.search(r"(20\d\d)\s*年(?:度)?\s*政府信息公开工作年度报告", unicodedata.normalize("NFKC", text))
    return int(m.group(1)) if m else None


def _office_of(text: str) -> str | None:
    for line in text.splitlines()[:5]:
        m = re.match(r"^\s*(.{2,40}?)\s*20\d\d\s*年(?:度)?\s*政府信息公开工作年度报告\s*$", unicodedata.normalize("NFKC", line))
        if m:
            return m.group(1)
    return None


MAX_IMPORT_BYTES = 20 * 1024 * 1024  # a published report with its tables is well under a megabyte
MAX_DOCX_INFLATED = 64 * 1024 * 1024


def _check_docx(path: Path, data: bytes) -> None:
    """Refuse a .docx that is not a zip, or that would inflate beyond any real report (a zip bomb)."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            inflated = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        raise InputError(f"{path} 不是有效的 .docx 文件（已损坏或不是 Word 文档）") from None
    if inflated > MAX_DOCX_INFLATED:
        raise InputError(f"{path} 解压后过大（{inflated / 1024 / 1024:.0f}MB），不像是年度报告，不导入")


def import_report(source: str | Path, outdir: str | Path, *, year: int | None = None,
                  format_id: str | None = None) -> Imported:
    """Import one published report and write it as a filled template workbook into ``outdir``."""
    path = Path(source)
    if path.suffix.lower() not in (".txt", ".text", ".md", ".html", ".htm", ".docx"):
        raise UsageError(f"只能导入 .txt、.md、.html 或 .docx 格式的报告：{path}")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path} 不是普通文件（可能是管道或设备），不能导入")
        if info.st_size > MAX_IMPORT_BYTES:
            raise InputError(f"{path} 有{info.st_size / 1024 / 1024:.0f}MB，超过年度报告应有的大小"
                             f"（{MAX_IMPORT_BYTES // 1024 // 1024}MB），不导入")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取 {path}：{exc.strerror}") from None
    if path.suffix.lower() == ".docx":
        _check_docx(path, data)
    result = import_tokens(tokens_of(path, data), path, hashlib.sha256(data).hexdigest(), year=year,
                           format_id=format_id)
    office = {"name": result.office, "year": result.year}
    filling = Filling(office={k: v for k, v in office.items() if v}, values=result.figures, prose=result.prose,
                      lock_office=False, meta={"source": path.name, "source_sha256": result.sha256})
    target = Path(outdir) / office_filename({"name": result.office or path.stem}, result.year, result.spec)
    result.workbook = write_workbook(result.spec, target, filling)
    return result
