"""Hostile and broken input: every corpus case gets its outcome, in bounded time and memory, without a traceback."""

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from make_corpus import build  # noqa: E402

CORPUS = Path(tempfile.mkdtemp(prefix="xxgk-corpus-"))
CASES = build(CORPUS)
MEMORY = 1536 * 1024 * 1024  # bytes of address space a check of one file may use
TIMEOUT = 60
KILL_RUNS = 8  # benchmarks/soak.py runs as long as you ask


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_xxgk(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, preexec_fn=_limits, cwd=cwd)


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case(name, tmp_path):
    status, codes = CASES[name]
    proc = run_xxgk("check", "--json", "--annotate", str(tmp_path), str(CORPUS / name))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == (0 if status in ("ok", "warnings") else 1), proc.stderr
    result = json.loads(proc.stdout)["files"][0]
    assert result["status"] == status, result["findings"]
    found = [f["code"] for f in result["findings"]]
    for code in codes:
        assert code in found, found
    # Every file gets its feedback workbook, whatever it was.
    assert len(list(tmp_path.glob("*.校验结果.xlsx"))) == 1


def test_injected_text_stays_text_in_feedback_rollup_and_csv(tmp_path):
    from pipeline.check import check_paths
    from pipeline.annotate import annotate
    from pipeline.merge import merge
    from pipeline.intake import receive
    from pipeline.workspace import init_workspace

    path = CORPUS / "injection.xlsx"
    result = check_paths([path]).files[0]
    out = annotate(result, tmp_path / "fb")
    wb = openpyxl.load_workbook(out)
    for ws in [wb["校验结果"]]:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
    roster = tmp_path / "roster.csv"
    roster.write_text("单位代码,单位名称,单位类型,联系邮箱\nC001,=cmd|' /C calc'!A0,县直部门,a@x.example\n", encoding="utf-8")
    ws = init_workspace(tmp_path / "ws", roster, 2025, name="测试县")
    receive(ws, [str(path)])
    rollup = merge(ws, tmp_path / "rollup.xlsx", include_errors=True)
    csv_text = rollup.csv_path.read_text(encoding="utf-8")
    assert "'=cmd|" in csv_text and "\n=cmd" not in csv_text and ",=cmd" not in csv_text
    wb = openpyxl.load_workbook(rollup.path)
    for ws_ in wb.worksheets:
        for row in ws_.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and "cmd|" in cell.value:
                    assert cell.data_type == "s", (ws_.title, cell.coordinate)


def test_corpus_script_runs_standalone(tmp_path):
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "corpus" / "make_corpus.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CASES)


# -- emails ------------------------------------------------------------------------------

def _mail(parts: list[bytes], boundary=b"B") -> bytes:
    head = b"From: a@x.example\r\nTo: b@x.example\r\nSubject: test\r\nMessage-ID: <m1@x>\r\nMIME-Version: 1.0\r\n"
    head += b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts) + b"--" + boundary + b"--\r\n"
    return head + body


def _att(name_header: bytes, payload: bytes = b"UEsDBA==") -> bytes:
    return (b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; " + name_header + b"\r\n\r\n" + payload)


def test_hundreds_of_attachments_are_bounded_and_reported(tmp_path):
    from pipeline.mail import MAX_ATTACHMENTS, parse_message
    from pipeline.intake import receive
    from pipeline.workspace import init_workspace

    raw = _mail([_att(b'filename="f%d.xlsx"' % i) for i in range(300)])
    mail = parse_message(raw)
    assert len(mail.attachments) == MAX_ATTACHMENTS and mail.skipped == 300 - MAX_ATTACHMENTS
    eml = tmp_path / "many.eml"
    eml.write_bytes(raw)
    roster = tmp_path / "roster.csv"
    roster.write_text("单位代码,单位名称,单位类型,联系邮箱\nA,甲,县直部门,a@x.example\n", encoding="utf-8")
    ws = init_workspace(tmp_path / "ws", roster, 2025, name="测试县")
    result = receive(ws, [str(eml)])
    # The 50 attachments are identical bytes: one new file, 49 re-sends of it.
    assert len(result.items) == MAX_ATTACHMENTS
    assert any("另有250个未收取" in n for n in result.mail_notes)


@pytest.mark.parametrize("header,expected", [
    (b'filename="../../etc/passwd"', "passwd"),
    (b'filename="/etc/cron.d/x.xlsx"', "x.xlsx"),
    (b'filename="..\\\\..\\\\windows\\\\a.xlsx"', "a.xlsx"),
    (b"filename*=x-unknown''%E4%B8%AD.xlsx", None),
    (b'filename="=?x-bogus?B?5Lit?=.xlsx"', None),
    (b'filename="\xff\xfe\x00bad.xlsx"', None),
])
def test_attachment_names_are_safe(tmp_path, header, expected):
    from pipeline.mail import parse_message

    mail = parse_message(_mail([_att(header)]))
    (att,) = mail.attachments
    assert "/" not in att.filename and "\\" not in att.filename and att.filename not in ("", ".", "..")
    if expected:
        assert att.filename == expected
    target = (tmp_path / att.filename).resolve()
    assert target.parent == tmp_path.resolve()


@pytest.mark.parametrize("raw", [
    b"not an email at all \x00\xff",
    b"From: \xff\xfe\r\nSubject: =?unknown-8?Q?x?=\r\nContent-Type: multipart/mixed\r\n\r\nno boundary",
    _mail([_att(b'filename="a.xlsx"', b"!!!not base64!!!")]),
    _mail([b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xc4\xe3\xba\xc3"]),
    _mail([_att(b'filename="a.xlsx"')], boundary=b"") + b"\r\n--unterminated",
    b"Content-Type: multipart/mixed; boundary=X\r\n\r\n" + b"--X\r\n" * 2000,
])
def test_malformed_mime_never_raises(raw):
    from pipeline.mail import parse_message

    mail = parse_message(raw)
    assert isinstance(mail.attachments, list)


# -- nothing lost: kills and concurrent runs ------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _consistent(ws_path: Path) -> dict:
    """The workspace invariants: every ledger row's file is archived with its hash; nothing pending."""
    import hashlib
    import sqlite3

    conn = sqlite3.connect(ws_path / "ledger.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for row in conn.execute("SELECT sha256, archive_path FROM files"):
            data = (ws_path / row["archive_path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == row["sha256"]
        orphans = conn.execute("SELECT COUNT(*) FROM submissions s LEFT JOIN files f USING(sha256)"
                               " WHERE f.sha256 IS NULL").fetchone()[0]
        assert orphans == 0
        return {r["office_code"]: r["n"] for r in conn.execute(
            "SELECT office_code, COUNT(*) AS n FROM submissions WHERE duplicate_of IS NULL GROUP BY office_code")}
    finally:
        conn.close()


def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    import random
    import signal
    import time

    from pipeline.samples import write_sample_mail
    from pipeline.status import workspace_status
    from pipeline.workspace import init_workspace, open_workspace

    mail_dir = tmp_path / "mail"
    write_sample_mail(mail_dir)
    roster = ROOT / "samples" / "roster.csv"
    reference = init_workspace(tmp_path / "reference", roster, 2025, "2026-01-31", name="测试县")
    started = time.monotonic()
    assert run_xxgk("receive", str(reference.path), str(mail_dir)).returncode == 0
    duration = time.monotonic() - started  # kill moments are drawn within a whole run's time
    expected = workspace_status(reference).comparable()

    rng = random.Random(2026)
    kills = 0
    for attempt in range(KILL_RUNS):
        # Each run starts afresh, is killed at a random moment, then a plain re-run must finish the work.
        ws = init_workspace(tmp_path / f"ws{attempt}", roster, 2025, "2026-01-31", name="测试县")
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "receive", str(ws.path), str(mail_dir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.15, 0.9) * duration)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        _consistent(ws.path)
        final = run_xxgk("receive", str(ws.path), str(mail_dir))
        assert final.returncode == 0, final.stderr
        _consistent(ws.path)
        assert workspace_status(open_workspace(ws.path)).comparable() == expected, attempt
    assert kills >= KILL_RUNS // 2  # most runs were killed part-way

    # Killing merge never leaves a broken rollup: the old one stays until the new one is whole.
    out = tmp_path / "rollup.xlsx"
    assert run_xxgk("merge", str(ws.path), "-o", str(out)).returncode == 0
    before = out.read_bytes()
    for attempt in range(6):
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "merge", str(ws.path), "-o", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        from pipeline.check import check_paths

        from helpers import figure_findings

        assert figure_findings(check_paths([out]).files[0]) == []
    assert len(before) > 0


def test_two_receives_at_once_lose_nothing(tmp_path):
    from pipeline.samples import write_sample_mail
    from pipeline.status import workspace_status
    from pipeline.workspace import init_workspace, open_workspace

    mail_dir = tmp_path / "mail"
    files = write_sample_mail(mail_dir)
    half_a, half_b = tmp_path / "a", tmp_path / "b"
    half_a.mkdir()
    half_b.mkdir()
    for i, f in enumerate(files):
        (half_a if i % 2 == 0 else half_b).joinpath(f.name).write_bytes(f.read_bytes())
        if i % 3 == 0:  # some mails in both folders: processed once
            (half_b if i % 2 == 0 else half_a).joinpath(f.name).write_bytes(f.read_bytes())
    ws = init_workspace(tmp_path / "ws", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="测试县")
    procs = [subprocess.Popen([sys.executable, "-m", "pipeline", "receive", str(ws.path), str(d)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for d in (half_a, half_b)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    versions = _consistent(ws.path)
    reference = init_workspace(tmp_path / "ref", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="测试县")
    assert run_xxgk("receive", str(reference.path), str(mail_dir)).returncode == 0
    assert versions == _consistent(reference.path)
    got = workspace_status(open_workspace(ws.path)).comparable()
    assert got == workspace_status(reference).comparable()
