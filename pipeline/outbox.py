"""Mail the workspace writes: replies to each received workbook, notices of return and acceptance,
reminders (催报). Every message is a draft first (``outbox/drafts/*.eml``, recorded in the
ledger's ``outgoing``), opened as a draft by mail clients (``X-Unsent: 1``); sending it records
when it went out.

Every text here describes the office's state as the ledger has it at that moment, so a
reply never contradicts the status page: an unusable file is answered with the version that
still counts.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import ledger
from .findings import severity_label
from .errors import UsageError
from .fsutil import annotated_name, atomic_write_bytes
from .lifecycle import ACTION_LABELS, KIND_LABELS, STATE_LABELS, OfficeState, office_state, office_states
from .mail import SmtpSettings, draft_message, for_sending, safe_filename, send_messages
from .template import office_filling, write_workbook
from .textutil import cn_date, cn_datetime
from .workspace import LOCAL_TZ, Workspace, iso, local_time

MAX_LISTED = 30  # findings quoted in a mail; the workbook has them all


def _when(value: str) -> str:
    return cn_datetime(local_time(value))


def _day(value: str) -> str:
    return cn_date(local_time(value))


def _version_text(row: dict[str, Any]) -> str:
    return f"{row['filename']}（{_when(row['received_at'])}收到）"


def _current_text(state: OfficeState | None) -> str:
    """What counts for the office now, in one sentence."""
    if state is None or state.current is None:
        return "你单位目前还没有可以采用的填报表，请使用下发的模板填报后重新发送。"
    cur = state.current
    text = f"你单位当前有效的报表仍为{_version_text(cur)}，校验结果：{STATE_LABELS[cur['status']]}"
    if state.review == "accepted":
        text += "，已审核通过"
    elif state.review == "returned":
        text += "，已退回修改"
    return text + "。"


def _findings_lines(findings: list[dict[str, Any]], explained: bool) -> list[str]:
    errors = sum(1 for f in findings if f["severity"] == "error")
    lines = [f"共有错误{errors}项、提醒{len(findings) - errors}项（错误必须修改；提醒请核实，确实无误的请在"
             f"“文字部分”表的“情况说明”中写明原因）："]
    for i, f in enumerate(findings[:MAX_LISTED], start=1):
        where = f"［{f['sheet']}!{f['cell']}］" if f.get("sheet") and f.get("cell") else ""
        level = severity_label(f["severity"], explained)
        lines.append(f"{i}. 【{level}】{where}{f['message']}")
    if len(findings) > MAX_LISTED:
        lines.append(f"……另有{len(findings) - MAX_LISTED}项，见附件。")
    return lines


@dataclass
class _Draft:
    kind: str
    to: str
    subject: str
    body: list[str]
    office_code: str | None
    submission_id: int | None = None
    decision_id: int | None = None
    attachment: bytes | None = None
    attachment_name: str | None = None
    in_reply_to: str | None = None


def _store(ws: Workspace, conn: sqlite3.Connection, draft: _Draft, name: str, now: datetime | None = None) -> Path:
    """Write the draft (.eml) and record it; a reply already drafted for the same thing is redrafted, unless sent."""
    signature = ws.get("signature")
    body = "\n".join(draft.body + ["", f"{ws.name}{signature}" if ws.name and ws.name not in signature else signature])
    msg = draft_message(to=draft.to, sender=ws.get("sender"), subject=draft.subject, body=body, kind=draft.kind,
                        attachment=draft.attachment, attachment_name=draft.attachment_name,
                        in_reply_to=draft.in_reply_to, when=(now or ws.now()).astimezone(LOCAL_TZ))
    target = ws.drafts / f"{safe_filename(name)}.eml"
    existing = None
    if draft.kind in ("reply", "ack"):
        existing = conn.execute("SELECT * FROM outgoing WHERE kind=? AND submission_id=?",
                                (draft.kind, draft.submission_id)).fetchone()
    elif draft.kind in ("return", "accept"):
        existing = conn.execute("SELECT * FROM outgoing WHERE kind=? AND decision_id=?",
                                (draft.kind, draft.decision_id)).fetchone()
    if existing is not None and existing["sent_at"]:
        return ws.path / existing["path"]
    atomic_write_bytes(target, msg.as_bytes())
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        if draft.kind == "remind":
            # The newest reminder replaces an unsent older one: a clerk should get one, not three.
            for old in conn.execute("SELECT * FROM outgoing WHERE kind='remind' AND office_code=? AND sent_at IS NULL"
                                    " AND superseded_at IS NULL", (draft.office_code,)).fetchall():
                if old["path"] != str(target.relative_to(ws.path)):
                    (ws.path / old["path"]).unlink(missing_ok=True)
                conn.execute("UPDATE outgoing SET superseded_at=? WHERE id=?", (iso(now or ws.now()), old["id"]))
        values = (draft.kind, draft.office_code, draft.submission_id, draft.decision_id, draft.to, draft.subject,
                  str(msg["Message-ID"]), str(target.relative_to(ws.path)), iso(now or ws.now()))
        if existing is not None:
            conn.execute("UPDATE outgoing SET kind=?, office_code=?, submission_id=?, decision_id=?, recipient=?,"
                         " subject=?, message_id=?, path=?, created_at=?, superseded_at=NULL WHERE id=?",
                         values + (existing["id"],))
        else:
            conn.execute("INSERT INTO outgoing(kind, office_code, submission_id, decision_id, recipient, subject,"
                         " message_id, path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
    return target


def _recipient(row: sqlite3.Row | dict[str, Any] | None, state: OfficeState | None) -> str | None:
    if row is not None and row["sender"]:
        return row["sender"]
    return state.email if state is not None and state.email else None


def _feedback(ws: Workspace, row: dict[str, Any] | sqlite3.Row) -> tuple[bytes | None, str | None]:
    if not row["feedback_path"]:
        return None, None
    path = ws.path / row["feedback_path"]
    return path.read_bytes(), annotated_name(Path(row["filename"]))


def _subject(ws: Workspace, name: str, what: str) -> str:
    return f"{ws.year}年度政府信息公开工作年度报告{what}：{name}"


def reply_to_submission(ws: Workspace, conn: sqlite3.Connection, sub_id: int, attachments: list[str] = ()) -> Path | None:
    """The reply to one received workbook: its check result, and what counts for the office now."""
    row = ledger.submission(conn, sub_id)
    state = office_state(ws, conn, row["office_code"])
    to = _recipient(row, state)
    if not to:
        return None
    name = row["office_name"] or "你单位"
    findings = json.loads(row["findings_json"] or "[]")
    status = row["status"]
    lines = [f"{name}：", ""]
    intro = f"你单位报送的{ws.year}年度政府信息公开工作年度报告填报表{_version_text(dict(row))}"
    if status == "held":
        label = "待核实"
        lines.append(f"{intro}已收到并存档。{row['reason'].split('（核实无误')[0]}。")
        lines += ["", "我们核实后会另行告知；如是误发，请用本单位登记的邮箱重新报送。"]
    elif status == "unusable":
        label = "无法采用"
        lines.append(f"{intro}无法采用：{row['reason']}。")
        lines += ["", _current_text(state)]
        if findings and any(f.get("sheet") for f in findings):
            lines += ["", *_findings_lines(findings, False)]
    else:
        label = STATE_LABELS[status]
        locked = state is not None and state.review == "accepted" and state.current["id"] != row["id"]
        lines.append(f"{intro}已完成校验，结果：{label}。")
        if locked:
            lines += ["", f"你单位的报表已于{_day(state.decision['decided_at'])}审核通过并锁定，本次收到的新版本已存档，"
                          "暂不替换已审核通过的版本；如确需更正，请与我们联系。"]
        lines.append("")
        if status == "ok":
            lines.append("数据校验通过，感谢配合。")
        else:
            lines += _findings_lines(findings, bool(row["explanation"]))
            if row["explanation"]:
                lines += ["", f"你单位在“情况说明”中写道：{row['explanation']}", "审核人将据此决定是否接受上述提醒。"]
        if status != "ok":
            lines += ["", "附件中的工作簿第一张表“校验结果”列出了全部问题，出错的单元格已标色并加了批注。"
                          + ("请修改后重新报送。" if status == "errors" else "")]
    if attachments:
        lines += ["", f"同一封邮件中的附件{'、'.join(attachments)}已存档。"]
    data, att_name = _feedback(ws, row)
    draft = _Draft("reply", to, _subject(ws, name, f"校验结果（{label}）"), lines, row["office_code"], sub_id,
                   attachment=data, attachment_name=att_name, in_reply_to=row["message_id"])
    return _store(ws, conn, draft, f"{sub_id:05d}_{name}_{KIND_LABELS['reply']}")


def reply_to_attachments(ws: Workspace, conn: sqlite3.Connection, ids: list[int]) -> Path | None:
    """An email with files but no workbook (a stamped PDF, a cover letter): archived, and the office told what counts."""
    rows = [ledger.submission(conn, i) for i in ids]
    first = rows[0]
    state = office_state(ws, conn, first["office_code"])
    to = _recipient(first, state)
    if not to:
        return None
    name = first["office_name"] or "你单位"
    files = "、".join(r["filename"] for r in rows)
    lines = [f"{name}：", "", f"已于{_when(first['received_at'])}收到你单位发来的{files}，已存档。"
             "这封邮件中没有年度报告填报表（.xlsx）。", "", _current_text(state)]
    draft = _Draft("ack", to, _subject(ws, name, "附件已收到"), lines, first["office_code"], first["id"],
                   in_reply_to=first["message_id"])
    return _store(ws, conn, draft, f"{first['id']:05d}_{name}_{KIND_LABELS['ack']}")


def notify_decision(ws: Workspace, conn: sqlite3.Connection, decision_id: int, now: datetime | None = None) -> Path | None:
    """The notice of a return (with the reason and the annotated workbook) or of an acceptance."""
    d = conn.execute("SELECT * FROM decisions WHERE id=?", (decision_id,)).fetchone()
    row = ledger.submission(conn, d["submission_id"])
    state = office_state(ws, conn, d["office_code"])
    to = _recipient(row, state)
    if not to:
        return None
    name = row["office_name"] or "你单位"
    lines = [f"{name}：", ""]
    data = att_name = None
    if d["action"] == "return":
        lines.append(f"你单位报送的{ws.year}年度政府信息公开工作年度报告填报表{_version_text(dict(row))}经审核，退回修改"
                     f"（第{state.round - 1}次退回）。")
        lines += ["", f"退回原因：{d['reason']}"]
        findings = json.loads(row["findings_json"] or "[]")
        if findings:
            lines += ["", *_findings_lines(findings, bool(row["explanation"]))]
        lines += ["", "请在附件的工作簿中修改（出错的单元格已标色并加了批注），保存后作为邮件附件重新发送。"]
        if ws.deadline:
            lines.append(f"报送截止日期为{cn_date(ws.deadline)}。")
        data, att_name = _feedback(ws, row)
    else:
        lines.append(f"你单位报送的{ws.year}年度政府信息公开工作年度报告填报表{_version_text(dict(row))}已审核通过。")
        details = json.loads(d["details_json"] or "{}")
        if details.get("warnings"):
            lines += ["", "以下提醒经核实予以接受："]
            lines += [f"{i}. {w['message']}（理由：{w['reason']}）" for i, w in enumerate(details["warnings"], start=1)]
        lines += ["", "请按时在本单位门户网站公开年度报告。"]
    what = ACTION_LABELS[d["action"]] if d["action"] != "return" else KIND_LABELS["return"]
    draft = _Draft(d["action"], to, _subject(ws, name, what), lines, d["office_code"], row["id"], decision_id,
                   attachment=data, attachment_name=att_name, in_reply_to=row["message_id"])
    return _store(ws, conn, draft, f"{row['id']:05d}_{name}_{KIND_LABELS[d['action']]}_{decision_id:03d}", now)


@dataclass
class RemindResult:
    """What ``remind`` drafted (and sent), and which offices it could not write to."""

    drafted: list[tuple[str, str, Path]]  # (code, name, draft)
    skipped: list[tuple[str, str, str]]  # (code, name, why)
    sent: int = 0


def remind(ws: Workspace, *, send: bool = False, smtp_password: str | None = None,
           now: datetime | None = None) -> RemindResult:
    """Draft a 催报 email to every office that has not reported, sent nothing usable, or was returned and
    has not sent a new version: the deadline, what is missing, and a workbook to fill attached
    (its own pre-filled template, or for a returned office its annotated workbook)."""
    now = now or ws.now()
    result = RemindResult([], [])
    spec = ws.spec
    with ws.db() as conn:
        states = office_states(ws, conn)
        for state in states.values():
            if not state.needs_reminder:
                continue
            if not state.email:
                result.skipped.append((state.code, state.name, "名单中没有联系邮箱"))
                continue
            lines = [f"{state.name}：", ""]
            deadline = cn_date(ws.deadline) if ws.deadline else None
            asking = f"{ws.name or '我们'}正在收集{ws.year}年度政府信息公开工作年度报告" + (
                f"，报送截止日期为{deadline}" if deadline else "")
            today = cn_date(now.astimezone(LOCAL_TZ))
            if state.review == "returned":
                reason = (state.decision["reason"] if state.decision else "").rstrip("。")
                lines.append(f"{asking}。你单位报送的填报表{_version_text(state.current)}已于"
                             f"{_day(state.decision['decided_at'])}退回修改（原因：{reason}），截至{today}尚未收到修改后的版本。")
                lines.append("请在附件的工作簿中修改后重新发送。")
                data, att_name = _feedback(ws, state.current)
            else:
                if state.status == "unusable":
                    lines.append(f"{asking}。你单位发来的{_version_text(state.latest)}无法采用（{state.latest['reason']}），"
                                 f"截至{today}还没有可以采用的填报表。")
                else:
                    lines.append(f"{asking}，截至{today}尚未收到你单位的填报表。")
                lines.append("请使用附件中的填报模板（单位信息已填好）填报，保存为.xlsx后作为邮件附件发回。")
                template = ws.outbox / "templates" / f"{safe_filename(state.code)}.xlsx"
                office = {"code": state.code, "name": state.name, "kind": state.kind}
                write_workbook(spec, template, office_filling(office, ws.year))
                data, att_name = template.read_bytes(), f"{state.code}_{state.name}_{ws.year}.xlsx"
            if ws.past_deadline(now):
                lines += ["", "已超过报送截止日期，请尽快报送。"]
            draft = _Draft("remind", state.email, _subject(ws, state.name, "催报"), lines, state.code,
                           state.current["id"] if state.current else None, attachment=data, attachment_name=att_name)
            stamp = now.astimezone(LOCAL_TZ).strftime("%Y%m%d%H%M%S")
            path = _store(ws, conn, draft, f"{stamp}_{state.name}_{KIND_LABELS['remind']}", now)
            result.drafted.append((state.code, state.name, path))
    if send and result.drafted:
        result.sent = send_outgoing(ws, paths=[p for _, _, p in result.drafted], password=smtp_password)
    return result


def smtp_settings(ws: Workspace) -> SmtpSettings:
    if not ws.get("smtp.host") or not ws.get("sender"):
        raise UsageError(f"请先设置发件服务器和发件人：xxgk settings {ws.path} smtp.host 服务器；"
                         f"xxgk settings {ws.path} sender 邮箱（密码用环境变量 XXGK_SMTP_PASSWORD）")
    return SmtpSettings(ws.get("smtp.host"), int(ws.get("smtp.port")), ws.get("sender"), ws.get("smtp.user") or None,
                        ws.get("smtp.security"))


def send_outgoing(ws: Workspace, *, paths: list[Path] | None = None, password: str | None = None) -> int:
    """Send unsent drafts (all of them, or those at ``paths``) and record each one as it is accepted."""
    settings = smtp_settings(ws)
    with ws.db() as conn:
        rows = conn.execute("SELECT * FROM outgoing WHERE sent_at IS NULL AND superseded_at IS NULL ORDER BY id").fetchall()
        if paths is not None:
            wanted = {str(Path(p).relative_to(ws.path)) if Path(p).is_absolute() else str(p) for p in paths}
            rows = [r for r in rows if r["path"] in wanted]
        if not rows:
            return 0
        by_message = {}
        messages = []
        for r in rows:
            msg = for_sending((ws.path / r["path"]).read_bytes())
            del msg["From"]
            msg["From"] = settings.sender
            by_message[str(msg["Message-ID"])] = r["id"]
            messages.append(msg)

        def sent(msg) -> None:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE outgoing SET sent_at=?, message_id=? WHERE id=?",
                             (iso(ws.now()), str(msg["Message-ID"]), by_message[str(msg["Message-ID"])]))

        send_messages(settings, password, messages, on_sent=sent)
    return len(rows)
