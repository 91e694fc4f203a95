"""The submission lifecycle: the right feedback, the right current version, review decisions with
reasons, reminders, drafts that open as drafts, settings, the terminal status (issue 11)."""

import email
import hashlib
import io
import json
import mailbox
import shutil
import sqlite3
import tempfile
from email import policy
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from pipeline import Filling, get_spec, write_workbook
from pipeline.cli import app
from pipeline import ledger as ledger_module
from pipeline.intake import receive, receive_file
from pipeline.merge import merge
from pipeline.outbox import remind
from pipeline.review import DecisionRefused, accept_submission, reopen, return_submission
from pipeline.samples import build_samples, write_round2_mail, write_sample_mail, write_samples
from pipeline.sources import Arrival
from pipeline.status import workspace_status
from pipeline.textutil import display_width
from pipeline.workspace import init_workspace, open_workspace

from conftest import beijing, imap_upload, use_smtp

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "samples" / "roster.csv"
NOW = beijing("2026-02-04 09:00")
runner = CliRunner()


def new_ws(path, **kw):
    return init_workspace(path, ROSTER, 2025, "2026-01-31", name="青溪县", **kw)


@pytest.fixture
def ws(tmp_path):
    return new_ws(tmp_path / "ws")


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("mail")
    write_sample_mail(out / "round1")
    write_round2_mail(out / "round2")
    return out


def _offices(ws, now=NOW):
    return {o["code"]: o for o in workspace_status(ws, now=now).offices}


def _draft(path):
    return email.message_from_bytes(Path(path).read_bytes(), policy=policy.default)


def _body(msg):
    return msg.get_body(("plain",)).get_content()


def _workbook_of(code, year=2025, **changes):
    """The sample workbook of an office, as bytes, optionally with other figures or office fields."""
    sample = next(s for s in build_samples(year) if s.office["code"] == code)
    filling = sample.filling
    if changes:
        filling = Filling(office={**filling.office, **changes.get("office", {})},
                          values={**filling.values, **changes.get("values", {})}, prose=filling.prose,
                          explanation=changes.get("explanation", filling.explanation))
    with tempfile.TemporaryDirectory() as tmp:
        return write_workbook(sample.spec, Path(tmp) / "w.xlsx", filling).read_bytes()


def _arrival(name, when, sender=None, key=None):
    return Arrival(name, "test", key or f"test:{name}:{when}", beijing(when), "given", sender)


# -- 1. Feedback from the archived file itself -------------------------------------------------

FILL = {"error": "FFC7CE", "warning": "FFEB9C"}


def assert_feedback_is_the_offices_own(ws):
    """Every feedback workbook holds its own office's figures (as archived), the offending cells marked."""
    with ws.db() as conn:
        rows = conn.execute("SELECT s.*, f.archive_path FROM submissions s JOIN files f USING(sha256)"
                            " WHERE s.status IN ('ok', 'warnings', 'errors')").fetchall()
    assert rows
    for row in rows:
        spec = get_spec(row["format"])
        feedback = openpyxl.load_workbook(ws.path / row["feedback_path"])
        archived = openpyxl.load_workbook(ws.path / row["archive_path"])
        assert feedback.sheetnames[0] == "校验结果"
        for name in spec.sheets.values():
            assert name in feedback.sheetnames, (row["filename"], name)
        for f in spec.inputs():
            assert feedback[f.sheet][f.cell].value == archived[f.sheet][f.cell].value, (row["filename"], f.id)
        office = spec.office_field("name").cell
        office_sheet = spec.office.sheet
        assert feedback[office_sheet][office].value == archived[office_sheet][office].value
        for fnd in json.loads(row["findings_json"]):
            if fnd.get("cell") and fnd["sheet"] in feedback.sheetnames:
                cell = feedback[fnd["sheet"]][fnd["cell"]]
                assert cell.comment is not None, (row["filename"], fnd["cell"])
                assert cell.fill.fgColor.rgb.endswith(FILL[fnd["severity"]]) or fnd["severity"] == "warning"


def _source(kind, mail_dir, tmp_path, imap_port=None):
    emls = sorted((mail_dir / "round1").glob("*.eml"))
    if kind == "folder":
        folder = tmp_path / "收件"
        write_samples(folder)
        return str(folder)
    if kind == "eml":
        return str(mail_dir / "round1")
    if kind == "mbox":
        box = mailbox.mbox(tmp_path / "inbox.mbox")
        for p in emls:
            box.add(p.read_bytes())
        box.flush()
        return str(tmp_path / "inbox.mbox")
    if kind == "maildir":
        md = mailbox.Maildir(tmp_path / "Maildir")
        for p in emls:
            md.add(p.read_bytes())
        return str(tmp_path / "Maildir")
    return imap_upload(imap_port, [p.read_bytes() for p in emls])


@pytest.mark.parametrize("kind", ["folder", "eml", "mbox", "maildir", "imap"])
def test_feedback_is_built_from_the_archived_file_whatever_sits_in_the_current_folder(
        kind, mail_dir, tmp_path, monkeypatch, request):
    imap_port = request.getfixturevalue("imap_server") if kind == "imap" else None
    source = _source(kind, mail_dir, tmp_path, imap_port)
    # A decoy in the working folder under every attachment's name: another office's workbook.
    decoys = tmp_path / "cwd"
    decoys.mkdir()
    decoy = _workbook_of("QX010")
    for name in [p.name for p in ROOT.glob("samples/*.xlsx")] + ["（更正）QX004_青溪县公安局_2025.xlsx"]:
        (decoys / name).write_bytes(decoy)
    monkeypatch.chdir(decoys)
    ws = new_ws(tmp_path / "ws")
    result = runner.invoke(app, ["receive", str(ws.path), source], env={"XXGK_IMAP_PASSWORD": "s3cret-密码"})
    assert result.exit_code == 0, result.output
    assert_feedback_is_the_offices_own(ws)
    # The decoys are untouched and were not received.
    assert all(p.read_bytes() == decoy for p in decoys.iterdir())
    # The office with errors gets its own figures back, its "/" cells marked red.
    with ws.db() as conn:
        fb = conn.execute("SELECT feedback_path FROM submissions WHERE office_code='QX011'").fetchone()[0]
    sheet = openpyxl.load_workbook(ws.path / fb)["表二 主动公开"]
    assert sheet["B4"].value == "/" and sheet["B4"].fill.fgColor.rgb.endswith("FFC7CE")


# -- 2. What an office's submission is ---------------------------------------------------------

def test_a_stamped_pdf_beside_the_workbook_or_later_never_replaces_it(ws, mail_dir):
    receive(ws, [str(mail_dir / "round1")])
    offices = _offices(ws)
    # QX003 sent its workbook and a PDF in one email; QX001 sent a PDF the day after its workbook.
    for code in ("QX003", "QX001"):
        assert offices[code]["status"] == "ok" and offices[code]["versions"] == 1
        assert [a["filename"] for a in offices[code]["attachments"]] == [f"{code}_{offices[code]['name']}_2025_盖章件.pdf"]
    with ws.db() as conn:
        rows = {r["filename"]: r for r in conn.execute("SELECT * FROM submissions")}
        outgoing = conn.execute("SELECT * FROM outgoing").fetchall()
    assert rows["QX003_青溪县教育局_2025_盖章件.pdf"]["status"] == "attachment"
    assert rows["QX003_青溪县教育局_2025_盖章件.pdf"]["findings_json"] is None  # never checked
    # One reply for QX003's email, mentioning the PDF; one acknowledgement for QX001's PDF.
    qx003 = [o for o in outgoing if o["office_code"] == "QX003"]
    assert len(qx003) == 1 and "盖章件.pdf" in _body(_draft(ws.path / qx003[0]["path"]))
    (ack,) = [o for o in outgoing if o["kind"] == "ack"]
    body = _body(_draft(ws.path / ack["path"]))
    assert "没有年度报告填报表" in body
    assert "你单位当前有效的报表仍为QX001_青溪县人民政府办公室_2025.xlsx（2026年1月12日 09:30收到），校验结果：通过" in body


def test_unreadable_or_foreign_files_are_answered_but_never_become_current(ws):
    sender = "fgj@qingxi.example"
    good = receive_file(ws, _workbook_of("QX002"), _arrival("QX002_发改局.xlsx", "2026-01-15 10:00", sender))
    assert [r.status for r in good] == ["ok"]
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "Workbook".encode("utf-16-le") + b"\0" * 512
    later = [
        ("QX002_发改局.xls", ole),  # a legacy .xls
        ("QX002_发改局_修改.xlsx", b"PK\x03\x04 damaged"),  # a broken workbook
        ("QX002_发改局_2024.xlsx", _workbook_of("QX002", 2024)),  # last year's report
        ("QX002_发改局_旧模板.xlsx", _workbook_of("QX008", office={"code": "QX002", "name": "青溪县发展和改革局"})),
    ]
    for i, (name, data) in enumerate(later):
        (item,) = receive_file(ws, data, _arrival(name, f"2026-01-2{i} 10:00", sender))
        assert (item.status, item.office_code) == ("unusable", "QX002"), item
        body = _body(_draft(item.draft))
        assert "无法采用" in body
        assert "你单位当前有效的报表仍为QX002_发改局.xlsx（2026年1月15日 10:00收到），校验结果：通过" in body
    office = _offices(ws)["QX002"]
    assert office["status"] == "ok" and office["current"]["filename"] == "QX002_发改局.xlsx"
    assert office["versions"] == 5
    # The same files for an office with nothing usable yet: it stays "unusable", and is told so.
    (item,) = receive_file(ws, ole + b"\1", _arrival("教育局.xls", "2026-01-20 10:00", "jyj@qingxi.example"))
    assert _offices(ws)["QX003"]["status"] == "unusable"
    assert "你单位目前还没有可以采用的填报表" in _body(_draft(item.draft))


def test_the_workspaces_own_outbox_and_archive_cannot_be_received(ws, mail_dir, tmp_path):
    receive(ws, [str(mail_dir / "round1")])
    before = _offices(ws)
    for folder in (ws.outbox, ws.outbox / "drafts", ws.archive, ws.path):
        result = runner.invoke(app, ["receive", str(ws.path), str(folder)])
        assert result.exit_code == 2 and "不能收取工作区自己的存档或发件箱" in result.output, result.output
    # Copied elsewhere, our drafts are still ours: skipped, not received as the offices' mail.
    copy = tmp_path / "copied"
    shutil.copytree(ws.outbox / "drafts", copy)
    result = runner.invoke(app, ["receive", str(ws.path), str(copy)])
    assert result.exit_code == 0 and result.output.count("已跳过本工作区起草或发出的邮件") == 13, result.output
    # A feedback workbook sent back unchanged is a re-send of the version it was made for.
    with ws.db() as conn:
        fb = conn.execute("SELECT feedback_path FROM submissions WHERE office_code='QX011'").fetchone()[0]
    (item,) = receive_file(ws, (ws.path / fb).read_bytes(), _arrival("回复.xlsx", "2026-02-04 08:00", "ylx@qingxi.example"))
    assert item.status == "duplicate" and "反馈工作簿" in item.note
    assert _offices(ws) == before


def test_a_corrected_feedback_workbook_is_a_valid_submission(ws, mail_dir, tmp_path):
    receive(ws, [str(mail_dir / "round1")])
    with ws.db() as conn:
        fb = conn.execute("SELECT feedback_path FROM submissions WHERE office_code='QX011'").fetchone()[0]
    wb = openpyxl.load_workbook(ws.path / fb)
    for sheet, cells in (("表二 主动公开", ("B4", "C4", "D4")), ("表四 复议诉讼", ("A5", "B5"))):
        for cell in cells:
            wb[sheet][cell].value = 0
    corrected = tmp_path / "QX011_修改后.xlsx"
    wb.save(corrected)  # as a clerk's spreadsheet program saves it
    (item,) = receive(ws, [str(corrected)], received_at=beijing("2026-02-04 10:00")).items
    assert (item.office_code, item.status) == ("QX011", "ok")
    office = _offices(ws)["QX011"]
    assert office["status"] == "ok" and office["versions"] == 2


# -- 3. Receipt time ---------------------------------------------------------------------------

def test_receipt_time_is_never_the_files_modification_time(ws, tmp_path):
    import os

    first, second = tmp_path / "v1" / "教育局.xlsx", tmp_path / "v2" / "教育局.xlsx"
    for path, data in ((first, _workbook_of("QX003")), (second, _workbook_of("QX003", values={"t3.new.natural": 3}))):
        path.parent.mkdir()
        path.write_bytes(data)
    os.utime(second, (1_600_000_000, 1_600_000_000))  # copied with an old modification time (2020)
    receive(ws, [str(first)])
    receive(ws, [str(second)])
    office = _offices(ws)["QX003"]
    assert office["current"]["sha256"] == hashlib.sha256(second.read_bytes()).hexdigest()
    # --received-at on the command line
    third = tmp_path / "v3.xlsx"
    third.write_bytes(_workbook_of("QX004"))
    result = runner.invoke(app, ["receive", str(ws.path), str(third), "--received-at", "2026-01-20T09:30"])
    assert result.exit_code == 0, result.output
    assert _offices(ws)["QX004"]["received_at"] == "2026-01-20T01:30:00+00:00"
    bad = runner.invoke(app, ["receive", str(ws.path), str(third), "--received-at", "昨天"])
    assert bad.exit_code == 2 and "YYYY-MM-DDTHH:MM" in bad.output


def test_dates_in_the_future_or_before_the_year_are_flagged(ws):
    (future,) = receive_file(ws, _workbook_of("QX003"), _arrival("a.xlsx", "2030-01-01 00:00", "jyj@qingxi.example"))
    (early,) = receive_file(ws, _workbook_of("QX004"), _arrival("b.xlsx", "2024-06-01 00:00", "gaj@qingxi.example"))
    with ws.db() as conn:
        rows = {r["id"]: r for r in conn.execute("SELECT * FROM submissions")}
    assert rows[future.submission_id]["time_flag"] == "future"
    assert rows[future.submission_id]["received_at"] < "2027"  # the time of recording stands in
    assert rows[early.submission_id]["time_flag"] == "before-year"
    history = _offices(ws)["QX003"]["history"]
    assert "邮件日期在未来" in history[0]["detail"]


def test_receive_office_assigns_files_nobody_can_identify(ws, tmp_path):
    stray = tmp_path / "报表.xlsx"
    stray.write_bytes(_workbook_of("QX007", office={"name": None, "code": None}))
    data = openpyxl.load_workbook(stray)  # the office fields are blank
    assert data["单位信息"]["B4"].value is None
    (item,) = receive(ws, [str(stray)]).items
    assert item.office_code is None
    assert runner.invoke(app, ["receive", str(ws.path), str(stray), "--office", "QX999"]).exit_code == 2
    result = runner.invoke(app, ["receive", str(ws.path), str(stray), "--office", "QX007"])
    assert result.exit_code == 0 and "已指定为青溪县住房和城乡建设局" in result.output, result.output
    assert _offices(open_workspace(ws.path))["QX007"]["versions"] == 1


# -- 4. Review decisions -----------------------------------------------------------------------

def test_return_resubmit_accept_merge_from_the_command_line(tmp_path, mail_dir):
    ws_path = str(tmp_path / "ws")
    cli = lambda *args: runner.invoke(app, list(args))  # noqa: E731
    assert cli("init", ws_path, "--roster", str(ROSTER), "--year", "2025", "--name", "青溪县",
               "--deadline", "2026-01-31", "--sender", "zwgk@qingxi.example").exit_code == 0
    assert cli("settings", ws_path, "reviewer", "李四").exit_code == 0
    assert cli("receive", ws_path, str(mail_dir / "round1")).exit_code == 0

    # Errors cannot be accepted; warnings need a reason.
    refused = cli("accept", ws_path, "QX011")
    assert refused.exit_code == 1 and "有5项错误，不能审核通过" in refused.output
    refused = cli("accept", ws_path, "QX005")
    assert refused.exit_code == 1 and "每项都要有接受的理由" in refused.output and "规章" in refused.output
    assert cli("return", ws_path, "QX005", "--reason", "  ").exit_code == 2

    returned = cli("return", ws_path, "QX005", "--reason", "县直部门没有规章制定权，规章各项应为0")
    assert returned.exit_code == 0 and "第1次退回" in returned.output, returned.output
    ws = open_workspace(ws_path)
    office = _offices(ws)["QX005"]
    assert (office["review"], office["round"], office["decision_reason"]) == (
        "returned", 2, "县直部门没有规章制定权，规章各项应为0")
    with ws.db() as conn:
        d = conn.execute("SELECT * FROM decisions").fetchone()
        sub = conn.execute("SELECT sha256 FROM submissions WHERE id=?", (d["submission_id"],)).fetchone()
        path = conn.execute("SELECT path FROM outgoing WHERE kind='return'").fetchone()[0]
    assert (d["action"], d["reviewer"], d["sha256"]) == ("return", "李四", sub["sha256"])
    msg = _draft(ws.path / path)
    assert "退回原因：县直部门没有规章制定权，规章各项应为0" in _body(msg)
    (att,) = msg.iter_attachments()
    feedback = openpyxl.load_workbook(io.BytesIO(att.get_content()))
    assert feedback["表二 主动公开"]["B4"].value == 2 and feedback["表二 主动公开"]["B4"].comment is not None

    # The office resubmits; the new version waits for review; it is clean and is accepted.
    assert cli("receive", ws_path, str(mail_dir / "round2")).exit_code == 0
    office = _offices(ws)["QX005"]
    assert (office["status"], office["review"], office["round"], office["versions"]) == ("ok", "pending", 2, 2)
    assert cli("accept", ws_path, "QX005").exit_code == 0
    # QX012 explained its warning in the workbook: accepted with that explanation as the reason.
    accepted = cli("accept", ws_path, "QX012")
    assert accepted.exit_code == 0 and "接受提醒1项" in accepted.output, accepted.output
    office = _offices(ws)["QX012"]
    assert office["review"] == "accepted" and office["decision_reason"].startswith("结转下年度的申请均为12月下旬收到的")
    assert office["accepted_warnings"][0]["code"] == "carryover-share"
    assert office["accepted_warnings"][0]["source"] == "office"

    out = tmp_path / "全县汇总.xlsx"
    merged = cli("merge", ws_path, "-o", str(out))
    assert merged.exit_code == 0, merged.output
    result = merge(ws, out)
    # Exactly the accepted and the clean offices.
    assert {o.code for o in result.included} == {"QX001", "QX002", "QX003", "QX004", "QX005", "QX007", "QX010",
                                                 "QX012"}
    assert {o.code: o.reason for o in result.excluded}["QX009"] == "有提醒，尚未审核通过"  # copies QX010's 五
    assert {o.code: o.reason for o in result.excluded}["QX011"] == "有错误"
    findings = openpyxl.load_workbook(out)["问题清单"]
    rows = [[c.value for c in r] for r in findings.iter_rows(min_row=2)]
    qx012 = [r for r in rows if r[0] == "QX012"]
    assert qx012 and qx012[0][6].startswith("已接受（单位说明：结转下年度的申请")
    completeness = {r[0].value: r for r in openpyxl.load_workbook(out)["报送情况"].iter_rows(min_row=2) if r[0].value}
    assert completeness["QX005"][8].value == "审核通过"


def test_accepted_is_locked_until_reopened(ws, mail_dir):
    receive(ws, [str(mail_dir / "round1")])
    d = accept_submission(ws, "QX003", now=beijing("2026-01-21 09:00"))
    assert d.action == "accept" and d.warnings == []
    with pytest.raises(DecisionRefused, match="已审核通过并锁定"):
        return_submission(ws, "QX003", "再看看")
    newer = _workbook_of("QX003", values={"t3.new.natural": 9})
    (item,) = receive_file(ws, newer, _arrival("教育局_更新.xlsx", "2026-01-25 09:00", "jyj@qingxi.example"))
    assert "审核通过并锁定" in _body(_draft(item.draft))
    office = _offices(ws)["QX003"]
    assert office["review"] == "accepted" and office["current"]["filename"] == "QX003_青溪县教育局_2025.xlsx"
    assert office["received_after_review"] == ["教育局_更新.xlsx"]
    assert "审核后又收到" in workspace_status(ws, now=NOW).to_text()
    result = runner.invoke(app, ["reopen", str(ws.path), "QX003", "--reason", "单位更正了数据"])
    assert result.exit_code == 0, result.output
    office = _offices(ws)["QX003"]
    assert office["review"] == "pending" and office["current"]["filename"] == "教育局_更新.xlsx"
    with pytest.raises(DecisionRefused, match="没有审核通过"):
        reopen(ws, "QX003")
    with pytest.raises(DecisionRefused, match="还没有报送"):
        accept_submission(ws, "QX006")


def test_merge_policy_setting_and_flags(ws, mail_dir, tmp_path):
    receive(ws, [str(mail_dir / "round1")])
    base = {o.code for o in merge(ws, tmp_path / "a.xlsx").included}
    assert "QX005" not in base and "QX009" not in base and "QX012" not in base
    ws.set("merge_policy", "include-warnings")
    assert {o.code for o in merge(ws, tmp_path / "b.xlsx").included} == base | {"QX005", "QX009", "QX012"}
    return_submission(ws, "QX005", "规章应为0")
    assert "QX005" not in {o.code for o in merge(ws, tmp_path / "c.xlsx", include_errors=True).included}


# -- 6. Reminders, 7. drafts and sending -------------------------------------------------------

def test_reminders_go_to_missing_unusable_and_returned_offices(ws, mail_dir, smtp_server):
    ws.set("sender", "zwgk@qingxi.example")
    receive(ws, [str(mail_dir / "round1")])
    return_submission(ws, "QX011", "表二、表四不能填“/”或空白")
    result = remind(ws, now=NOW)
    assert [code for code, _, _ in result.drafted] == ["QX006", "QX008", "QX011"]
    msgs = {code: _draft(path) for code, _, path in result.drafted}
    for code, msg in msgs.items():
        assert (msg["X-Unsent"], msg["From"], msg["X-Xxgk"]) == ("1", "zwgk@qingxi.example", "remind")
        assert "报送截止日期为2026年1月31日" in _body(msg) and "已超过报送截止日期" in _body(msg)
    (att,) = msgs["QX006"].iter_attachments()
    template = openpyxl.load_workbook(io.BytesIO(att.get_content()))
    assert template["单位信息"]["B4"].value == "青溪县生态环境分局" and template["单位信息"]["B7"].value == 2025
    assert "无法采用（使用的是国办公开办函〔2019〕60号格式的模板" in _body(msgs["QX008"])
    (att,) = msgs["QX011"].iter_attachments()
    assert att.get_filename().endswith(".校验结果.xlsx") and "原因：表二、表四不能填“/”或空白" in _body(msgs["QX011"])
    # A second run replaces the unsent reminders instead of piling them up.
    remind(ws, now=NOW)
    with ws.db() as conn:
        live = conn.execute("SELECT COUNT(*) FROM outgoing WHERE kind='remind' AND superseded_at IS NULL").fetchone()[0]
    assert live == 3 and len(list(ws.drafts.glob("*催报.eml"))) == 3
    # Sending records each message.
    port, sink = smtp_server
    use_smtp(ws, port)
    result = runner.invoke(app, ["remind", str(ws.path), "--send"])
    assert result.exit_code == 0 and "发出3封" in result.output, result.output
    assert sorted(m[1][0] for m in sink.messages) == ["scjgj@qingxi.example", "sthj@qingxi.example",
                                                       "ylx@qingxi.example"]
    with ws.db() as conn:
        assert conn.execute("SELECT COUNT(*) FROM outgoing WHERE kind='remind' AND sent_at IS NOT NULL").fetchone()[0] == 3


def test_drafts_open_as_drafts_and_sending_is_recorded(ws, mail_dir, smtp_server):
    ws.set("sender", "zwgk@qingxi.example")
    receive(ws, [str(mail_dir / "round1")])
    drafts = sorted(ws.drafts.glob("*.eml"))
    for path in drafts:
        msg = _draft(path)
        assert msg["From"] == "zwgk@qingxi.example" and msg["To"] and msg["Date"] and msg["Message-ID"]
        assert msg["X-Unsent"] == "1"
    assert {o["reply_sent"] for o in _offices(ws).values() if o["status"] != "missing"} == {False}
    # Drafted, not sent: the status says so (not "未反馈", which reads as if nothing had been written).
    before = workspace_status(ws, now=NOW).to_text()
    assert "反馈未发出" in before and "未反馈" not in before
    port, sink = smtp_server
    use_smtp(ws, port)
    result = runner.invoke(app, ["send", str(ws.path)])
    assert result.exit_code == 0 and "发出13封邮件" in result.output, result.output
    assert len(sink.messages) == 13
    offices = _offices(ws)
    assert offices["QX004"]["reply_sent"] is True
    text = workspace_status(ws, now=NOW).to_text()
    assert "已反馈" in text and "反馈未发出" not in text
    assert runner.invoke(app, ["send", str(ws.path)]).output.strip() == "没有尚未发出的邮件"


# -- 8. Identity and settings ------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--year", "20255"], "不在可收集的范围内"),
    (["--year", "2018"], "不在可收集的范围内"),
    (["--year", "2025", "--deadline", "2026-02-30"], "真实的日期"),
    (["--year", "2025", "--deadline", "2025-01-31"], "早于2025年度结束"),
    (["--year", "2025", "--sender", "不是邮箱"], "应为邮箱地址"),
])
def test_init_refuses_impossible_years_and_dates(tmp_path, args, message):
    result = runner.invoke(app, ["init", str(tmp_path / "ws"), "--roster", str(ROSTER), "--name", "青溪县", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_init_needs_the_collecting_units_name(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "ws"), "--roster", str(ROSTER), "--year", "2025"])
    assert result.exit_code == 2 and "--name" in result.output


def test_settings_show_set_and_validate(ws):
    path = str(ws.path)
    shown = runner.invoke(app, ["settings", path])
    assert shown.exit_code == 0 and "汇总单位名称：青溪县" in shown.output and "报送截止日期：2026-01-31" in shown.output
    assert runner.invoke(app, ["settings", path, "deadline", "2026-02-15"]).exit_code == 0
    assert open_workspace(ws.path).deadline.isoformat() == "2026-02-15"
    for key, value, message in [("deadline", "2026-13-01", "真实的日期"), ("smtp.port", "abc", "端口号"),
                                ("smtp.security", "tls", "只能是"), ("merge_policy", "all", "只能是"),
                                ("year", "2024", "不能修改"), ("colour", "red", "没有“colour”这一设置"),
                                ("name", "", "不能为空")]:
        result = runner.invoke(app, ["settings", path, key, value])
        assert result.exit_code == 2 and message in result.output, (key, result.output)
    assert runner.invoke(app, ["settings", path, "code"]).output.startswith("code")
    assert json.loads((ws.path / "settings.json").read_text(encoding="utf-8"))["deadline"] == "2026-02-15"


# -- 9. Status -----------------------------------------------------------------------------------

def _index_at(line: str, width: int) -> int:
    """The index of the character that starts at display column ``width``."""
    seen = 0
    for i, ch in enumerate(line):
        if seen >= width:
            return i
        seen += display_width(ch)
    return len(line)


def test_status_table_aligns_chinese_names(ws, mail_dir):
    receive(ws, [str(mail_dir / "round1")])
    lines = workspace_status(ws, now=NOW).to_text().splitlines()
    header, rows = lines[1], lines[2:14]
    assert [r.split()[0] for r in rows] == [f"QX{i:03d}" for i in range(1, 13)]
    for column in ("单位名称", "状态", "收到时间", "版本"):
        start = display_width(header[:header.index(column)])
        for row in rows:
            # Each row's cell starts at the header's display column, right after the padding.
            i = _index_at(row, start)
            assert row[i - 1] == " " and row[i] != " ", (column, row)


def test_status_json_from_the_cli_equals_the_library(ws, mail_dir):
    receive(ws, [str(mail_dir / "round1")])
    result = runner.invoke(app, ["status", str(ws.path), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    library = workspace_status(ws).to_dict()
    for d in (data, library):
        d["summary"].pop("generated_at")
    assert data["offices"] == json.loads(json.dumps(library["offices"], ensure_ascii=False))
    assert data["summary"] == library["summary"]


# -- 5. The office's explanation, and templates already sent out ---------------------------------

def test_explained_warnings_show_as_explained(tmp_path):
    from pipeline.check import check_paths

    path = ROOT / "samples" / "QX012_青溪县东城街道办事处_2025.xlsx"
    report = check_paths([path], annotate_dir=tmp_path)
    result = report.files[0]
    assert result.status == "warnings" and result.explanation.startswith("结转下年度的申请")
    data = report.to_dict()["files"][0]
    assert data["explanation"] == result.explanation
    assert [f["explained"] for f in data["findings"]] == [True]
    assert "提醒（已说明）" in report.to_text() and "单位情况说明：结转下年度的申请" in report.to_text()
    sheet = openpyxl.load_workbook(result.annotated)["校验结果"]
    assert sheet["A3"].value.startswith("单位情况说明：") and sheet["B5"].value == "提醒（已说明）"


@pytest.mark.parametrize("name", ["v2021.1_QX012.xlsx", "v2019.1_seed.xlsx"])
def test_workbooks_of_the_previous_template_version_still_read(name):
    from pipeline.check import check_paths

    result = check_paths([ROOT / "tests" / "fixtures" / name]).files[0]
    assert result.readable
    codes = {f.code for f in result.findings}
    assert not codes & {"template-outdated", "template-spec-changed", "structure-label-changed"}, codes
    assert result.explanation is None


def test_a_first_version_ledger_is_brought_up_to_date(tmp_path):
    """A workspace made by the previous release: its ledger gains decisions and outgoing mail, nothing lost."""
    ws = new_ws(tmp_path / "ws")
    ledger = ws.ledger_path
    ledger.unlink()
    conn = sqlite3.connect(ledger)
    conn.executescript("""
    CREATE TABLE offices(code TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT, email TEXT);
    CREATE TABLE files(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, archive_path TEXT NOT NULL, stored_at TEXT NOT NULL);
    CREATE TABLE submissions(id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, source_key TEXT NOT NULL,
        filename TEXT NOT NULL, source TEXT NOT NULL, sender TEXT, message_id TEXT, received_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL, duplicate_of INTEGER, office_code TEXT, identified_by TEXT,
        status TEXT NOT NULL DEFAULT 'pending', errors INTEGER, warnings INTEGER, format TEXT, year INTEGER,
        office_json TEXT, values_json TEXT, findings_json TEXT, feedback_path TEXT, error TEXT, UNIQUE(sha256, source_key));
    CREATE TABLE messages(message_key TEXT PRIMARY KEY, sender TEXT, subject TEXT, received_at TEXT,
        attachments INTEGER, skipped INTEGER, recorded_at TEXT NOT NULL);
    CREATE TABLE drafts(id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL UNIQUE, recipient TEXT,
        path TEXT NOT NULL, created_at TEXT NOT NULL, sent_at TEXT);
    INSERT INTO offices VALUES ('QX003', '青溪县教育局', '县直部门', 'jyj@qingxi.example');
    INSERT INTO files VALUES ('aa', 1, 'archive/aa/aa.xlsx', '2026-01-20T02:00:00+00:00');
    INSERT INTO submissions(id, sha256, source_key, filename, source, sender, received_at, recorded_at, office_code,
        status, error) VALUES (1, 'aa', 'k', 'x.xlsx', 's', 'jyj@qingxi.example', '2026-01-20T02:00:00+00:00',
        '2026-01-20T02:00:00+00:00', 'QX003', 'crashed', 'ValueError: x');
    INSERT INTO drafts VALUES (1, 1, 'jyj@qingxi.example', 'outbox/drafts/00001_x.eml', '2026-01-20T02:00:01+00:00',
        '2026-01-20T03:00:00+00:00');
    """)
    conn.close()
    ws = open_workspace(ws.path)
    with ws.db() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == ledger_module.SCHEMA_VERSION
        row = conn.execute("SELECT status, reason FROM submissions").fetchone()
        sent = conn.execute("SELECT kind, sent_at FROM outgoing").fetchone()
    assert tuple(row) == ("unusable", "ValueError: x") and tuple(sent) == ("reply", "2026-01-20T03:00:00+00:00")
    office = _offices(ws)["QX003"]
    assert office["status"] == "unusable" and office["versions"] == 1
