"""Receiving: archive and record first, then read, check, annotate and answer.

Nothing is lost: every received file is stored unchanged in ``archive/`` under its sha256
(written atomically, never overwritten) and recorded in the ledger *before* it is read. A
run that is interrupted leaves rows ``pending``; the next run finishes them. Receiving the
same sources again changes nothing; identical bytes sent again are a re-send of the first.

What a file becomes:

- a workbook of the workspace's year and format: checked, annotated (from its archived bytes,
  never from a path) and answered; it may become the office's current version
  (:mod:`pipeline.lifecycle` decides);
- any other spreadsheet-like file (damaged, encrypted, .xls/.et/.ods, another year or format):
  ``unusable``, answered with the version that still counts, never current;
- a PDF, OFD, image or Word file (a stamped copy, a cover letter): an ``attachment`` of the
  office, linked to the workbook of the same email, never checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable

from . import ledger
from .annotate import annotate, annotated_name
from .check import FileResult, check_submission, check_within_budget, failed_result
from .lifecycle import office_states
from .rules import Previous
from .rules import peer_texts
from .similarity import PeerIndex
from .spec import recompute
from .errors import UsageError
from .findings import Finding, finding
from .fsutil import atomic_write_bytes, fault_point, process_alive, remove_stale_temporaries, safe_filename
from .mail import Mail
from .outbox import reply_to_attachments, reply_to_submission, send_outgoing
from .reader import MAX_FILE_BYTES, Submission, read_submission, sniff
from .sources import ATTACHMENT_SUFFIXES, WORKBOOK_SUFFIXES, Arrival, iter_source, mail_arrivals
from .workspace import LOCAL_TZ, Workspace, iso, local_time, open_workspace

FUTURE_SLACK = timedelta(days=1)  # a sender's clock a little ahead is not a date in the future


@dataclass
class Received:
    """What receiving did with one incoming file."""

    submission_id: int
    filename: str
    office_code: str | None
    office_name: str | None
    status: str  # ok / warnings / errors / unusable / attachment / duplicate / already
    note: str = ""
    draft: Path | None = None


@dataclass
class ReceiveResult:
    items: list[Received] = field(default_factory=list)
    mail_notes: list[str] = field(default_factory=list)
    sent: int = 0

    @property
    def drafts(self) -> list[Path]:
        return [i.draft for i in self.items if i.draft is not None]


def archive_file(ws: Workspace, data: bytes, sha256: str, suffix: str) -> Path:
    """Store bytes under their hash; an existing archived file is never rewritten."""
    suffix = suffix.lower() if len(suffix) <= 6 and suffix[1:].isalnum() else ".bin"
    target = ws.archive / sha256[:2] / f"{sha256}{suffix}"
    if not target.exists():
        atomic_write_bytes(target, data)
    return target


def is_workbook_file(filename: str, path: Path) -> bool:
    """Whether a received file is meant as a workbook (even a broken one), as opposed to a scan or a letter.

    Reads only what it needs: nothing for a known suffix, the start of the file (or the zip's directory) else."""
    suffix = Path(filename).suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return True
    if suffix in ATTACHMENT_SUFFIXES:
        return False
    with path.open("rb") as fh:
        head = fh.read(1024 * 1024)
    kind = sniff(head, suffix)
    if kind is None:  # a zip package: a workbook if it holds one
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                return any(n.startswith("xl/") for n in names) or (
                    "mimetype" in names and b"spreadsheet" in z.read("mimetype")[:100])
        except Exception:  # noqa: BLE001 - a damaged zip of unknown kind: not a workbook
            return False
    return kind in ("file-xls", "file-et", "file-encrypted")


class _Roster:
    """What a run reads once: the roster (who a file is from) and last year's reports (the cross-year rules)."""

    def __init__(self, ws: Workspace, conn: sqlite3.Connection):
        self.ws, self.conn = ws, conn
        self._previous: dict[str, Previous] | None = None
        self.touched: set[str] = set()  # offices that sent a workbook in this run
        self.offices = conn.execute("SELECT code, name, email FROM offices").fetchall()
        self.codes = {o["code"]: o for o in self.offices}
        self.by_name = {o["name"]: o["code"] for o in self.offices}
        self.by_email: dict[str, list[str]] = {}
        for o in self.offices:
            if o["email"]:
                self.by_email.setdefault(o["email"], []).append(o["code"])
        self.longest_first = sorted(self.offices, key=lambda o: -len(o["name"]))

    def identify(self, sub: Submission | None, sender: str | None, filename: str) -> tuple[str | None, str | None]:
        """Template metadata first, then the sender, then the file name."""
        if sub is not None and sub.readable:
            for candidate in (sub.office.get("code"), sub.meta.get("office_code")):
                if candidate is not None and str(candidate).strip() in self.codes:
                    return str(candidate).strip(), "template"
            name = sub.office.get("name")
            if name and str(name).strip() in self.by_name:
                return self.by_name[str(name).strip()], "template"
        code = self.by_sender(sender)
        if code:
            return code, "sender"
        for o in self.longest_first:
            if o["name"] in filename or o["code"] in filename:
                return o["code"], "filename"
        return None, None

    def mismatch(self, code: str | None, how: str | None, sender: str | None) -> str | None:
        """Why a workbook naming one office but sent from another's registered address is held, or None.

        Fine when the roster lists the sender for the office the workbook names (an address serving several)."""
        registered = self.by_email.get((sender or "").lower(), [])
        if how != "template" or not registered or code in registered:
            return None
        claimed = self.codes[code]["name"] if code in self.codes else code
        own = "、".join(f"{self.codes[c]['name']}（{c}）" for c in registered)
        return (f"填报表上的单位是{claimed}（{code}），而发件邮箱 {sender} 登记的是{own}；已存档，待核实后采用"
                f"（核实无误可用 xxgk receive 工作区 该文件 --office {code} 指定）")

    def by_sender(self, sender: str | None) -> str | None:
        matches = self.by_email.get((sender or "").lower(), [])
        return matches[0] if len(matches) == 1 else None

    def previous(self, code: str | None) -> Previous | None:
        """The office's report in last year's workspace (the ``previous`` setting), if there is one."""
        if code is None or not self.ws.get("previous"):
            return None
        if self._previous is None:
            self._previous = {}
            try:
                last = open_workspace(self.ws.get("previous"))
                with last.db() as conn:
                    states = office_states(last, conn)
            except Exception:  # noqa: BLE001 - last year's workspace gone or broken: the cross-year rules wait
                states = {}
            for c, state in states.items():
                if state.current is not None:
                    values = recompute(last.spec, json.loads(state.current["values_json"] or "{}"))
                    self._previous[c] = Previous(values, json.loads(state.current.get("prose_json") or "{}"),
                                                 last.year)
        return self._previous.get(code)


def _time_flag(ws: Workspace, when: datetime, recorded: datetime) -> tuple[datetime, str | None]:
    """A date in the future is not believed (the time of recording stands in); one before the report year is flagged."""
    if when > recorded + FUTURE_SLACK:
        return recorded, "future"
    if when.astimezone(LOCAL_TZ).year < ws.year:
        return when, "before-year"
    return when, None


def _record(ws: Workspace, conn: sqlite3.Connection, data: bytes, arrival: Arrival) -> tuple[int, str]:
    """Archive and record one arrival. Returns (submission id, "new"/"duplicate"/"already")."""
    sha = hashlib.sha256(data).hexdigest()
    path = archive_file(ws, data, sha, Path(arrival.filename).suffix)
    fault_point("archived")
    recorded = ws.now()
    received, flag = _time_flag(ws, arrival.received_at, recorded)
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR IGNORE INTO files(sha256, size, archive_path, stored_at) VALUES (?, ?, ?, ?)",
                     (sha, len(data), str(path.relative_to(ws.path)), iso(recorded)))
        row = conn.execute("SELECT id FROM submissions WHERE sha256=? AND source_key=?",
                           (sha, arrival.source_key)).fetchone()
        if row:
            return row["id"], "already"
        # The same bytes received before, or a feedback workbook of ours sent back unchanged: a re-send.
        first = conn.execute("SELECT id FROM submissions WHERE sha256=? AND duplicate_of IS NULL ORDER BY id LIMIT 1",
                             (sha,)).fetchone() or conn.execute(
            "SELECT id FROM submissions WHERE feedback_sha256=? ORDER BY id LIMIT 1", (sha,)).fetchone()
        cur = conn.execute(
            "INSERT INTO submissions(sha256, source_key, filename, source, sender, message_id, received_at, recorded_at,"
            " duplicate_of, status, time_source, time_flag, worker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sha, arrival.source_key, arrival.filename, arrival.source, arrival.sender, arrival.message_id,
             iso(received), iso(recorded), first["id"] if first else None, "duplicate" if first else "pending",
             arrival.time_source, flag, WORKER))
    fault_point("recorded")
    return cur.lastrowid, "duplicate" if first else "new"


def _unusable_reason(ws: Workspace, sub: Submission | None, error: str | None) -> str | None:
    """Why a workbook cannot be the office's report for this year, or None when it can."""
    if sub is None:
        return f"读取文件时出错（{error}）"
    if not sub.readable:
        return sub.findings[0].message if sub.findings else "不是年度报告填报表"
    if sub.spec.format != ws.spec.format:
        return f"使用的是{sub.spec.basis}格式的模板，{ws.year}年度报告应使用{ws.spec.basis}格式的模板"
    if sub.year is not None and sub.year != ws.year:
        return f"填报表中的报告年度为{sub.year}年，本次收集的是{ws.year}年度报告"
    return None


def _set(conn: sqlite3.Connection, sub_id: int, **values: Any) -> None:
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"UPDATE submissions SET {', '.join(f'{k}=?' for k in values)} WHERE id=?",
                     (*values.values(), sub_id))


def _process_workbook(ws: Workspace, conn: sqlite3.Connection, roster: _Roster, row: sqlite3.Row, data: bytes | None,
                      office: str | None, attachments: list[str]) -> Received:
    """Read, check and annotate the archived bytes of one workbook within the file budget, and draft the reply.

    ``data`` is None for a file too large to read (it stays archived, and is answered)."""
    named = Path(row["filename"])  # the office's file name: it names the feedback and helps sniff the format
    feedback_dir = lambda code: ws.outbox / safe_filename(code or "未识别单位")  # noqa: E731
    feedback_name = f"{row['id']:05d}_{annotated_name(named)}"
    found: dict[str, Any] = {}

    def run() -> FileResult:
        found["sub"] = sub = read_submission(named, data)
        found["who"] = roster.identify(sub, row["sender"], row["filename"])
        code = found["who"][0] or office
        result = check_submission(sub, year=ws.year, level=ws.level, previous=roster.previous(code))
        fault_point("checked")
        # The other offices' texts are compared once the run's files are in (see _compare_texts).
        held = None if _unusable_reason(ws, sub, None) else roster.mismatch(*found["who"], row["sender"])
        result.annotated = annotate(result, feedback_dir(None if held else code), name=feedback_name)
        return result

    if data is None:
        result, done = failed_result(named, "file-too-large", ""), False
    else:
        result, done = check_within_budget(run, named, (ws.get("budget_seconds"), ws.get("budget_memory_mb")))
    sub = found.get("sub") if done else None
    error = None if done else result.findings[0].message
    code, how = found["who"] if done else roster.identify(None, row["sender"], row["filename"])
    if code is None and office:
        code, how = office, "assigned"
    reason = _unusable_reason(ws, sub, error)
    held = None if reason else roster.mismatch(code, how, row["sender"])
    if held:
        code, how = None, "held"  # not the claimed office's until the coordinator says so (receive --office)
    if not done:
        result.annotated = annotate(result, feedback_dir(code), name=feedback_name)  # the finding alone: quick
    feedback = result.annotated
    feedback_sha = hashlib.sha256(feedback.read_bytes()).hexdigest()
    fault_point("feedback")
    findings = [f.to_dict() for f in result.findings]
    readable = sub is not None and sub.readable
    values = {f.id: result.values[f.id] for f in sub.spec.inputs()} if readable else {}
    status = "unusable" if reason else ("held" if held else result.status)
    _set(conn, row["id"], office_code=code, identified_by=how, status=status, reason=reason or held,
         errors=sum(1 for f in findings if f["severity"] == "error"),
         warnings=sum(1 for f in findings if f["severity"] == "warning"),
         format=sub.spec.format if readable else None, year=sub.year if sub is not None else None,
         office_json=json.dumps(sub.office if sub is not None else {}, ensure_ascii=False, default=str),
         values_json=json.dumps(values), findings_json=json.dumps(findings, ensure_ascii=False, default=str),
         explanation=sub.explanation if sub is not None else None,
         prose_json=json.dumps(sub.spec.joined_texts(sub.prose) if readable else {}, ensure_ascii=False),
         feedback_path=str(feedback.relative_to(ws.path)), feedback_sha256=feedback_sha, error=error,
         reply_pending=1)
    fault_point("status")
    if code in roster.codes and status not in ("unusable", "held"):
        roster.touched.add(code)
    draft = _reply(ws, conn, row["id"], attachments)
    name = roster.codes[code]["name"] if code in roster.codes else None
    return Received(row["id"], row["filename"], code, name, status, note=reason or held or "", draft=draft)


def _reply(ws: Workspace, conn: sqlite3.Connection, sub_id: int, attachments: list[str] = ()) -> Path | None:
    """Draft the reply to a processed file, and record that it is no longer owed."""
    draft = reply_to_submission(ws, conn, sub_id, attachments)
    fault_point("reply")
    _set(conn, sub_id, reply_pending=0)
    return draft


def _process(ws: Workspace, conn: sqlite3.Connection, roster: _Roster, ids: list[int],
             office: str | None = None) -> list[Received]:
    """Process the new arrivals of one email (or one file): workbooks first, then what came with them.

    Each row's attempts are counted before the work starts: a file that kills the program every time (a bug,
    the machine's memory) is given up after ``max_attempts`` and reported, instead of blocking every run."""
    rows = [ledger.submission(conn, i) for i in ids]
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE submissions SET attempts = attempts + 1 WHERE id=?", [(i,) for i in ids])
    paths = {r["id"]: ws.path / r["archive_path"] for r in rows}
    workbooks = [r for r in rows if is_workbook_file(r["filename"], paths[r["id"]])]
    beside = {r["id"]: _workbook_beside(conn, r, workbooks) for r in workbooks}
    workbooks = [r for r in workbooks if beside[r["id"]] is None]
    others = [r for r in rows if r not in workbooks]
    done = {}
    for r in workbooks:
        if r["attempts"] >= int(ws.get("max_attempts")):  # this run's increment makes it one more
            done[r["id"]] = _give_up(ws, conn, roster, r)
            continue
        # Always the archived bytes, and only those a workbook can be.
        size = paths[r["id"]].stat().st_size
        data = paths[r["id"]].read_bytes() if size <= MAX_FILE_BYTES else None
        done[r["id"]] = _process_workbook(ws, conn, roster, r, data, office, [o["filename"] for o in others])
    if others:
        # Attachments belong to the office of the email's workbook (processed in this run or an earlier one).
        message = rows[0]["message_id"]
        siblings = conn.execute("SELECT office_code, status FROM submissions WHERE message_id=? AND status IN"
                                " ('ok', 'warnings', 'errors', 'unusable') AND office_code IS NOT NULL",
                                (message,)).fetchall() if message else []
        group = next((d.office_code for d in done.values() if d.office_code), None) or next(
            (s["office_code"] for s in siblings), None) or next((b for b in beside.values() if b), None)
        lone = not workbooks and not siblings
        for i, r in enumerate(others):
            code, how = (group, "email") if group else roster.identify(None, r["sender"], r["filename"])
            if code is None and office:
                code, how = office, "assigned"
            _set(conn, r["id"], status="attachment", office_code=code, identified_by=how,
                 reply_pending=1 if lone and i == 0 else 0)
            name = roster.codes[code]["name"] if code in roster.codes else None
            done[r["id"]] = Received(r["id"], r["filename"], code, name, "attachment", note="附件，已存档")
        if lone:
            first = done[others[0]["id"]]
            first.draft = _reply_attachments(ws, conn, [r["id"] for r in others])
    return [done[i] for i in ids]


def _workbook_beside(conn: sqlite3.Connection, row: sqlite3.Row, workbooks: list[sqlite3.Row]) -> str | None:
    """For a .csv sent with a workbook of the same name (merge writes 全县汇总.csv beside 全县汇总.xlsx): the
    workbook's office ("" while it is not known yet), so the CSV is that unit's attachment; None otherwise."""
    name = Path(row["filename"])
    if name.suffix.lower() != ".csv":
        return None
    stems = {Path(w["filename"]).stem for w in workbooks if Path(w["filename"]).suffix.lower() != ".csv"}
    if name.stem in stems:
        return ""
    if row["source_key"].startswith("file:"):  # a folder: its workbook arrived as a file of its own
        for suffix in (".xlsx", ".xlsm"):
            twin = conn.execute("SELECT office_code FROM submissions WHERE source_key=? ORDER BY id LIMIT 1",
                                ("file:" + str(Path(row["source_key"][5:]).with_suffix(suffix)),)).fetchone()
            if twin is not None:
                return twin["office_code"] or ""
    return None


def _reply_attachments(ws: Workspace, conn: sqlite3.Connection, ids: list[int]) -> Path | None:
    draft = reply_to_attachments(ws, conn, ids)
    fault_point("reply")
    _set(conn, ids[0], reply_pending=0)
    return draft


def _give_up(ws: Workspace, conn: sqlite3.Connection, roster: _Roster, row: sqlite3.Row) -> Received:
    """A file earlier runs died on, time after time: kept in the archive, answered, and left to a person."""
    found = finding("file-poisoned", actual=row["attempts"])
    reason = found.message
    code, how = roster.identify(None, row["sender"], row["filename"])
    _set(conn, row["id"], status="unusable", reason=reason, office_code=code, identified_by=how,
         findings_json=json.dumps([found.to_dict()], ensure_ascii=False), errors=1, warnings=0, reply_pending=1)
    draft = _reply(ws, conn, row["id"])
    name = roster.codes[code]["name"] if code in roster.codes else None
    return Received(row["id"], row["filename"], code, name, "unusable", note=reason, draft=draft)


Recorded = tuple[int, str, Arrival]  # submission id, "new"/"duplicate"/"already", the arrival


def _record_all(ws: Workspace, conn: sqlite3.Connection, parts: Iterable[tuple[bytes, Arrival]]) -> list[Recorded]:
    """Archive and record arrivals (the first half of receiving: nothing here reads a file's content)."""
    out = []
    for data, arrival in parts:
        sub_id, state = _record(ws, conn, data, arrival)
        out.append((sub_id, state, arrival))
    return out


def _outcomes(ws: Workspace, conn: sqlite3.Connection, roster: _Roster, recorded: list[Recorded],
              processed: dict[int, Received], office: str | None) -> list[Received]:
    """What became of each recorded arrival: processed now, a re-send, or known from an earlier run."""
    out = []
    for sub_id, state, arrival in recorded:
        if sub_id in processed:
            out.append(processed[sub_id])
            continue
        row = ledger.submission(conn, sub_id)
        if state == "duplicate":
            first = ledger.submission(conn, row["duplicate_of"])
            _set(conn, sub_id, office_code=first["office_code"])
            what = "本工作区发出的反馈工作簿（未修改）" if first["feedback_sha256"] == row["sha256"] else "文件"
            day = local_time(first["received_at"])
            note = f"与{day.month}月{day.day}日收到的{what}完全相同"
            out.append(Received(sub_id, arrival.filename, first["office_code"], first["office_name"], "duplicate", note))
        elif row["office_code"] is None and office and row["status"] not in ("duplicate", "pending"):
            if row["status"] == "held":  # the coordinator has checked whose it is: it counts as checked
                status = "errors" if row["errors"] else ("warnings" if row["warnings"] else "ok")
                _set(conn, sub_id, office_code=office, identified_by="assigned", status=status, reason=None)
                roster.touched.add(office)
            _set(conn, sub_id, office_code=office, identified_by="assigned", reply_pending=1)
            row = ledger.submission(conn, sub_id)
            draft = _reply(ws, conn, sub_id) if row["status"] != "attachment" else _set(conn, sub_id, reply_pending=0)
            name = roster.codes[office]["name"]
            out.append(Received(sub_id, arrival.filename, office, name, row["status"], f"已指定为{name}", draft))
        elif row["status"] == "pending":
            out.append(Received(sub_id, arrival.filename, None, None, "pending", "等待处理"))
        else:
            out.append(Received(sub_id, arrival.filename, row["office_code"], row["office_name"], "already",
                                "此前已处理"))
    return out


def _receive(ws: Workspace, conn: sqlite3.Connection, roster: _Roster, parts: list[tuple[bytes, Arrival]],
             office: str | None) -> list[Received]:
    """Record, then process, the arrivals of one email or file."""
    recorded = _record_all(ws, conn, parts)
    new = [sub_id for sub_id, state, _ in recorded if state == "new"]
    processed = {r.submission_id: r for r in _process(ws, conn, roster, new, office)} if new else {}
    return _outcomes(ws, conn, roster, recorded, processed, office)


def _mail_parts(ws: Workspace, conn: sqlite3.Connection, mail: Mail, result: ReceiveResult) -> list[tuple[bytes, Arrival]]:
    """Record an email (its headers, what came with it) and return its files as arrivals."""
    own = mail.xxgk or conn.execute("SELECT 1 FROM outgoing WHERE message_id=?", (mail.message_id,)).fetchone()
    if own:
        result.mail_notes.append(f"已跳过本工作区起草或发出的邮件：{mail.subject}")
        return []
    recorded = ws.now()
    received = mail.internal_date or mail.date or recorded
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR IGNORE INTO messages(message_key, sender, subject, received_at, attachments, skipped,"
                     " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (mail.message_id, mail.sender, mail.subject, iso(received), len(mail.attachments), mail.skipped,
                      iso(recorded)))
    if mail.oversized:
        mb = f"{mail.oversized / 1024 / 1024:.0f}MB"
        result.mail_notes.append(
            f"{mail.sender}：{mail.subject}（邮件过大，{mb}，" + ("已原样存档为 .eml，未拆分附件）" if mail.attachments
                                                              else "未下载，仍在邮箱中，请在邮箱中查看）"))
    elif not mail.attachments:
        result.mail_notes.append(f"邮件没有附件：{mail.sender}：{mail.subject}")
    if mail.skipped:
        result.mail_notes.append(
            f"{mail.sender}：{mail.subject}（附件过多，只收取了前{len(mail.attachments)}个，另有{mail.skipped}个未收取）")
    return list(mail_arrivals(mail, recorded))


def _compare_texts(ws: Workspace, conn: sqlite3.Connection, codes: set[str]) -> list[Received]:
    """Rule X4 for the offices that sent a workbook in this run: each current text against every other
    office's. Of two alike texts the one received later carries the finding (its feedback and reply are
    redone), so the outcome does not depend on the order files were processed in, nor on two runs at once:
    each run compares after its own files are recorded, so the later of two runs sees both."""
    from .similarity import similarity

    rule = next((r for r in ws.spec.rules if r.kind == "similarity" and r.instances[0].params.against == "peers"), None)
    if rule is None:
        return []
    inst = rule.instances[0]
    states = office_states(ws, conn)
    # And any current version a killed run did not get to compare.
    codes = set(codes) | {c for c, s in states.items() if s.current is not None and not s.current["texts_compared"]}
    if not codes:
        return []
    texts = lambda code: peer_texts(ws.spec, json.loads(states[code].current.get("prose_json") or "{}"))  # noqa: E731
    index = PeerIndex.for_offices(len(states))
    try:
        for code, state in states.items():
            if state.current is not None:
                for section, text in texts(code).items():
                    index.add(code, state.name, section, text)
        out = []
        for code in sorted(codes):
            if code not in states or states[code].current is None:
                continue
            for section, text in texts(code).items():
                match = index.best(section, text, exclude=code)
                if match is None:
                    continue
                other = match[0]
                mine, theirs = states[code].current, states[other].current
                later, earlier = (code, other) if (mine["received_at"], mine["id"]) > (theirs["received_at"], theirs["id"]) \
                    else (other, code)
                score = similarity(texts(later)[section], texts(earlier)[section])
                if score < inst.params.threshold:
                    continue
                cell = next(((ws.spec.prose.sheet, f.cell) for f in ws.spec.prose.fields if f.id == section), (None, None))
                found = rule.impl.finding(inst, ws.spec, section, states[earlier].name, score, cell)
                item = _add_finding(ws, conn, states[later].current["id"], found)
                if item is not None:
                    out.append(item)
            _set(conn, states[code].current["id"], texts_compared=1)
        return out
    finally:
        index.close()


def _add_finding(ws: Workspace, conn: sqlite3.Connection, sub_id: int, found: Finding) -> Received | None:
    """Add a finding to a processed version (once): its status, its feedback workbook and its reply follow.

    The feedback and the reply are owed from the moment the finding is stored (one transaction), so a run
    killed in between leaves them owed, and the next run writes them."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        row = ledger.submission(conn, sub_id)
        findings = json.loads(row["findings_json"] or "[]")
        if any(f["code"] == found.code and f["cell"] == found.cell for f in findings):
            return None
        findings.append(found.to_dict())
        status = row["status"] if row["status"] == "errors" else (
            "warnings" if found.severity == "warning" else row["status"])
        conn.execute("UPDATE submissions SET findings_json=?, warnings=?, status=?, feedback_pending=1, reply_pending=1"
                     " WHERE id=?", (json.dumps(findings, ensure_ascii=False, default=str),
                                     sum(1 for f in findings if f["severity"] == "warning"), status, sub_id))
    fault_point("compared")
    _reannotate(ws, conn, ledger.submission(conn, sub_id))
    draft = _reply(ws, conn, sub_id)
    return Received(sub_id, row["filename"], row["office_code"], row["office_name"], status, found.message, draft)


def _reannotate(ws: Workspace, conn: sqlite3.Connection, row: sqlite3.Row) -> None:
    """Write a version's feedback workbook again, with the findings the ledger now has."""
    if row["feedback_path"]:
        findings = json.loads(row["findings_json"] or "[]")
        data = (ws.path / row["archive_path"]).read_bytes()
        sub = read_submission(Path(row["filename"]), data)
        result = check_submission(sub, year=ws.year, level=ws.level)
        result.findings = [Finding(**{k: v for k, v in f.items() if k != "explained"}) for f in findings]
        target = ws.path / row["feedback_path"]
        feedback = annotate(result, target.parent, name=target.name)
        fault_point("reannotated")
        _set(conn, row["id"], feedback_sha256=hashlib.sha256(feedback.read_bytes()).hexdigest(), feedback_pending=0)
    else:
        _set(conn, row["id"], feedback_pending=0)


def _repair(ws: Workspace, conn: sqlite3.Connection) -> list[Received]:
    """Finish the steps a killed run left owed: feedback workbooks to write again, replies to draft (and, for a
    ledger of an earlier version, any processed workbook without a reply)."""
    out = []
    for row in conn.execute("SELECT id FROM submissions WHERE feedback_pending=1").fetchall():
        _reannotate(ws, conn, ledger.submission(conn, row["id"]))
    owed = conn.execute("SELECT s.id, s.status, s.message_id FROM submissions s WHERE s.reply_pending=1"
                        " AND s.status != 'pending'").fetchall()
    missing = conn.execute(
        "SELECT s.id, s.status, s.message_id FROM submissions s LEFT JOIN offices o ON o.code = s.office_code"
        " WHERE s.status IN ('ok', 'warnings', 'errors', 'unusable', 'held') AND s.duplicate_of IS NULL"
        " AND s.reply_pending=0 AND (s.sender IS NOT NULL OR o.email != '')"
        " AND NOT EXISTS (SELECT 1 FROM outgoing g WHERE g.submission_id = s.id AND g.kind = 'reply')").fetchall()
    for r in list(owed) + list(missing):
        if r["status"] == "attachment":
            ids = [x["id"] for x in conn.execute("SELECT id FROM submissions WHERE message_id IS ? AND status='attachment'"
                                                 " ORDER BY id", (r["message_id"],))] if r["message_id"] else [r["id"]]
            draft = _reply_attachments(ws, conn, ids)
        else:
            draft = _reply(ws, conn, r["id"])
        row = ledger.submission(conn, r["id"])
        out.append(Received(r["id"], row["filename"], row["office_code"], row["office_name"], row["status"],
                            "补写了回复草稿", draft))
    return out


def _check_office(conn: sqlite3.Connection, office: str | None) -> None:
    if office and ledger.office(conn, office) is None:
        raise UsageError(f"名单中没有单位代码“{office}”")


def receive_file(ws: Workspace, data: bytes, arrival: Arrival, *, office: str | None = None) -> list[Received]:
    """Receive one file's bytes with its metadata (sender, time, source): archive, record, check, answer.

    :param office: the roster code to assign the file to when it does not say whose it is.
    """
    with ws.db() as conn:
        _check_office(conn, office)
        roster = _Roster(ws, conn)
        items = _receive(ws, conn, roster, [(data, arrival)], office)
        _update(items, _compare_texts(ws, conn, roster.touched))
        return items


def _update(items: list[Received], changed: list[Received]) -> None:
    """Fold what the text comparison changed into what the run reports (a new item for an earlier version)."""
    by_id = {i.submission_id: i for i in items}
    for c in changed:
        if c.submission_id in by_id:
            item = by_id[c.submission_id]
            item.status, item.draft = c.status, c.draft or item.draft
            item.note = "；".join(x for x in (item.note, c.note) if x)
        else:
            items.append(c)


WORKER = f"{socket.gethostname()}:{os.getpid()}"  # this run, as the ledger names the run that recorded a file


def _orphans(conn: sqlite3.Connection, skip: set[int]) -> list[list[int]]:
    """Pending files whose run is gone (killed, or of an earlier version), claimed for this run, grouped by email.

    A file another live run recorded is its business: two receives at once never process one file twice."""
    host = socket.gethostname()
    groups: dict[str, list[int]] = {}
    for row in conn.execute("SELECT id, message_id, worker FROM submissions WHERE status='pending' ORDER BY id"):
        if row["id"] in skip:
            continue
        owner, _, pid = (row["worker"] or "").rpartition(":")
        if row["worker"] and owner == host and pid.isdigit() and process_alive(int(pid)):
            continue
        if row["worker"] and owner != host and row["worker"] != WORKER:
            continue  # recorded on another machine sharing the folder: it finishes its own
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            claimed = conn.execute("UPDATE submissions SET worker=? WHERE id=? AND status='pending' AND worker IS ?",
                                   (WORKER, row["id"], row["worker"])).rowcount
        if claimed:
            groups.setdefault(row["message_id"] or f"#{row['id']}", []).append(row["id"])
    return list(groups.values())


def receive(ws: Workspace, sources: list[str], *, password: Callable[[str], str] | None = None,
            received_at: datetime | None = None, office: str | None = None, send: bool = False,
            smtp_password: str | None = None, progress: Callable[[str], None] | None = None) -> ReceiveResult:
    """Receive files and emails into the workspace: archive, record, check, annotate, draft replies.

    Everything new is archived and recorded first; then this run's arrivals are processed in order; then
    whatever earlier runs left unfinished. A file that stalls or kills processing never keeps the files
    after it from being archived and answered.

    :param sources: files, folders, .eml/mbox files, Maildir folders, or imap(s):// URLs.
    :param password: returns the IMAP password for a URL (never logged).
    :param received_at: the time of receipt of files given directly (default: now); emails keep theirs.
    :param office: a roster code for files that do not say whose they are.
    :param send: send the replies drafted in this run through the workspace's SMTP settings.
    :param progress: called with each file's name once it is done.
    """
    result = ReceiveResult()
    remove_stale_temporaries([ws.archive, ws.outbox, ws.path])
    with ws.db() as conn:
        _check_office(conn, office)
        roster = _Roster(ws, conn)
        result.items += _repair(ws, conn)
        # 1. Archive and record everything new.
        batches: list[list[Recorded]] = []
        for source in sources:
            for item in iter_source(ws, source, password=password, received_at=received_at):
                parts = _mail_parts(ws, conn, item, result) if isinstance(item, Mail) else [item]
                if parts:
                    batches.append(_record_all(ws, conn, parts))
        this_run = {sub_id for batch in batches for sub_id, state, _ in batch if state == "new"}
        # 2. Process this run's arrivals, an email's files together; a folder's CSVs after its workbooks (a CSV
        #    beside a rollup is that unit's attachment, known once the rollup is read).
        csv_only = lambda b: all(Path(a.filename).suffix.lower() == ".csv" for _, _, a in b)  # noqa: E731
        for batch in sorted(batches, key=csv_only):
            new = [sub_id for sub_id, state, _ in batch if state == "new"]
            processed = {r.submission_id: r for r in _process(ws, conn, roster, new, office)} if new else {}
            items = _outcomes(ws, conn, roster, batch, processed, office)
            result.items += items
            if progress:
                for done in items:
                    progress(done.filename)
        # 3. Then what earlier runs left unfinished (a file they were killed on is given up after max_attempts).
        for ids in _orphans(conn, this_run):
            result.items += _process(ws, conn, roster, ids, office)
        _update(result.items, _compare_texts(ws, conn, roster.touched))
    if send and result.drafts:
        result.sent = send_outgoing(ws, paths=result.drafts, password=smtp_password)
    return result
