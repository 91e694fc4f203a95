"""``xxgk demo``: the whole job on the bundled samples of a fictional county."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .check import STATUS_LABELS, CheckReport, check_and_annotate
from .samples import SAMPLE_YEAR, roster_csv, write_samples
from .spec import available_formats, get_spec
from .template import write_office_templates, write_workbook
from .fsutil import atomic_write_text


@dataclass
class DemoResult:
    """What the demo wrote, grouped by step, each item (path, note)."""

    outdir: Path
    steps: list[tuple[str, list[tuple[Path, str]]]] = field(default_factory=list)
    check: CheckReport | None = None


def blank_template_name(format_id: str) -> str:
    return f"gov{format_id}.xlsx"


def run_demo(outdir: str | Path, year: int = SAMPLE_YEAR) -> DemoResult:
    """Write blank templates, per-office templates and the offices' sample returns into ``outdir``.

    :param outdir: folder to write into (created if missing).
    :param year: the report year of the samples.
    """
    outdir = Path(outdir)
    result = DemoResult(outdir)
    blanks = []
    for fid in available_formats():
        spec = get_spec(fid)
        path = write_workbook(spec, outdir / "1-空白模板" / blank_template_name(fid))
        blanks.append((path, f"{spec.title}（{spec.basis}）"))
    result.steps.append(("空白模板", blanks))
    roster = outdir / "roster.csv"
    atomic_write_text(roster, roster_csv())
    sent = write_office_templates(roster, outdir / "2-下发各单位的模板", year=year)
    result.steps.append((f"按名单生成的{year}年度填报模板（单位信息已填好并锁定）", [(p, "") for p in sent]))
    returned = write_samples(outdir / "3-各单位报回的报表", year=year)
    result.steps.append(("各单位报回的报表（示例数据）", [(p, m or "数据一致") for p, m in returned]))
    feedback = outdir / "4-反馈给各单位"
    county = [p for p, _ in returned if p.parent == outdir / "3-各单位报回的报表"]
    others = [p for p, _ in returned if p not in county]  # the seed: a real report of another year
    report = check_and_annotate(county, year=year, annotate_dir=feedback)
    report.files += check_and_annotate(others, annotate_dir=feedback).files
    result.check = report
    result.steps.append((
        "检查结果与反馈工作簿",
        [(f.annotated, f"{STATUS_LABELS[f.status]}（{len(f.findings)}项）") for f in report.files if f.annotated],
    ))
    return result
