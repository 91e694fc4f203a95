"""``xxgk demo``: the whole job on the bundled samples of a fictional county.

The story runs on the samples' own calendar (January–February 2026, deadline 31 January), by
the workspace's clock:
the offices' emails arrive, one with a stamped PDF beside its workbook and one with a PDF
sent on its own; the coordinator returns two workbooks with reasons, accepts a warning the
office explained, receives the corrected resubmission and accepts it, reminds the offices
still missing, looks at the status page, merges and writes the reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .audit import audit
from .check import CheckReport, check_and_annotate
from .findings import STATUS_LABELS
from .errors import InputError
from .fsutil import atomic_write_text
from .intake import receive
from .lifecycle import STATE_LABELS
from .merge import MergeResult, merge, read_texts
from .outbox import remind
from .report import ReportRefused, write_report
from .review import accept_submission, return_submission
from .samples import COUNTY, COUNTY_TEXTS_FILE, SAMPLE_YEAR, roster_csv, write_samples
from .spec import available_formats, get_spec
from .status import StatusReport, workspace_status, write_status_html
from .template import write_office_templates, write_workbook
from .workspace import LOCAL_TZ, init_workspace

# The coordinator's decisions in the story: (when, office, action, reason or None for the office's own).
DECISIONS = [
    ("2026-02-03 14:00", "QX005", "return", "县直部门没有规章制定权，表二“规章”的制发、废止、现行有效件数均应为0，请核实后修改重报。"),
    ("2026-02-03 14:30", "QX012", "accept", None),
    ("2026-02-03 15:00", "QX011", "return", "表二、表四有单元格填了“/”或空白，没有发生的事项请填0，修改后重报。"),
    ("2026-02-03 15:30", "QX009", "return", "第五部分“存在的主要问题及改进情况”与石桥镇人民政府的报告完全相同，"
                                            "请按本单位的实际情况撰写后重报。"),
]
FIRST_ROUND_AT = "2026-02-03 11:00"  # the coordinator fetches the mail once the last email is in
ROUND2_RECEIVED_AT = "2026-02-04 11:00"  # the corrected QX005 arrived at 10:30
ROUND2_AT = "2026-02-04 14:00"
REMIND_AT = "2026-02-05 09:00"


def _at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=LOCAL_TZ)


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
    """Run every step on the samples: templates, the offices' returns, checks with feedback, the
    coordinator's workspace (receive, return, accept, resubmission, reminders, status page),
    the county rollup and the reports, and an assessor's audit of the offices' published reports.

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

    ws = init_workspace(outdir / "5-工作区", roster, year, deadline=f"{year + 1}-01-31", name=COUNTY, code="QX",
                        sender="zwgk@qingxi.example")
    ws.set("reviewer", "县政务公开办 李四")
    # The story runs on the samples' calendar: each step happens at its own moment.
    at = lambda text: setattr(ws, "clock", lambda: _at(text))  # noqa: E731
    at(FIRST_ROUND_AT)
    received = receive(ws, [str(returned_dir / "mail")])
    result.steps.append(("工作区收取第一轮邮件（附件按 sha256 存档，反馈在 outbox/，回复草稿在 outbox/drafts/）", [
        (None, f"{item.filename}：{item.office_name or '未识别单位'}，"
               f"{item.note or STATE_LABELS.get(item.status, STATUS_LABELS.get(item.status, item.status))}")
        for item in received.items] + [(None, m) for m in received.mail_notes]))

    decided = []
    for when, code, action, reason in DECISIONS:
        at(when)
        if action == "return":
            d = return_submission(ws, code, reason)
            decided.append((d.draft, f"{when} 退回 {d.office_name}：{reason}"))
        else:
            d = accept_submission(ws, code, reason)
            decided.append((d.draft, f"{when} 审核通过 {d.office_name}，接受提醒{len(d.warnings)}项（理由：单位的情况说明）"))
    result.steps.append(("审核：退回（附原因和反馈工作簿）与审核通过（接受单位已说明的提醒）", decided))

    at(ROUND2_RECEIVED_AT)
    again = receive(ws, [str(returned_dir / "mail-round2")])
    at(ROUND2_AT)
    d = accept_submission(ws, "QX005")
    result.steps.append(("第二轮：退回的单位修改后重报，审核通过", [
        (None, f"{item.filename}：{item.office_name}，{STATE_LABELS.get(item.status, item.status)}") for item in again.items]
        + [(d.draft, f"{ROUND2_AT} 审核通过 {d.office_name}")]))

    at(REMIND_AT)
    reminders = remind(ws)
    result.steps.append(("催报：未报送、报送无效、退回后未重报的单位（附预填模板或反馈工作簿）",
                         [(p, f"{code} {name}") for code, name, p in reminders.drafted]))

    result.status = workspace_status(ws)
    page = write_status_html(result.status, ws, ws.path / "报送情况.html")
    result.steps.append(("报送情况（可在浏览器中打开、打印）", [(page, "")]))

    rollup_path = ws.path / f"{COUNTY}{year}年度汇总.xlsx"
    rollup = merge(ws, rollup_path)
    result.steps.append(("全县汇总（只计入审核通过和没有问题的单位；文字部分留给本级填写）",
                         [(rollup.path, f"计入{len(rollup.included)}个单位")]
                         + [(None, f"未计入：{o.name}（{o.reason}）") for o in rollup.excluded]
                         + [(rollup.csv_path, "每个单位一行")]))

    reports = outdir / "6-年度报告"
    name = f"{COUNTY}{year}年政府信息公开工作年度报告"
    written: list[tuple[Path | None, str]] = []
    try:  # the county's texts are still blank and offices are missing: nothing is published
        write_report(rollup.path, reports / f"{name}.docx")
    except ReportRefused as exc:
        written += [(None, "直接生成：拒绝（" + "；".join(p.split("；")[0] for p in exc.problems) + "）")]
    draft = write_report(rollup.path, reports / f"{name}（征求意见稿）.docx", draft=True, allow_incomplete=True)
    written.append((draft.path, f"征求意见稿，待补充：{'、'.join(draft.doc.missing)}"))

    texts = read_texts(ws.spec, returned_dir / COUNTY_TEXTS_FILE)
    rollup = merge(ws, rollup_path, texts=texts)
    result.merge = rollup
    written.append((rollup.path, f"写入本级文字（{COUNTY_TEXTS_FILE}）后重新汇总"))
    for suffix in ("docx", "html", "md"):
        # The demo's county has an office that never reported: published anyway, the 编制说明 says who.
        done = write_report(rollup.path, reports / f"{name}.{suffix}", allow_incomplete=True)
        written.append((done.path, done.doc.title))
    written.append((done.notes_path, "编制说明（完整性、未计入的单位；不公开）"))
    office = next(p for p in county if p.name.startswith("QX003"))
    for suffix in ("docx", "html", "md"):
        done = write_report(office, reports / f"{office.stem}_年度报告.{suffix}")
        written.append((done.path, done.doc.title))
    result.steps.append(("年度报告（由数据生成，文字与表格一致；本级文字未填写前只能生成征求意见稿）", written))

    # An assessor's view: the offices' reports as published (web pages), imported, checked and scored.
    assessed = outdir / "7-评估已公开的报告"
    pages = assessed / "已公开的报告"
    for path in county:
        try:
            done = write_report(path, pages / f"{path.stem}.html")
        except (ReportRefused, InputError):
            continue  # an office whose figures still have errors publishes nothing
        done.notes_path.unlink(missing_ok=True)  # internal notes are not published
    audited = audit([pages])
    book, page = audited.write_xlsx(assessed / "评估结果.xlsx"), audited.write_html(assessed / "评估结果.html")
    result.steps.append(("评估已公开的报告（要素、数据、格式、雷同，按计分表打分）", [
        (book, f"{len(audited.rows)}份报告"), (page, "")] + [
        (None, f"{r.path.name}：{r.score:g}分（错误{r.count('error')}项，提醒{r.count('warning')}项）")
        for r in audited.rows if not r.error]))
    return result
