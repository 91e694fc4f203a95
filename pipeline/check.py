"""Check submissions against their format's rules; the result is a :class:`CheckReport` of findings.

Nothing read from a workbook is trusted: every total is recomputed from the inputs,
formulas are compared with the template's, and each rule of the spec is evaluated
in Python on the recomputed figures.
"""

from __future__ import annotations

import math
import os
import re
from concurrent.futures import ProcessPoolExecutor
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import UsageError
from .findings import Finding, finding
from .reader import Submission, normalize_label, parse_year, read_submission
from .rules import sum_of
from .spec import Figure, RuleInstance, Spec, recompute
from .xlexpr import general, is_number

CELL_TEXT_LIMIT = 32767  # characters an Excel cell holds
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".et", ".ett", ".ods"}
STATUS_LABELS = {"ok": "通过", "warnings": "有提醒", "errors": "有错误", "unreadable": "无法读取"}


def severity_label(severity: str, explained: bool = False) -> str:
    """错误 / 提醒 / 提醒（已说明）: how every view names a finding's severity."""
    if severity == "error":
        return "错误"
    return "提醒（已说明）" if explained else "提醒"


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

    def __post_init__(self) -> None:
        sub = self.submission
        if sub is not None:
            self.office_info = {k: sub.office.get(k) for k in ("name", "code", "kind")}
            self.format = sub.spec.format if sub.spec else None
            self.year = sub.year
            self.sha256 = sub.sha256
            self.readable = sub.readable
            self.explanation = sub.explanation

    def slim(self) -> "FileResult":
        """The same result without the workbook and figures: cheap to keep and to pass between processes."""
        return FileResult(self.path, None, self.findings, {}, self.annotated, self.office_info, self.format,
                          self.year, self.sha256, self.readable, self.explanation)

    def explained(self, f: Finding) -> bool:
        """A warning the office has explained in its 情况说明 (the reviewer still decides)."""
        return f.severity == "warning" and bool(self.explanation)

    @property
    def status(self) -> str:
        if not self.readable:
            return "unreadable"
        if any(f.severity == "error" for f in self.findings):
            return "errors"
        if self.findings:
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
        }


@dataclass
class CheckReport:
    """The result of checking a batch of files."""

    files: list[FileResult]

    @property
    def summary(self) -> dict[str, int]:
        out = {"files": len(self.files), "ok": 0, "warnings": 0, "errors": 0, "unreadable": 0}
        for f in self.files:
            out[f.status] += 1
        return out

    @property
    def valid(self) -> bool:
        return not any(f.status in ("errors", "unreadable") for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"files": [f.to_dict() for f in self.files], "summary": self.summary}

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


# -- values ---------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_number(raw: Any) -> tuple[str, float | None]:
    """Classify a cell value: ("number"|"text-number"|"blank"|"not-number", number or None).

    Clerks type " 5", "５", "1,234" or store numbers as text: those are read as numbers.
    "/", "—", "无" and blank are not 0.
    """
    if raw is None:
        return "blank", None
    if isinstance(raw, bool):
        return "not-number", None
    if is_number(raw):
        return ("number", raw) if math.isfinite(raw) else ("not-number", None)
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        return "blank", None
    if _GROUPED_RE.match(text):
        text = text.replace(",", "")
    if _NUMBER_RE.match(text):
        value = float(text)
        if math.isfinite(value):
            return "text-number", int(value) if value.is_integer() else value
    return "not-number", None


def _check_value(spec: Spec, f: Figure, raw: Any, where: dict[str, Any]) -> tuple[list[Finding], float | None]:
    kind, value = parse_number(raw)
    t = spec.types[f.type]
    out: list[Finding] = []
    label = f.label
    if kind == "blank":
        return [finding("value-blank", label=label, **where)], None
    if kind == "not-number":
        return [finding("value-not-number", label=label, actual=raw, **where)], None
    if kind == "text-number":
        out.append(finding("value-text-number", label=label, actual=raw, expected=value, **where))
    if t.get("max") is not None and abs(value) > t["max"]:
        return out + [finding("value-too-large", label=label, actual=value, expected=t["max"], **where)], None
    if t.get("min") is not None and value < t["min"]:
        out.append(finding("value-negative", label=label, actual=value, **where))
    if t.get("number") == "integer" and not float(value).is_integer():
        out.append(finding("value-not-integer", label=label, actual=value, **where))
    return out, value


# -- checks ---------------------------------------------------------------------

def _where(sub: Submission, fid: str) -> dict[str, Any]:
    sheet, cell = sub.locations.get(fid, (None, None))
    return {"sheet": sheet, "cell": cell, "figure": fid}


def _rule_finding(rule_inst: RuleInstance, sub: Submission, fid: str | None, message: str, expected=None, actual=None) -> Finding:
    rule = rule_inst.rule
    where = _where(sub, fid) if fid else {"sheet": None, "cell": None, "figure": None}
    return Finding(rule.code, rule.severity, message, where["sheet"], where["cell"], fid, rule.id, expected, actual)


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
    expected = list(spec.raw["sheets"].values())
    renamed = sub.renamed
    for name in expected:
        if name in renamed:
            out.append(finding("structure-sheet-renamed", sheet=renamed[name], expected=name, actual=renamed[name]))
        elif name not in wb.sheets:
            out.append(finding("structure-sheet-missing", sheet=name))
    # The feedback sheet of an annotated copy and the extra sheets of a rollup are ours.
    ours = {spec.raw.get("feedback_sheet"), *spec.raw.get("rollup", {}).get("sheets", {}).values()}
    for name in wb.sheets:
        if name not in expected and name not in renamed.values() and name not in ours:
            out.append(finding("structure-sheet-added", sheet=name))
    for name in expected:
        sheet = wb.sheets.get(renamed.get(name, name))
        if sheet is not None and not sheet.protected and sheet.state == "visible":
            out.append(finding("structure-unprotected", sheet=sheet.name))
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


def _sum_formula(spec: Spec, f: Figure, locations: dict[str, tuple[str, str]], home: str) -> str:
    parts = [replace(spec.figure(p), sheet=locations[p][0], cell=locations[p][1]) for p in f.sum]
    return sum_of(parts).formula(home)


def _canon(formula: str) -> str:
    return re.sub(r"\s+|\$", "", formula.lstrip("=")).upper()


def _sums(sub: Submission, values: dict[str, float]) -> list[Finding]:
    """D1/D2/D4: a total that is a constant (a copied table, or a formula overwritten) must equal its sum."""
    spec = sub.spec
    out = []
    for f in spec.computed():
        if f.id not in sub.locations or sub.formulas.get(f.id):
            continue
        kind, actual = parse_number(sub.raw.get(f.id))
        if actual is None or abs(actual - values[f.id]) <= 1e-6:
            continue
        rule = spec.rule(f.rule)
        message = rule.message.format(row=f.row or "", column=f.column or "", block=f.block or "",
                                      expected=general(values[f.id]), actual=general(actual))
        out.append(_rule_finding(rule.instances[0], sub, f.id, message, values[f.id], actual))
    return out


def _office(sub: Submission, year: int | None) -> list[Finding]:
    spec = sub.spec
    out = []
    office_sheet = spec.sheet_name(spec.raw["office"]["sheet"])
    for fld in spec.office_fields:
        value = sub.office.get(fld["id"])
        where = {"sheet": office_sheet, "cell": fld["cell"]} if sub.identified_by != "labels" else {}
        if fld["id"] == "year":
            if parse_year(value) is None:
                out.append(finding("office-year-missing", **where))
            elif year and parse_year(value) != year:
                out.append(finding("office-year-mismatch", expected=year, actual=parse_year(value), **where))
        elif value in (None, "") and fld.get("required") and sub.office.get("kind") != spec.raw.get("rollup", {}).get("kind"):
            out.append(finding("office-field-missing", label=fld["label"], **where))
        elif fld.get("choices") and value not in spec.raw[fld["choices"]]:
            out.append(finding("office-kind-unknown", actual=value, expected="、".join(spec.raw[fld["choices"]]), **where))
    return out


def _rules(sub: Submission, values: dict[str, float], year: int | None, previous: "FileResult | None") -> list[Finding]:
    spec = sub.spec
    out: list[Finding] = []
    report_year = sub.year or year
    for rule in spec.rules:
        for inst in rule.instances:
            out += _RULES.get(rule.kind, lambda *a: [])(inst, sub, values, report_year, previous)
    return out


def _compare(inst, sub, values, year, previous) -> list[Finding]:
    left = sum(values[f] for f in inst.left)
    right = sum(values[f] for f in inst.right)
    ok = {"==": abs(left - right) <= 1e-6, ">=": left >= right - 1e-6, "<=": left <= right + 1e-6}[inst.rule.raw["op"]]
    if ok:
        return []
    diff = round(abs(left - right), 4)
    message = inst.rule.message.format(label=inst.label or "", diff=general(diff))
    return [_rule_finding(inst, sub, inst.left[0], message, right, left)]


def _format_year(inst, sub, values, year, previous) -> list[Finding]:
    if year is None or sub.spec.applies_to_year(year):
        return []
    message = inst.rule.message.format(actual=year, years=sub.spec.years_text())
    return [Finding(inst.rule.code, inst.rule.severity, message, None, None, None, inst.rule.id, sub.spec.years_text(), year)]


def _zero_when(inst, sub, values, year, previous) -> list[Finding]:
    kind = sub.office.get(inst.rule.raw["field"])
    total = sum(values[f] for f in inst.figures)
    if kind not in inst.rule.raw["when"] or total == 0:
        return []
    first = next(f for f in inst.figures if values[f] != 0)
    message = inst.rule.message.format(kind=kind, actual=general(total))
    return [_rule_finding(inst, sub, first, message, 0, total)]


def _implies(inst, sub, values, year, previous) -> list[Finding]:
    cause = sum(values[f] for f in inst.rule.raw["if_nonzero"])
    effect = sum(values[f] for f in inst.rule.raw["then_nonzero"])
    if cause == 0 or effect != 0:
        return []
    message = inst.rule.message.format(actual=general(cause))
    return [_rule_finding(inst, sub, inst.rule.raw["then_nonzero"][0], message, None, cause)]


def _unit_confusion(inst, sub, values, year, previous) -> list[Finding]:
    a_id, b_id = inst.rule.raw["figures"]
    a, b, factor = values[a_id], values[b_id], inst.rule.raw["factor"]
    if a <= 0 or b <= 0 or not (abs(a - b) < 0.005 or abs(a * factor - b) < 0.5):
        return []
    message = inst.rule.message.format(a=general(a), b=general(b))
    return [_rule_finding(inst, sub, a_id, message, None, a)]


def _previous(inst, sub, values, year, previous) -> list[Finding]:
    if previous is None or not previous.readable:
        return []
    (left,), (right,) = inst.left, inst.right
    if right not in previous.values:
        return []
    this, last = values[left], previous.values[right]
    if abs(this - last) <= 1e-6:
        return []
    message = inst.rule.message.format(label=inst.label or "", left=general(this), right=general(last))
    return [_rule_finding(inst, sub, left, message, last, this)]


_SENTENCE = re.compile(r"[^。．；;！!？?\n]+")


def prose_findings(rule, text: str, values: dict[str, float], sub: Submission | None = None) -> list[Finding]:
    """Numbers written in ``text`` that disagree with the tables (rule D6).

    Used for an office's own 一、总体情况 and for every sentence of a generated report.
    """
    out = []
    for pattern in rule.raw["patterns"]:
        regex = re.compile(pattern["regex"])
        for sentence in _SENTENCE.findall(text or ""):
            # Match on full-width-folded text; quote the office's own sentence.
            for m in regex.finditer(unicodedata.normalize("NFKC", sentence)):
                n = float(m.group(1))
                options = [sum(values[f] for f in alt) for alt in pattern["figures"]]
                if any(abs(n - o) < 1e-6 for o in options):
                    continue
                first = pattern["figures"][0]
                fid = first[0]
                label = "、".join(_figure_label(sub, f) for f in first)
                message = rule.message.format(sentence=sentence.strip(), actual=general(n), expected=general(options[0]),
                                              label=label)
                where = _where(sub, fid) if sub else {"sheet": None, "cell": None, "figure": fid}
                out.append(Finding(rule.code, rule.severity, message, where["sheet"], where["cell"], fid, rule.id,
                                   options[0], n))
    return out


def _figure_label(sub: Submission | None, fid: str) -> str:
    return sub.spec.figure(fid).label if sub and sub.spec else fid


def _prose(inst, sub, values, year, previous) -> list[Finding]:
    return prose_findings(inst.rule, sub.prose.get(inst.rule.raw["section"], "") or "", values, sub)


_RULES = {
    "compare": _compare,
    "format_year": _format_year,
    "zero_when": _zero_when,
    "implies": _implies,
    "unit_confusion": _unit_confusion,
    "previous": _previous,
    "prose": _prose,
}


def check_submission(sub: Submission, *, year: int | None = None, previous: FileResult | None = None) -> FileResult:
    """Check one read submission.

    :param year: the report year being collected (``--year``); a workbook for another year is an error.
    :param previous: last year's checked file, for the cross-year rule D3.
    """
    result = FileResult(sub.path, sub, list(sub.findings))
    if not sub.readable:
        return result
    spec = sub.spec
    inputs: dict[str, float | None] = {}
    value_findings: list[Finding] = []
    for f in spec.inputs():
        if f.id not in sub.locations:
            value_findings.append(finding("structure-figure-missing", label=f.label, figure=f.id))
            inputs[f.id] = None
            continue
        found, value = _check_value(spec, f, sub.raw.get(f.id), _where(sub, f.id))
        value_findings += found
        inputs[f.id] = value
    # Blank and invalid cells count as 0 for the rules, as the template's own formulas do,
    # so the office sees every problem in one round.
    values = recompute(spec, inputs)
    result.values = values
    if sub.identified_by in ("metadata", "names"):
        result.findings += _structure(sub)
        result.findings += _formulas(sub, values)
    result.findings += _office(sub, year)
    for section, text in sub.prose.items():
        if len(text) > CELL_TEXT_LIMIT:
            result.findings.append(finding("text-too-long", label=spec.section(section)["heading"], actual=len(text),
                                           expected=CELL_TEXT_LIMIT))
    result.findings += value_findings
    result.findings += _sums(sub, values)
    result.findings += _rules(sub, values, year, previous)
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


def _check_file(path: Path, year: int | None, previous: FileResult | None, annotate_dir: Path | None) -> FileResult:
    """Read, check and (optionally) annotate one file; a crash is that file's finding."""
    try:
        sub = read_submission(path)
        result = check_submission(sub, year=year, previous=previous)
        if annotate_dir is not None:
            from .annotate import annotate

            result.annotated = annotate(result, annotate_dir)
    except Exception as exc:  # noqa: BLE001 - a crash in one file is that file's finding
        sub = Submission(Path(path))
        sub.findings.append(finding("file-read-error", detail=f"{type(exc).__name__}: {exc}"))
        result = FileResult(Path(path), sub, list(sub.findings))
    if previous is not None and not previous.readable:
        result.findings.append(finding("previous-unreadable", detail=str(previous.path)))
    return result


def _check_slim(args: tuple) -> FileResult:
    return _check_file(*args).slim()


PARALLEL_FROM = 24  # files; below this a process pool costs more than it saves


def check_paths(paths: Iterable[str | Path], *, year: int | None = None, previous: str | Path | None = None,
                annotate_dir: str | Path | None = None, jobs: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Read and check every file under ``paths``; one bad file never stops the others.

    Large batches are spread over the machine's cores; each file is read once and only its
    findings are kept, so memory stays flat however many files there are.

    :param paths: files or folders.
    :param year: the report year being collected.
    :param previous: last year's workbook (or county rollup) for the cross-year rule.
    :param annotate_dir: write an annotated feedback workbook per file there.
    :param jobs: worker processes (default: one per core); 1 checks in this process.
    :param progress: called with (done, total) as files finish.
    """
    prev_result = None
    if previous is not None:
        prev_result = check_submission(read_submission(previous))
        prev_result = FileResult(prev_result.path, None, prev_result.findings, prev_result.values,
                                 office_info=prev_result.office_info, format=prev_result.format,
                                 year=prev_result.year, sha256=prev_result.sha256, readable=prev_result.readable)
    files = iter_paths(paths)
    annotate_to = Path(annotate_dir) if annotate_dir is not None else None
    jobs = jobs or os.cpu_count() or 1
    tasks = [(p, year, prev_result, annotate_to) for p in files]
    results: list[FileResult] = []
    if jobs == 1 or len(tasks) < PARALLEL_FROM:
        keep = len(tasks) < PARALLEL_FROM  # a few files: keep the workbooks for the caller
        for i, task in enumerate(tasks, start=1):
            result = _check_file(*task)
            results.append(result if keep else result.slim())
            if progress:
                progress(i, len(tasks))
        return CheckReport(results)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for i, result in enumerate(pool.map(_check_slim, tasks, chunksize=16), start=1):
            results.append(result)
            if progress:
                progress(i, len(tasks))
    return CheckReport(results)


def check_and_annotate(paths: Iterable[str | Path], *, year: int | None = None, previous: str | Path | None = None,
                       annotate_dir: str | Path | None = None, jobs: int | None = None,
                       progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """:func:`check_paths` for the command line: a usage error when nothing given exists."""
    paths = list(paths)
    missing = [str(p) for p in map(Path, paths) if not p.exists()]
    if missing and len(missing) == len(paths):
        raise UsageError(f"找不到要检查的文件：{'、'.join(missing)}")
    return check_paths(paths, year=year, previous=previous, annotate_dir=annotate_dir, jobs=jobs, progress=progress)
