"""Audit a set of published reports, as assessors and higher-level 政务公开办 do every year.

Each report is imported (:mod:`pipeline.importer`), then checked with every rule the
workbooks get (arithmetic, prose against tables, cross-year against last year's report
of the same office, text similarity against last year and against every other report
of the set), plus the structure checks of a published report. A scorecard kept as data
(``assets/scorecard.yaml``, which assessors copy and edit) turns the findings into points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .assets import asset_text, html_environment
from .documents import SUFFIXES
from .errors import UsageError, XxgkError
from .findings import Finding, severity_label
from .fsutil import atomic_path, atomic_write_text
from .importer import Imported, import_document
from .reader import Submission, normalize_label

SEVERITIES = ("error", "warning", "info")
# Findings about a filled workbook that a published report cannot have (its filler, its template).
_WORKBOOK_ONLY = ("office-", "template-", "structure-", "file-", "formula-")


# -- the scorecard ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Criterion:
    id: str
    name: str
    points: float
    deduct: dict[str, float]


@dataclass(frozen=True)
class Scorecard:
    title: str
    criteria: tuple[Criterion, ...]

    @property
    def total(self) -> float:
        return sum(c.points for c in self.criteria)

    def score(self, findings: Iterable[Finding]) -> dict[str, float]:
        """Points per criterion: its full points less each finding's deduction, never below 0."""
        codes = [f.code for f in findings]
        return {c.id: max(0.0, c.points - sum(c.deduct.get(code, 0) for code in codes)) for c in self.criteria}


def load_scorecard(path: str | Path | None = None) -> Scorecard:
    """The scorecard at ``path``, or the one shipped with xxgk; a malformed file is a usage error naming it."""
    import yaml

    if path is None:
        text, name = asset_text("scorecard.yaml"), "scorecard.yaml"
    else:
        try:
            text, name = Path(path).read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"无法读取计分表 {path}：{exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"计分表 {name} 格式有误：{exc}") from None
    try:
        criteria = tuple(Criterion(str(c["id"]), str(c["name"]), _points(c["points"]),
                                   {str(k): _points(v) for k, v in (c.get("deduct") or {}).items()})
                         for c in data["criteria"])
        if not criteria:
            raise ValueError("没有评估项")
        return Scorecard(str(data.get("title") or "年度报告评估"), criteria)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"计分表 {name} 格式有误：每个评估项应有 id、name、points 和 deduct（{exc}）") from None


def _points(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"分值应为不小于0的数：{value!r}")
    return float(value)


# -- one report ---------------------------------------------------------------------------------------

@dataclass
class AuditRow:
    """One published report's audit: what was read, what was found, its score."""

    path: Path
    imported: Imported | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None  # the report could not be read at all
    skipped: bool = False  # not a report (a note beside one, a notice): listed, not scored
    similar_to: str | None = None
    similarity: float | None = None
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        return None if self.error else sum(self.scores.values())

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def source_of(self, f: Finding) -> str:
        """The source line(s) a finding is about: the figure's line, or the section's heading."""
        imp = self.imported
        if imp is None:
            return ""
        if f.figure and f.figure in imp.sources:
            return imp.sources[f.figure]
        if f.figure and f.figure in imp.uncertain:
            return imp.uncertain[f.figure]
        return ""

    def to_dict(self) -> dict[str, Any]:
        imp = self.imported
        return {"path": str(self.path), "error": self.error, "skipped": self.skipped,
                "office": imp.office if imp else None, "year": imp.year if imp else None,
                "format": imp.spec.format if imp else None,
                "published": imp.published.isoformat() if imp and imp.published else None,
                "sections": list(imp.sections) if imp else [],
                "figures_read": len(imp.placed) if imp else 0, "figures_uncertain": len(imp.uncertain) if imp else 0,
                "counts": {s: self.count(s) for s in SEVERITIES},
                "similar_to": self.similar_to, "similarity": self.similarity,
                "scores": self.scores, "score": self.score,
                "findings": [dict(f.to_dict(), source=self.source_of(f)) for f in self.findings]}


@dataclass
class AuditReport:
    """Every report of the set, in the order given; renders as a workbook, an HTML page and JSON."""

    rows: list[AuditRow]
    scorecard: Scorecard

    @property
    def failed(self) -> int:
        """Sources that could not be read (a damaged file), not those that are no report at all."""
        return sum(1 for r in self.rows if r.error and not r.skipped)

    def to_dict(self) -> dict[str, Any]:
        return {"scorecard": {"title": self.scorecard.title, "total": self.scorecard.total,
                              "criteria": [{"id": c.id, "name": c.name, "points": c.points}
                                           for c in self.scorecard.criteria]},
                "reports": [r.to_dict() for r in self.rows]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str)

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """The first sheet: one row per report."""
        criteria = self.scorecard.criteria
        head = (["文件", "单位", "年度", "格式", "发布日期", "各部分", "读出的数", "无法确定的数", "错误", "提醒", "参考",
                 "最相似的报告", "相似度"] + [f"{c.name}（{_num(c.points)}分）" for c in criteria]
                + [f"总分（{_num(self.scorecard.total)}分）", "说明"])
        body = []
        for r in self.rows:
            imp = r.imported
            if imp is None:
                body.append([r.path.name] + [""] * (len(head) - 2) + [r.error])
                continue
            sections = "".join("一二三四五六"[[s.id for s in imp.spec.sections].index(s)] for s in imp.sections)
            body.append([r.path.name, imp.office or "", imp.year or "", f"{imp.spec.format}年格式",
                         imp.published.isoformat() if imp.published else "", sections or "无",
                         len(imp.placed), len(imp.uncertain), r.count("error"), r.count("warning"), r.count("info"),
                         r.similar_to or "", f"{r.similarity:.0%}" if r.similarity is not None else ""]
                        + [_num(r.scores[c.id]) for c in criteria] + [_num(r.score), ""])
        return head, body

    def finding_rows(self) -> tuple[list[str], list[list[Any]]]:
        """The second sheet: every finding with the line it is about."""
        head = ["文件", "单位", "级别", "代码", "问题", "原文位置"]
        body = [[r.path.name, r.imported.office if r.imported else "", severity_label(f.severity),
                 f.code, f.message, r.source_of(f)] for r in self.rows for f in r.findings]
        body += [[r.path.name, "", severity_label("info" if r.skipped else "error"),
                  "not-a-report" if r.skipped else "import-failed",
                  r.error, ""] for r in self.rows if r.error]
        return head, body

    def write_xlsx(self, out: str | Path) -> Path:
        import xlsxwriter

        out = Path(out)
        with atomic_path(out) as tmp:
            wb = xlsxwriter.Workbook(str(tmp))
            bold = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7",
                                  "border": 1})
            wrap = wb.add_format({"text_wrap": True, "valign": "top"})
            for name, (head, body), widths in (
                    ("评估结果", self.table(), [28, 20, 7, 11, 11, 9, 8, 8, 6, 6, 6, 20, 8]),
                    ("问题清单", self.finding_rows(), [28, 20, 6, 24, 70, 30])):
                ws = wb.add_worksheet(name)
                ws.write_row(0, 0, head, bold)
                for i, row in enumerate(body, start=1):
                    ws.write_row(i, 0, row, wrap)
                for c in range(len(head)):
                    ws.set_column(c, c, widths[c] if c < len(widths) else 12)
                ws.freeze_panes(1, 1)
                ws.autofilter(0, 0, max(len(body), 1), len(head) - 1)
            wb.close()
        return out

    def write_html(self, out: str | Path) -> Path:
        head, body = self.table()
        fhead, fbody = self.finding_rows()
        html = html_environment().get_template("audit.html.j2").render(title=self.scorecard.title, head=head, body=body,
                                                         fhead=fhead, fbody=fbody, reports=len(self.rows))
        atomic_write_text(out, html)
        return Path(out)


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(x, 1)


# -- the audit ------------------------------------------------------------------------------------------

def report_files(sources: Iterable[str | Path]) -> list[Path]:
    """The report files named, folders searched recursively (in name order); a missing path is a usage error."""
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            files += sorted(p for p in source.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                            and not p.name.startswith((".", "~$")))
        elif source.exists():
            files.append(source)
        else:
            raise UsageError(f"找不到要评估的报告：{source}")
    return files


def _import(path: Path) -> AuditRow:
    try:
        imp = import_document(path)
    except XxgkError as exc:
        return AuditRow(path, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad source never stops the batch
        return AuditRow(path, error=f"无法读取 {path}：{type(exc).__name__}: {exc}")
    # A scan has no text at all but is a report; a text with none of the six parts is not one.
    if not imp.sections and not any(f.code == "import-tables-images" for f in imp.findings):
        return AuditRow(path, error=f"{path.name} 中没有找到年度报告的各部分（一、总体情况……），不像是年度报告，未评估",
                        skipped=True)
    return AuditRow(path, imp, list(imp.findings))


def submission_of(imp: Imported) -> Submission:
    """An imported report as the checker reads a workbook: its figures at their cells, its texts."""
    spec = imp.spec
    # The totals as printed are checked against their parts (D1, D2, D4), as a typed-over total would be.
    shown = [f for f in spec.computed() if imp.totals.get(f.id) is not None]
    return Submission(imp.path, sha256=imp.sha256, spec=spec, identified_by="labels",
                      office={"name": imp.office, "year": imp.year},
                      raw={**imp.figures, **{f.id: imp.totals[f.id] for f in shown}},
                      locations={f.id: (f.sheet, f.cell) for f in [*spec.inputs(), *shown]},
                      prose=dict(imp.prose))


def _office_key(imp: Imported) -> str:
    return normalize_label(imp.office or imp.path.stem)


def audit(sources: Iterable[str | Path], *, previous: str | Path | None = None, scorecard: str | Path | None = None,
          progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Import and check every published report under ``sources``; one bad source never stops the others.

    :param previous: a folder of last year's reports: each report is compared with the one of the same office
        (cross-year figures, text copied from last year).
    :param scorecard: a scorecard YAML (default: the one shipped with xxgk).
    :param progress: called with (done, total) as reports finish.
    """
    from .check import check_submission, previous_of
    from .similarity import PeerIndex

    card = load_scorecard(scorecard)
    files = report_files(sources)
    last_year: dict[str, Imported] = {}
    if previous is not None:
        for path in report_files([previous]):
            imp = _import(path).imported
            if imp is not None:
                last_year.setdefault(_office_key(imp), imp)
    rows = []
    total = len(files) * 2
    for i, path in enumerate(files, start=1):
        rows.append(_import(path))
        if progress:
            progress(i, total)
    # The texts of the whole set, per format, for "which other report is (nearly) the same".
    peers: dict[str, PeerIndex] = {}
    for n, row in enumerate(rows):
        if row.imported is not None:
            index = peers.setdefault(row.imported.spec.format, PeerIndex.for_offices(len(rows)))
            for section, text in _compared_texts(row.imported).items():
                index.add(str(n), row.imported.office or row.path.name, section, text)
    for n, row in enumerate(rows):
        imp = row.imported
        if imp is not None:
            before = last_year.get(_office_key(imp))
            prev = None
            if before is not None and before.spec.format == imp.spec.format:
                prev = previous_of(check_submission(submission_of(before)))
            result = check_submission(submission_of(imp), previous=prev, peers=peers[imp.spec.format],
                                      peer_key=str(n))
            row.findings = _merge(row.findings, result.findings, imp)
            row.similar_to, row.similarity = _most_similar(peers[imp.spec.format], imp, str(n))
            row.scores = card.score(row.findings)
        if progress:
            progress(len(files) + n + 1, total)
    for index in peers.values():
        index.close()
    return AuditReport(rows, card)


def _merge(imported: list[Finding], checked: list[Finding], imp: Imported) -> list[Finding]:
    """The import's findings and the checker's, without what a published report cannot have (blank cells the
    importer could not read are its own uncertainty, not the report's) and without repeats."""
    out, seen = [], set()
    for f in imported + checked:
        if f.code.startswith(_WORKBOOK_ONLY) or (f.code == "value-blank" and f.figure in imp.uncertain):
            continue
        key = (f.code, f.figure, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _compared_texts(imp: Imported) -> dict[str, str]:
    """The texts the similarity rules compare (一、五、六 whole), long enough to be checked."""
    from .rules import peer_texts

    return peer_texts(imp.spec, imp.spec.joined_texts(imp.prose))


def _most_similar(index, imp: Imported, key: str) -> tuple[str | None, float | None]:
    best: tuple[str, float] | None = None
    for section, text in _compared_texts(imp).items():
        found = index.most_similar(section, text, exclude=key)
        if found is not None and (best is None or found[1] > best[1]):
            best = found
    return (best[0], round(best[1], 3)) if best else (None, None)
