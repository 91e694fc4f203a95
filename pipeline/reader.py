"""Read a returned file into a :class:`Submission`: office, year, format, figures, prose, provenance.

The template is identified by its hidden metadata and defined names, never by
sheet positions. When those are missing (an office copied the tables into its own
workbook, or used an old or foreign template) the figures are found by the
official labels. Anything that is not a readable workbook becomes a Chinese
finding, never an exception.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .findings import Finding, finding
from .spec import Spec, available_formats, get_spec, split_cell, version_key
from .xlexpr import col_index, col_letters
from .xlsxread import Workbook, WorkbookError, read_workbook

MAX_FILE_BYTES = 50 * 1024 * 1024
_REF_RE = re.compile(r"^=?(?:'((?:[^']|'')+)'|([^!'\s]+))!\$?([A-Z]{1,3})\$?([0-9]+)$")


@dataclass
class Submission:
    """One returned file, as read. ``spec`` is None when the file could not be read as a report."""

    path: Path
    sha256: str = ""
    size: int = 0
    spec: Spec | None = None
    identified_by: str | None = None  # "metadata" / "names" / "labels"
    office: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # figure id -> cell value (cached result for formulas)
    formulas: dict[str, str | None] = field(default_factory=dict)  # figure id -> formula text
    locations: dict[str, tuple[str, str]] = field(default_factory=dict)  # figure id -> (sheet, cell)
    prose: dict[str, str] = field(default_factory=dict)
    explanation: str | None = None  # the office's 情况说明 of its warnings (internal, never published)
    meta: dict[str, Any] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # template sheet name -> its name in this file
    workbook: Workbook | None = None
    findings: list[Finding] = field(default_factory=list)
    # The exact bytes that were read: feedback annotates these, never whatever sits at ``path`` now.
    data: bytes | None = field(default=None, repr=False)

    @property
    def readable(self) -> bool:
        return self.spec is not None

    @property
    def year(self) -> int | None:
        y = self.office.get("year")
        return parse_year(y)


def parse_year(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d{4})\s*年?(?:度)?\s*", unicodedata.normalize("NFKC", value))
        if m:
            return int(m.group(1))
    return None


_FOLD = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "，": ",", "—": "-", "－": "-"})
_SPACE = re.compile(r"\s+")


def normalize_label(text: Any) -> str:
    """Label text for matching: full-/half-width folded, whitespace and quote styles ignored."""
    if not isinstance(text, str):
        return ""
    return _normalized(text)


@functools.lru_cache(maxsize=8192)  # every workbook from the template has the same labels
def _normalized(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).translate(_FOLD)


@functools.lru_cache(maxsize=8192)  # every workbook from the template has the same defined names
def parse_ref(ref: str) -> tuple[str, str] | None:
    """"'表三 依申请公开'!$D$5" → ("表三 依申请公开", "D5")."""
    m = _REF_RE.match(ref.strip())
    if not m:
        return None
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    col, row = m.group(3), int(m.group(4))
    # A name must point inside a worksheet (XFD1048576); anything else is as good as no name.
    if not 1 <= row <= 1_048_576 or col_index(col) > 16_384:
        return None
    return sheet, f"{col}{row}"


def sniff(data: bytes, suffix: str) -> str | None:
    """A finding code for what the bytes are when they are not an xlsx package, else None."""
    if not data:
        return "file-empty"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        # OLE compound file: an encrypted OOXML package, a legacy .xls, or WPS's .et.
        if "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data:
            return "file-encrypted"
        if suffix in (".et", ".ett"):
            return "file-et"
        if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
            return "file-xls"
        return "file-not-workbook:Word或其他旧版Office文件"
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return None
    if data[:5] == b"%PDF-":
        return "file-not-workbook:PDF文件"
    if data.lstrip()[:1] == b"<":
        return "file-not-workbook:网页或XML文件"
    sample = data[:4096]
    for encoding in ("utf-8", "gb18030"):
        try:
            sample.decode(encoding)
            return "file-not-workbook:CSV或文本文件"
        except UnicodeDecodeError:
            continue
    return "file-not-workbook:无法识别的文件"


def _zip_kind(data: bytes) -> str:
    """Name a zip that has no workbook in it."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
    except Exception:  # noqa: BLE001 - any damage: it is just "a zip"
        return "压缩包"
    if any(n.startswith("word/") for n in names):
        return "Word文档"
    if any(n.startswith("ppt/") for n in names):
        return "PowerPoint文档"
    if "content.xml" in names:
        return "OpenDocument文件（请另存为.xlsx）"
    return "压缩包"


def read_submission(path: str | Path, data: bytes | None = None) -> Submission:
    """Read one file. Never raises for a bad file: problems become ``findings``.

    :param path: the file (its name is used in messages and for the format sniff).
    :param data: its bytes, when already in memory.
    """
    path = Path(path)
    sub = Submission(path)
    try:
        if data is None:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
                sub.findings.append(finding("file-not-regular", detail=str(path)))
                return sub
            size = info.st_size
            if size > MAX_FILE_BYTES:
                sub.size = size
                sub.findings.append(finding("file-too-large"))
                return sub
            data = path.read_bytes()
    except OSError as exc:
        sub.findings.append(finding("file-missing", detail=f"{path}（{exc.strerror}）"))
        return sub
    sub.size = len(data)
    sub.data = data
    sub.sha256 = hashlib.sha256(data).hexdigest()
    kind = sniff(data, path.suffix.lower())
    if kind:
        code, _, detail = kind.partition(":")
        sub.findings.append(finding(code, detail=detail))
        return sub
    try:
        wb = read_workbook(io.BytesIO(data), skip=_our_sheets())
    except WorkbookError as exc:
        if exc.code == "file-not-workbook":
            sub.findings.append(finding("file-not-workbook", detail=_zip_kind(data)))
        else:
            sub.findings.append(finding(exc.code, detail=exc.detail))
        return sub
    sub.workbook = wb
    if wb.has_macros:
        sub.findings.append(finding("file-macros"))
    _identify(sub, wb)
    if sub.spec is None:
        sub.findings.append(finding("file-unknown-template"))
        return sub
    _extract(sub, wb)
    return sub


@functools.cache
def _our_sheets() -> frozenset[str]:
    """Sheets a reader of the national tables never needs: the feedback sheets xxgk adds and a rollup's
    per-office, by-kind … sheets (which grow with the offices; :func:`pipeline.merge.read_rollup` reads them)."""
    return frozenset(name for fmt in available_formats() for name in get_spec(fmt).our_sheets)


# -- identification -----------------------------------------------------------

def _name_value(wb: Workbook, name: str) -> Any:
    ref = wb.names.get(name)
    loc = parse_ref(ref) if ref else None
    if not loc or loc[0] not in wb.sheets:
        return None
    return wb.sheets[loc[0]].value(loc[1])


def _identify(sub: Submission, wb: Workbook) -> None:
    specs = [get_spec(f) for f in available_formats()]
    # 1. Hidden metadata written by the template.
    for spec in specs:
        fmt = _name_value(wb, spec.name_for("meta.format"))
        if fmt is not None and str(fmt) in available_formats():
            sub.spec = get_spec(str(fmt))
            sub.identified_by = "metadata"
            sub.meta = {f.key: _name_value(wb, sub.spec.name_for(f"meta.{f.key}")) for f in sub.spec.meta.fields}
            _locate_by_names(sub, wb)
            return
    # 2. Defined names of the figures (metadata sheet deleted, names kept).
    best = max(specs, key=lambda s: sum(1 for f in s.figures if f.name in wb.names))
    if sum(1 for f in best.figures if f.name in wb.names) >= len(best.figures) // 2:
        sub.spec, sub.identified_by = best, "names"
        _locate_by_names(sub, wb)
        return
    # 3. The official labels.
    located = [(spec, _locate_by_labels(spec, wb)) for spec in specs]
    spec, locations = max(located, key=lambda item: len(item[1]))
    if len(locations) >= len(spec.inputs()) // 2:
        sub.spec, sub.identified_by, sub.locations = spec, "labels", locations
        sub.findings.append(finding("template-identified-by-labels", detail=f"{spec.format}年格式（{spec.basis}）"))


def _renamed_sheets(spec: Spec, wb: Workbook) -> dict[str, str]:
    """Template sheets missing by name but present under another name, recognised by their labels."""
    expected = list(spec.sheets.values())
    extra = [s for s in wb.sheets if s not in expected]
    renamed: dict[str, str] = {}
    for name in expected:
        if name in wb.sheets:
            continue
        labels = [lb for lb in spec.labels() if lb.sheet == name]
        for candidate in extra:
            sheet = wb.sheets[candidate]
            hits = sum(1 for lb in labels if normalize_label(sheet.value(lb.cell)) == normalize_label(lb.text))
            if labels and hits * 2 >= len(labels) and candidate not in renamed.values():
                renamed[name] = candidate
                break
    return renamed


def _locate_by_names(sub: Submission, wb: Workbook) -> None:
    sub.renamed = _renamed_sheets(sub.spec, wb)
    for f in sub.spec.figures:
        ref = wb.names.get(f.name)
        loc = parse_ref(ref) if ref else None
        if loc and loc[0] in wb.sheets:
            sub.locations[f.id] = loc
        elif sub.renamed.get(f.sheet, f.sheet) in wb.sheets:
            sub.locations[f.id] = (sub.renamed.get(f.sheet, f.sheet), f.cell)


def _text_index(wb: Workbook) -> dict[str, list[tuple[str, int, int]]]:
    """Normalized text → [(sheet, row, column)] of every text cell."""
    index: dict[str, list[tuple[str, int, int]]] = {}
    for sheet in wb.sheets.values():
        for ref, cell in sheet.cells.items():
            if isinstance(cell.value, str) and cell.formula is None:
                col, row = split_cell(ref)
                index.setdefault(normalize_label(cell.value), []).append((sheet.name, row, col_index(col)))
    for hits in index.values():
        hits.sort(key=lambda h: (h[0], h[1], h[2]))
    return index


def _merged_span(wb: Workbook, sheet: str, row: int, col: int) -> tuple[int, int]:
    """The column span of the merged range starting at (row, col), or just that column."""
    for ref in wb.sheets[sheet].merged:
        first, _, last = ref.partition(":")
        c1, r1 = split_cell(first)
        c2, _ = split_cell(last or first)
        if r1 == row and col_index(c1) == col:
            return col, col_index(c2)
    return col, col


def _locate_by_labels(spec: Spec, wb: Workbook) -> dict[str, tuple[str, str]]:
    """Find each figure at (row of its row label, column of its column label) by the official wording."""
    index = _text_index(wb)
    found: dict[str, tuple[str, str]] = {}
    for table in spec.tables:
        # The sheet holding most of this table's row labels.
        row_labels = [normalize_label(r.label) for r in table.rows if r.label]
        col_labels = [normalize_label(c.label) for b in table.blocks for c in b.columns if c.label]
        votes: dict[str, int] = {}
        for text in row_labels + col_labels:
            for sheet, _, _ in index.get(text, []):
                votes[sheet] = votes.get(sheet, 0) + 1
        if not votes:
            continue
        sheet = max(votes, key=votes.get)
        hits = lambda text: [(r, c) for s, r, c in index.get(normalize_label(text), []) if s == sheet]  # noqa: E731
        for block in table.blocks:
            # A block label bounds where its header and rows are searched.
            top, cols = 0, (1, 10**6)
            if block.label_cells:
                label_hits = hits(block.heading)
                if not label_hits:
                    continue
                top, first_col = label_hits[0]
                cols = _merged_span(wb, sheet, top, first_col)
                if cols[0] == cols[1]:
                    cols = (1, 10**6)
            col_pos: dict[str, int] = {}
            header_row = top
            for col in block.columns:
                if not col.label:
                    continue
                cands = [(r, c) for r, c in hits(col.label) if r > top and cols[0] <= c <= cols[1] and c not in col_pos.values()]
                if cands:
                    r, c = cands[0]
                    col_pos[col.id] = c
                    header_row = max(header_row, r)
            for row in block.rows:
                if row.label:
                    cands = [r for r, _ in hits(row.label) if r > top]
                    if not cands:
                        continue
                    row_num = cands[0]
                else:
                    row_num = header_row + 1
                for col in block.columns:
                    c = col_pos.get(col.id)
                    if col.label is None and block.label_cells is None:
                        # A one-column block without a header (信息处理费): the cell right of the row label.
                        label_col = [c2 for r2, c2 in hits(row.label) if r2 == row_num]
                        c = label_col[0] + 1 if label_col else None
                    if c is None:
                        continue
                    fid = ".".join(p for p in (table.id, block.id, row.id, col.id) if p)
                    found[fid] = (sheet, f"{col_letters(c)}{row_num}")
    return found


# -- extraction -----------------------------------------------------------------

def _extract(sub: Submission, wb: Workbook) -> None:
    spec = sub.spec
    for f in spec.figures:
        loc = sub.locations.get(f.id)
        if not loc or loc[0] not in wb.sheets:
            continue
        cell = wb.sheets[loc[0]].cells.get(loc[1])
        sub.raw[f.id] = cell.value if cell else None
        sub.formulas[f.id] = cell.formula if cell else None
    office_sheet = sub.renamed.get(spec.office.sheet, spec.office.sheet)
    for fld in spec.office.fields:
        value = _name_value(wb, spec.name_for(f"office.{fld.id}"))
        if value is None and sub.identified_by != "labels" and office_sheet in wb.sheets:
            value = wb.sheets[office_sheet].value(fld.cell)
        if value is None and sub.identified_by == "labels":
            value = _value_beside_label(wb, fld.label)
        sub.office[fld.id] = value.strip() if isinstance(value, str) else value
    prose_sheet = sub.renamed.get(spec.prose.sheet, spec.prose.sheet)
    for fld in spec.prose.fields:
        name = spec.name_for(f"prose.{fld.id}")
        if not _has_part(sub, fld.since, name, wb):
            continue  # a cell this workbook's (older) template does not have
        value = _name_value(wb, name)
        if value is None and prose_sheet in wb.sheets:
            value = wb.sheets[prose_sheet].value(fld.cell)
        if isinstance(value, str):
            sub.prose[fld.id] = value
        elif sub.identified_by != "labels" and prose_sheet in wb.sheets:
            sub.prose[fld.id] = ""  # the text's cell is there, and blank (a copied table has none)
    ex = spec.explanation
    if ex and _has_part(sub, ex.since, spec.name_for("explanation"), wb):
        value = _name_value(wb, spec.name_for("explanation"))
        ex_sheet = sub.renamed.get(ex.sheet, ex.sheet)
        if value is None and sub.identified_by != "labels" and ex_sheet in wb.sheets:
            value = wb.sheets[ex_sheet].value(ex.cell)
        if value is not None and str(value).strip():
            sub.explanation = str(value).strip()


def _has_part(sub: Submission, since: str | None, name: str, wb: Workbook) -> bool:
    """Whether the workbook has a part the template added in version ``since``: its defined name says so;
    a workbook of an older version does not (its cells there hold something else, or nothing)."""
    if since is None or name in wb.names:
        return True
    version = sub.meta.get("template_version")
    return version is None or version_key(version) >= version_key(since)


def _value_beside_label(wb: Workbook, label: str) -> Any:
    target = normalize_label(label)
    for sheet in wb.sheets.values():
        for ref, cell in sheet.cells.items():
            if normalize_label(cell.value) == target:
                col, row = split_cell(ref)
                return sheet.value(f"{col_letters(col_index(col) + 1)}{row}")
    return None
