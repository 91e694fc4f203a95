"""An office's submission over time: its versions, the one that counts, and where review stands.

Derived from the ledger on every call (nothing here is stored twice):

- **versions**: every workbook file the office sent (not re-sends of the same bytes, not
  PDFs and other attachments), in order of receipt.
- **current**: only a workbook of the workspace's year and format (status ok, warnings or
  errors) can count; the newest such version is current, unless a version was accepted
  (审核通过): accepted is locked, and later versions wait (审核后又收到) until it is reopened.
- **review** of the current version: ``pending`` (待审核), ``returned`` (已退回) or
  ``accepted`` (审核通过); ``round`` counts the rounds of return (1 + returns).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .workspace import Workspace

USABLE = ("ok", "warnings", "errors")  # a workbook of the year and format, whatever it holds

STATE_LABELS = {"missing": "未报送", "unusable": "无法采用", "ok": "通过", "warnings": "有提醒", "errors": "有错误",
                "held": "待核实"}
REVIEW_LABELS = {"pending": "待审核", "returned": "已退回", "accepted": "审核通过"}
ACTION_LABELS = {"return": "退回", "accept": "审核通过", "reopen": "重新打开"}
KIND_LABELS = {"reply": "校验结果", "ack": "收到附件", "return": "退回修改", "accept": "审核通过", "remind": "催报"}  # messages drafted


def usable(ws: Workspace, row: dict[str, Any]) -> bool:
    """Whether a received workbook can be an office's current version: readable, of the year and format.

    Checked on the stored format and year as well as the status, so that a ledger written by an
    earlier version (which kept another year's or format's workbooks as ordinary results) reads right.
    """
    return (row["status"] in USABLE and row["format"] == ws.spec.format
            and row["year"] in (None, ws.year))


def _key(row: dict[str, Any]) -> tuple[str, int]:
    return row["received_at"], row["id"]


@dataclass
class OfficeState:
    """One roster office and everything it has sent, with what was decided."""

    code: str
    name: str
    kind: str
    email: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    current: dict[str, Any] | None = None
    review: str | None = None
    round: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] | None = None  # the latest decision on the current version
    after_review: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    outgoing: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """missing / unusable (files came, none can count) / ok / warnings / errors (of the current version)."""
        if self.current is not None:
            return self.current["status"]
        return "unusable" if self.versions else "missing"

    @property
    def latest(self) -> dict[str, Any] | None:
        """The last workbook received, usable or not."""
        return self.versions[-1] if self.versions else None

    @property
    def first_received(self) -> str | None:
        """When the office first sent a workbook that counts (its report was in by then)."""
        firsts = [v["received_at"] for v in self.versions if v.get("usable")]
        return min(firsts) if firsts else None

    def late(self, ws: Workspace, now: datetime | None = None) -> bool:
        """Reported after the deadline, or still without a report that counts once it has passed."""
        if self.first_received is not None:
            return ws.is_late(self.first_received)
        return ws.past_deadline(now)

    @property
    def accepted_warnings(self) -> list[dict[str, Any]]:
        if self.review != "accepted" or not self.decision:
            return []
        return json.loads(self.decision.get("details_json") or "{}").get("warnings", [])

    @property
    def replies(self) -> list[dict[str, Any]]:
        """Mail about the current version (check result, return, acceptance), or about the latest file when
        none counts, oldest first."""
        about = self.current or self.latest
        if about is None:
            return []
        return [o for o in self.outgoing if o["submission_id"] == about["id"]
                and o["kind"] in ("reply", "return", "accept")]

    @property
    def reply_sent(self) -> bool | None:
        """Whether the latest mail about that version went out (None: nothing was drafted)."""
        replies = self.replies
        return None if not replies else replies[-1]["sent_at"] is not None

    @property
    def needs_reminder(self) -> bool:
        """Has not reported, sent nothing that counts, or was returned and has not sent a new version."""
        return self.status in ("missing", "unusable") or self.review == "returned"


_DATA_COLUMNS = {"values_json", "findings_json", "prose_json", "office_json"}  # the large ones


def office_states(ws: Workspace, conn: sqlite3.Connection, code: str | None = None,
                  with_data: bool = True) -> dict[str, OfficeState]:
    """Every roster office's state (or only ``code``'s), from a handful of indexed queries, none per office.

    :param with_data: also load each version's figures, findings and texts (the large columns, which
        ``status`` of 10,000 offices need not read).
    """
    only, args = ("", ()) if code is None else (" AND office_code = ?", (code,))
    offices = conn.execute("SELECT * FROM offices ORDER BY code") if code is None else conn.execute(
        "SELECT * FROM offices WHERE code = ?", args)
    states = {o["code"]: OfficeState(o["code"], o["name"], o["kind"] or "", o["email"] or "") for o in offices}
    # A content's time of receipt is its earliest arrival: an identical re-send recorded first
    # (two runs at once) does not make the original later.
    # A re-send's own office may be unset (recorded while another run still held the original): its original's counts.
    first = {r["root"]: r["first"] for r in conn.execute(
        "SELECT o.id AS root, MIN(o.received_at, COALESCE((SELECT MIN(d.received_at) FROM submissions d"
        " WHERE d.duplicate_of = o.id), o.received_at)) AS first FROM submissions o"
        " WHERE o.duplicate_of IS NULL AND o.office_code IS NOT NULL" + only, args)}
    columns = "s.*" if with_data else ", ".join(
        f"s.{c[1]}" for c in conn.execute("PRAGMA table_info(submissions)") if c[1] not in _DATA_COLUMNS)
    rows = conn.execute(
        f"SELECT {columns}, f.archive_path FROM submissions s JOIN files f USING(sha256)"
        " WHERE s.office_code IS NOT NULL AND s.duplicate_of IS NULL AND s.status NOT IN ('pending', 'skipped')"
        + (" AND s.office_code = ?" if code else "") + " ORDER BY s.id", args).fetchall()
    for r in rows:
        state = states.get(r["office_code"])
        if state is None:
            continue  # assigned to an office that has since left the roster
        row = dict(r, received_at=first.get(r["id"], r["received_at"]))
        if row["status"] == "attachment":
            state.attachments.append(row)
        else:
            row["usable"] = usable(ws, row)
            state.versions.append(row)
    for d in conn.execute("SELECT * FROM decisions WHERE 1=1" + only + " ORDER BY id", args):
        if d["office_code"] in states:
            states[d["office_code"]].decisions.append(dict(d))
    for o in conn.execute("SELECT * FROM outgoing WHERE superseded_at IS NULL AND office_code IS NOT NULL" + only
                          + " ORDER BY id", args):
        if o["office_code"] in states:
            states[o["office_code"]].outgoing.append(dict(o))
    for state in states.values():
        _derive(state)
    return states


def office_state(ws: Workspace, conn: sqlite3.Connection, code: str | None) -> OfficeState | None:
    """One office's state (None for a code not on the roster)."""
    return office_states(ws, conn, code).get(code) if code else None


def _derive(state: OfficeState) -> None:
    state.versions.sort(key=_key)
    state.attachments.sort(key=_key)
    usable_versions = [v for v in state.versions if v["usable"]]
    by_id = {v["id"]: v for v in usable_versions}
    locked = None
    for d in state.decisions:
        if d["action"] == "accept" and d["submission_id"] in by_id:
            locked = by_id[d["submission_id"]]
        elif d["action"] == "reopen":
            locked = None
    state.round = (1 + sum(1 for d in state.decisions if d["action"] == "return")) if state.versions else 0
    if locked is not None:
        state.current = locked
        state.after_review = [v for v in usable_versions if _key(v) > _key(locked)]
    elif usable_versions:
        state.current = usable_versions[-1]
    if state.current is None:
        return
    state.review = "pending"
    for d in state.decisions:
        if d["submission_id"] == state.current["id"]:
            state.decision = d
            state.review = {"accept": "accepted", "return": "returned", "reopen": "pending"}[d["action"]]
    if state.review == "accepted" and state.current is not locked:
        state.review = "pending"  # an acceptance undone by a later reopen


def time_note(row: sqlite3.Row | dict[str, Any]) -> str:
    """How a receipt time is to be read, for people."""
    return {"future": "邮件日期在未来，按实际收取时间记录", "before-year": "收到时间早于报告年度，请核实"}.get(
        row["time_flag"] or "", "")
