"""``xxgk demo``: the whole job on the bundled samples of a fictional county."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .check import STATUS_LABELS, CheckReport, check_and_annotate
from .fsutil import atomic_write_text
from .merge import MergeResult, merge
from .report import write_report
from .samples import COUNTY, SAMPLE_YEAR, roster_csv, write_samples
from .spec import available_formats, get_spec
from .template import write_office_templates, write_workbook
from .workspace import StatusReport, init_workspace, receive, workspace_status


@dataclass
class DemoResult:
    """What the demo wrote, step by step; each item is (path or None, note)."""

    outdir: Path
    steps: list[tuple[str, list[tuple[Path | None, str]]]] = field(default_factory=list)
    check: CheckReport | None = None
    status: StatusReport | None = None
    merge: MergeResult | None = None


def blank_template_name(format_id: str) -> str:
    return f"gov{format_id}.xlsx"


def run_demo(outdir: str | Path, year: int = SAMPLE_YEAR) -> DemoResult:
    """Run every step on the samples: templates, the offices' returns, checks with feedback,
    the coordinator's workspace (receive the emails, status) and the county rollup.

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

    returned_dir = outdir / "3-各单位报回的报表"
    returned = write_samples(returned_dir, year=year)
    result.steps.append(("各单位报回的报表（示例数据）", [(p, m or "数据一致") for p, m in returned]))

    feedback = outdir / "4-反馈给各单位"
    county = [p for p, _ in returned if p.parent == returned_dir]
    others = [p for p, _ in returned if p not in county]  # the seed: a real report of another year
    report = check_and_annotate(county, year=year, annotate_dir=feedback)
    report.files += check_and_annotate(others, annotate_dir=feedback).files
    result.check = report
    result.steps.append(("检查结果与反馈工作簿", [
        (f.annotated, f"{STATUS_LABELS[f.status]}（{len(f.findings)}项）") for f in report.files if f.annotated]))

    ws = init_workspace(outdir / "5-工作区", roster, year, deadline=f"{year + 1}-01-31")
    ws.settings["county"] = COUNTY
    atomic_write_text(ws.path / "settings.json", json.dumps(ws.settings, ensure_ascii=False, indent=2))
    received = receive(ws, [str(returned_dir / "mail")])
    result.steps.append(("工作区收取各单位的邮件（附件按 sha256 存档，反馈在 outbox/，回复草稿在 outbox/drafts/）", [
        (None, f"{item.filename}：{item.office_name or '未识别单位'}，{item.note or STATUS_LABELS.get(item.status, item.status)}")
        for item in received.items] + [(None, m) for m in received.mail_notes]))
    result.status = workspace_status(ws)

    rollup = merge(ws, ws.path / f"{COUNTY}{year}年度汇总.xlsx")
    result.merge = rollup
    result.steps.append(("全县汇总", [(rollup.path, f"计入{len(rollup.included)}个单位")] + [
        (None, f"未计入：{o.name}（{o.reason}）") for o in rollup.excluded] + [(rollup.csv_path, "每个单位一行")]))

    reports = outdir / "6-年度报告"
    written = []
    for suffix in ("docx", "html", "md"):
        target = reports / f"{COUNTY}{year}年政府信息公开工作年度报告.{suffix}"
        doc = write_report(rollup.path, target)
        written.append((target, doc.title))
    office = next(p for p in county if p.name.startswith("QX003"))
    for suffix in ("docx", "html", "md"):
        target = reports / f"{office.stem}_年度报告.{suffix}"
        doc = write_report(office, target)
        written.append((target, doc.title))
    result.steps.append(("年度报告（由数据生成，文字与表格一致）", written))
    return result
