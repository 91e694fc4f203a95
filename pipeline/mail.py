"""Email in and out: attachments from .eml, mbox, Maildir and IMAP; reply drafts; SMTP sending.

Clerks' mail clients name attachments in every way there is: RFC 2047 encoded
words, RFC 2231 parameters (``filename*=gbk''...``), or raw GBK bytes. The
standard library's email package with ``policy.default`` decodes the first two;
raw bytes come back as surrogate escapes and are decoded here as UTF-8 or GB18030.
"""

from __future__ import annotations

import email
import email.message
import email.utils
import imaplib
import mailbox
import re
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlparse

from .errors import InputError, UsageError

MAX_ATTACHMENTS = 50  # per message; the rest are listed, not processed


@dataclass
class Attachment:
    filename: str  # sanitised: a bare file name, nothing that leaves a folder
    data: bytes


@dataclass
class Mail:
    """One received message, reduced to what the workspace records."""

    message_id: str
    sender: str  # the address, lower case
    sender_name: str
    subject: str
    date: datetime | None
    attachments: list[Attachment]
    skipped: int = 0  # attachments beyond MAX_ATTACHMENTS


def fix_filename(name: str | None) -> str | None:
    """Recover a name whose raw bytes (GBK, UTF-8) reached us as surrogate escapes."""
    if name is None:
        return None
    if any("\udc80" <= ch <= "\udcff" for ch in name):
        raw = name.encode("utf-8", "surrogateescape")
        for encoding in ("utf-8", "gb18030"):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                continue
        return raw.decode("gb18030", "replace")
    return name


_UNSAFE = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]')


def safe_filename(name: str | None, fallback: str = "附件") -> str:
    """A bare, harmless file name: no folders (../, absolute paths), no control characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        name = fallback
    if len(name.encode("utf-8")) > 180:
        stem, dot, ext = name.rpartition(".")
        keep = stem if dot else name
        while len((keep + dot + ext).encode("utf-8")) > 180:
            keep = keep[:-1]
        name = keep + dot + ext if dot else keep
    return name


def _raw_filename(part: Message) -> str | None:
    """The file name from the header's raw bytes, for clients that put GBK bytes there unencoded.

    ``policy.default`` replaces such bytes with U+FFFD; ``raw_items()`` still has them.
    """
    for name, value in part.raw_items():
        if name.lower() not in ("content-disposition", "content-type"):
            continue
        if not any("\udc80" <= ch <= "\udcff" for ch in value):
            continue
        legacy = email.message.Message()
        legacy[name] = fix_filename(value)
        found = legacy.get_filename() if name.lower() == "content-disposition" else legacy.get_param("name")
        if found:
            return found
    return None


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    filename = part.get_filename()
    if filename:
        return True
    ctype = part.get_content_type()
    return ctype.startswith("application/") and ctype not in ("application/pgp-signature", "application/pkcs7-signature")


def parse_message(raw: bytes) -> Mail:
    """Parse one message's bytes; malformed MIME yields what can be recovered, never an exception."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    try:
        name, addr = email.utils.parseaddr(str(msg.get("From", "")))
    except Exception:  # noqa: BLE001 - a broken header is an unknown sender
        name, addr = "", ""
    try:
        date = email.utils.parsedate_to_datetime(str(msg.get("Date"))) if msg.get("Date") else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=timezone.utc)
    except Exception:  # noqa: BLE001
        date = None
    attachments: list[Attachment] = []
    skipped = 0
    for index, part in enumerate(msg.walk()):
        try:
            if not _is_attachment(part):
                continue
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename and "\ufffd" in filename:
                filename = _raw_filename(part) or filename
            filename = safe_filename(fix_filename(filename), fallback=f"附件{index}")
        except Exception:  # noqa: BLE001 - unknown charset or broken encoding: keep the bytes we can
            data = part.get_payload(decode=True) or b"" if not part.is_multipart() else b""
            filename = f"附件{index}"
        if len(attachments) >= MAX_ATTACHMENTS:
            skipped += 1
            continue
        attachments.append(Attachment(filename, data))
    message_id = str(msg.get("Message-ID", "") or "").strip()
    try:
        subject = str(msg.get("Subject", "") or "")
    except Exception:  # noqa: BLE001
        subject = ""
    return Mail(message_id, addr.lower(), name, subject, date, attachments, skipped)


def iter_mailbox(source: Path) -> Iterator[bytes]:
    """The raw messages of an .eml file, an mbox file or a Maildir folder."""
    if source.is_dir():
        box = mailbox.Maildir(source, factory=None, create=False)
        for key in sorted(box.keys()):
            with box.get_file(key) as fh:
                yield fh.read()
        return
    head = source.read_bytes()[:5]
    if head == b"From ":
        box = mailbox.mbox(source, factory=None, create=False)
        for key in box.keys():
            yield box.get_bytes(key)
        return
    yield source.read_bytes()


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / d).is_dir() for d in ("cur", "new", "tmp"))


def is_mail_file(path: Path) -> bool:
    if path.suffix.lower() in (".eml", ".mbox", ".mbx"):
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def iter_imap(url: str, password: str) -> Iterator[bytes]:
    """The messages of an IMAP mailbox, e.g. ``imaps://user@host/INBOX`` (``imap://`` on loopback only)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("imap", "imaps") or not parsed.hostname or not parsed.username:
        raise UsageError(f"IMAP 地址应形如 imaps://用户名@服务器/INBOX：{url}")
    if parsed.scheme == "imap" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError("不加密的 imap:// 只能用于本机测试，请使用 imaps://")
    folder = unquote(parsed.path.lstrip("/")) or "INBOX"
    try:
        if parsed.scheme == "imaps":
            conn = imaplib.IMAP4_SSL(parsed.hostname, parsed.port or 993, ssl_context=ssl.create_default_context())
        else:
            conn = imaplib.IMAP4(parsed.hostname, parsed.port or 143)
        imap_login(conn, unquote(parsed.username), password)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise InputError(f"无法登录邮箱 {parsed.hostname}：{exc}") from None
    try:
        typ, _ = conn.select(_imap_quote(folder), readonly=True)
        if typ != "OK":
            raise InputError(f"邮箱中没有文件夹“{folder}”")
        typ, data = conn.uid("SEARCH", None, "ALL")
        for uid in (data[0] or b"").split():
            typ, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            for part in parts:
                if isinstance(part, tuple):
                    yield part[1]
    finally:
        try:
            conn.logout()
        except Exception:  # noqa: BLE001
            pass


def imap_login(conn: imaplib.IMAP4, user: str, password: str) -> None:
    """LOGIN for ASCII credentials; AUTHENTICATE PLAIN (UTF-8) otherwise, which imaplib's LOGIN cannot send."""
    if user.isascii() and password.isascii():
        conn.login(user, password)
    else:
        token = b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")
        conn.authenticate("PLAIN", lambda _: token)


def _imap_quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reply_message(*, to: str, sender: str, subject: str, body: str, attachment: Path | None, in_reply_to: str | None,
                  attachment_name: str | None = None) -> EmailMessage:
    """A reply in Chinese with the annotated workbook attached (its name RFC 2231-encoded)."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["To"] = to
    if sender:
        msg["From"] = sender
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain="xxgk.local")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body, charset="utf-8")
    if attachment is not None:
        msg.add_attachment(
            attachment.read_bytes(),
            maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=attachment_name or attachment.name,
        )
    return msg


@dataclass
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: str | None = None
    security: str = "starttls"  # "ssl", "starttls" or "none" (loopback only)


def send_messages(settings: SmtpSettings, password: str | None, messages: list[bytes]) -> None:
    """Send raw messages through one SMTP connection."""
    if settings.security == "none" and settings.host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError("不加密的 SMTP 只能用于本机测试")
    try:
        if settings.security == "ssl":
            conn = smtplib.SMTP_SSL(settings.host, settings.port, context=ssl.create_default_context(), timeout=30)
        else:
            conn = smtplib.SMTP(settings.host, settings.port, timeout=30)
            if settings.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
        with conn:
            if settings.user:
                conn.login(settings.user, password or "")
            for raw in messages:
                msg = email.message_from_bytes(raw, policy=policy.SMTP)
                to = [a for _, a in email.utils.getaddresses([str(msg.get("To", ""))]) if a]
                conn.send_message(msg, from_addr=settings.sender, to_addrs=to)
    except (OSError, smtplib.SMTPException) as exc:
        raise InputError(f"发送邮件失败（{settings.host}:{settings.port}）：{exc}") from None


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
