"""Faults and hostile input, round two: each defect the second round found, as a regression test."""

import io
import re
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.check import check_paths
from pipeline.cli import app
from pipeline.reader import read_submission

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from make_corpus import _base, _rezip  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return _base(tmp_path_factory.mktemp("base"))


def _sheet_part(data: bytes, index: int = 3) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return sorted(n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))[index]


def _with_rows(xml: bytes, rows: str) -> bytes:
    """Append rows (far below the template's) to a sheet's data."""
    return xml.replace(b"</sheetData>", rows.encode() + b"</sheetData>")


def _codes(data: bytes, name: str = "x.xlsx") -> list[str]:
    return [f.code for f in read_submission(name, data).findings]


# -- limits counted on the decoded text, DTDs refused in every encoding ---------------------------------

def test_a_sheet_in_utf16_cannot_slip_past_the_cell_limit(base):
    part = _sheet_part(base)
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>1</v></c><c r="B{r}"><v>2</v></c></row>' for r in range(1000, 126000))

    def utf16(name, data):
        if name != part:
            return data
        text = _with_rows(data, rows).decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
        return b"\xff\xfe" + text.encode("utf-16-le")

    assert _codes(_rezip(base, utf16)) == ["file-too-many-cells"]


def test_a_dtd_in_utf16_without_a_bom_is_refused(base):
    bomb = ('<!DOCTYPE r [<!ENTITY a "aaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')

    def utf16(name, data):
        if name != "xl/workbook.xml":
            return data
        text = data.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
        head, _, rest = text.partition("?>")
        return (head + "?>" + bomb + rest).encode("utf-16-le")  # no BOM

    assert _codes(_rezip(base, utf16)) == ["file-unsafe-xml"]


def test_a_merged_range_bomb_is_refused_and_annotation_survives(base, tmp_path):
    part = _sheet_part(base)

    def bomb(name, data):
        if name != part:
            return data
        return re.sub(rb"<mergeCells count=\"(\d+)\">", rb'<mergeCells count="\1"><mergeCell ref="A2000:XFD1048576"/>',
                      data)

    path = tmp_path / "merged.xlsx"
    path.write_bytes(_rezip(base, bomb))
    report = check_paths([path], annotate_dir=tmp_path / "fb")
    (result,) = report.files
    assert [f.code for f in result.findings] == ["file-too-complex"] and "合并单元格" in result.findings[0].message
    assert result.annotated is not None and result.annotated.stat().st_size < 100_000


def test_a_million_shared_strings_and_too_many_styles_are_refused(base):
    def strings(name, data):
        if name != "xl/sharedStrings.xml":
            return data
        many = "".join(f"<si><t>{i}</t></si>" for i in range(250_000))
        return data.replace(b"</sst>", many.encode() + b"</sst>")

    assert _codes(_rezip(base, strings)) == ["file-too-complex"]

    def styles(name, data):
        if name != "xl/styles.xml":
            return data
        many = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' * 30_000
        return data.replace(b"</cellXfs>", many.encode() + b"</cellXfs>")

    assert _codes(_rezip(base, styles)) == ["file-too-complex"]


def test_shared_formulas_are_translated_only_when_looked_at(base, monkeypatch):
    """150,000 cells sharing one long formula: reading translates none of them until asked."""
    from pipeline import xlsxread

    part = _sheet_part(base)
    master = "+".join(f"A{i}" for i in range(1, 1500))
    rows = f'<row r="1000"><c r="A1000"><f t="shared" ref="A1000:A151000" si="99">{master}</f><v>0</v></c></row>'
    rows += "".join(f'<row r="{r}"><c r="A{r}"><f t="shared" si="99"/><v>0</v></c></row>' for r in range(1001, 151000))
    data = _rezip(base, lambda n, d: _with_rows(d, rows) if n == part else d)
    from openpyxl.formula import translate  # imported by the reader only when a shared formula is looked at

    calls = []
    original = translate.Translator

    class Counting(original):
        def __init__(self, *a, **kw):
            calls.append(1)
            super().__init__(*a, **kw)

    monkeypatch.setattr(translate, "Translator", Counting)
    wb = xlsxread.read_workbook(io.BytesIO(data))
    assert calls == []
    sheet = next(s for s in wb.sheets.values() if "A1001" in s.cells)
    assert sheet.cells["A1001"].formula.startswith("A2+A3")
    assert len(calls) == 1


# -- a budget per file; nothing blocks the queue ------------------------------------------------------------

def _slow_workbook(base: bytes) -> bytes:
    """A workbook that openpyxl takes many seconds to open: 60,000 cells sharing one long formula."""
    part = _sheet_part(base)
    master = "+".join(f"A{i}" for i in range(1, 1500))
    rows = f'<row r="1000"><c r="A1000"><f t="shared" ref="A1000:A61000" si="99">{master}</f><v>0</v></c></row>'
    rows += "".join(f'<row r="{r}"><c r="A{r}"><f t="shared" si="99"/><v>0</v></c></row>' for r in range(1001, 61000))
    return _rezip(base, lambda n, d: _with_rows(d, rows) if n == part else d)


def test_a_file_past_its_budget_gets_a_finding_and_the_batch_goes_on(base, tmp_path):
    slow = tmp_path / "slow.xlsx"
    slow.write_bytes(_slow_workbook(base))
    fine = tmp_path / "fine.xlsx"
    fine.write_bytes(base)
    report = check_paths([slow, fine], annotate_dir=tmp_path / "fb", limits=(1, None))
    first, second = report.files
    assert [f.code for f in first.findings] == ["file-too-complex"] and "处理超时" in first.findings[0].message
    assert first.annotated.exists() and second.status in ("ok", "warnings") and second.annotated.exists()


def test_a_stalling_file_does_not_block_mail_after_it(tmp_path, base):
    from pipeline.intake import receive
    from pipeline.lifecycle import office_states
    from pipeline.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="测试县")
    ws.set("budget_seconds", "1")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1_slow.xlsx").write_bytes(_slow_workbook(base))
    (inbox / "2_QX003.xlsx").write_bytes((ROOT / "samples" / "QX003_青溪县教育局_2025.xlsx").read_bytes())
    result = receive(ws, [str(inbox)])
    by_name = {i.filename: i for i in result.items}
    assert by_name["1_slow.xlsx"].status == "unusable" and "过于复杂" in by_name["1_slow.xlsx"].note
    assert by_name["2_QX003.xlsx"].status in ("ok", "warnings")
    with ws.db() as conn:
        assert office_states(ws, conn)["QX003"].current is not None
        assert conn.execute("SELECT COUNT(*) FROM submissions WHERE status='pending'").fetchone()[0] == 0


# -- kills: every step of receive is finished by the next run ----------------------------------------------

def _run(*args, env=None):
    import os
    import subprocess

    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def kill_mail(tmp_path_factory):
    """Four offices' emails (two of them alike, for rule X4) and the workspace that received them undisturbed."""
    import shutil

    from pipeline.samples import write_sample_mail
    from pipeline.status import workspace_status
    from pipeline.workspace import init_workspace

    tmp = tmp_path_factory.mktemp("kills")
    every = write_sample_mail(tmp / "all")
    mail = tmp / "mail"
    mail.mkdir()
    for p in every:
        if p.name.split("_")[0] in ("01", "05", "08", "09"):
            shutil.copy(p, mail / p.name)
    reference = init_workspace(tmp / "reference", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="测试县")
    assert _run("receive", str(reference.path), str(mail)).returncode == 0
    return mail, workspace_status(reference).comparable()


def _complete(ws_path: Path) -> None:
    """Nothing owed: every processed file has its feedback (as recorded) and its reply; no temporary files."""
    import hashlib
    import sqlite3

    conn = sqlite3.connect(ws_path / "ledger.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("SELECT COUNT(*) FROM submissions WHERE status='pending' OR feedback_pending=1"
                            " OR reply_pending=1").fetchone()[0] == 0
        for row in conn.execute("SELECT id, feedback_path, feedback_sha256, status FROM submissions"
                                " WHERE feedback_path IS NOT NULL"):
            data = (ws_path / row["feedback_path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == row["feedback_sha256"], row["id"]
        unanswered = conn.execute(
            "SELECT id FROM submissions s WHERE status IN ('ok', 'warnings', 'errors', 'unusable', 'held')"
            " AND duplicate_of IS NULL AND NOT EXISTS (SELECT 1 FROM outgoing g WHERE g.submission_id = s.id)").fetchall()
        assert unanswered == []
        for row in conn.execute("SELECT path FROM outgoing"):
            assert (ws_path / row["path"]).exists()
    finally:
        conn.close()
    assert not [p for p in ws_path.rglob(".*.tmp*")]


@pytest.mark.parametrize("step", ["archived:3", "recorded:3", "checked:2", "feedback:2", "status:2", "reply:2",
                                  "compared:1", "reannotated:1"])
def test_a_kill_at_each_step_of_receive_is_finished_by_the_next_run(step, kill_mail, tmp_path):
    import signal

    from pipeline.status import workspace_status
    from pipeline.workspace import init_workspace, open_workspace

    mail, expected = kill_mail
    ws = init_workspace(tmp_path / "ws", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="测试县")
    killed = _run("receive", str(ws.path), str(mail), env={"XXGK_FAULT_AT": step})
    assert killed.returncode == -signal.SIGKILL, (step, killed.stderr[-500:])
    final = _run("receive", str(ws.path), str(mail))
    assert final.returncode == 0, final.stderr
    _complete(ws.path)
    assert workspace_status(open_workspace(ws.path)).comparable() == expected


def test_a_file_that_kills_every_run_is_given_up_and_reported(kill_mail, tmp_path):
    """A run killed on a file, again and again: after max_attempts it is marked, answered, and others go on."""
    from pipeline.workspace import init_workspace

    mail, _ = kill_mail
    ws = init_workspace(tmp_path / "ws", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="测试县")
    ws.set("max_attempts", "2")
    first = sorted(mail.iterdir())[0]
    for _ in range(2):  # the first workbook's check kills the run, twice
        assert _run("receive", str(ws.path), str(first), env={"XXGK_FAULT_AT": "checked:1"}).returncode != 0
    done = _run("receive", str(ws.path), str(mail))
    assert done.returncode == 0, done.stderr
    assert "不再重试" in done.stdout
    _complete(ws.path)


def test_a_merge_killed_between_its_outputs_is_made_whole_by_the_next(kill_mail, tmp_path):
    """Killed after the rollup is written and before its CSV: the rerun writes both, agreeing, and no
    temporary file of the killed run is left beside them."""
    import signal

    from pipeline.workspace import init_workspace

    mail, _ = kill_mail
    ws = init_workspace(tmp_path / "ws", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="测试县")
    assert _run("receive", str(ws.path), str(mail)).returncode == 0
    out = tmp_path / "out" / "全县汇总.xlsx"
    killed = _run("merge", str(ws.path), "-o", str(out), env={"XXGK_FAULT_AT": "rollup-written"})
    assert killed.returncode == -signal.SIGKILL
    assert out.exists() and not out.with_suffix(".csv").exists()
    (out.parent / f".{out.name}.999999.abc.tmp").write_bytes(b"left by a killed run")
    done = _run("merge", str(ws.path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    rows = out.with_suffix(".csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(_roster_codes())
    assert sorted(p.name for p in out.parent.iterdir()) == ["全县汇总.csv", "全县汇总.xlsx"]


def _roster_codes() -> list[str]:
    import csv

    with open(ROOT / "samples" / "roster.csv", encoding="utf-8") as f:
        return [row["单位代码"] for row in csv.DictReader(f)]


# -- outputs only where they belong; names from data confined ---------------------------------------------

@pytest.fixture
def workspace(tmp_path):
    from pipeline.workspace import init_workspace

    return init_workspace(tmp_path / "ws", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="测试县")


@pytest.mark.parametrize("target", ["ledger.sqlite", "settings.json", "roster.xlsx", "archive/x.xlsx",
                                    "outbox/x.xlsx", "rollup.csv"])
def test_merge_never_writes_over_the_workspace(workspace, target):
    ledger = (workspace.path / "ledger.sqlite").read_bytes()
    roster = (workspace.path / "roster.csv").read_bytes()
    result = runner.invoke(app, ["merge", str(workspace.path), "-o", str(workspace.path / target)])
    assert result.exit_code == 2, result.output
    assert (workspace.path / "ledger.sqlite").read_bytes() == ledger
    assert (workspace.path / "roster.csv").read_bytes() == roster
    assert not (workspace.path / "rollup.csv").exists()


def test_a_roster_code_that_is_a_path_is_refused(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("单位代码,单位名称,单位类型,联系邮箱\n../../x,甲局,县直部门,a@x.example\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(tmp_path / "ws"), "--roster", str(roster), "--year", "2025",
                                 "--name", "测试县"])
    assert result.exit_code == 1 and "不能用作文件名" in result.output
    assert not (tmp_path / "x").exists()


def test_two_inputs_with_one_name_get_two_feedback_files(base, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "报表.xlsx").write_bytes(base)
    report = check_paths([tmp_path / "a" / "报表.xlsx", tmp_path / "b" / "报表.xlsx"], annotate_dir=tmp_path / "fb")
    names = sorted(p.name for p in (tmp_path / "fb").iterdir())
    assert names == ["a_报表.校验结果.xlsx", "b_报表.校验结果.xlsx"]
    assert {r.annotated.name for r in report.files} == set(names)


# -- identity ---------------------------------------------------------------------------------------------

def test_a_workbook_for_another_office_from_a_registered_address_is_held(workspace, tmp_path):
    from pipeline.lifecycle import office_states
    from pipeline.samples import _mail_bytes, ROSTER

    qx001 = next(o for o in ROSTER if o["code"] == "QX001")
    book = (ROOT / "samples" / "QX002_青溪县发展和改革局_2025.xlsx").read_bytes()
    eml = tmp_path / "m.eml"
    eml.write_bytes(_mail_bytes(qx001, [("QX002.xlsx", book, "application/vnd.openxmlformats-officedocument"
                                         ".spreadsheetml.sheet")], "2026-01-20 10:00", "年报", "rfc2047-utf8"))
    result = runner.invoke(app, ["receive", str(workspace.path), str(eml)])
    assert result.exit_code == 0, result.output
    with workspace.db() as conn:
        states = office_states(workspace, conn)
        assert states["QX002"].current is None and states["QX001"].current is None
    status = runner.invoke(app, ["status", str(workspace.path)]).output
    assert "待核实" in status and "QX002" in status
    # The coordinator has checked: it is QX002's.
    released = runner.invoke(app, ["receive", str(workspace.path), str(eml), "--office", "QX002"])
    assert released.exit_code == 0, released.output
    with workspace.db() as conn:
        assert office_states(workspace, conn)["QX002"].current is not None


# -- mail as it really comes ------------------------------------------------------------------------------

def test_an_mbox_with_unescaped_from_lines_keeps_its_attachments(tmp_path):
    from pipeline.mail import iter_mailbox, parse_message
    from pipeline.samples import write_sample_mail

    messages = [p.read_bytes() for p in write_sample_mail(tmp_path / "mail")[:3]]
    box = b""
    for i, raw in enumerate(messages):
        # A body line that starts with "From " (a client that does not escape it) inside each message.
        raw = raw.replace(b"\r\n\r\n", b"\r\n\r\nFrom the office: please find attached.\r\n\r\n", 1) if i else raw
        box += b"From zwgk@qingxi.example Fri Jan 30 20:00:00 2026\n" + raw.replace(b"\r\n", b"\n") + b"\n"
    mbox = tmp_path / "box.mbox"
    mbox.write_bytes(box)
    parsed = [parse_message(m) for m in iter_mailbox(mbox)]
    assert len(parsed) == 3
    assert [len(m.attachments) for m in parsed] == [len(parse_message(m).attachments) for m in messages]


def _tnef(files: list[tuple[str, bytes]]) -> bytes:
    """A minimal TNEF stream (Outlook's winmail.dat) holding ``files``."""
    import struct

    def attr(level: int, ident: int, data: bytes) -> bytes:
        return struct.pack("<BII", level, ident, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)

    out = struct.pack("<IH", 0x223E9F78, 1)
    out += attr(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    for name, data in files:
        out += attr(2, 0x00069002, b"\x00" * 14)  # attAttachRendData: a new attachment
        out += attr(2, 0x00018010, name.encode("gbk") + b"\x00")  # attAttachTitle
        out += attr(2, 0x0006800F, data)  # attAttachData
    return out


def test_winmail_dat_is_unpacked(tmp_path):
    from pipeline.mail import parse_message

    book = (ROOT / "samples" / "QX003_青溪县教育局_2025.xlsx").read_bytes()
    dat = _tnef([("QX003.xlsx", book), ("盖章.pdf", b"%PDF-1.4 stamp")])
    import base64

    raw = (b"From: a@x.example\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
           b"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n"
           b"Content-Disposition: attachment; filename=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(dat) + b"\r\n--B--\r\n")
    mail = parse_message(raw)
    assert [(a.filename, a.data) for a in mail.attachments] == [("QX003.xlsx", book), ("盖章.pdf", b"%PDF-1.4 stamp")]


@pytest.mark.parametrize("header, beijing", [
    ("Sat, 31 Jan 2026 20:00:00 CST", "2026-01-31 20:00"),
    ("Sat, 31 Jan 2026 20:00:00", "2026-01-31 20:00"),
    ("Sat, 31 Jan 2026 20:00:00 -0000", "2026-01-31 20:00"),
    ("Sat, 31 Jan 2026 20:00:00 GMT+8", "2026-01-31 20:00"),
    ("Sat, 31 Jan 2026 12:00:00 +0000", "2026-01-31 20:00"),
])
def test_dates_without_a_zone_or_with_cst_are_beijing_time(header, beijing):
    from pipeline.mail import parse_date
    from pipeline.workspace import LOCAL_TZ

    assert parse_date(header).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") == beijing


def test_an_email_too_large_to_unpack_is_archived_whole(workspace, tmp_path, monkeypatch):
    import pipeline.sources as sources
    from pipeline.intake import receive
    from pipeline.samples import write_sample_mail

    monkeypatch.setattr(sources, "MAX_MESSAGE_BYTES", 10_000)  # the samples' mails are larger
    eml = write_sample_mail(tmp_path / "mail")[0]
    result = receive(workspace, [str(eml)])
    assert any("邮件过大" in n and "已原样存档" in n for n in result.mail_notes)
    (item,) = result.items
    assert item.filename == "邮件原文.eml" and item.status == "attachment"


# -- every fault speaks Chinese ----------------------------------------------------------------------------

def test_disk_full_is_said_in_chinese(workspace, tmp_path, monkeypatch):
    import errno

    import pipeline.intake as intake

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(workspace.archive))

    monkeypatch.setattr(intake, "archive_file", full)
    result = runner.invoke(app, ["receive", str(workspace.path), str(ROOT / "samples" / "mail")])
    assert result.exit_code == 4 and "磁盘空间不足" in result.output and "Traceback" not in result.output


def test_a_read_only_workspace_still_shows_status_and_merges(workspace, tmp_path, monkeypatch):
    from pipeline.intake import receive
    from pipeline.workspace import Workspace

    receive(workspace, [str(ROOT / "samples" / "mail")])
    # (Root ignores file modes, so the test says the folder is read-only instead of making it so.)
    monkeypatch.setattr(Workspace, "read_only", property(lambda self: True))
    status = runner.invoke(app, ["status", str(workspace.path)])
    assert status.exit_code == 0 and "共12个单位" in status.output
    merged = runner.invoke(app, ["merge", str(workspace.path), "-o", str(tmp_path / "r.xlsx")])
    assert merged.exit_code == 0, merged.output
    refused = runner.invoke(app, ["receive", str(workspace.path), str(ROOT / "samples" / "mail-round2")])
    assert refused.exit_code == 4 and "只读" in refused.output


@pytest.mark.parametrize("damage, words", [(b"", "空文件"), (b"not a database at all" * 100, "不是 SQLite"),
                                           ("truncate", "损坏")])
def test_a_damaged_ledger_is_never_recreated(workspace, damage, words):
    ledger = workspace.path / "ledger.sqlite"
    if damage == "truncate":
        data = ledger.read_bytes()
        ledger.write_bytes(data[:4096] + b"\x00" * 4096 + data[8192:])
    else:
        ledger.write_bytes(damage)
    before = ledger.read_bytes()
    result = runner.invoke(app, ["status", str(workspace.path)])
    assert result.exit_code == 4 and words in result.output, result.output
    assert ledger.read_bytes() == before


def test_a_locked_ledger_waits_a_little_then_says_so(workspace, monkeypatch):
    import sqlite3

    import pipeline.ledger as ledger

    monkeypatch.setattr(ledger, "LOCK_WAIT_SECONDS", 0.5)
    holder = sqlite3.connect(workspace.path / "ledger.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = runner.invoke(app, ["receive", str(workspace.path), str(ROOT / "samples" / "mail")])
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 4 and "正被另一个 xxgk 进程使用" in result.output, result.output


def test_broken_settings_are_said_by_line(workspace):
    settings = workspace.path / "settings.json"
    settings.write_text('{"year": 2025, "name": "测试县",\n "deadline": }', encoding="utf-8")
    result = runner.invoke(app, ["status", str(workspace.path)])
    assert result.exit_code == 4 and "settings.json 已损坏（第2行" in result.output
    settings.write_text('{"year": 2025, "name": "测试县", "smtp.port": "abc"}', encoding="utf-8")
    result = runner.invoke(app, ["status", str(workspace.path)])
    assert result.exit_code == 4 and "SMTP 端口" in result.output


def test_imap_without_a_password_and_without_a_terminal(workspace, monkeypatch):
    monkeypatch.delenv("XXGK_IMAP_PASSWORD", raising=False)
    result = runner.invoke(app, ["receive", str(workspace.path), "imaps://zwgk@mail.example/INBOX"])
    assert result.exit_code == 2 and "XXGK_IMAP_PASSWORD" in result.output


def test_a_fifo_is_refused_not_waited_on(workspace, tmp_path):
    import os

    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    result = runner.invoke(app, ["check", str(fifo)])
    assert result.exit_code == 1 and "不是普通文件" in result.output
    result = runner.invoke(app, ["receive", str(workspace.path), str(fifo)])
    assert result.exit_code == 2 and "不是普通文件或文件夹" in result.output


# -- sizes everywhere input enters -------------------------------------------------------------------------

def test_import_refuses_what_no_report_is(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(25 * 1024 * 1024)
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<w/>" + b" " * (80 * 1024 * 1024))
    for path, words in ((big, "超过年度报告应有的大小"), (bomb, "解压后过大")):
        result = runner.invoke(app, ["import", str(path), "-o", str(tmp_path / "out")])
        assert result.exit_code == 1 and words in result.output, result.output


def test_a_roster_too_large_is_refused(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("单位代码,单位名称,单位类型,联系邮箱\n" + "A1,甲局,县直部门,\n" * 400_000, encoding="utf-8")
    result = runner.invoke(app, ["init", str(tmp_path / "ws"), "--roster", str(roster), "--year", "2025",
                                 "--name", "测试县"])
    assert result.exit_code == 1 and "超过5MB" in result.output


# -- text hygiene -----------------------------------------------------------------------------------------

def test_names_with_math_and_direction_characters(tmp_path):
    from pipeline.intake import receive
    from pipeline.merge import merge, read_texts
    from pipeline.report import write_report
    from pipeline.samples import COUNTY_TEXTS
    from pipeline.workspace import init_workspace

    rows = (ROOT / "samples" / "roster.csv").read_text(encoding="utf-8").splitlines()
    rows = [rows[0]] + [r.replace("县直部门", "$\\frac{$") for r in rows[1:]]
    rows[1] = rows[1].replace("青溪县人民政府办公室", "青溪县\u202e室公办\u202c")
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(tmp_path / "ws"), "--roster", str(roster), "--year", "2025",
                                 "--name", "测\u202e试县"])
    assert result.exit_code == 0 and "不可见的控制字符" in result.output, result.output
    from pipeline.workspace import open_workspace

    ws = open_workspace(tmp_path / "ws")
    assert ws.name == "测试县" and "\u202e" not in (ws.path / "roster.csv").read_text(encoding="utf-8")
    receive(ws, [str(ROOT / "samples" / "mail")])
    (tmp_path / "t.md").write_text(COUNTY_TEXTS.format(year=2025), encoding="utf-8")
    rollup = merge(ws, tmp_path / "r.xlsx", texts=read_texts(ws.spec, tmp_path / "t.md"), include_errors=True).path
    for suffix in ("html", "docx"):
        done = write_report(rollup, tmp_path / f"r.{suffix}", allow_incomplete=True)
        assert done.doc.title == "测试县2025年政府信息公开工作年度报告"


def test_the_budget_survives_an_alarm_swallowed_by_a_bare_except():
    """openpyxl's descriptors catch everything (a bare except) and raise TypeError instead: an alarm landing
    there was lost and a full-suite run checked a slow workbook for 11 minutes. The alarm repeats."""
    import time

    from pipeline.budget import BudgetExceeded, budget

    with pytest.raises(BudgetExceeded):
        with budget(0.2, None):
            try:
                time.sleep(1)  # the first alarm lands here and is swallowed
            except BaseException:  # noqa: BLE001 - what the library does
                pass
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                time.sleep(0.05)
            pytest.fail("the budget did not fire again")
