"""The workspace ledger (SQLite): what arrived, what was decided, what was sent.

- ``files``: every distinct content received, archived under its sha256.
- ``submissions``: every arrival of a file (one row per email part or file given), with what
  reading and checking it found, how many runs began processing it (``attempts``: a file that
  kills the program is not retried forever), and which steps are still owed (``feedback_pending``,
  ``reply_pending``: a run killed between steps leaves them set, and the next run does them), and the
  run that recorded it (``worker``, host:pid: a run leaves another live run's files alone). ``status`` is ``pending`` until it is processed, then
  ``ok``/``warnings``/``errors`` (a workbook of the workspace's year and format: it may become
  the office's current version), ``unusable`` (damaged, encrypted, .xls/.et/.ods, another
  year or format: recorded and answered, never current), ``attachment`` (PDF, images, Word:
  archived beside the email's workbook, never checked) or ``duplicate`` (bytes already received).
- ``decisions``: 退回 / 审核通过 / 重新打开, each against one version (its sha256), with the
  reviewer, the time and the reason.
- ``outgoing``: every mail drafted (reply, return, accept, reminder), and when it was sent.

Every query that status, merge and receive run is indexed.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import WorkspaceError

SCHEMA_VERSION = 4

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
    time_source TEXT, time_flag TEXT, reason TEXT, explanation TEXT, feedback_sha256 TEXT, prose_json TEXT,
    texts_compared INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0, feedback_pending INTEGER NOT NULL DEFAULT 0,
    reply_pending INTEGER NOT NULL DEFAULT 0, worker TEXT,
    UNIQUE(sha256, source_key));
CREATE TABLE IF NOT EXISTS messages(
    message_key TEXT PRIMARY KEY, sender TEXT, subject TEXT, received_at TEXT,
    attachments INTEGER, skipped INTEGER, recorded_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions(
    id INTEGER PRIMARY KEY,
    office_code TEXT NOT NULL,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    sha256 TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT, reviewer TEXT, decided_at TEXT NOT NULL, details_json TEXT);
CREATE TABLE IF NOT EXISTS outgoing(
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    office_code TEXT, submission_id INTEGER, decision_id INTEGER,
    recipient TEXT, subject TEXT, message_id TEXT, path TEXT NOT NULL,
    created_at TEXT NOT NULL, sent_at TEXT, superseded_at TEXT);
CREATE INDEX IF NOT EXISTS submissions_office ON submissions(office_code, duplicate_of);
CREATE INDEX IF NOT EXISTS submissions_first ON submissions(duplicate_of);
CREATE INDEX IF NOT EXISTS submissions_status ON submissions(status);
CREATE INDEX IF NOT EXISTS submissions_message ON submissions(message_id);
CREATE INDEX IF NOT EXISTS submissions_feedback ON submissions(feedback_sha256);
CREATE INDEX IF NOT EXISTS decisions_office ON decisions(office_code);
CREATE INDEX IF NOT EXISTS outgoing_office ON outgoing(office_code);
CREATE INDEX IF NOT EXISTS outgoing_submission ON outgoing(submission_id, kind);
CREATE INDEX IF NOT EXISTS outgoing_message ON outgoing(message_id);
"""

# Columns added since the first ledger: an older ledger gets them on open.
_ADDED = {"submissions": ["time_source TEXT", "time_flag TEXT", "reason TEXT", "explanation TEXT",
                          "feedback_sha256 TEXT", "prose_json TEXT", "texts_compared INTEGER",
                          "attempts INTEGER NOT NULL DEFAULT 0", "feedback_pending INTEGER NOT NULL DEFAULT 0",
                          "reply_pending INTEGER NOT NULL DEFAULT 0", "worker TEXT"]}


LOCK_WAIT_SECONDS = 10  # another xxgk holding the ledger: wait this long, then say so
_HEADER = b"SQLite format 3\x00"


def verify(path: Path) -> None:
    """Refuse a ledger that is not whole: empty (truncated), not SQLite, or failing SQLite's own check.

    An existing ledger is never recreated: it is the record of everything received and decided.
    """
    size = path.stat().st_size
    if size == 0:
        raise WorkspaceError(f"台账 {path} 是空文件（0字节），可能已被截断；请从备份恢复。xxgk 不会重建已有的台账")
    with path.open("rb") as fh:
        if fh.read(16) != _HEADER:
            raise WorkspaceError(f"台账 {path} 不是 SQLite 数据库，可能已损坏；请从备份恢复")


@contextmanager
def connect(path: Path, read_only: bool = False, check: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection to the ledger at ``path``, its schema brought up to date.

    :param read_only: open a ledger in a folder without write permission (status and merge still work).
    :param check: run SQLite's integrity check first.
    """
    if read_only:
        # A WAL database in a read-only folder: read it as it is, without the shared-memory file.
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None)
    else:
        conn = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        try:
            if check and conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise WorkspaceError(f"台账 {path} 已损坏（SQLite 完整性检查未通过）；请从备份恢复")
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            if not read_only and conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                _migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise ledger_error(path, exc) from None
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            raise ledger_error(path, exc) from None
    finally:
        conn.close()


def ledger_error(path: Path, exc: sqlite3.Error) -> WorkspaceError:
    """What a SQLite error means for the coordinator."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return WorkspaceError(f"台账 {path} 正被另一个 xxgk 进程使用（已等待{LOCK_WAIT_SECONDS}秒）；请等它结束后再运行")
    if "readonly" in text or "read-only" in text:
        return WorkspaceError(f"台账 {path} 不能写入（文件或文件夹是只读的）；查看报送情况和汇总仍可进行")
    if "disk" in text and "full" in text:
        return WorkspaceError(f"磁盘空间不足，无法写入台账 {path}；请清理磁盘后再运行")
    return WorkspaceError(f"台账 {path} 已损坏或无法读取（{text}）；请从备份恢复")


def _migrate(conn: sqlite3.Connection) -> None:
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return  # another process did it while we waited
        existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "submissions" in existing:
            have = {r[1] for r in conn.execute("PRAGMA table_info(submissions)")}
            for column in _ADDED["submissions"]:
                if column.split()[0] not in have:
                    conn.execute(f"ALTER TABLE submissions ADD COLUMN {column}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if "drafts" in existing:
            # The first ledger kept one reply draft per submission.
            conn.execute("INSERT INTO outgoing(kind, office_code, submission_id, recipient, path, created_at, sent_at)"
                         " SELECT 'reply', s.office_code, d.submission_id, d.recipient, d.path, d.created_at, d.sent_at"
                         " FROM drafts d JOIN submissions s ON s.id = d.submission_id")
            conn.execute("DROP TABLE drafts")
        if "submissions" in existing:
            # A file the first version could not read at all was marked 'crashed'.
            conn.execute("UPDATE submissions SET status='unusable', reason=COALESCE(reason, error) WHERE status='crashed'")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def set_roster(conn: sqlite3.Connection, offices: list[dict[str, str]]) -> None:
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM offices")
        conn.executemany("INSERT INTO offices(code, name, kind, email) VALUES (?, ?, ?, ?)",
                         [(o["code"], o["name"], o["kind"], o["email"].lower()) for o in offices])


def submission(conn: sqlite3.Connection, sub_id: int) -> sqlite3.Row:
    """One arrival, with its archive path and its office's name."""
    return conn.execute(
        "SELECT s.*, f.archive_path, o.name AS office_name, o.email AS office_email FROM submissions s"
        " JOIN files f USING(sha256) LEFT JOIN offices o ON o.code = s.office_code WHERE s.id=?",
        (sub_id,)).fetchone()


def office(conn: sqlite3.Connection, code: str | None) -> sqlite3.Row | None:
    if not code:
        return None
    return conn.execute("SELECT * FROM offices WHERE code=?", (code,)).fetchone()
