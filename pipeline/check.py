"""Check submissions against their format's rules; the result is a :class:`CheckReport` of findings.

Nothing read from a workbook is trusted: every total is recomputed from the inputs,
formulas are compared with the template's, and each rule of the spec is evaluated
in Python on the recomputed figures.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from array import array
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TextIO

from .budget import DEFAULT_MEMORY_MB, DEFAULT_SECONDS, BudgetExceeded, budget
from .errors import UsageError
from .findings import STATUS_LABELS, Finding, finding, severity_label
from .fsutil import annotated_name, safe_filename
from .reader import Submission, normalize_label, parse_year, read_submission
from .rules import Context, Outcome, Previous, evaluate, parse_number, sum_of
from .spec import LEVELS, Figure, Spec, recompute
from .xlexpr import is_number

CELL_TEXT_LIMIT = 32767  # characters an Excel cell holds
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".et", ".ett", ".ods"}


@dataclass
class FileResult:
    """The findings for one file, with what identifies it.

    ``submission`` (the whole read workbook) is kept only while a caller needs it —
    to annotate, merge or report; a batch of thousands keeps just this summary.
    """

    path: Path
    submission: Submission | None
    findings: list[Finding] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)  # every figure, recomputed
    annotated: Path | None = None  # the feedback workbook, once written
    office_info: dict[str, Any] = field(default_factory=dict)
    format: str | None = None
    year: int | None = None
    sha256: str = ""
    readable: bool = False
    explanation: str | None = None  # the office's 情况说明: its warnings show as 已说明
    outcomes: list[Outcome] = field(default_factory=list)  # every rule at every location: pass/fail/missing/…
    prose: dict[str, str] = field(default_factory=dict)  # the texts, for comparing a batch's offices
    identified_by: str | None = None
    level: str = "county"  # the level the office was checked at

    def __post_init__(self) -> None:
        sub = self.submission
        if sub is not None:
            self.office_info = {k: sub.office.get(k) for k in ("name", "code", "kind")}
            self.format = sub.spec.format if sub.spec else None
            self.year = sub.year
            self.sha256 = sub.sha256
            self.readable = sub.readable
            self.explanation = sub.explanation
            self.prose = sub.spec.joined_texts(sub.prose) if sub.spec else dict(sub.prose)
            self.identified_by = sub.identified_by

    def slim(self, texts: bool = True) -> "FileResult":
        """The same result without the workbook and figures (and without the texts, ``texts=False``): cheap to
        keep and to pass between processes."""
        return FileResult(self.path, None, self.findings, {}, self.annotated, self.office_info, self.format,
                          self.year, self.sha256, self.readable, self.explanation, self.outcomes,
                          self.prose if texts else {}, self.identified_by, self.level)

    def explained(self, f: Finding) -> bool:
        """A warning the office has explained in its 情况说明 (the reviewer still decides)."""
        return f.severity == "warning" and bool(self.explanation)

    @property
    def status(self) -> str:
        if not self.readable:
            return "unreadable"
        if any(f.severity == "error" for f in self.findings):
            return "errors"
        if any(f.severity == "warning" for f in self.findings):
            return "warnings"
        return "ok"

    @property
    def office(self) -> str | None:
        return self.office_info.get("name")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "office": self.office,
            "office_code": self.office_info.get("code"),
            "format": self.format,
            "year": self.year,
            "sha256": self.sha256,
            "status": self.status,
            "explanation": self.explanation,
            "findings": [{**f.to_dict(), "explained": self.explained(f)} for f in self.findings],
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


@dataclass
class PeerText:
    """What comparing a batch's texts needs of one result (rule X4). A large batch spools these apart from its
    results: the comparison reads back a few texts per file, not every outcome."""

    path: Path
    office: str | None
    readable: bool
    format: str | None
    identified_by: str | None
    prose: dict[str, str]

    @classmethod
    def of(cls, r: FileResult) -> "PeerText":
        from .rules import peer_texts
        from .spec import get_spec

        prose = peer_texts(get_spec(r.format), r.prose) if r.readable and r.format else {}
        return cls(r.path, r.office, r.readable, r.format, r.identified_by, prose)


class _Records(Sequence):
    """Pickled records in a temporary file, read back one at a time by position."""

    def __init__(self, fh: Any = None) -> None:
        self.fh = fh if fh is not None else tempfile.TemporaryFile()
        self._offsets = array("q")

    def dump(self, value: Any) -> int:
        self.fh.seek(0, os.SEEK_END)
        at = self.fh.tell()
        pickle.dump(value, self.fh, pickle.HIGHEST_PROTOCOL)
        return at

    def load(self, at: int) -> Any:
        self.fh.seek(at)
        return pickle.load(self.fh)

    def append(self, value: Any) -> None:
        self._offsets.append(self.dump(value))

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.load(self._offsets[i])


STATUSES = ("ok", "warnings", "errors", "unreadable")  # in FileResult.status's order of precedence


def _worst(findings: Iterable[Finding]) -> int:
    severities = {f.severity for f in findings}
    return 2 if "error" in severities else 1 if "warning" in severities else 0


class SpooledResults(Sequence):
    """The results of a large batch, written to a temporary file as they finish and read back one at a time,
    so that checking 100,000 files holds no more in memory than checking one thousand. Findings the batch adds
    later (texts copied from another office, an unreadable ``--previous``) are kept beside and applied on reading."""

    def __init__(self) -> None:
        self._results = _Records()
        self.texts = _Records(self._results.fh)  # each result's PeerText, for rule X4
        self._extra = array("q")  # where the findings added later are, or -1
        self._status = array("b")  # each result's status as its index in STATUSES
        self.common: list[Finding] = []

    def append(self, result: FileResult) -> None:
        self.texts.append(PeerText.of(result))
        self._results.append(result.slim(texts=False))
        self._extra.append(-1)
        self._status.append(STATUSES.index(result.status))

    def add(self, i: int, outcomes: list[Outcome], findings: list[Finding]) -> None:
        """Outcomes and findings for result ``i`` found after it was spooled (written to the spool too)."""
        self._extra[i] = self._results.dump((outcomes, findings))
        self._status[i] = max(self._status[i], _worst(findings))

    def statuses(self) -> Iterator[str]:
        """Each result's status, without reading the results back."""
        common = _worst(self.common)
        for rank in self._status:
            yield STATUSES[rank if rank == len(STATUSES) - 1 else max(rank, common)]

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        result: FileResult = self._results[i]
        outcomes, findings = self._results.load(self._extra[i]) if self._extra[i] >= 0 else ((), ())
        result.outcomes += outcomes
        result.findings += [*findings, *self.common]
        return result


@dataclass
class CheckReport:
    """The result of checking a batch of files (a large batch's results are read from a spool as needed)."""

    files: Sequence[FileResult]

    def _statuses(self) -> Iterable[str]:
        if isinstance(self.files, SpooledResults):
            return self.files.statuses()
        return (f.status for f in self.files)

    @property
    def summary(self) -> dict[str, int]:
        out = {"files": len(self.files), **{s: 0 for s in STATUSES}}
        for status in self._statuses():
            out[status] += 1
        return out

    @property
    def valid(self) -> bool:
        return not any(s in ("errors", "unreadable") for s in self._statuses())

    def to_dict(self) -> dict[str, Any]:
        return {"files": [f.to_dict() for f in self.files], "summary": self.summary}

    def write_json(self, out: TextIO) -> None:
        """The same document as :meth:`to_dict`, written a file at a time (one line each): a batch of
        100,000 files never exists as one dict or one string."""
        import json

        out.write('{"files": [\n')
        for i, f in enumerate(self.files):
            out.write((",\n" if i else "") + json.dumps(f.to_dict(), ensure_ascii=False, default=str))
        out.write('\n], "summary": ' + json.dumps(self.summary, ensure_ascii=False) + "}\n")

    def to_text(self) -> str:
        """The console view: a table per file and a summary line, in Chinese."""
        lines = []
        for f in self.files:
            head = f"{f.path}"
            who = f.office or "（未识别单位）"
            fmt = f"{f.format}年格式" if f.format else ""
            lines.append(f"{head}\n  {who} {f.year or ''} {fmt} —— {STATUS_LABELS[f.status]}")
            for x in f.findings:
                level = severity_label(x.severity, f.explained(x))
                where = f"[{x.where}] " if x.where else ""
                lines.append(f"  {level} {x.code:<28} {where}{x.message}")
            if f.explanation and any(f.explained(x) for x in f.findings):
                lines.append(f"  单位情况说明：{f.explanation}")
        s = self.summary
        lines.append(
            f"共{s['files']}个文件：通过{s['ok']}个，有提醒{s['warnings']}个，有错误{s['errors']}个，无法读取{s['unreadable']}个"
        )
        return "\n".join(lines)


# -- checks ---------------------------------------------------------------------

def _where(sub: Submission, fid: str) -> dict[str, Any]:
    sheet, cell = sub.locations.get(fid, (None, None))
    return {"sheet": sheet, "cell": cell, "figure": fid}


def _structure(sub: Submission) -> list[Finding]:
    spec, wb = sub.spec, sub.workbook
    out: list[Finding] = []
    version, checksum = sub.meta.get("template_version"), sub.meta.get("spec_sha256")
    # Templates of an earlier, compatible version (already sent to offices) read as current.
    layouts = {spec.template_version: spec.layout_sha256, **spec.compatible_versions}
    if version is not None and str(version) not in layouts:
        out.append(finding("template-outdated", expected=spec.template_version, actual=version))
    elif checksum not in (None, layouts.get(str(version), spec.layout_sha256)):
        out.append(finding("template-spec-changed"))
    expected = list(spec.sheets.values())
    renamed = sub.renamed
    for name in expected:
        if name in renamed:
            out.append(finding("structure-sheet-renamed", sheet=renamed[name], expected=name, actual=renamed[name]))
        elif name not in wb.sheets:
            out.append(finding("structure-sheet-missing", sheet=name))
    # The feedback sheets of an annotated copy and the extra sheets of a rollup are ours.
    ours = spec.our_sheets
    for name in wb.sheets:
        if name not in expected and name not in renamed.values() and name not in ours:
            out.append(finding("structure-sheet-added", sheet=name))
    for name in expected:
        sheet = wb.sheets.get(renamed.get(name, name))
        if sheet is not None and not sheet.protected and sheet.state == "visible":
            out.append(finding("structure-unprotected", sheet=sheet.name))
    if version is not None and str(version) != spec.template_version:
        # An earlier, compatible version has its own layout: its defined names place the figures.
        return out
    moved = sorted({f.sheet for f in spec.figures if f.id in sub.locations and sub.locations[f.id][1] != f.cell})
    moved = [renamed.get(name, name) for name in moved]
    for name in moved:
        out.append(finding("structure-moved", sheet=name))
    for label in spec.labels():
        if label.table is None or renamed.get(label.sheet, label.sheet) in moved:
            continue
        sheet = wb.sheets.get(renamed.get(label.sheet, label.sheet))
        if sheet is None:
            continue
        actual = sheet.value(label.cell)
        if normalize_label(actual) != normalize_label(label.text):
            out.append(finding("structure-label-changed", sheet=sheet.name, cell=label.cell, expected=label.text,
                               actual=actual if actual is not None else "（空白）"))
    return out


def _formulas(sub: Submission, values: dict[str, float]) -> list[Finding]:
    spec = sub.spec
    out: list[Finding] = []
    for f in spec.computed():
        if f.id not in sub.locations:
            continue
        where = _where(sub, f.id)
        formula = sub.formulas.get(f.id)
        # The expected formula is the template's, over wherever the parts are now.
        moved = {p: sub.locations.get(p, (spec.figure(p).sheet, spec.figure(p).cell)) for p in f.sum}
        expected_formula = _sum_formula(spec, f, moved, where["sheet"])
        if formula is None:
            out.append(finding("formula-replaced", label=f.label, expected=expected_formula, actual=sub.raw.get(f.id), **where))
        elif _canon(formula) != _canon(expected_formula):
            out.append(finding("formula-altered", label=f.label, expected=expected_formula, actual="=" + formula, **where))
        else:
            cached = sub.raw.get(f.id)
            if is_number(cached) and abs(cached - values[f.id]) > 1e-6:
                out.append(finding("formula-cached-mismatch", label=f.label, expected=values[f.id], actual=cached, **where))
    return out


_FORMULAS: dict[tuple, str] = {}  # (layout, total, home, where its parts are) -> the expected formula


def _sum_formula(spec: Spec, f: Figure, locations: dict[str, tuple[str, str]], home: str) -> str:
    # The same for every workbook of a layout (parts moved only when rows were inserted): built once.
    key = (spec.sha256, f.id, home, tuple(locations[p] for p in f.sum))
    formula = _FORMULAS.get(key)
    if formula is None:
        if len(_FORMULAS) > 10_000:  # moved parts in many different ways: do not grow without bound
            _FORMULAS.clear()
        parts = [replace(spec.figure(p), sheet=locations[p][0], cell=locations[p][1]) for p in f.sum]
        formula = _FORMULAS[key] = sum_of(parts).formula(home)
    return formula


def _canon(formula: str) -> str:
    return re.sub(r"\s+|\$", "", formula.lstrip("=")).upper()


def _office(sub: Submission, year: int | None) -> list[Finding]:
    spec = sub.spec
    out = []
    for fld in spec.office.fields:
        value = sub.office.get(fld.id)
        where = {"sheet": spec.office.sheet, "cell": fld.cell} if sub.identified_by != "labels" else {}
        if fld.id == "year":
            if parse_year(value) is None:
                out.append(finding("office-year-missing", **where))
            elif year and parse_year(value) != year:
                out.append(finding("office-year-mismatch", expected=year, actual=parse_year(value), **where))
        elif value in (None, "") and fld.required and sub.office.get("kind") != spec.rollup.kind:
            out.append(finding("office-field-missing", label=fld.label, **where))
        elif fld.choices and value not in fld.choices:
            out.append(finding("office-kind-unknown", actual=value, expected="、".join(fld.choices), **where))
    return out


def previous_of(result: "FileResult") -> Previous | None:
    """Last year's report as the cross-year rules need it: figures and prose."""
    if result is None or not result.readable:
        return None
    # Each section whole (its topics joined), as this year's is compared.
    return Previous(dict(result.values), dict(result.prose), result.year)


def context(sub: Submission, *, year: int | None = None, previous: Previous | None = None, level: str = "county",
            peers: Any = None, peer_key: str | None = None) -> tuple[Context, list[Finding]]:
    """What the rules read from a workbook, and the inputs it does not have at all."""
    spec = sub.spec
    inputs: dict[str, float | None] = {}
    state: dict[str, str] = {}
    missing: list[Finding] = []
    for f in spec.inputs():
        if f.id not in sub.locations:
            missing.append(finding("structure-figure-missing", label=f.label, figure=f.id))
            state[f.id] = "blank"
            continue
        kind, value = parse_number(sub.raw.get(f.id))
        t = spec.types[f.type]
        state[f.id] = {"number": "number", "blank": "blank", "text-number": "text-number"}.get(kind, "invalid")
        # Only a real number counts, as the workbook's own formulas count it: text (even "3") is 0 there.
        too_large = kind == "number" and t.max is not None and abs(value) > t.max
        inputs[f.id] = value if kind == "number" and not too_large else None
    values = recompute(spec, inputs)
    labelled = sub.identified_by == "labels"
    office_cells = {} if labelled else {fld.id: (spec.office.sheet, fld.cell) for fld in spec.office.fields}
    prose_sheet = sub.renamed.get(spec.prose.sheet, spec.prose.sheet)
    prose_cells = {} if labelled else {fld.id: (prose_sheet, fld.cell) for fld in spec.prose.fields}
    ctx = Context(spec, values, dict(sub.raw), state, office=sub.office, year=sub.year or year, level=level,
                  prose=spec.joined_texts(sub.prose), formulas=sub.formulas, locations=sub.locations, office_cells=office_cells,
                  prose_cells=prose_cells, previous=previous, peers=peers, peer_key=peer_key)
    return ctx, missing


def unit_level(sub: Submission, level: str) -> str:
    """The level a submission's figures are checked at: a rollup's own (the unit that merged it), else ``level``."""
    if sub.spec is not None and sub.office.get("kind") == sub.spec.rollup.kind and sub.meta.get("level") in LEVELS:
        return str(sub.meta["level"])
    return level


def check_submission(sub: Submission, *, year: int | None = None, previous: "Previous | FileResult | None" = None,
                     level: str = "county", peers: Any = None, peer_key: str | None = None) -> FileResult:
    """Check one read submission.

    :param year: the report year being collected (``--year``); a workbook for another year is an error.
    :param previous: last year's report of the same office (figures and prose), for the cross-year rules.
    :param level: county / city / province: the level the office reports at (rules on 规章 depend on it);
        a rollup is checked at the level it carries.
    :param peers: a :class:`pipeline.similarity.PeerIndex` of other offices' texts; ``peer_key`` is this office in it.
    """
    result = FileResult(sub.path, sub, list(sub.findings))
    if not sub.readable:
        return result
    if isinstance(previous, FileResult):
        previous = previous_of(previous)
    spec = sub.spec
    level = unit_level(sub, level)
    ctx, missing = context(sub, year=year, previous=previous, level=level, peers=peers, peer_key=peer_key)
    result.values = ctx.values
    result.level = level
    if sub.identified_by in ("metadata", "names"):
        result.findings += _structure(sub)
        result.findings += _formulas(sub, ctx.values)
    result.findings += _office(sub, year)
    for section, text in sub.prose.items():
        if len(text) > CELL_TEXT_LIMIT:
            result.findings.append(finding("text-too-long", label=spec.text_heading(section), actual=len(text),
                                           expected=CELL_TEXT_LIMIT))
    outcomes, found = evaluate(ctx)
    result.outcomes = outcomes
    # Cell by cell first (what was typed), then how the figures hang together.
    result.findings += missing + sorted(found, key=lambda f: 0 if f.code.startswith("value-") else 1)
    return result


def iter_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders into the spreadsheet files they contain (lock and temp files skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and child.suffix.lower() in SPREADSHEET_SUFFIXES and not child.name.startswith(("~$", ".~lock", ".")):
                    out.append(child)
        else:
            out.append(p)
    return out


def failed_result(path: Path, code: str, detail: str) -> FileResult:
    """The result of a file that could not be read or checked at all: one finding."""
    sub = Submission(Path(path))
    sub.findings.append(finding(code, detail=detail))
    return FileResult(Path(path), sub, list(sub.findings))


def check_within_budget(run: Callable[[], FileResult], path: Path, limits: tuple[float | None, float | None]
                        ) -> tuple[FileResult, bool]:
    """``run()`` under the time and memory budget; a file past it, or one that crashes, becomes its finding.

    Returns the result and whether ``run`` completed."""
    try:
        with budget(*limits):
            return run(), True
    except BudgetExceeded as exc:
        return failed_result(path, "file-too-complex", exc.detail), False
    except MemoryError:
        return failed_result(path, "file-too-complex", "占用内存过多"), False
    except Exception as exc:  # noqa: BLE001 - a crash in one file is that file's finding
        return failed_result(path, "file-read-error", f"{type(exc).__name__}: {exc}"), False


def _check_file(path: Path, year: int | None, previous: Previous | None, annotate_dir: Path | None,
                level: str = "county", name: str | None = None,
                limits: tuple[float | None, float | None] = (DEFAULT_SECONDS, DEFAULT_MEMORY_MB)) -> FileResult:
    """Read, check and (optionally) annotate one file within the budget; a crash is that file's finding."""
    if annotate_dir is not None:
        from .annotate import annotate  # only when feedback workbooks are wanted

    def run() -> FileResult:
        result = check_submission(read_submission(path), year=year, previous=previous, level=level)
        if annotate_dir is not None:
            result.annotated = annotate(result, annotate_dir, name=name)
        return result

    result, done = check_within_budget(run, path, limits)
    if not done and annotate_dir is not None:
        result.annotated = annotate(result, annotate_dir, name=name)  # the finding alone: quick
    return result


def _check_slim(tasks: list[tuple]) -> list[FileResult]:
    return [_check_file(*args).slim() for args in tasks]


def _in_order(pool: ProcessPoolExecutor, tasks: Iterator[tuple], ahead: int, chunk: int = 16) -> Iterator[FileResult]:
    """The results of ``tasks`` in order, with at most ``ahead`` chunks of them in the pool: ``pool.map`` submits
    every chunk at once, which at 100,000 files holds all their tasks, and the results not yet taken, in memory."""
    from collections import deque
    from itertools import islice

    pending: deque = deque()

    def submit() -> None:
        batch = list(islice(tasks, chunk))
        if batch:
            pending.append(pool.submit(_check_slim, batch))

    for _ in range(ahead):
        submit()
    while pending:
        done = pending.popleft().result()
        submit()
        yield from done


def feedback_names(files: list[Path]) -> list[str | None]:
    """Feedback file names that never collide: two inputs called 报表.xlsx in different folders get their folder's
    name in front (a/报表.xlsx → a_报表.校验结果.xlsx), and a counter if that is not enough."""
    from collections import Counter

    plain = [annotated_name(p) for p in files]
    clash = {n for n, k in Counter(plain).items() if k > 1}
    out: list[str | None] = []
    used: set[str] = set()
    for p, n in zip(files, plain):
        name = f"{safe_filename(p.parent.name, 'folder')}_{n}" if n in clash else n
        base, k = name, 2
        while name in used:
            name = base.replace(".校验结果.xlsx", f"（{k}）.校验结果.xlsx")
            k += 1
        used.add(name)
        out.append(name)
    return out


PARALLEL_FROM = 24  # files; below this a process pool costs more than it saves


def peer_findings(results: Sequence[FileResult] | SpooledResults
                  ) -> Iterator[tuple[int, list[tuple[Outcome, Finding | None]]]]:
    """The texts of a batch compared with each other (rule X4): which file copies another, by index in ``results``,
    one file at a time."""
    from .rules import Context, peer_texts
    from .similarity import PeerIndex
    from .spec import get_spec

    if isinstance(results, SpooledResults):
        results = results.texts

    by_format: dict[str, array] = {}
    for i, r in enumerate(results):
        if r.readable and r.format and r.prose:
            by_format.setdefault(r.format, array("q")).append(i)
    for fmt, members in by_format.items():
        if len(members) < 2:
            continue
        spec = get_spec(fmt)
        rules = [rule for rule in spec.rules if rule.kind == "similarity" and rule.instances[0].params.against == "peers"]
        if not rules:
            continue
        index = PeerIndex.for_offices(len(members))
        try:
            for i in members:
                r = results[i]
                for section, text in peer_texts(spec, r.prose).items():  # 一、五、六 whole, not each topic
                    index.add(str(i), r.office or r.path.name, section, text)
            cells = {f.id: (spec.prose.sheet, f.cell) for f in spec.prose.fields}
            for i in members:
                r = results[i]
                ctx = Context(spec, {}, {}, {}, prose=r.prose, prose_cells={} if r.identified_by == "labels" else cells,
                              peers=index, peer_key=str(i))
                yield i, [x for rule in rules for x in rule.impl.check_all(rule, ctx)]
        finally:
            index.close()


def check_paths(paths: Iterable[str | Path], *, year: int | None = None, previous: str | Path | None = None,
                annotate_dir: str | Path | None = None, jobs: int | None = None, level: str = "county",
                progress: Callable[[int, int], None] | None = None,
                limits: tuple[float | None, float | None] = (DEFAULT_SECONDS, DEFAULT_MEMORY_MB)) -> CheckReport:
    """Read and check every file under ``paths``; one bad file never stops the others.

    Large batches are spread over the machine's cores; each file is read once and only its
    findings are kept, so memory stays flat however many files there are. The texts of the
    batch are then compared with each other (rule X4).

    :param paths: files or folders.
    :param year: the report year being collected.
    :param previous: last year's workbook (or county rollup) for the cross-year rules.
    :param annotate_dir: write an annotated feedback workbook per file there.
    :param jobs: worker processes (default: one per core); 1 checks in this process.
    :param level: the level the offices report at (county / city / province).
    :param progress: called with (done, total) as files finish.
    :param limits: (seconds, megabytes) each file may take; past them it gets "文件过于复杂，无法处理".
    """
    prev, prev_finding = None, None
    if previous is not None:
        prev_result = check_submission(read_submission(previous))
        prev = previous_of(prev_result)
        if prev is None:
            prev_finding = finding("previous-unreadable", detail=str(previous))
    files = iter_paths(paths)
    annotate_to = Path(annotate_dir) if annotate_dir is not None else None
    jobs = jobs or os.cpu_count() or 1
    names = feedback_names(files) if annotate_to is not None else [None] * len(files)
    tasks = ((p, year, prev, annotate_to, level, n, limits) for p, n in zip(files, names))
    keep = len(files) < PARALLEL_FROM  # a few files: keep the workbooks for the caller
    results: list[FileResult] | SpooledResults = [] if keep else SpooledResults()

    def take(i: int, result: FileResult) -> None:
        results.append(result)  # a large batch's spool keeps the result slim, and its texts apart
        if progress:
            progress(i, len(files))

    if jobs == 1 or len(files) < PARALLEL_FROM:
        for i, task in enumerate(tasks, start=1):
            take(i, _check_file(*task))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for i, result in enumerate(_in_order(pool, tasks, ahead=4 * jobs), start=1):
                take(i, result)
    for i, found in peer_findings(results):
        outcomes, extra = [o for o, _ in found], [f for _, f in found if f is not None]
        if keep:
            results[i].outcomes += outcomes
            results[i].findings += extra
        else:
            results.add(i, outcomes, extra)
        if extra:
            r = results[i]
            if annotate_to is not None and r.annotated is not None:
                # The feedback was written before the batch's texts were compared: write it again.
                from .annotate import annotate

                sub = r.submission or read_submission(r.path)
                again = check_submission(sub, year=year, previous=prev, level=level)
                again.findings += extra
                annotate(again, annotate_to, name=r.annotated.name)
    if prev_finding is not None:
        if keep:
            for r in results:
                r.findings.append(prev_finding)
        else:
            results.common.append(prev_finding)
    return CheckReport(results)


def check_and_annotate(paths: Iterable[str | Path], *, year: int | None = None, previous: str | Path | None = None,
                       annotate_dir: str | Path | None = None, jobs: int | None = None, level: str = "county",
                       progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """:func:`check_paths` for the command line: a usage error when nothing given exists."""
    paths = list(paths)
    missing = [str(p) for p in map(Path, paths) if not p.exists()]
    if missing and len(missing) == len(paths):
        raise UsageError(f"找不到要检查的文件：{'、'.join(missing)}")
    return check_paths(paths, year=year, previous=previous, annotate_dir=annotate_dir, jobs=jobs, level=level,
                       progress=progress)
