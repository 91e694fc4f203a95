import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline import get_spec
from pipeline.fill import consistent_values

FORMATS = ["2019", "2021"]
ROOT = Path(__file__).resolve().parent.parent
BEIJING = timezone(timedelta(hours=8))


def beijing(text: str) -> datetime:
    """"2026-02-04 09:00" as a Beijing-time moment (tests fix "now" so that lateness does not depend on today)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING)


@pytest.fixture(params=FORMATS)
def spec(request):
    return get_spec(request.param)


@pytest.fixture
def consistent(spec):
    return consistent_values(spec, random.Random(7), office_kind="县直部门")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _need(program: str, package: str) -> str:
    """The program's path; Debian puts daemons in /usr/sbin, which a user's PATH may lack."""
    path = shutil.which(program) or shutil.which(program, path=os.pathsep.join(("/usr/sbin", "/sbin")))
    if not path:
        if os.environ.get("CI"):
            pytest.fail(f"{package} is required in CI (.ci/run installs it)")
        pytest.skip(f"{program} not installed")
    return path


@pytest.fixture
def imap_server():
    """A real IMAP server (dovecot) on loopback with one user, zwgk / s3cret-密码."""
    dovecot = _need("dovecot", "dovecot-imapd")
    base = Path(tempfile.mkdtemp(prefix="xxgk-imap-"))
    os.chmod(base, 0o755)
    for d in ("run", "state", "home"):
        (base / d).mkdir()
    shutil.chown(base / "home", "nobody", "nogroup")
    (base / "passwd").write_text("zwgk:{PLAIN}s3cret-密码::::::\n", encoding="utf-8")
    port = free_port()
    (base / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{base}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
""", encoding="utf-8")
    proc = subprocess.Popen([dovecot, "-F", "-c", str(base / "dovecot.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)


def imap_upload(port: int, messages: list[bytes]) -> str:
    """Put messages into the test user's INBOX, each with its Date as the server's arrival time; the URL to read it."""
    import email.utils
    import imaplib

    from pipeline.mail import imap_login

    conn = imaplib.IMAP4("127.0.0.1", port)
    imap_login(conn, "zwgk", "s3cret-密码")
    for raw in messages:
        head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        date = next((line[5:].strip() for line in head.split("\r\n") if line.lower().startswith("date:")), None)
        when = email.utils.parsedate_to_datetime(date) if date else None
        conn.append("INBOX", None, imaplib.Time2Internaldate(when) if when else None, raw)
    conn.logout()
    return f"imap://zwgk@127.0.0.1:{port}/INBOX"


class SmtpSink:
    """Messages an SMTP server on loopback accepted: (envelope from, recipients, bytes)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback; yields (port, sink)."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, sink
    finally:
        controller.stop()


def use_smtp(ws, port: int) -> None:
    """Point a workspace at the loopback SMTP server."""
    ws.set("smtp.host", "127.0.0.1")
    ws.set("smtp.port", str(port))
    ws.set("smtp.security", "none")
    ws.set("sender", "zwgk@qingxi.example")


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are required in CI (.ci/run installs them)")
        pytest.skip("headless Chromium not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1100,1400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def sample_county(tmp_path_factory):
    """The samples' workspace after the first round of mail (one office missing, some not counted), and the
    county's own texts as a headed file (samples/县本级文字.md)."""
    from pipeline.intake import receive
    from pipeline.samples import COUNTY_TEXTS, write_sample_mail
    from pipeline.workspace import init_workspace

    tmp = tmp_path_factory.mktemp("county")
    mail = write_sample_mail(tmp / "mail")
    root = Path(__file__).resolve().parent.parent
    ws = init_workspace(tmp / "ws", root / "samples" / "roster.csv", 2025, "2026-01-31", name="青溪县", code="QX")
    receive(ws, [str(mail[0].parent)])
    (tmp / "texts.md").write_text(COUNTY_TEXTS.format(year=2025), encoding="utf-8")
    return ws, tmp
