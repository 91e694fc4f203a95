"""The coordinator's workspace: roster, archive of received files, ledger, outbox.

Nothing is lost: every received file is stored unchanged in ``archive/`` under its
sha256 (written atomically, never overwritten) and recorded in the SQLite ledger
*before* it is read or checked. A run that is interrupted leaves rows marked
``pending``; the next run finishes them. Re-running on the same sources changes
nothing; an identical file sent again is recorded as a re-send of the first.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from .annotate import annotate, annotated_name
from .check import STATUS_LABELS, check_submission
from .errors import InputError, UsageError
from .findings import finding
from .fsutil import atomic_write_bytes, atomic_write_text
from .mail import (
    Mail,
    SmtpSettings,
    is_mail_file,
    is_maildir,
    iter_imap,
    iter_mailbox,
    now_utc,
    parse_message,
    reply_message,
    safe_filename,
    send_messages,
)
from .reader import read_submission
from .spec import format_for_year
from .template import read_roster, roster_to_csv

try:
    from zoneinfo import ZoneInfo

    LOCAL_TZ = ZoneInfo("Asia/Shanghai")
except Exception:  # noqa: BLE001 - no tz database: China has had one offset since 1991
    LOCAL_TZ = timezone(timedelta(hours=8))

SCHEMA = """
CREATE TABLE IF NOT EXISTS offices(
    code TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT, email TEXT);
CREATE TABLE IF NOT EXISTS files(
    sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, archive_path TEXT NOT NULL, stored_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions(
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL REFERENCES files(sha256),
    source_key TEXT NOT NULL,
    filename TEXT NOT NULL,
    source TEXT NOT NULL,
    sender TEXT, message_id TEXT,
    received_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    duplicate_of INTEGER REFERENCES submissions(id),
    office_code TEXT, identified_by TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    errors INTEGER, warnings INTEGER,
    format TEXT, year INTEGER,
    office_json TEXT, values_json TEXT, findings_json TEXT,
    feedback_path TEXT, error TEXT,
    UNIQUE(sha256, source_key));
CREATE TABLE IF NOT EXISTS messages(
    message_key TEXT PRIMARY KEY, sender TEXT, subject TEXT, received_at TEXT,
    attachments INTEGER, skipped INTEGER, recorded_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS drafts(
    id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL UNIQUE REFERENCES submissions(id),
    recipient TEXT, path TEXT NOT NULL, created_at TEXT NOT NULL, sent_at TEXT);
"""


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def local_time(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ)


@dataclass
class Workspace:
    """An opened workspace folder."""

    path: Path
    settings: dict[str, Any]

    @property
    def year(self) -> int:
        return int(self.settings["year"])

    @property
    def deadline(self) -> date | None:
        d = self.settings.get("deadline")
        return date.fromisoformat(d) if d else None

    @property
    def archive(self) -> Path:
        return self.path / "archive"

    @property
    def outbox(self) -> Path:
        return self.path / "outbox"

    @property
    def ledger_path(self) -> Path:
        return self.path / "ledger.sqlite"

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A ledger connection; each ``with conn:`` block inside is one transaction."""
        conn = sqlite3.connect(self.ledger_path, timeout=60, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        try:
            yield conn
        finally:
            conn.close()

    def offices(self) -> list[sqlite3.Row]:
        with self.db() as conn:
            return conn.execute("SELECT * FROM offices ORDER BY code").fetchall()

    def is_late(self, received_at: str) -> bool:
        return self.deadline is not None and local_time(received_at).date() > self.deadline


def init_workspace(path: str | Path, roster: str | Path, year: int, deadline: str | None = None) -> Workspace:
    """Create a workspace: roster, settings, archive, outbox and ledger.

    :param path: the folder to create (may exist if empty or already a workspace of the same year).
    :param roster: CSV or xlsx with 单位代码,单位名称,单位类型,联系邮箱.
    :param year: the report year being collected.
    :param deadline: YYYY-MM-DD; submissions received after that day are late.
    """
    path = Path(path)
    roster = Path(roster)
    if deadline:
        try:
            date.fromisoformat(deadline)
        except ValueError:
            raise UsageError(f"截止日期应为 YYYY-MM-DD：{deadline}") from None
    format_for_year(year)  # refuses a year no national format covers
    offices = read_roster(roster)
    codes = [o["code"] for o in offices]
    if len(set(codes)) != len(codes):
        dup = sorted({c for c in codes if codes.count(c) > 1})
        raise InputError(f"名单文件 {roster} 中单位代码重复：{'、'.join(dup)}")
    settings_path = path / "settings.json"
    if settings_path.exists():
        existing = json.loads(settings_path.read_text(encoding="utf-8"))
        if int(existing["year"]) != year:
            raise UsageError(f"{path} 已是{existing['year']}年度的工作区")
        settings = existing
    elif path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} 不是空文件夹，也不是工作区")
    else:
        settings = {"year": year, "smtp": {"host": "", "port": 465, "security": "ssl", "user": "", "sender": ""},
                    "reply_from": "", "signature": "政务公开办"}
    settings["deadline"] = deadline or settings.get("deadline")
    for sub in ("archive", "outbox", "outbox/drafts"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    atomic_write_text(settings_path, json.dumps(settings, ensure_ascii=False, indent=2))
    atomic_write_text(path / "roster.csv", roster_to_csv(offices))
    ws = Workspace(path, settings)
    with ws.db() as conn:
        conn.executescript(SCHEMA)
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM offices")
            conn.executemany("INSERT INTO offices(code, name, kind, email) VALUES (?, ?, ?, ?)",
                             [(o["code"], o["name"], o["kind"], o["email"].lower()) for o in offices])
    return ws


def open_workspace(path: str | Path) -> Workspace:
    """Open an existing workspace, with a Chinese error if it is not one."""
    path = Path(path)
    settings_path = path / "settings.json"
    if not settings_path.exists() or not (path / "ledger.sqlite").exists():
        raise UsageError(f"{path} 不是工作区，请先运行 xxgk init")
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    ws = Workspace(path, settings)
    with ws.db() as conn:
        conn.executescript(SCHEMA)
    return ws


# -- receiving ------------------------------------------------------------------------

@dataclass
class Incoming:
    """A file as it arrives, before anything else happens to it."""

    filename: str
    data: bytes
    source: str  # where it came from, for people
    source_key: str  # what makes this arrival unique (message id + part, or the file path)
    received_at: datetime
    sender: str | None = None
    message_id: str | None = None


@dataclass
class Received:
    """What ``receive`` did with one incoming file."""

    submission_id: int
    filename: str
    office_code: str | None
    office_name: str | None
    status: str  # ok / warnings / errors / unreadable / duplicate / already
    note: str = ""
    draft: Path | None = None


@dataclass
class ReceiveResult:
    items: list[Received] = field(default_factory=list)
    mail_notes: list[str] = field(default_factory=list)
    sent: int = 0


def archive_file(ws: Workspace, data: bytes, sha256: str, suffix: str) -> Path:
    """Store bytes under their hash; an existing archived file is never rewritten."""
    suffix = suffix.lower() if len(suffix) <= 6 and suffix[1:].isalnum() else ".bin"
    target = ws.archive / sha256[:2] / f"{sha256}{suffix}"
    if not target.exists():
        atomic_write_bytes(target, data)
    return target


def _record(ws: Workspace, conn: sqlite3.Connection, inc: Incoming) -> tuple[int, str]:
    """Archive and record an incoming file. Returns (submission id, "new"/"duplicate"/"already")."""
    import hashlib

    sha = hashlib.sha256(inc.data).hexdigest()
    path = archive_file(ws, inc.data, sha, Path(inc.filename).suffix)
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR IGNORE INTO files(sha256, size, archive_path, stored_at) VALUES (?, ?, ?, ?)",
                     (sha, len(inc.data), str(path.relative_to(ws.path)), _iso(now_utc())))
        row = conn.execute("SELECT id FROM submissions WHERE sha256=? AND source_key=?", (sha, inc.source_key)).fetchone()
        if row:
            return row["id"], "already"
        first = conn.execute("SELECT id FROM submissions WHERE sha256=? AND duplicate_of IS NULL ORDER BY id LIMIT 1",
                             (sha,)).fetchone()
        cur = conn.execute(
            "INSERT INTO submissions(sha256, source_key, filename, source, sender, message_id, received_at, recorded_at,"
            " duplicate_of, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sha, inc.source_key, inc.filename, inc.source, inc.sender, inc.message_id, _iso(inc.received_at),
             _iso(now_utc()), first["id"] if first else None, "duplicate" if first else "pending"),
        )
        return cur.lastrowid, "duplicate" if first else "new"


def _identify_office(conn: sqlite3.Connection, sub, sender: str | None, filename: str) -> tuple[str | None, str | None]:
    """Which roster office sent this: template metadata first, then the sender, then the file name."""
    offices = conn.execute("SELECT code, name, email FROM offices").fetchall()
    codes = {o["code"]: o for o in offices}
    if sub is not None and sub.readable:
        for candidate in (sub.office.get("code"), sub.meta.get("office_code")):
            if candidate is not None and str(candidate).strip() in codes:
                return str(candidate).strip(), "template"
        name = sub.office.get("name")
        for o in offices:
            if name and str(name).strip() == o["name"]:
                return o["code"], "template"
    if sender:
        matches = [o["code"] for o in offices if o["email"] and o["email"] == sender.lower()]
        if len(matches) == 1:
            return matches[0], "sender"
    for o in sorted(offices, key=lambda o: -len(o["name"])):
        if o["name"] in filename or o["code"] in filename:
            return o["code"], "filename"
    return None, None


def _process(ws: Workspace, conn: sqlite3.Connection, sub_id: int) -> Received:
    """Read, check, annotate and draft a reply for a recorded submission."""
    row = conn.execute("SELECT s.*, f.archive_path FROM submissions s JOIN files f USING(sha256) WHERE s.id=?",
                       (sub_id,)).fetchone()
    archived = ws.path / row["archive_path"]
    # Read the archived bytes under the office's file name (the name matters for format sniffing).
    data = archived.read_bytes()
    named = Path(row["filename"])
    try:
        sub = read_submission(named, data)
        result = check_submission(sub, year=ws.year)
        error = None
    except Exception as exc:  # noqa: BLE001 - the file stays archived and listed with its error
        sub, result, error = None, None, f"{type(exc).__name__}: {exc}"
    code, how = _identify_office(conn, sub, row["sender"], row["filename"])
    office = conn.execute("SELECT * FROM offices WHERE code=?", (code,)).fetchone() if code else None
    feedback = None
    if result is not None:
        result.path = named
        outdir = ws.outbox / (code or "未识别单位")
        feedback = annotate(result, outdir)
        # Keep each version's feedback: prefix with the submission id.
        final = outdir / f"{sub_id:05d}_{feedback.name}"
        os.replace(feedback, final)
        feedback = final
    status = result.status if result is not None else "crashed"
    findings = [f.to_dict() for f in result.findings] if result is not None else [
        finding("file-read-error", detail=error).to_dict()]
    values = {}
    if result is not None and sub.readable:
        values = {f.id: result.values[f.id] for f in sub.spec.inputs()}
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE submissions SET office_code=?, identified_by=?, status=?, errors=?, warnings=?, format=?, year=?,"
            " office_json=?, values_json=?, findings_json=?, feedback_path=?, error=? WHERE id=?",
            (code, how, status,
             sum(1 for f in findings if f["severity"] == "error"), sum(1 for f in findings if f["severity"] == "warning"),
             sub.spec.format if sub is not None and sub.spec else None, sub.year if sub is not None else None,
             json.dumps(sub.office if sub is not None else {}, ensure_ascii=False, default=str),
             json.dumps(values), json.dumps(findings, ensure_ascii=False, default=str),
             str(feedback.relative_to(ws.path)) if feedback else None, error, sub_id),
        )
    draft = _draft_reply(ws, conn, sub_id)
    return Received(sub_id, row["filename"], code, office["name"] if office else None, status, draft=draft)


def _draft_reply(ws: Workspace, conn: sqlite3.Connection, sub_id: int) -> Path | None:
    row = conn.execute("SELECT * FROM submissions WHERE id=?", (sub_id,)).fetchone()
    office = conn.execute("SELECT * FROM offices WHERE code=?", (row["office_code"],)).fetchone() if row["office_code"] else None
    to = row["sender"] or (office["email"] if office else None)
    if not to:
        return None
    name = office["name"] if office else "你单位"
    findings = json.loads(row["findings_json"] or "[]")
    received = local_time(row["received_at"]).strftime("%Y年%m月%d日 %H:%M")
    lines = [f"{name}：", "",
             f"你单位报送的{ws.year}年度政府信息公开工作年度报告填报表（{row['filename']}，{received}收到）已完成校验，"
             f"结果：{STATUS_LABELS.get(row['status'], '无法读取')}。", ""]
    if row["status"] == "ok":
        lines.append("数据校验通过，感谢配合。")
    else:
        errors = sum(1 for f in findings if f["severity"] == "error")
        lines.append(f"共有错误{errors}项、提醒{len(findings) - errors}项（错误必须修改，提醒请核实）：")
        for i, f in enumerate(findings[:30], start=1):
            where = f"［{f['sheet']}!{f['cell']}］" if f.get("sheet") and f.get("cell") else ""
            lines.append(f"{i}. {where}{f['message']}")
        if len(findings) > 30:
            lines.append(f"……另有{len(findings) - 30}项，见附件。")
        lines += ["", "附件中的工作簿第一张表“校验结果”列出了全部问题，出错的单元格已标色并加了批注。请修改后重新报送。"]
    lines += ["", ws.settings.get("signature") or "政务公开办"]
    feedback = ws.path / row["feedback_path"] if row["feedback_path"] else None
    msg = reply_message(to=to, sender=ws.settings.get("reply_from") or "",
                        subject=f"{ws.year}年度政府信息公开工作年度报告校验结果：{name}（{STATUS_LABELS.get(row['status'], '无法读取')}）",
                        body="\n".join(lines), attachment=feedback, in_reply_to=row["message_id"],
                        attachment_name=annotated_name(Path(row["filename"])))
    target = ws.outbox / "drafts" / f"{sub_id:05d}_{safe_filename(name)}.eml"
    atomic_write_bytes(target, msg.as_bytes())
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO drafts(id, submission_id, recipient, path, created_at, sent_at) VALUES ("
                     "(SELECT id FROM drafts WHERE submission_id=?), ?, ?, ?, ?, NULL)",
                     (sub_id, sub_id, to, str(target.relative_to(ws.path)), _iso(now_utc())))
    return target


def _incoming_from(source: str, password: Callable[[str], str] | None) -> Iterator[Incoming | Mail]:
    """Everything a SOURCE yields: files as :class:`Incoming`, emails as :class:`Mail` (with raw bytes kept)."""
    if source.startswith(("imap://", "imaps://")):
        if password is None:
            raise UsageError("读取 IMAP 邮箱需要密码：请设置环境变量 XXGK_IMAP_PASSWORD")
        for raw in iter_imap(source, password(source)):
            yield _mail(raw, source)
        return
    path = Path(source)
    if not path.exists():
        raise UsageError(f"找不到：{source}")
    if is_maildir(path) or (path.is_file() and is_mail_file(path)):
        for raw in iter_mailbox(path):
            yield _mail(raw, str(path))
        return
    files = [path] if path.is_file() else [
        p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith((".", "~$"))]
    for p in files:
        if p.is_file() and is_mail_file(p):
            for raw in iter_mailbox(p):
                yield _mail(raw, str(p))
        elif path.is_file() or p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".et", ".ett", ".ods"):
            yield Incoming(safe_filename(p.name), p.read_bytes(), str(p), f"file:{p.resolve()}",
                           datetime.fromtimestamp(p.stat().st_mtime, timezone.utc))


def _mail(raw: bytes, source: str) -> Mail:
    mail = parse_message(raw)
    mail.source = source  # type: ignore[attr-defined]
    if not mail.message_id:
        import hashlib

        mail.message_id = "<sha256-" + hashlib.sha256(raw).hexdigest() + ">"
    return mail


def receive(ws: Workspace, sources: list[str], *, password: Callable[[str], str] | None = None,
            send: bool = False, smtp_password: str | None = None) -> ReceiveResult:
    """Receive files and emails into the workspace: archive, record, check, annotate, draft replies.

    :param sources: files, folders, .eml/mbox files, Maildir folders, or imap(s):// URLs.
    :param password: returns the IMAP password for a URL (never logged).
    :param send: send the drafted replies through the configured SMTP server.
    """
    result = ReceiveResult()
    _remove_stale_temporaries(ws)
    with ws.db() as conn:
        # Finish what an interrupted run left half done.
        for row in conn.execute("SELECT id FROM submissions WHERE status='pending' ORDER BY id").fetchall():
            result.items.append(_process(ws, conn, row["id"]))
        for source in sources:
            for item in _incoming_from(source, password):
                if isinstance(item, Mail):
                    _receive_mail(ws, conn, item, result)
                else:
                    _receive_one(ws, conn, item, result)
    if send:
        result.sent = send_drafts(ws, smtp_password)
    return result


def _remove_stale_temporaries(ws: Workspace, age_seconds: float = 3600) -> None:
    """Temporary files of a run that was killed (atomic writes clean up after themselves otherwise).

    Only our own ``.name.xxxx.tmp`` files older than an hour: a run going on now keeps its own."""
    import time

    cutoff = time.time() - age_seconds
    for folder in (ws.archive, ws.outbox):
        for tmp in folder.rglob(".*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                pass


def _receive_mail(ws: Workspace, conn: sqlite3.Connection, mail: Mail, result: ReceiveResult) -> None:
    received = mail.date or now_utc()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR IGNORE INTO messages(message_key, sender, subject, received_at, attachments, skipped,"
                     " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (mail.message_id, mail.sender, mail.subject, _iso(received), len(mail.attachments), mail.skipped,
                      _iso(now_utc())))
    if not mail.attachments:
        result.mail_notes.append(f"邮件没有附件：{mail.sender}：{mail.subject}")
    if mail.skipped:
        result.mail_notes.append(
            f"{mail.sender}：{mail.subject}（附件过多，只收取了前{len(mail.attachments)}个，另有{mail.skipped}个未收取）")
    for index, att in enumerate(mail.attachments):
        inc = Incoming(att.filename, att.data, getattr(mail, "source", ""), f"{mail.message_id}#{index}", received,
                       mail.sender, mail.message_id)
        _receive_one(ws, conn, inc, result)


def _with_office(conn: sqlite3.Connection, sub_id: int) -> sqlite3.Row:
    return conn.execute("SELECT s.*, o.name AS office_name FROM submissions s LEFT JOIN offices o"
                        " ON o.code = s.office_code WHERE s.id=?", (sub_id,)).fetchone()


def _receive_one(ws: Workspace, conn: sqlite3.Connection, inc: Incoming, result: ReceiveResult) -> None:
    sub_id, state = _record(ws, conn, inc)
    if state == "new":
        result.items.append(_process(ws, conn, sub_id))
        return
    row = _with_office(conn, sub_id)
    if state == "duplicate":
        first = _with_office(conn, row["duplicate_of"])
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE submissions SET office_code=? WHERE id=?", (first["office_code"], sub_id))
        when = local_time(first["received_at"]).strftime("%m月%d日")
        result.items.append(Received(sub_id, inc.filename, first["office_code"], first["office_name"], "duplicate",
                                     note=f"与{when}收到的文件完全相同"))
    else:
        result.items.append(Received(sub_id, inc.filename, row["office_code"], row["office_name"], "already",
                                     note="此前已处理"))


def send_drafts(ws: Workspace, password: str | None) -> int:
    """Send every unsent reply draft through the workspace's SMTP settings."""
    cfg = ws.settings.get("smtp") or {}
    if not cfg.get("host") or not cfg.get("sender"):
        raise UsageError(f"请先在 {ws.path / 'settings.json'} 的 smtp 中填写 host、port、sender（密码用环境变量 XXGK_SMTP_PASSWORD）")
    settings = SmtpSettings(cfg["host"], int(cfg.get("port") or 465), cfg["sender"], cfg.get("user") or None,
                            cfg.get("security") or "ssl")
    with ws.db() as conn:
        drafts = conn.execute("SELECT * FROM drafts WHERE sent_at IS NULL ORDER BY id").fetchall()
        if not drafts:
            return 0
        raws = []
        for d in drafts:
            raw = (ws.path / d["path"]).read_bytes()
            if not ws.settings.get("reply_from"):
                raw = f"From: {settings.sender}\r\n".encode() + raw
            raws.append(raw)
        send_messages(settings, password, raws)
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("UPDATE drafts SET sent_at=? WHERE id=?", [(_iso(now_utc()), d["id"]) for d in drafts])
    return len(drafts)


# -- status ---------------------------------------------------------------------------

@dataclass
class StatusReport:
    offices: list[dict[str, Any]]
    unknown: list[dict[str, Any]]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"offices": self.offices, "unknown": self.unknown, "summary": self.summary}

    def to_text(self) -> str:
        label = {"missing": "未报送", **STATUS_LABELS}
        lines = [f"{'单位代码':<8} {'单位名称':<16} {'类型':<6} {'状态':<6} {'收到时间':<16} {'逾期':<4} 版本"]
        for o in self.offices:
            when = local_time(o["received_at"]).strftime("%Y-%m-%d %H:%M") if o["received_at"] else "—"
            late = "逾期" if o["late"] else ("" if o["received_at"] else "")
            lines.append(f"{o['code']:<10} {o['name']:<16} {o['kind'] or '':<6} {label[o['status']]:<6} {when:<16} {late:<4} {o['versions']}")
        for u in self.unknown:
            lines.append(f"未识别单位的文件：{u['filename']}（{u['sender'] or '无发件人'}，{STATUS_LABELS.get(u['status'], u['status'])}）")
        s = self.summary
        lines.append(f"共{s['offices']}个单位：已报送{s['submitted']}个，未报送{s['missing']}个，"
                     f"通过{s['ok']}个，有提醒{s['warnings']}个，有错误{s['errors']}个，无法读取{s['unreadable']}个，逾期{s['late']}个。")
        return "\n".join(lines)


def current_submissions(ws: Workspace, conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Each office's current submission: the content received last (ties: recorded last).

    A file's time of receipt is its earliest arrival, whichever copy was processed first:
    two runs at once may record an identical re-send before the original.
    """
    rows = conn.execute(
        "SELECT s.*, f.archive_path,"
        " (SELECT MIN(d.received_at) FROM submissions d WHERE d.id = s.id OR d.duplicate_of = s.id) AS first_received"
        " FROM submissions s JOIN files f USING(sha256)"
        " WHERE s.office_code IS NOT NULL AND s.duplicate_of IS NULL AND s.status != 'pending'").fetchall()
    ordered = sorted((dict(r, received_at=r["first_received"]) for r in rows), key=lambda r: (r["received_at"], r["id"]))
    current: dict[str, dict[str, Any]] = {}
    for row in ordered:
        current[row["office_code"]] = row
    return current


def workspace_status(ws: Workspace) -> StatusReport:
    """Who has submitted, when, whether late, the current status and how many versions."""
    with ws.db() as conn:
        current = current_submissions(ws, conn)
        versions = {r["office_code"]: r["n"] for r in conn.execute(
            "SELECT office_code, COUNT(*) AS n FROM submissions WHERE duplicate_of IS NULL AND office_code IS NOT NULL"
            " GROUP BY office_code")}
        unknown = [dict(filename=r["filename"], sender=r["sender"], received_at=r["received_at"], status=r["status"],
                        sha256=r["sha256"])
                   for r in conn.execute("SELECT * FROM submissions WHERE office_code IS NULL AND duplicate_of IS NULL"
                                         " ORDER BY id")]
        offices = []
        for o in conn.execute("SELECT * FROM offices ORDER BY code"):
            cur = current.get(o["code"])
            status = "missing" if cur is None else ("unreadable" if cur["status"] == "crashed" else cur["status"])
            offices.append({"code": o["code"], "name": o["name"], "kind": o["kind"], "status": status,
                            "received_at": cur["received_at"] if cur else None,
                            "late": bool(cur and ws.is_late(cur["received_at"])),
                            "versions": versions.get(o["code"], 0)})
    summary = {"offices": len(offices), "submitted": sum(1 for o in offices if o["status"] != "missing"),
               "missing": sum(1 for o in offices if o["status"] == "missing"),
               "ok": sum(1 for o in offices if o["status"] == "ok"),
               "warnings": sum(1 for o in offices if o["status"] == "warnings"),
               "errors": sum(1 for o in offices if o["status"] == "errors"),
               "unreadable": sum(1 for o in offices if o["status"] == "unreadable"),
               "late": sum(1 for o in offices if o["late"]),
               "unknown_files": len(unknown), "year": ws.year,
               "deadline": ws.deadline.isoformat() if ws.deadline else None}
    return StatusReport(offices, unknown, summary)
