"""Import published reports (scraped text, Markdown, HTML, Word, PDF) into figures.

:mod:`pipeline.documents` turns a report into a stream of cells; here the spec's
labels drive the reading: a row label is followed by its row's values, in column
order. Every figure of the format ends up either placed or in ``uncertain`` with the
reason and the source line: a row whose values cannot all be placed with certainty,
a block or section the report does not show, a table published as a picture.
Nothing is guessed, and a part that is not found never widens the search.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .documents import SUFFIXES, Document, Token, read_document, text_tokens
from .errors import InputError, UsageError
from .findings import Finding, finding
from .reader import normalize_label
from .spec import Block, Figure, Spec, SpecError, Table, available_formats, format_for_year, get_spec
from .template import Filling, office_filename, write_workbook

__all__ = ["Imported", "import_document", "import_report", "import_tokens", "text_tokens", "SUFFIXES"]

_SECTION = re.compile(r"^[一二三四五六][、.．]")
_NUMERALS = "一二三四五六"


@dataclass
class Imported:
    """What a published report gave: figures (None where not certain), prose, findings.

    ``uncertain`` maps each figure that could not be read with certainty to the reason and
    the source line(s); every other figure of the format is in ``placed``.
    """

    path: Path
    sha256: str
    spec: Spec
    year: int | None
    office: str | None
    figures: dict[str, Any]
    uncertain: dict[str, str]
    prose: dict[str, str]
    findings: list[Finding] = field(default_factory=list)
    workbook: Path | None = None
    placed: set[str] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)  # figure -> the source line(s) it was read from
    totals: dict[str, Any] = field(default_factory=dict)  # the totals as the report prints them
    published: dt.date | None = None
    sections: tuple[str, ...] = ()  # the section ids found, in the order the report has them
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.spec.format, "year": self.year, "office": self.office,
                "title": self.title, "published": self.published.isoformat() if self.published else None,
                "sections": list(self.sections), "sha256": self.sha256,
                "workbook": str(self.workbook) if self.workbook else None,
                "figures": self.figures, "uncertain": self.uncertain,
                "findings": [f.to_dict() for f in self.findings]}


# -- the format, by the labels the report shows --------------------------------------------------

@functools.lru_cache(maxsize=None)
def _format_labels(format_id: str) -> frozenset[str]:
    spec = get_spec(format_id)
    labels = {normalize_label(lb.text) for lb in spec.labels() if lb.table}
    for table in spec.tables:
        for block in table.blocks:
            labels.add(normalize_label(block.heading))
            labels |= {normalize_label(c.label) for c in block.columns if c.label}
        labels |= {normalize_label(text) for r in table.rows for text in r.labels}
    labels.discard("")
    return frozenset(labels)


@functools.lru_cache(maxsize=None)
def _row_labels(format_id: str, table_id: str | None = None) -> frozenset[str]:
    """The normalised row labels of a format's tables (or of one table)."""
    spec = get_spec(format_id)
    return frozenset(normalize_label(t) for table in spec.tables if table_id in (None, table.id)
                     for r in table.rows for t in r.labels if t)


def format_evidence(tokens: list[Token]) -> dict[str, list[str]]:
    """For each format, the labels only that format has that the report shows.

    A label counts when a cell is exactly it, or when a cell holding a whole header row
    (typed with spaces) contains it and it is long enough not to be part of another label."""
    labels = {fid: _format_labels(fid) for fid in available_formats()}
    norms = {t.norm for t in tokens}
    long_cells = [n for n in norms if len(n) > 12]
    out = {}
    for fid, own in labels.items():
        others = set().union(*(v for k, v in labels.items() if k != fid))
        unique = own - others
        out[fid] = sorted(lb for lb in unique if lb in norms or (
            len(lb) >= 5 and not any(lb in o for o in others) and any(lb in n for n in long_cells)))
    return out


def detect_format(tokens: list[Token], year: int | None, forced: str | None) -> Spec:
    """Labels unique to one format decide; where the labels fit both, the year does (rule D7)."""
    if forced:
        return get_spec(forced)
    evidence = format_evidence(tokens)
    most = max(len(v) for v in evidence.values())
    if most:
        best = [fid for fid, v in evidence.items() if len(v) == most]
        if len(best) == 1:
            return get_spec(best[0])
    if year:
        try:
            return format_for_year(year)
        except SpecError:  # a year before any format: the latest
            pass
    return get_spec(sorted(available_formats())[-1])


# -- year, office, dates -------------------------------------------------------------------------

_TITLE = re.compile(r"(?P<before>.*?)(?P<year>20\d\d)\s*年\s*度?\s*(?P<after>.*?)政府信息公开(?:工作)?(?:的)?(?:年度)?(?:工作)?报告")
_PREFIX = re.compile(r"^(?:.*[>»＞›]\s*)?(?:TITLE|Title|title|标题|题目|当前位置|您的位置|您现在的位置)?\s*[:：]?\s*"
                     r"(?:【[^】]{0,20}】|\[[^\]]{0,20}\])?\s*")
_DATE = r"(20\d\d)\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})"
_PUBLISHED = re.compile(r"(?:发布|公开|发文|公布)(?:时间|日期)\s*[:：]?\s*" + _DATE)
_PERIOD = re.compile(r"统计期限[^。\n]{0,80}")
_SIGNATURE = re.compile(r"^[\u4e00-\u9fff（）()]{2,40}(?:人民政府|办公室|办公厅|委员会|局|委|办|厅|署|院|中心|街道办事处|街道|镇|乡|站|所|队|会)$")


@dataclass
class _Meta:
    title: str | None = None
    year: int | None = None
    office: str | None = None
    published: dt.date | None = None
    period: str | None = None
    period_years: tuple[int, ...] = ()
    period_exact: bool = False
    signature: str | None = None


def _clean_office(text: str) -> str | None:
    text = re.sub(r"^(?:关于|印发)", "", text.strip(" ：:　\"“”《》【】[]"))
    text = re.sub(r"(?:关于|20\d\d\s*年度?)$", "", text).strip(" ：:　\"“”《》【】[]")
    return text if 2 <= len(text) <= 40 and not re.search(r"[，。；,;]", text) else None


def _metadata(tokens: list[Token]) -> _Meta:
    meta = _Meta()
    texts = [unicodedata.normalize("NFKC", t.text).strip() for t in tokens if not t.explicit]
    # A title may wrap onto two lines (a centred heading in a PDF).
    head = texts[:40]
    candidates = [c for i, t in enumerate(head) for c in (t, t + head[i + 1] if i + 1 < len(head) else "") if c]
    for text in candidates + [t for t in texts[40:] if "政府信息公开" in t and len(t) < 80]:
        text = _PREFIX.sub("", text, count=1)
        m = _TITLE.search(text) if len(text) < 120 else None
        if m and len(m.group(0)) >= len(text) - 12:
            meta.title = text
            meta.year = int(m.group("year"))
            meta.office = _clean_office(m.group("before")) or _clean_office(m.group("after"))
            break
    joined = "\n".join(texts)
    m = _PERIOD.search(joined)
    if m:
        meta.period = m.group(0)
        numbers = re.findall(r"\d+", m.group(0))
        meta.period_years = tuple(sorted({int(n) for n in numbers if len(n) == 4 and n.startswith("20")}))
        meta.period_exact = (len(numbers) == 6 and numbers[0] == numbers[3] and numbers[1:3] == ["1", "1"]
                             and numbers[4:6] == ["12", "31"])
    if meta.year is None:
        if len(meta.period_years) == 1:
            meta.year = meta.period_years[0]
        else:
            y = re.search(r"(20\d\d)\s*年(?:度)?\s*政府信息公开工作年度报告", joined)
            meta.year = int(y.group(1)) if y else None
    # 发布日期 often sits in the portal's metadata table: its label and date are two cells.
    m = _PUBLISHED.search("\n".join(unicodedata.normalize("NFKC", t.text) for t in tokens))
    if m:
        try:
            meta.published = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            pass
    for text in reversed(texts[-6:]):
        if _SIGNATURE.match(text):
            meta.signature = text
            break
    return meta


# -- sections --------------------------------------------------------------------------------------

def _section_bounds(spec: Spec, tokens: list[Token]) -> dict[str, int]:
    """Where each of the six sections starts (token index), by its heading."""
    keywords = {s.id: s.import_keywords for s in spec.sections}
    row_labels = _row_labels(spec.format)
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


# -- placing figures --------------------------------------------------------------------------------

class _Placer:
    """Figures as they are read: each placed, or uncertain with why; findings for what is missing."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.figures: dict[str, Any] = {f.id: None for f in spec.inputs()}
        self.placed: set[str] = set()
        self.sources: dict[str, str] = {}  # figure -> the source line(s) it was read from
        self.uncertain: dict[str, str] = {}
        self.totals: dict[str, Any] = {}
        self.findings: list[Finding] = []

    def place(self, fig: Figure, value: Any, where: str) -> None:
        if fig.kind != "input":
            self.totals[fig.id] = value  # a total as published: checked against its parts, never used
            self.sources[fig.id] = where
        elif fig.id not in self.uncertain:
            self.figures[fig.id] = value
            self.placed.add(fig.id)
            self.sources[fig.id] = where

    def doubt(self, figs: list[Figure], why: str, where: str, code: str = "import-uncertain",
              label: str = "") -> None:
        figs = [f for f in figs if f.kind == "input" and f.id not in self.placed and f.id not in self.uncertain]
        if not figs:
            return
        reason = f"{why}（{where}）" if where else why
        for f in figs:
            self.uncertain[f.id] = reason
        self.findings.append(finding(code, label=label, detail=reason, figure=figs[0].id, actual=len(figs)))

    def rest(self) -> None:
        """Any figure neither placed nor doubted yet: not found in the report."""
        missing = [f for f in self.spec.inputs() if f.id not in self.placed and f.id not in self.uncertain]
        by_table: dict[str, list[Figure]] = {}
        for f in missing:
            by_table.setdefault(f.table_id, []).append(f)
        for figs in by_table.values():
            rows = list(dict.fromkeys(f.row or f.block or f.column for f in figs))
            self.doubt(figs, "原文中未找到" + "、".join(f"“{r}”" for r in rows[:6]) + ("等" if len(rows) > 6 else ""),
                       "", code="import-not-found")


def _table_figures(spec: Spec, table_id: str) -> list[Figure]:
    return [f for f in spec.figures if f.table_id == table_id]


def _place_table(placer: _Placer, table: Table, tokens: list[Token]) -> None:
    spec = placer.spec
    figs = _table_figures(spec, table.id)
    if not any(r.label for r in table.rows):
        _place_unlabelled(placer, figs, tokens)
        return
    for block in table.blocks:
        labels = {normalize_label(text): r.id for r in block.rows for text in r.labels}
        span = _block_span(block, table, tokens)
        if span is None:
            block_figs = [f for f in figs if f.block_id == block.id]
            placer.doubt(block_figs, f"原文中未找到“{block.heading}”", f"表{table.table}",
                         code="import-block-missing", label=block.heading)
            continue
        start, stop = span
        columns = [c.id for c in block.columns]
        i = start
        while i < stop:
            row_id, width = _row_at(tokens, i, stop, labels)
            if row_id is None:
                i += 1
                continue
            row = next(r for r in block.rows if r.id == row_id)
            cells = sorted((f for f in figs if f.block_id == block.id and f.row_id == row_id),
                           key=lambda f: columns.index(f.column_id))
            values, j = [], i + width
            while j < stop:
                ok, v = tokens[j].value(cells[min(len(values), len(cells) - 1)].unit if cells else None)
                if not ok:
                    break
                values.append(v)
                j += 1
            while len(values) > len(cells) and values[-1] is None:
                values.pop()  # trailing empty cells of a scraped table
            if any(f.id in placer.placed for f in cells):
                pass  # the row again (a table repeated on the next page): the first reading stands
            elif len(values) == len(cells):
                where = _lines(tokens[i:j])
                for f, v in zip(cells, values):
                    placer.place(f, v, where)
            else:
                placer.doubt(cells, f"“{row.label}”找到{len(values)}个数，应为{len(cells)}个，无法确定各数所在的单元格",
                             _lines(tokens[i:j]))
            i = max(j, i + width)


def _place_unlabelled(placer: _Placer, figs: list[Figure], tokens: list[Token]) -> None:
    """A table of one unlabelled row (表四): its values in column order, all of them or none.
    Where the section has table cells, only they count (a page number between paragraphs is no value)."""
    cells = [t for t in tokens if t.explicit] or tokens
    found = [(t, v) for t in cells for ok, v in [t.value(None)] if ok]
    values = [v for _, v in found]
    if len(values) != len(figs):
        found = [(t, v) for t, v in found if v is not None]
        values = [v for _, v in found]
    if len(values) == len(figs):
        where = _lines([t for t, _ in found])
        for f, v in zip(figs, values):
            placer.place(f, v, where)
    else:
        placer.doubt(figs, f"找到{len(values)}个数，应为{len(figs)}个，无法确定各数所在的单元格",
                     _lines([t for t, _ in found] or tokens[:1]))


def _lines(tokens: list[Token]) -> str:
    """Where tokens came from, as a reader finds it: "报告.txt第146—158行"."""
    wheres = list(dict.fromkeys(t.where for t in tokens))
    parts = [re.fullmatch(r"(.*第)(\d+)行", w) for w in wheres]
    if wheres and all(parts) and len({p.group(1) for p in parts}) == 1:
        numbers = sorted({int(p.group(2)) for p in parts})
        span = str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}—{numbers[-1]}"
        return f"{parts[0].group(1)}{span}行"
    return "、".join(wheres[:3]) + ("等" if len(wheres) > 3 else "")


def _row_at(tokens: list[Token], i: int, stop: int, labels: dict[str, str]) -> tuple[str | None, int]:
    """The row a label starting at token i names, and how many tokens it takes (a scrape may break a label
    over up to three lines: "本年新收政府信息\\n公开申请数量"), or (None, 1)."""
    text = ""
    for k in range(3):
        if i + k >= stop:
            break
        tok = tokens[i + k]
        if k and (not tok.norm or tok.value(None)[0]):
            break
        text += tok.norm
        row = labels.get(text) or (labels.get(text.rsplit("/", 1)[1]) if "/" in text else None)
        if row is not None:
            return row, k + 1
    return None, 1


def _label_at(tokens: list[Token], i: int, wanted: set[str]) -> bool:
    """Whether the tokens from i spell one of the wanted labels, alone or heading a header row typed as one
    line ("第二十条第（一）项 本年制发件数 …")."""
    text = ""
    for k in range(3):
        if i + k >= len(tokens) or not tokens[i + k].norm or (k and tokens[i + k].value(None)[0]):
            break
        text += tokens[i + k].norm
        if text in wanted or (k == 0 and any(text.startswith(w) for w in wanted)):
            return True
    return False


def _block_span(block: Block, table: Table, tokens: list[Token]) -> tuple[int, int] | None:
    """Tokens from a block's own label to the next block's label (the whole table when unlabelled);
    None when the report does not show the block's label."""
    if not block.label_cells:
        return 0, len(tokens)
    label = normalize_label(block.heading)
    start = next((i for i in range(len(tokens)) if _label_at(tokens, i, {label})), None)
    if start is None:
        return None
    others = {normalize_label(b.heading) for b in table.blocks if b.label_cells} - {label}
    stop = next((i for i in range(start + 1, len(tokens)) if _label_at(tokens, i, others)), len(tokens))
    return start, stop


def _place_prose_figures(placer: _Placer, prose: dict[str, str]) -> None:
    """Figures reported in sentences (信息处理费), by the patterns the spec gives."""
    spec = placer.spec
    for f in spec.inputs():
        row = next((r for r in spec.table(f.table_id).rows if r.id == f.row_id and r.import_patterns), None)
        if row is None:
            continue
        text = unicodedata.normalize("NFKC", prose.get(row.import_section, ""))
        for pattern in row.import_patterns:
            m = re.search(pattern, text)
            if m:
                placer.place(f, _num(m.group(1)) if m.groups() else 0, spec.section(row.import_section).heading)
                break
        else:
            section = spec.section(row.import_section)
            placer.doubt([f], f"“{section.heading}”中没有写明“{f.row}”", "", code="import-not-found")


def _num(text: str) -> int | float:
    n = float(text.replace(",", ""))
    return int(n) if n.is_integer() else n


def _split_topics(spec: Spec, section: str, body: list[Token]) -> dict[str, str]:
    """A section's text, split at its topics' official headings (（一）主动公开) where the report has them;
    the tokens of one source line are one line again."""
    topics = {unicodedata.normalize("NFKC", f.label).strip(): f.id for f in spec.prose.fields
              if f.section == section and f.label}
    parts: dict[str, list[list[str]]] = {section: []}
    key, last_line = section, None
    for tok in body:
        heading = topics.get(unicodedata.normalize("NFKC", tok.text).strip())
        if heading:
            key, last_line = heading, None
            parts.setdefault(key, [])
            continue
        if tok.line and tok.line == last_line and parts[key]:
            parts[key][-1].append(tok.text)
        else:
            parts[key].append([tok.text])
        last_line = tok.line
    return {k: "\n".join(" ".join(line) for line in v) for k, v in parts.items()}


# -- the whole report -----------------------------------------------------------------------------

def import_tokens(tokens: list[Token], path: Path, sha256: str, *, year: int | None = None,
                  format_id: str | None = None, image_pages: tuple[int, ...] = (), images: int = 0) -> Imported:
    """Place the figures of a tokenised report and check its structure."""
    meta = _metadata(tokens)
    found_year = year or meta.year
    spec = detect_format(tokens, found_year, format_id)
    placer = _Placer(spec)
    starts = _section_bounds(spec, tokens)
    order = sorted(starts.items(), key=lambda kv: kv[1])
    ends = {sid: (order[i + 1][1] if i + 1 < len(order) else len(tokens)) for i, (sid, _) in enumerate(order)}
    row_labels = _row_labels(spec.format)
    pictures = images or image_pages
    if pictures and not any(t.norm in row_labels for t in tokens):
        where = f"第{'、'.join(map(str, image_pages))}页" if image_pages else f"{images}张图片"
        placer.doubt(list(spec.inputs()), "表格为图片，无法核对数据", where, code="import-tables-images")
    for table in spec.tables:
        section = table.heading_section
        if not section:
            continue
        if section not in starts:
            heading = spec.section(section).heading
            placer.doubt(_table_figures(spec, table.id), f"原文中未找到“{heading}”部分，表{table.table}的数无法核对", "",
                         code="import-section-missing", label=heading)
            continue
        part = tokens[starts[section]:ends[section]]
        own = _row_labels(spec.format, table.id)
        if pictures and own and not any(t.norm in own for t in part):
            # The section is there, its table is not: a picture of it (the document has pictures).
            placer.doubt(_table_figures(spec, table.id), "表格为图片，无法核对数据", f"表{table.table}",
                         code="import-tables-images")
            continue
        _place_table(placer, table, part)
    prose: dict[str, str] = {}
    for s in spec.sections:
        if s.kind == "prose" and s.id in starts:
            body = [t for t in tokens[starts[s.id] + 1:ends[s.id]] if not t.explicit]
            prose.update(_split_topics(spec, s.id, body))
    _place_prose_figures(placer, prose)
    placer.rest()
    result = Imported(path, sha256, spec, found_year, meta.office, placer.figures, placer.uncertain, prose,
                      placer.findings, placed=placer.placed, sources=placer.sources, totals=placer.totals,
                      published=meta.published,
                      sections=tuple(sid for sid, _ in order), title=meta.title)
    result.findings += structure_findings(result, tokens, meta)
    return result


_BRACKETS = str.maketrans({"[": "〔", "]": "〕", "（": "〔", "）": "〕", "(": "〔", ")": "〕", "【": "〔", "】": "〕",
                           "［": "〔", "］": "〕"})


def structure_findings(result: Imported, tokens: list[Token], meta: _Meta) -> list[Finding]:
    """What assessors check in a published report beyond its figures: the six parts in order, the basis
    cited, title against statistics period and signature, the period itself, the format for the year,
    publication within the legal deadline (rules S1, S2, S5, S6, D7, T1 of field-rules)."""
    spec, year, out = result.spec, result.year, []
    for s in spec.sections:
        if s.id not in result.sections:
            out.append(finding("report-section-missing", label=s.heading))
    expected = [s.id for s in spec.sections if s.id in result.sections]
    if list(result.sections) != expected:
        names = "、".join(_NUMERALS[[s.id for s in spec.sections].index(sid)] for sid in result.sections)
        out.append(finding("report-section-order", detail=names))
    if year:
        if not spec.applies_to_year(year):
            rule = spec.rule("D7")
            out.append(Finding(rule.code, rule.severity, rule.message.format(actual=year, years=spec.years_text()),
                               rule="D7", expected=format_for_year(year).basis, actual=spec.basis))
        text = unicodedata.normalize("NFKC", "\n".join(t.text for t in tokens if not t.explicit)).translate(_BRACKETS)
        text = re.sub(r"\s+", "", text)
        current = format_for_year(year).basis
        for fid in available_formats():
            basis = get_spec(fid).basis
            number = basis.replace("国办公开办函", "")
            if not get_spec(fid).applies_to_year(year) and number in text:
                out.append(finding("report-basis-outdated", actual=basis, expected=current))
        if meta.title and meta.period_years and year not in meta.period_years:
            out.append(finding("report-title-year", actual=year, expected="、".join(map(str, meta.period_years))))
        if meta.period and (meta.period_years and set(meta.period_years) != {year} or
                            (not meta.period_years and not meta.period_exact)):
            out.append(finding("report-period", actual=meta.period, expected=year))
        if result.published:
            office = result.office or meta.signature or ""
            government = office.endswith("人民政府")
            deadline = dt.date(year + 1, 3 if government else 1, 31)
            if result.published > deadline:
                out.append(finding("report-late", label=office or "本单位", actual=result.published.isoformat(),
                                   expected=deadline.isoformat()))
    if meta.signature and result.office and normalize_label(meta.signature) != normalize_label(result.office):
        out.append(finding("report-title-office", actual=result.office, expected=meta.signature))
    return out


MAX_IMPORT_BYTES = 20 * 1024 * 1024  # a published report with its tables is well under a megabyte


def _read_source(path: Path) -> bytes:
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"只能导入 .txt、.md、.html、.docx 或 .pdf 格式的报告：{path}")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path} 不是普通文件（可能是管道或设备），不能导入")
        if info.st_size > MAX_IMPORT_BYTES:
            raise InputError(f"{path} 有{info.st_size / 1024 / 1024:.0f}MB，超过年度报告应有的大小"
                             f"（{MAX_IMPORT_BYTES // 1024 // 1024}MB），不导入")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取 {path}：{exc.strerror}") from None


def import_document(source: str | Path, *, year: int | None = None, format_id: str | None = None) -> Imported:
    """Read one published report into figures, prose and findings (nothing is written)."""
    path = Path(source)
    data = _read_source(path)
    doc: Document = read_document(path, data)
    return import_tokens(doc.tokens, path, hashlib.sha256(data).hexdigest(), year=year, format_id=format_id,
                         image_pages=doc.image_pages, images=doc.images)


def import_report(source: str | Path, outdir: str | Path, *, year: int | None = None,
                  format_id: str | None = None) -> Imported:
    """Import one published report and write it as a filled template workbook into ``outdir``."""
    result = import_document(source, year=year, format_id=format_id)
    office = {"name": result.office, "year": result.year}
    filling = Filling(office={k: v for k, v in office.items() if v}, values=result.figures, prose=result.prose,
                      lock_office=False, meta={"source": result.path.name, "source_sha256": result.sha256})
    target = Path(outdir) / office_filename({"name": result.office or result.path.stem}, result.year, result.spec)
    result.workbook = write_workbook(result.spec, target, filling)
    return result
