"""The coordinator's workspace: receive by file and email, status, merge; real IMAP and SMTP on loopback."""

import hashlib
import json
import mailbox
import random
from email import policy
from email.parser import BytesParser
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from pipeline import Filling, get_spec, write_workbook
from pipeline.check import check_paths
from pipeline.cli import app
from pipeline.fill import consistent_prose, consistent_values, totals
from pipeline.mail import parse_message, safe_filename
from pipeline.merge import merge
from pipeline.reader import read_submission
from pipeline.samples import write_sample_mail
from pipeline.intake import receive
from pipeline.status import workspace_status
from pipeline.workspace import init_workspace, open_workspace

from conftest import beijing, imap_upload, use_smtp
from helpers import figure_findings

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def sample_mail(tmp_path_factory):
    out = tmp_path_factory.mktemp("mail")
    return sorted(write_sample_mail(out))


NOW = beijing("2026-02-04 09:00")  # after the deadline: offices still without a report are late


def new_ws(path):
    return init_workspace(path, ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="青溪县")


@pytest.fixture
def ws(tmp_path):
    return new_ws(tmp_path / "ws")


def _summary(ws):
    s = workspace_status(ws, now=NOW)
    return {o["code"]: (o["status"], o["versions"], o["late"]) for o in s.offices}


EXPECTED = {
    "QX001": ("ok", 1, False), "QX002": ("ok", 1, False), "QX003": ("ok", 1, False),
    "QX004": ("ok", 2, False),  # corrected on 01-29: the correction is current
    "QX005": ("warnings", 1, False), "QX006": ("missing", 0, True), "QX007": ("ok", 1, False),
    "QX008": ("unusable", 1, True),  # a 2019-format workbook for 2025: never current
    "QX009": ("warnings", 1, True),  # its section 五 copies QX010's, received before it: 与其他单位雷同
    "QX010": ("ok", 1, False),
    "QX011": ("errors", 1, True), "QX012": ("warnings", 1, False),
}


def test_attachment_names_in_every_encoding(sample_mail):
    names = {p.name: [a.filename for a in parse_message(p.read_bytes()).attachments] for p in sample_mail}
    assert names["02_QX002.eml"] == ["QX002_青溪县发展和改革局_2025.xlsx"]  # RFC 2047, GBK
    assert names["03_QX003.eml"] == ["QX003_青溪县教育局_2025.xlsx", "QX003_青溪县教育局_2025_盖章件.pdf"]  # raw GBK
    assert names["05_QX005.eml"] == ["QX005_青溪县自然资源局_2025.xlsx"]  # RFC 2231, gbk''
    assert names["08_QX009.eml"] == ["QX009_青溪县城关镇人民政府_2025.xlsx"]  # RFC 2047, UTF-8
    assert names["14_QX006_无附件.eml"] == []


@pytest.mark.parametrize("name,safe", [("../../etc/passwd", "passwd"), ("/abs/表.xlsx", "表.xlsx"),
                                       ("a\\..\\b.xlsx", "b.xlsx"), ("..", "附件"), ("x\x00y.xlsx", "x_y.xlsx")])
def test_attachment_names_cannot_leave_the_workspace(name, safe):
    assert safe_filename(name) == safe


def test_receive_eml_folder(ws, sample_mail):
    result = receive(ws, [str(sample_mail[0].parent)])
    assert _summary(ws) == EXPECTED
    assert [i.status for i in result.items].count("duplicate") == 1
    assert [i.filename for i in result.items if i.status == "attachment"] == [
        "QX003_青溪县教育局_2025_盖章件.pdf", "QX001_青溪县人民政府办公室_2025_盖章件.pdf"]
    assert result.mail_notes == ["邮件没有附件：sthj@qingxi.example：2025年度政府信息公开工作年度报告"]
    # Every received file is in the archive under its sha256, unchanged: 12 workbooks, 2 PDFs.
    with ws.db() as conn:
        rows = conn.execute("SELECT sha256, archive_path FROM files").fetchall()
    assert len(rows) == 14
    for row in rows:
        assert hashlib.sha256((ws.path / row["archive_path"]).read_bytes()).hexdigest() == row["sha256"]
    # A second run changes nothing.
    again = receive(ws, [str(sample_mail[0].parent)])
    assert {i.status for i in again.items} == {"already"}
    with ws.db() as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 15
    assert _summary(ws) == EXPECTED


def test_reply_drafts(ws, sample_mail):
    receive(ws, [str(sample_mail[0].parent)])
    drafts = sorted((ws.outbox / "drafts").glob("*.eml"))
    # One per received version, none for the identical re-send, one for the email with only a PDF.
    assert len(drafts) == 13
    msg = BytesParser(policy=policy.default).parsebytes(next(d for d in drafts if "云岭乡" in d.name).read_bytes())
    assert msg["To"] == "ylx@qingxi.example"
    assert "有错误" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert "共有错误5项" in body and "表二 主动公开!B4" in body
    (att,) = list(msg.iter_attachments())
    assert att.get_filename().endswith(".校验结果.xlsx") and "云岭乡" in att.get_filename()
    wb = openpyxl.load_workbook(__import__("io").BytesIO(att.get_content()))
    assert wb.sheetnames[0] == "校验结果"


def test_receive_mbox_and_maildir(tmp_path, sample_mail):
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    md = mailbox.Maildir(tmp_path / "Maildir")
    for p in sample_mail:
        box.add(p.read_bytes())
        md.add(p.read_bytes())
    box.flush()
    for source in (tmp_path / "inbox.mbox", tmp_path / "Maildir"):
        ws = new_ws(tmp_path / f"ws-{source.name}")
        receive(ws, [str(source)])
        assert _summary(ws) == EXPECTED


def test_receive_files_and_unknown_offices(ws, tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, random.Random(1), office_kind="县直部门")
    # No office fields, no sender: the file name names the office.
    prose = consistent_prose(spec, values, 2025)
    named = write_workbook(spec, tmp_path / "青溪县教育局年报.xlsx", Filling(office={"year": 2025}, values=values, prose=prose))
    stranger = write_workbook(spec, tmp_path / "某某单位.xlsx", Filling(office={"year": 2025, "name": "外县某局"},
                                                                     values=values, prose=prose))
    (tmp_path / "empty.xlsx").write_bytes(b"")
    result = receive(ws, [str(named), str(stranger), str(tmp_path / "empty.xlsx")])
    assert [(i.office_code, i.status) for i in result.items] == [("QX003", "warnings"), (None, "warnings"), (None, "unusable")]
    unknown = workspace_status(ws).unknown
    assert [u["filename"] for u in unknown] == ["某某单位.xlsx", "empty.xlsx"]


def test_status_json(ws, sample_mail):
    receive(ws, [str(sample_mail[0].parent)])
    out = runner.invoke(app, ["status", str(ws.path), "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    office = data["offices"][0]
    assert set(office) >= {"code", "name", "kind", "status", "received_at", "late", "versions", "review", "round",
                           "decision_reason", "accepted_warnings", "attachments", "reply_sent"}
    assert office["review"] == "pending" and office["round"] == 1 and office["reply_sent"] is False
    assert [a["filename"] for a in office["attachments"]] == ["QX001_青溪县人民政府办公室_2025_盖章件.pdf"]
    # Today is past the deadline: the missing office and the one with only an unusable file are late too.
    assert data["summary"]["submitted"] == 11 and data["summary"]["missing"] == 1 and data["summary"]["late"] == 4


def _office_values(path):
    sub = read_submission(path)
    return sub.spec, {f.id: sub.raw[f.id] for f in sub.spec.inputs()}


def test_merge_totals_equal_the_offices(ws, sample_mail, tmp_path):
    receive(ws, [str(sample_mail[0].parent)])
    result = merge(ws, tmp_path / "rollup.xlsx")
    included = {o.code for o in result.included}
    # Clean versions only: warnings nobody accepted stay out, like errors.
    assert included == {c for c, (s, _, _) in EXPECTED.items() if s == "ok"}
    assert {o.code: o.reason for o in result.excluded} == {
        "QX005": "有提醒，尚未审核通过", "QX006": "未报送",
        "QX008": "报送的文件无法采用：使用的是国办公开办函〔2019〕60号格式的模板，2025年度报告应使用国办公开办函〔2021〕30号格式的模板",
        "QX009": "有提醒，尚未审核通过", "QX011": "有错误", "QX012": "有提醒，尚未审核通过"}
    # Independently: read each included office's archived current workbook and add up.
    spec = get_spec("2021")
    expected = {f.id: 0 for f in spec.inputs()}
    for o in result.included:
        _, values = _office_values(ws.path / o.submission["archive_path"])
        for k, v in values.items():
            expected[k] += v
    rollup = read_submission(result.path)
    assert rollup.identified_by == "metadata"
    for f in spec.inputs():
        assert rollup.raw[f.id] == pytest.approx(expected[f.id]), f.id
    assert figure_findings(check_paths([result.path]).files[0]) == []
    # The CSV has one row per office, every figure id a column.
    rows = result.csv_path.read_text(encoding="utf-8").splitlines()
    assert rows[0].split(",")[:5] == ["code", "name", "kind", "status", "included"]
    assert len(rows) == 1 + 12
    wb = openpyxl.load_workbook(result.path, data_only=True)
    for name in spec.rollup.sheets.values():
        assert name in wb.sheetnames
    by_kind = wb[spec.rollup.sheets["by_kind"]]
    rows = list(by_kind.iter_rows(values_only=True))
    total_row = [r for r in rows if r[0] == "合计"][0]
    assert total_row[1] == len(included)
    ids = rows[3]  # the hidden row of figure ids under the official labels
    assert by_kind.row_dimensions[4].hidden
    every = totals(spec, expected)
    for col, fid in enumerate(ids):
        if fid:  # each figure column (a headline figure has two) holds its total
            assert total_row[col] == pytest.approx(every[fid]), fid


def test_merge_include_errors_and_atomic_output(ws, sample_mail, tmp_path):
    receive(ws, [str(sample_mail[0].parent)])
    out = tmp_path / "rollup.xlsx"
    merge(ws, out)
    before = out.read_bytes()
    result = merge(ws, out, include_errors=True)
    assert {"QX005", "QX009", "QX011", "QX012"} <= {o.code for o in result.included}
    assert {o.code for o in merge(ws, out, include_warnings=True).included} >= {"QX005", "QX009", "QX012"}
    assert out.read_bytes() != before
    assert not list(tmp_path.glob(".*.tmp"))


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), order=st.permutations(range(4)))
def test_merge_properties(tmp_path_factory, seed, order):
    """Totals are the sum of the offices; every rule holding for each office holds for the rollup;
    the order of receipt does not matter; a resubmission replaces the office's figures exactly once."""
    tmp = tmp_path_factory.mktemp("prop")
    spec = get_spec("2021")
    rng = random.Random(seed)
    roster = tmp / "roster.csv"
    kinds = ["县直部门", "乡镇", "街道", "县直部门"]
    roster.write_text("单位代码,单位名称,单位类型,联系邮箱\n" + "".join(
        f"P{i},单位{i},{kinds[i]},p{i}@x.example\n" for i in range(4)), encoding="utf-8")
    offices = []
    for i in range(4):
        values = consistent_values(spec, rng, office_kind=kinds[i])
        path = write_workbook(spec, tmp / f"P{i}.xlsx", Filling(
            office={"name": f"单位{i}", "kind": kinds[i], "code": f"P{i}", "year": 2025, "filler": "x",
                    "phone": "1", "date": "2026-01-01"}, values=values,
            prose=consistent_prose(spec, values, 2025, f"单位{i}", i)))
        offices.append((path, values))
    revised = consistent_values(spec, rng, office_kind=kinds[0])
    resub = write_workbook(spec, tmp / "P0-v2.xlsx", Filling(
        office={"name": "单位0", "kind": kinds[0], "code": "P0", "year": 2025, "filler": "x", "phone": "1",
                "date": "2026-01-02"}, values=revised, prose=consistent_prose(spec, revised, 2025, "单位0", 0)))
    rollups = []
    for run, sequence in enumerate([list(range(4)), list(order)]):
        ws = init_workspace(tmp / f"ws{run}", roster, 2025, name="测试县")
        for i in sequence:
            receive(ws, [str(offices[i][0])], received_at=beijing("2026-01-10 09:00"))
        receive(ws, [str(resub)], received_at=beijing("2026-01-11 09:00"))
        result = merge(ws, tmp / f"rollup{run}.xlsx")
        rollups.append(result)
        assert figure_findings(check_paths([result.path]).files[0]) == []
    expected = {f.id: sum(v[f.id] for v in [revised] + [o[1] for o in offices[1:]]) for f in spec.inputs()}
    for result in rollups:
        for fid, value in expected.items():
            assert result.totals[fid] == pytest.approx(value), fid
    assert rollups[0].totals == rollups[1].totals


# -- real servers on loopback ---------------------------------------------------------------

def test_receive_from_imap(ws, sample_mail, imap_server):
    url = imap_upload(imap_server, [p.read_bytes() for p in sample_mail])
    result = runner.invoke(app, ["receive", str(ws.path), url], env={"XXGK_IMAP_PASSWORD": "s3cret-密码"})
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert _summary(open_workspace(ws.path)) == EXPECTED
    with ws.db() as conn:  # received when the server received them (INTERNALDATE), not when fetched
        assert {r[0] for r in conn.execute("SELECT time_source FROM submissions")} == {"imap"}
    bad = runner.invoke(app, ["receive", str(ws.path), url], env={"XXGK_IMAP_PASSWORD": "wrong"})
    assert bad.exit_code == 1 and "无法登录邮箱" in bad.output and "wrong" not in bad.output


def test_send_replies_through_smtp(ws, sample_mail, smtp_server):
    port, sink = smtp_server
    use_smtp(ws, port)
    result = runner.invoke(app, ["receive", str(ws.path), str(sample_mail[0].parent), "--send"])
    assert result.exit_code == 0, result.output
    assert "起草13封回复邮件，发出13封" in result.output
    assert len(sink.messages) == 13
    frm, to, content = next(m for m in sink.messages if m[1] == ["dcjd@qingxi.example"])
    assert frm == "zwgk@qingxi.example"
    msg = BytesParser(policy=policy.default).parsebytes(content)
    assert "东城街道办事处" in msg["Subject"] and msg["From"] == "zwgk@qingxi.example"
    assert msg["X-Unsent"] is None  # the draft marker does not go out
    assert [a.get_filename() for a in msg.iter_attachments()] == ["QX012_青溪县东城街道办事处_2025.校验结果.xlsx"]
    with open_workspace(ws.path).db() as conn:
        sent = conn.execute("SELECT recipient, message_id, sent_at FROM outgoing WHERE sent_at IS NOT NULL").fetchall()
        assert conn.execute("SELECT COUNT(*) FROM outgoing WHERE sent_at IS NULL").fetchone()[0] == 0
    assert len(sent) == 13 and all(r["message_id"] and r["recipient"] for r in sent)
    assert msg["Message-ID"] in {r["message_id"] for r in sent}
    assert {o["code"]: o["reply_sent"] for o in workspace_status(ws).offices}["QX012"] is True


def test_resend_recorded_before_the_original_keeps_the_first_arrival(ws, sample_mail):
    from pipeline.workspace import local_time

    resend = next(p for p in sample_mail if "重发" in p.name)
    original = next(p for p in sample_mail if p.name == "02_QX002.eml")
    receive(ws, [str(resend)])
    receive(ws, [str(original)])
    office = next(o for o in workspace_status(ws).offices if o["code"] == "QX002")
    assert local_time(office["received_at"]).strftime("%m-%d %H:%M") == "01-15 16:05"
    assert office["versions"] == 1
