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
from datetime import datetime, timedelta, timezone, tzinfo
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo

from .errors import InputError, UsageError
from .fsutil import safe_filename

MAX_ATTACHMENTS = 50  # per message; the rest are listed, not processed
XXGK_HEADER = "X-Xxgk"  # marks the mail a workspace drafts, so that it is never received as an office's


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
    source: str = ""  # where it was read from, for people
    internal_date: datetime | None = None  # when the IMAP server received it
    xxgk: str | None = None  # the X-Xxgk header: a draft or a sent mail of a workspace, not an office's
    oversized: int = 0  # bytes of a message too large to unpack (archived whole, or left on the server)


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


# Zone names Chinese mail clients and servers write: CST there is China Standard Time, not US Central.
_CHINA_ZONES = re.compile(r"\b(?:CST|BJT|CCT|(?:GMT|UTC)\s*\+\s*0?8(?::?00)?)(?=\s|\)|$)", re.I)
CHINA = ZoneInfo("Asia/Shanghai")


def parse_date(value: str | None, zone: tzinfo = CHINA) -> datetime | None:
    """A Date header as the moment it means: CST and GMT+8 are Beijing time; a date without a zone (or with
    -0000, "zone unknown") is in ``zone``, the workspace's (default Asia/Shanghai)."""
    if not value:
        return None
    text = _CHINA_ZONES.sub("+0800", str(value))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # Naive: the header had no zone, or -0000 ("zone unknown").
    return when.replace(tzinfo=zone) if when.tzinfo is None else when


def _tnef_files(data: bytes) -> list[tuple[str, bytes]] | None:
    """The files inside an Outlook winmail.dat (TNEF), or None when it cannot be unpacked."""
    try:
        from tnefparse import TNEF

        tnef = TNEF(data, do_checksum=False)
        out = []
        for i, att in enumerate(tnef.attachments, start=1):
            try:
                name = att.long_filename() or att.name
            except UnicodeDecodeError:  # a Chinese Outlook writes the title in its code page (GBK)
                name = bytes(getattr(att, "_name", b"") or b"").decode("gb18030", "replace").strip("\x00")
            out.append((name or f"附件{i}", bytes(att.data or b"")))
        return out
    except Exception:  # noqa: BLE001 - a damaged TNEF stays a file of its own, reported by name
        return None


def parse_message(raw: bytes, zone: tzinfo = CHINA) -> Mail:
    """Parse one message's bytes; malformed MIME yields what can be recovered, never an exception.

    :param zone: the time zone of a Date header that names none (the workspace's).
    """
    msg = email.message_from_bytes(raw, policy=policy.default)
    try:
        name, addr = email.utils.parseaddr(str(msg.get("From", "")))
    except Exception:  # noqa: BLE001 - a broken header is an unknown sender
        name, addr = "", ""
    try:
        date = parse_date(str(msg.get("Date")) if msg.get("Date") else None, zone)
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
        unpacked = None
        if filename.lower() == "winmail.dat" or part.get_content_type() == "application/ms-tnef":
            unpacked = _tnef_files(data)  # Outlook's wrapping of the real attachments
        for inner_name, inner in (unpacked if unpacked else [(filename, data)]):
            if len(attachments) >= MAX_ATTACHMENTS:
                skipped += 1
                continue
            attachments.append(Attachment(safe_filename(fix_filename(inner_name), fallback=f"附件{index}"), inner))
    message_id = str(msg.get("Message-ID", "") or "").strip()
    try:
        subject = str(msg.get("Subject", "") or "")
    except Exception:  # noqa: BLE001
        subject = ""
    ours = str(msg.get(XXGK_HEADER, "") or "").strip() or None
    return Mail(message_id, addr.lower(), name, subject, date, attachments, skipped, xxgk=ours)


# A message separator of an mbox: "From sender weekday month day time [zone] year". Body lines that merely
# begin with "From " (clients that do not escape them) do not look like this, nor follow a blank line.
_FROM_LINE = re.compile(rb"^From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
                        rb"|Nov|Dec) +\d{1,2} +\d{1,2}:\d{2}(?::\d{2})?(?: +(?:[A-Z]{2,5}|[+-]\d{4}))? +\d{4}\s*$")
_ESCAPED_FROM = re.compile(rb"^>(>*From )")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # one email; larger ones are archived whole, not unpacked


def split_mbox(source: Path) -> Iterator[bytes]:
    """The messages of an mbox file, read line by line (one message in memory at a time).

    Only a From_ line with a date that follows a blank line starts a message (mboxo files written by
    clients that do not escape "From " in bodies split wrongly otherwise); ">From " lines are unescaped.
    """
    current: list[bytes] | None = None
    blank = True
    with source.open("rb") as fh:
        for line in fh:
            if blank and _FROM_LINE.match(line):
                if current is not None:
                    yield b"".join(current)
                current = []
            elif current is not None:
                current.append(_ESCAPED_FROM.sub(rb"\1", line))
            blank = line in (b"\n", b"\r\n")
    if current is not None:
        yield b"".join(current)


def iter_mailbox(source: Path) -> Iterator[bytes]:
    """The raw messages of an .eml file, an mbox file or a Maildir folder."""
    if source.is_dir():
        box = mailbox.Maildir(source, factory=None, create=False)
        for key in sorted(box.keys()):
            with box.get_file(key) as fh:
                yield fh.read()
        return
    with source.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        yield from split_mbox(source)
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


def iter_imap(url: str, password: str) -> Iterator[tuple[bytes | None, datetime | None, int]]:
    """The messages of an IMAP mailbox, e.g. ``imaps://user@host/INBOX`` (``imap://`` on loopback only),
    each with the server's INTERNALDATE (when it arrived there) and its size. A message over
    MAX_MESSAGE_BYTES is not downloaded (its bytes are None)."""
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
            typ, sized = conn.uid("FETCH", uid, "(RFC822.SIZE INTERNALDATE)")
            head = next((s for s in sized if isinstance(s, bytes)), b"") if sized else b""
            size = re.search(rb"RFC822\.SIZE (\d+)", head or b"")
            if size and int(size.group(1)) > MAX_MESSAGE_BYTES:
                yield None, _internal_date(head), int(size.group(1))  # left on the server, reported
                continue
            typ, parts = conn.uid("FETCH", uid, "(INTERNALDATE BODY.PEEK[])")
            for part in parts:
                if isinstance(part, tuple):
                    yield part[1], _internal_date(part[0]), len(part[1])
    finally:
        try:
            conn.logout()
        except Exception:  # noqa: BLE001
            pass


_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def _internal_date(head: bytes) -> datetime | None:
    """The server's time of receipt from a FETCH response, e.g. ``INTERNALDATE "17-Jul-2026 02:44:25 -0700"``."""
    m = _INTERNALDATE.search(head or b"")
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1).decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


def imap_login(conn: imaplib.IMAP4, user: str, password: str) -> None:
    """LOGIN for ASCII credentials; AUTHENTICATE PLAIN (UTF-8) otherwise, which imaplib's LOGIN cannot send."""
    if user.isascii() and password.isascii():
        conn.login(user, password)
    else:
        token = b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")
        conn.authenticate("PLAIN", lambda _: token)


def _imap_quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def draft_message(*, to: str, sender: str, subject: str, body: str, kind: str, attachment: bytes | None = None,
                  attachment_name: str | None = None, in_reply_to: str | None = None,
                  when: datetime | None = None) -> EmailMessage:
    """A mail draft in Chinese, with a workbook attached (its name RFC 2231-encoded).

    It carries From, To, Date and Message-ID, and ``X-Unsent: 1`` so that Outlook, Thunderbird
    and Foxmail open the .eml as a draft to send rather than as received mail.
    """
    msg = EmailMessage(policy=policy.SMTP)
    if sender:
        msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(when or now_utc())
    domain = sender.rpartition("@")[2] if "@" in sender else "xxgk.invalid"
    msg["Message-ID"] = email.utils.make_msgid(idstring="xxgk", domain=domain)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg["X-Unsent"] = "1"
    msg[XXGK_HEADER] = kind
    msg.set_content(body, charset="utf-8")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application",
                           subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           filename=attachment_name or "附件.xlsx")
    return msg


def for_sending(raw: bytes) -> EmailMessage:
    """A draft as it goes out: the same message without the draft marker."""
    msg = email.message_from_bytes(raw, policy=policy.SMTP)
    del msg["X-Unsent"]
    return msg


@dataclass
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: str | None = None
    security: str = "starttls"  # "ssl", "starttls" or "none" (loopback only)


def send_messages(settings: SmtpSettings, password: str | None, messages: list[EmailMessage],
                  on_sent: Callable[[EmailMessage], None] | None = None) -> None:
    """Send messages through one SMTP connection; ``on_sent`` is called after each one is accepted."""
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
            for msg in messages:
                to = [a for _, a in email.utils.getaddresses([str(msg.get("To", ""))]) if a]
                conn.send_message(msg, from_addr=settings.sender, to_addrs=to)
                if on_sent is not None:
                    on_sent(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise InputError(f"发送邮件失败（{settings.host}:{settings.port}）：{exc}") from None


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
