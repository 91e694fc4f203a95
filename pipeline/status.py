"""Who has reported, what counts, where review stands: one report, three views (terminal, JSON, HTML page)."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


from .assets import html_environment
from .findings import STATUS_LABELS
from .fsutil import atomic_write_text
from .lifecycle import ACTION_LABELS, KIND_LABELS, REVIEW_LABELS, STATE_LABELS, OfficeState, office_states, time_note
from .textutil import table
from .workspace import Workspace, local_time

# The groups of the status page, in the order a coordinator works through them.
GROUPS = [
    ("missing", "未报送"), ("unusable", "无法采用"), ("returned", "已退回修改"), ("errors", "有错误"),
    ("warnings", "有提醒，待审核"), ("ok", "通过，待审核"), ("accepted", "审核通过"),
]


def _when(value: str | None) -> str:
    return local_time(value).strftime("%Y-%m-%d %H:%M") if value else ""


def group_of(o: dict[str, Any]) -> str:
    """Which group of the status page an office belongs in."""
    if o["review"] in ("returned", "accepted"):
        return o["review"]
    return o["status"]


def _history(state: OfficeState) -> list[dict[str, Any]]:
    """Everything that happened to an office's report, in time order."""
    events = []
    for v in state.versions:
        detail = STATE_LABELS[v["status"]] if v["usable"] else f"无法采用：{v['reason'] or STATUS_LABELS.get(v['status'], '')}"
        if v["usable"] and (v["errors"] or v["warnings"]):
            detail += f"（错误{v['errors']}项，提醒{v['warnings']}项）"
        note = time_note(v)
        events.append({"time": v["received_at"], "event": "收到", "detail": v["filename"] + "：" + detail
                       + (f"；{note}" if note else ""), "feedback": v["feedback_path"], "sha256": v["sha256"]})
    for a in state.attachments:
        events.append({"time": a["received_at"], "event": "收到附件", "detail": a["filename"], "feedback": None,
                       "sha256": a["sha256"]})
    files = {v["id"]: v["filename"] for v in state.versions}
    for d in state.decisions:
        detail = files.get(d["submission_id"], "")
        if d["reason"]:
            detail += f"；理由：{d['reason']}"
        events.append({"time": d["decided_at"], "event": ACTION_LABELS[d["action"]],
                       "detail": f"{detail}（审核人：{d['reviewer']}）", "feedback": None, "sha256": d["sha256"]})
    for o in state.outgoing:
        if o["sent_at"]:
            events.append({"time": o["sent_at"], "event": "已发出邮件",
                           "detail": f"{KIND_LABELS.get(o['kind'], o['kind'])} → {o['recipient']}", "feedback": None,
                           "sha256": None})
        else:
            events.append({"time": o["created_at"], "event": "已起草邮件（未发出）",
                           "detail": f"{KIND_LABELS.get(o['kind'], o['kind'])} → {o['recipient']}", "feedback": None,
                           "sha256": None})
    return sorted(events, key=lambda e: e["time"])


def _office(ws: Workspace, state: OfficeState, now: datetime, history: bool = True) -> dict[str, Any]:
    cur = state.current
    shown = cur or state.latest
    return {
        "code": state.code, "name": state.name, "kind": state.kind,
        "status": state.status,
        "received_at": shown["received_at"] if shown else None,
        "late": state.late(ws, now),
        "versions": len(state.versions),
        "review": state.review,
        "round": state.round,
        "decision_reason": state.decision["reason"] if state.decision and state.decision["reason"] else None,
        "accepted_warnings": state.accepted_warnings,
        "attachments": [{"filename": a["filename"], "sha256": a["sha256"], "received_at": a["received_at"]}
                        for a in state.attachments],
        "reply_sent": state.reply_sent,
        "current": None if cur is None else {
            "filename": cur["filename"], "sha256": cur["sha256"], "received_at": cur["received_at"],
            "errors": cur["errors"], "warnings": cur["warnings"], "explanation": cur["explanation"],
            "feedback": cur["feedback_path"]},
        "received_after_review": [v["filename"] for v in state.after_review],
        "note": (state.latest["reason"] if state.status == "unusable" and state.latest else None),
        "history": [{k: e[k] for k in ("time", "event", "detail", "feedback")} for e in _history(state)]
        if history else [],
    }


@dataclass
class StatusReport:
    """The state of every roster office, files whose office is unknown, and the counts."""

    offices: list[dict[str, Any]]
    unknown: list[dict[str, Any]]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"offices": self.offices, "unknown": self.unknown, "summary": self.summary}

    def comparable(self) -> list[dict[str, Any]]:
        """The offices without what depends on timing (draft times in the history, ledger ids in feedback
        file names): two workspaces that received the same files compare equal."""
        out = []
        for o in self.offices:
            o = {k: v for k, v in o.items() if k != "history"}
            if o["current"]:
                o["current"] = {**o["current"], "feedback": bool(o["current"]["feedback"])}
            out.append(o)
        return out

    def to_text(self) -> str:
        """The terminal view: one aligned line per office (Chinese text counted by its display width)."""
        s = self.summary
        head = f"{s['name'] or ''}{s['year']}年度政府信息公开工作年度报告报送情况" + (
            f"（截止日期{s['deadline']}）" if s["deadline"] else "")
        rows = []
        for o in self.offices:
            review = REVIEW_LABELS.get(o["review"] or "", "")
            if o["review"] == "returned":
                review += f"（第{o['round'] - 1}次）"
            if o["received_after_review"]:
                review += "，审核后又收到"
            reply = {True: "已反馈", False: "反馈未发出", None: ""}[o["reply_sent"]]
            rows.append([o["code"], o["name"], o["kind"] or "", STATE_LABELS[o["status"]], review,
                         _when(o["received_at"]) or "—", "逾期" if o["late"] else "", str(o["versions"]),
                         str(len(o["attachments"])) if o["attachments"] else "", reply])
        lines = [head, *table(["单位代码", "单位名称", "类型", "状态", "审核", "收到时间", "逾期", "版本", "附件", "反馈"], rows)]
        for u in self.unknown:
            lines.append(f"未识别单位的文件：{u['filename']}（{u['sender'] or '无发件人'}，"
                         f"{STATE_LABELS.get(u['status'], STATUS_LABELS.get(u['status'], u['status']))}）"
                         "——可用 xxgk receive 工作区 文件 --office 单位代码 指定")
        lines.append(f"共{s['offices']}个单位：已报送{s['submitted']}个，未报送{s['missing']}个，无法采用{s['unusable']}个；"
                     f"审核通过{s['accepted']}个，已退回{s['returned']}个，待审核{s['pending']}个"
                     f"（其中有错误{s['groups']['errors']}个、有提醒{s['groups']['warnings']}个）；逾期{s['late']}个。")
        return "\n".join(lines)

    def to_html(self, base: Path | None = None, ws_path: Path | None = None) -> str:
        """One self-contained page (no external files or scripts), printable on A4.

        :param base: the folder the page is written to (links to feedback workbooks are relative to it).
        :param ws_path: the workspace folder (feedback paths are relative to it).
        """
        def link(path: str | None) -> str | None:
            if not path or ws_path is None:
                return None
            target = (ws_path / path).resolve()
            try:
                return Path(os.path.relpath(target, (base or Path.cwd()).resolve())).as_posix()
            except ValueError:  # another drive (Windows): an absolute link
                return target.as_uri()

        groups = []
        for key, label in GROUPS:
            members = [o for o in self.offices if group_of(o) == key]
            groups.append({"key": key, "label": label, "offices": members})
        return html_environment().get_template("status.html.j2").render(
            s=self.summary, groups=groups, unknown=self.unknown, when=_when, link=link,
            labels=STATE_LABELS, review_labels=REVIEW_LABELS, generated=_when(self.summary["generated_at"]))


def workspace_status(ws: Workspace, now: datetime | None = None, history: bool = True) -> StatusReport:
    """Who has submitted, when, whether late, what counts, where review stands, what was answered.

    :param history: each office's events too (the JSON and the page show them; the terminal table does not).
    """
    now = now or ws.now()
    with ws.db() as conn:
        states = office_states(ws, conn, with_data=False)
        unknown = [dict(filename=r["filename"], sender=r["sender"], received_at=r["received_at"], status=r["status"],
                        sha256=r["sha256"], note=r["reason"])
                   for r in conn.execute("SELECT * FROM submissions WHERE office_code IS NULL AND duplicate_of IS NULL"
                                         " AND status NOT IN ('pending', 'skipped') ORDER BY id")]
    offices = [_office(ws, state, now, history) for state in states.values()]
    # One pass over the offices for every count (at 10,000 offices twenty passes cost a sixth of a second).
    status, review, group = Counter(), Counter(), Counter()
    late = unsent = 0
    for o in offices:
        status[o["status"]] += 1
        review[o["review"]] += 1
        group[group_of(o)] += 1
        late += bool(o["late"])
        unsent += o["reply_sent"] is False
    summary = {
        "name": ws.name, "code": ws.code, "year": ws.year,
        "deadline": ws.deadline.isoformat() if ws.deadline else None,
        "generated_at": now.isoformat(timespec="seconds"),
        "offices": len(offices),
        "submitted": len(offices) - status["missing"],
        "missing": status["missing"],
        "unusable": status["unusable"],
        "ok": status["ok"],
        "warnings": status["warnings"],
        "errors": status["errors"],
        "unreadable": status["unusable"],
        "accepted": review["accepted"],
        "returned": review["returned"],
        "pending": review["pending"],
        "late": late,
        "replies_unsent": unsent,
        "unknown_files": len(unknown),
        "groups": {key: group[key] for key, _ in GROUPS},
    }
    return StatusReport(offices, unknown, summary)


def write_status_html(report: StatusReport, ws: Workspace, out: str | Path) -> Path:
    """Write the status page to ``out`` (atomically)."""
    out = Path(out)
    atomic_write_text(out, report.to_html(out.parent, ws.path))
    return out


def status_json(report: StatusReport) -> str:
    """The report as JSON: an office a line (the C encoder; indenting the whole document would take the
    pure-Python one, a second at 10,000 offices)."""
    d = report.to_dict()
    offices = d.pop("offices", [])
    head = json.dumps(d, ensure_ascii=False)[:-1]
    lines = ",\n".join(json.dumps(o, ensure_ascii=False) for o in offices)
    return f'{head}, "offices": [\n{lines}\n]}}' if head != "{" else f'{{"offices": [\n{lines}\n]}}'

