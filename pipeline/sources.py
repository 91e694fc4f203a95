"""Where received files come from: files and folders, .eml, mbox, Maildir, IMAP.

Each source yields what arrived: a file's bytes with an :class:`Arrival` (its metadata), or
an email (:class:`pipeline.mail.Mail`) whose attachments become arrivals of their own. A new
source plugs in here and hands its files to :func:`pipeline.intake.receive_file`.

The time of receipt is never a file's modification time (a copy keeps an old one): an
email's Date header, the server's INTERNALDATE for IMAP, and for a file given on the
command line the moment it is received (or ``--received-at``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Callable, Iterator

from .errors import UsageError
from .mail import (MAX_MESSAGE_BYTES, Attachment, Mail, is_mail_file, is_maildir, iter_imap, iter_mailbox,
                   parse_message, safe_filename)
from .workspace import Workspace

# Files a folder source picks up: workbooks, and what offices send beside them (stamped scans,
# cover letters). Anything else in a folder (notes, shortcuts) is not a submission.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ett", ".ods", ".csv")
ATTACHMENT_SUFFIXES = (".pdf", ".ofd", ".doc", ".docx", ".wps", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp",
                       ".gif")


@dataclass
class Arrival:
    """A received file's metadata: everything about it but its bytes."""

    filename: str  # a bare, safe file name
    source: str  # where it came from, for people
    source_key: str  # what makes this arrival unique (message id + part, or the file path)
    received_at: datetime
    time_source: str = "received"  # date-header / imap / received / given
    sender: str | None = None
    message_id: str | None = None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def refuse_own_folders(ws: Workspace, path: Path) -> None:
    """The workspace's own archive and outbox are never received: their files are ours."""
    own = [ws.archive, ws.outbox]
    if any(_inside(path, folder) for folder in own) or any(_inside(folder, path) for folder in own):
        raise UsageError(f"不能收取工作区自己的存档或发件箱：{path}（这些是本工作区保存的文件和起草的回复，"
                         "不是各单位报来的文件）")


def iter_source(ws: Workspace, source: str, *, password: Callable[[str], str] | None = None,
                received_at: datetime | None = None) -> Iterator[Mail | tuple[bytes, Arrival]]:
    """Everything one SOURCE yields, in order: emails as :class:`Mail`, files as (bytes, :class:`Arrival`)."""
    zone = ZoneInfo(ws.get("timezone"))
    if source.startswith(("imap://", "imaps://")):
        if password is None:
            raise UsageError("读取 IMAP 邮箱需要密码：请设置环境变量 XXGK_IMAP_PASSWORD")
        for raw, internal_date, size in iter_imap(source, password(source)):
            yield _mail(raw, source, zone, internal_date, size)
        return
    path = Path(source)
    if not path.exists():
        raise UsageError(f"找不到：{source}")
    refuse_own_folders(ws, path)
    if not path.is_dir() and not path.is_file():
        raise UsageError(f"{source} 不是普通文件或文件夹（可能是管道或设备），不能收取")
    if is_maildir(path) or (path.is_file() and is_mail_file(path)):
        for raw in iter_mailbox(path):
            yield _mail(raw, str(path), zone)
        return
    files = [path] if path.is_file() else [
        p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith((".", "~$"))]
    when = received_at or ws.now()
    how = "given" if received_at else "received"
    for p in files:
        if is_mail_file(p):
            for raw in iter_mailbox(p):
                yield _mail(raw, str(p), zone)
        elif path.is_file() or p.suffix.lower() in WORKBOOK_SUFFIXES + ATTACHMENT_SUFFIXES:
            yield p.read_bytes(), Arrival(safe_filename(p.name), str(p), f"file:{p.resolve()}", when, how)


def _mail(raw: bytes | None, source: str, zone: tzinfo, internal_date: datetime | None = None,
          size: int | None = None) -> Mail:
    if raw is None or len(raw) > MAX_MESSAGE_BYTES:
        return _oversized(raw, source, zone, internal_date, size or len(raw or b""))
    mail = parse_message(raw, zone)
    mail.source = source
    mail.internal_date = internal_date
    if not mail.message_id:
        mail.message_id = "<sha256-" + hashlib.sha256(raw).hexdigest() + ">"
    return mail


def _oversized(raw: bytes | None, source: str, zone: tzinfo, internal_date: datetime | None, size: int) -> Mail:
    """A message too large to unpack: its headers only; its bytes (if we have them) archived whole as an .eml."""
    head = parse_message(raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0], zone) if raw else Mail("", "", "", "", None, [])
    mail = Mail(head.message_id or ("<sha256-" + hashlib.sha256(raw).hexdigest() + ">" if raw else ""), head.sender,
                head.sender_name, head.subject, head.date, [Attachment("邮件原文.eml", raw)] if raw else [],
                source=source, internal_date=internal_date, xxgk=head.xxgk)
    mail.oversized = size
    return mail


def mail_arrivals(mail: Mail, recorded_at: datetime) -> Iterator[tuple[bytes, Arrival]]:
    """The attachments of an email as arrivals: received when the server got it (IMAP), else by its Date."""
    if mail.internal_date is not None:
        when, how = mail.internal_date, "imap"
    elif mail.date is not None:
        when, how = mail.date, "date-header"
    else:
        when, how = recorded_at, "received"
    for index, att in enumerate(mail.attachments):
        yield att.data, Arrival(att.filename, mail.source, f"{mail.message_id}#{index}", when, how, mail.sender,
                                mail.message_id)
