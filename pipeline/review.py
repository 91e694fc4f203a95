"""Review decisions: 退回 (return), 审核通过 (accept, which locks), 重新打开 (reopen).

Each decision is recorded against the exact version it is about (its sha256), with the
reviewer, the time and the reason, and answered by mail. Errors must be fixed before a
version can be accepted; each warning must be covered by a written reason, the office's own
(its 情况说明 in the workbook) or the reviewer's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import InputError, UsageError
from .lifecycle import OfficeState, office_state
from .outbox import notify_decision, send_outgoing
from .workspace import Workspace, iso


class DecisionRefused(InputError):
    """A decision that the current version does not allow (errors left, warnings without a reason)."""


@dataclass
class Decision:
    """A recorded decision and the mail drafted for it."""

    id: int
    office_code: str
    office_name: str
    action: str  # return / accept / reopen
    submission_id: int
    filename: str
    sha256: str
    reason: str
    reviewer: str
    decided_at: str
    round: int
    warnings: list[dict[str, Any]]
    draft: Path | None = None
    sent: int = 0


def _state(ws: Workspace, conn, code: str) -> OfficeState:
    state = office_state(ws, conn, code)
    if state is None:
        raise UsageError(f"名单中没有单位代码“{code}”")
    if state.current is None:
        what = "还没有报送" if state.status == "missing" else "报送的文件都无法采用"
        raise DecisionRefused(f"{state.name}（{code}）{what}，没有可以审核的报表")
    return state


def _record(ws: Workspace, conn, state: OfficeState, action: str, reason: str, details: dict[str, Any],
            now: datetime | None) -> int:
    cur = state.current
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "INSERT INTO decisions(office_code, submission_id, sha256, action, reason, reviewer, decided_at, details_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (state.code, cur["id"], cur["sha256"], action, reason, ws.reviewer, iso(now or ws.now()),
             json.dumps(details, ensure_ascii=False)))
        return row.lastrowid


def _decide(ws: Workspace, code: str, action: str, reason: str, check, *, send: bool, smtp_password: str | None,
            now: datetime | None) -> Decision:
    with ws.db() as conn:
        state = _state(ws, conn, code)
        details = check(state)
        reason = details.pop("reason", reason)
        decision_id = _record(ws, conn, state, action, reason, details, now)
        draft = notify_decision(ws, conn, decision_id, now) if action != "reopen" else None
        after = office_state(ws, conn, code)
        d = conn.execute("SELECT * FROM decisions WHERE id=?", (decision_id,)).fetchone()
    result = Decision(decision_id, code, state.name, action, state.current["id"], state.current["filename"],
                      state.current["sha256"], reason, d["reviewer"], d["decided_at"], after.round,
                      details.get("warnings", []), draft)
    if send and draft is not None:
        result.sent = send_outgoing(ws, paths=[draft], password=smtp_password)
    return result


def return_submission(ws: Workspace, code: str, reason: str, *, send: bool = False, smtp_password: str | None = None,
                      now: datetime | None = None) -> Decision:
    """Send the office's current version back (退回) with a reason; the round count rises and the office
    gets the reason and its annotated workbook by mail.

    :param reason: why, in words the office can act on (required).
    """
    reason = (reason or "").strip()
    if not reason:
        raise UsageError("退回必须写明原因：--reason 退回原因")

    def check(state: OfficeState) -> dict[str, Any]:
        if state.review == "accepted":
            raise DecisionRefused(f"{state.name}（{code}）的报表已审核通过并锁定；如需退回，请先运行 xxgk reopen")
        return {}

    return _decide(ws, code, "return", reason, check, send=send, smtp_password=smtp_password, now=now)


def accept_submission(ws: Workspace, code: str, reason: str | None = None, *, send: bool = False,
                      smtp_password: str | None = None, now: datetime | None = None) -> Decision:
    """Accept (审核通过) and lock the office's current version.

    Refused while it has errors. Each warning must be covered by a reason: the office's 情况说明
    in its workbook, or ``reason``. A later version from the office is kept but does not
    become current until :func:`reopen`.
    """
    reason = (reason or "").strip()

    def check(state: OfficeState) -> dict[str, Any]:
        cur = state.current
        findings = json.loads(cur["findings_json"] or "[]")
        errors = [f for f in findings if f["severity"] == "error"]
        if errors:
            listing = "；".join(f"{f['sheet']}!{f['cell']} {f['message']}" if f.get("cell") else f["message"]
                               for f in errors[:5])
            raise DecisionRefused(f"{state.name}（{code}）的当前版本{cur['filename']}有{len(errors)}项错误，不能审核通过，"
                                  f"请退回修改：{listing}")
        warnings = [f for f in findings if f["severity"] == "warning"]
        explanation = (cur["explanation"] or "").strip()
        if warnings and not (reason or explanation):
            listing = "\n".join(f"  {i}. {f['message']}" for i, f in enumerate(warnings, start=1))
            raise DecisionRefused(f"{state.name}（{code}）的当前版本有{len(warnings)}项提醒，每项都要有接受的理由：\n{listing}\n"
                                  "请用 --reason 写明理由，或请单位在填报表“情况说明”中说明后重新报送")
        source = "reviewer" if reason else "office"
        covered = [{"code": f["code"], "where": f"{f['sheet']}!{f['cell']}" if f.get("cell") else "",
                    "message": f["message"], "reason": reason or explanation, "source": source} for f in warnings]
        # Without --reason the office's own explanation is the reason on record.
        return {"warnings": covered, "explanation": explanation or None, "reason": reason or explanation}

    return _decide(ws, code, "accept", reason, check, send=send, smtp_password=smtp_password, now=now)


def reopen(ws: Workspace, code: str, reason: str | None = None, *, now: datetime | None = None) -> Decision:
    """Undo an acceptance: the newest version received becomes current again, waiting for review."""
    def check(state: OfficeState) -> dict[str, Any]:
        if state.review != "accepted":
            raise DecisionRefused(f"{state.name}（{code}）的报表没有审核通过，无须重新打开")
        return {}

    return _decide(ws, code, "reopen", (reason or "").strip(), check, send=False, smtp_password=None, now=now)
