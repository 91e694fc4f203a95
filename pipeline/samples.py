"""The bundled samples: a fictional county's roster and its offices' filled workbooks.

Reproducible (seeded). Most offices are consistent; a few carry the mistakes real
reports make, so that the demo and tests have something to find. The seed report
(a real 街道, 2020) is entered into a 2019-format workbook from
``sample_data/seed_2020.yaml``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from .fill import consistent_prose, consistent_values, totals
from .fsutil import atomic_write_text
from .spec import Spec, format_for_year, get_spec
from .template import Filling, office_filename, roster_to_csv, write_workbook

SAMPLE_YEAR = 2025
COUNTY = "青溪县"  # fictional

ROSTER: list[dict[str, str]] = [
    {"code": "QX001", "name": "青溪县人民政府办公室", "kind": "县政府办公室", "email": "zfb@qingxi.example"},
    {"code": "QX002", "name": "青溪县发展和改革局", "kind": "县直部门", "email": "fgj@qingxi.example"},
    {"code": "QX003", "name": "青溪县教育局", "kind": "县直部门", "email": "jyj@qingxi.example"},
    {"code": "QX004", "name": "青溪县公安局", "kind": "县直部门", "email": "gaj@qingxi.example"},
    {"code": "QX005", "name": "青溪县自然资源局", "kind": "县直部门", "email": "zrzyj@qingxi.example"},
    {"code": "QX006", "name": "青溪县生态环境分局", "kind": "县直部门", "email": "sthj@qingxi.example"},
    {"code": "QX007", "name": "青溪县住房和城乡建设局", "kind": "县直部门", "email": "zjj@qingxi.example"},
    {"code": "QX008", "name": "青溪县市场监督管理局", "kind": "县直部门", "email": "scjgj@qingxi.example"},
    {"code": "QX009", "name": "青溪县城关镇人民政府", "kind": "乡镇", "email": "cgz@qingxi.example"},
    {"code": "QX010", "name": "青溪县石桥镇人民政府", "kind": "乡镇", "email": "sqz@qingxi.example"},
    {"code": "QX011", "name": "青溪县云岭乡人民政府", "kind": "乡镇", "email": "ylx@qingxi.example"},
    {"code": "QX012", "name": "青溪县东城街道办事处", "kind": "街道", "email": "dcjd@qingxi.example"},
]

# The office that has not sent anything yet (for the workspace's "missing" list).
MISSING = {"QX006"}


@dataclass
class Sample:
    office: dict[str, str]
    spec: Spec
    filling: Filling
    mistake: str | None  # what is wrong with it, in Chinese, for the demo's listing
    corrected: dict[str, Any] | None = None  # the values without the mistake (for a resubmission)


# The office whose section 五 is a copy of another office's (text-similarity-peer): copier → copied.
# 城关镇's email came after 石桥镇's: the later of two alike texts is the one flagged.
COPIES = {"QX009": "QX010"}


def _prose(spec: Spec, values: dict[str, Any], office: dict[str, str], year: int, index: int) -> dict[str, str]:
    return consistent_prose(spec, values, year, office["name"], index)


def _set_first(spec: Spec, values: dict[str, Any], table: str, value: Any, count: int = 1) -> None:
    """Overwrite the first ``count`` input cells of a table with ``value`` (a clerk's "/" or blank)."""
    for fig in [f for f in spec.inputs() if f.table_id == table][:count]:
        values[fig.id] = value


def _bump_first_input(spec: Spec, values: dict[str, Any], by: int) -> str:
    fig = next(f for f in spec.inputs() if f.table_id == "t3")
    values[fig.id] = values[fig.id] + by
    return fig.id


# Mistakes real reports make (national-format.md §8b), applied to chosen offices.
def _typo_in_table3(spec, values, prose):
    _bump_first_input(spec, values, 2)
    return "表三第一项多填2件，勾稽关系不成立"


def _slashes(spec, values, prose):
    _set_first(spec, values, "t2", "/", 3)
    _set_first(spec, values, "t4", None, 2)
    return "表二填“/”，表四留空"


def _rules_by_county_dept(spec, values, prose):
    rule = next(r for r in spec.rules if r.kind == "zero_when")
    for fid in rule.instances[0].figures:
        values[fid] = 2
    return "县直部门填报了规章数量"


def _late_applications(spec, values, prose):
    """Many applications carried into next year (结转下年度): the office explains they came in late December."""
    t = totals(spec, values)
    k = max(2, int(t["t3.new.total"] + t["t3.carried_over.total"]))  # as many again, all carried forward
    values["t3.new.natural"] += k
    values["t3.carry_forward.natural"] += k
    for key in list(prose):
        prose[key] = _retotal(spec, values, prose[key])
    return "结转下年度的申请占比较高（单位在“情况说明”中作了解释）"


def _retotal(spec: Spec, values: dict[str, Any], text: str) -> str:
    """The s1 sentence about received and answered applications, after a mistake changed the figures."""
    t = totals(spec, values)
    text = re.sub(r"(收到|受理|新收)(政府信息公开)?申请\d+件", lambda m: f"{m.group(1)}{m.group(2) or ''}申请{t['t3.new.total']:g}件", text)
    return re.sub(r"办结\d+件", f"办结{t['t3.outcome_total.total']:g}件", text)


# Offices that explain their warnings in the workbook's 情况说明 (the reviewer may accept them).
EXPLANATIONS = {
    "QX012": "结转下年度的申请均为12月下旬收到的，至12月31日尚在法定答复期限内，已于次年1月按期答复，"
             "并非超期未办。",
}


MISTAKES: dict[str, Callable[[Spec, dict[str, Any], dict[str, str]], str]] = {
    "QX004": _typo_in_table3,
    "QX011": _slashes,
    "QX005": _rules_by_county_dept,
    "QX012": _late_applications,
}
# An office that filled last year's (2019-format) template for this year's report (D7).
OLD_TEMPLATE = {"QX008": "2019"}


def build_samples(year: int = SAMPLE_YEAR, seed: int = 2025) -> list[Sample]:
    """The sample submissions of the fictional county, one per office that has sent one."""
    rng = random.Random(seed)
    samples = []
    prose_of: dict[str, dict[str, str]] = {}
    for index, office in enumerate(ROSTER):
        if office["code"] in MISSING:
            continue
        spec = get_spec(OLD_TEMPLATE[office["code"]]) if office["code"] in OLD_TEMPLATE else format_for_year(year)
        values = consistent_values(spec, rng, office_kind=office["kind"])
        prose = _prose(spec, values, office, year, index)
        prose_of[office["code"]] = prose
        mistake = None
        corrected = dict(values)
        if office["code"] in MISTAKES:
            mistake = MISTAKES[office["code"]](spec, values, prose)
        if office["code"] in OLD_TEMPLATE:
            mistake = "使用了2019年格式的旧模板填报本年度报告"
        info = {"name": office["name"], "kind": office["kind"], "code": office["code"], "year": year,
                "filler": "张三", "phone": "0571-00000000", "date": f"{year + 1}-01-15"}
        filling = Filling(office=info, values=values, prose=prose, explanation=EXPLANATIONS.get(office["code"]))
        samples.append(Sample(office, spec, filling, mistake, corrected))
    for copier, source in COPIES.items():
        prose_of[copier]["s5"] = prose_of[source]["s5"]
    return samples


def seed_sample() -> Sample:
    """The real seed report (2020, 2019 format) as a filled workbook's content."""
    data = yaml.safe_load(resources.files("pipeline.sample_data").joinpath("seed_2020.yaml").read_text("utf-8"))
    spec = get_spec(data["format"])
    values = {f.id: data["default"] for f in spec.inputs()}
    values.update(data["values"])
    office = {**data["office"], "filler": None}
    return Sample(office, spec, Filling(office={k: v for k, v in office.items() if v}, values=values,
                                        prose=data["prose"]), "公开的真实报告（2020年），表二第（八）项“本年增/减”空白")


COUNTY_TEXTS_FILE = "县本级文字.md"
# The county's own text, as the coordinator writes it for the rollup (xxgk merge --texts): each part under
# the heading the report prints. No figures in it: the tables and the generated sentences carry those.
COUNTY_TEXTS = """# 一、总体情况

{year}年，青溪县深入贯彻落实《中华人民共和国政府信息公开条例》，坚持以公开为常态、不公开为例外，围绕县委县政府中心工作和群众关切，推进政务公开标准化规范化。

## （一）主动公开

县政府门户网站政府信息公开专栏集中发布法定主动公开内容，重点领域信息按目录及时更新；重要政策文件同步发布解读材料，以图解、问答等形式说明政策要点。

## （二）依申请公开

各单位严格执行收文登记、承办、审核、答复流程，在法定期限内答复；对答复不规范的问题开展专项检查，逐件整改。

## （三）政府信息管理

建立公文公开属性源头认定机制，落实保密审查；对行政规范性文件开展清理，清理结果向社会公开。

## （四）政府信息公开平台建设

完成县政府门户网站集约化改造，规范政务新媒体管理；在县政务服务中心设立政府信息公开查阅点。

## （五）监督保障

将政务公开纳入年度绩效考核，组织全县政务公开业务培训；聘请社会评议员开展评议。

# 五、存在的主要问题及改进情况

存在的主要问题：部分乡镇公开内容更新不及时，政策解读形式较为单一。改进情况：建立季度检查通报制度，推广图解、视频等解读方式，提升解读质量。

# 六、其他需要报告的事项

无其他需要报告的事项。
"""


def roster_csv() -> str:
    return roster_to_csv(ROSTER)


def write_samples(outdir: str | Path, year: int = SAMPLE_YEAR) -> list[tuple[Path, str | None]]:
    """Write roster.csv, the offices' filled workbooks and the seed workbook into ``outdir``.

    Returns (path, mistake) pairs for every workbook written.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(outdir / "roster.csv", roster_csv())
    written = []
    for sample in build_samples(year):
        path = outdir / office_filename(sample.office, year, sample.spec)
        write_workbook(sample.spec, path, sample.filling)
        written.append((path, sample.mistake))
    atomic_write_text(outdir / COUNTY_TEXTS_FILE, COUNTY_TEXTS.format(year=year))
    write_sample_mail(outdir / "mail", year)
    write_round2_mail(outdir / "mail-round2", year)
    seed = seed_sample()
    path = outdir / "seed" / office_filename(seed.office, seed.office["year"], seed.spec)
    write_workbook(seed.spec, path, seed.filling)
    written.append((path, seed.mistake))
    return written


# How each office's mail client names the attachment (what xxgk must decode).
_NAMING = {"QX002": "rfc2047-gbk", "QX003": "raw-gbk", "QX005": "rfc2231-gbk", "QX009": "rfc2047-utf8"}
# When each office's email arrived (local time); the deadline of the demo is 2026-01-31.
_SENT = {"QX001": "2026-01-12 09:30", "QX002": "2026-01-15 16:05", "QX003": "2026-01-20 10:11",
         "QX004": "2026-01-21 11:20", "QX005": "2026-01-22 15:40", "QX007": "2026-01-26 08:55",
         "QX008": "2026-01-27 17:30", "QX009": "2026-02-02 09:02", "QX010": "2026-01-28 14:14",
         "QX011": "2026-02-03 10:45", "QX012": "2026-01-30 18:20"}
RESUBMIT = {"QX004": "2026-01-29 09:15"}  # the office corrects its table after the feedback


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sample_pdf(lines: list[str]) -> bytes:
    """A small one-page PDF standing in for a stamped scan (盖章件): ASCII text, Helvetica."""
    text = " ".join(f"({line}) Tj 0 -22 Td" for line in lines)
    stream = f"BT /F1 14 Tf 72 770 Td {text} ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def _disposition(filename: str, naming: str) -> bytes:
    from email.header import Header
    from urllib.parse import quote

    if naming == "rfc2047-gbk":
        return f'attachment; filename="{Header(filename, "gbk").encode()}"'.encode()
    if naming == "rfc2047-utf8":
        return f'attachment; filename="{Header(filename, "utf-8").encode()}"'.encode()
    if naming == "rfc2231-gbk":
        return f"attachment; filename*=gbk''{quote(filename.encode('gbk'))}".encode()
    if naming == "raw-gbk":
        return b'attachment; filename="' + filename.encode("gbk") + b'"'  # raw 8-bit bytes, as some clients do
    return f"attachment; filename*=utf-8''{quote(filename.encode('utf-8'))}".encode()


def _mail_bytes(office: dict[str, str], attachments: list[tuple[str, bytes, str]], sent: str, subject: str,
                naming: str, text: str = "附件是我单位的年度报告填报表，请查收。") -> bytes:
    """A clerk's email as its client would encode it; ``attachments`` are (file name, bytes, content type)."""
    import base64
    import email.utils
    from datetime import datetime, timedelta, timezone
    from email.header import Header

    when = datetime.strptime(sent, "%Y-%m-%d %H:%M").replace(tzinfo=timezone(timedelta(hours=8)))
    boundary = "----=_xxgk_sample_boundary"
    head = [
        f"From: {Header(office['name'], 'utf-8').encode()} <{office['email']}>",
        "To: zwgk@qingxi.example",
        f"Subject: {Header(subject, 'utf-8').encode()}",
        f"Date: {email.utils.format_datetime(when)}",
        f"Message-ID: <{office['code']}.{when:%Y%m%d%H%M}@qingxi.example>",
        "MIME-Version: 1.0",
    ]
    body_text = base64.encodebytes(text.encode("utf-8")).decode()
    if not attachments:
        head.append("Content-Type: text/plain; charset=utf-8")
        head.append("Content-Transfer-Encoding: base64")
        return ("\r\n".join(head) + "\r\n\r\n" + body_text).encode()
    head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    parts = [f"--{boundary}", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "",
             body_text]
    raw = ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(parts) + "\r\n").encode()
    for filename, data, ctype in attachments:
        raw += f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n".encode()
        raw += b"Content-Disposition: " + _disposition(filename, naming) + b"\r\n"
        raw += b"\r\n" + base64.encodebytes(data).replace(b"\n", b"\r\n")
    return raw + f"--{boundary}--\r\n".encode()


# Stamped copies (盖章件): one in the same email as the workbook, one sent on its own a day later.
STAMPED_WITH_WORKBOOK = {"QX003"}
STAMPED_LATER = {"QX001": "2026-01-13 10:00"}
# Round two, after review: the office whose 规章 figures were returned sends a corrected workbook.
ROUND2 = {"QX005": "2026-02-04 10:30"}


def _stamped(office: dict[str, str], year: int) -> tuple[str, bytes, str]:
    pdf = sample_pdf([f"{office['code']} annual report {year} - stamped copy (sample)", "xxgk demo"])
    return f"{office['code']}_{office['name']}_{year}_盖章件.pdf", pdf, "application/pdf"


def write_sample_mail(outdir: str | Path, year: int = SAMPLE_YEAR) -> list[Path]:
    """The offices' emails as .eml files: attachments named in GBK, RFC 2047 and RFC 2231 ways,
    some after the deadline, one correction resubmitted, one identical re-send, one without
    attachment, a stamped PDF beside one workbook and another sent on its own."""
    import tempfile

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    subject = f"{year}年度政府信息公开工作年度报告"
    with tempfile.TemporaryDirectory() as tmp:
        for n, sample in enumerate(build_samples(year), start=1):
            code = sample.office["code"]
            name = office_filename(sample.office, year, sample.spec)
            path = write_workbook(sample.spec, Path(tmp) / name, sample.filling)
            parts = [(name, path.read_bytes(), XLSX_TYPE)]
            if code in STAMPED_WITH_WORKBOOK:
                parts.append(_stamped(sample.office, year))
            raw = _mail_bytes(sample.office, parts, _SENT[code], subject, _NAMING.get(code, ""))
            target = outdir / f"{n:02d}_{code}.eml"
            target.write_bytes(raw)
            written.append(target)
            if code in RESUBMIT:
                fixed = Filling(office=sample.filling.office, values=sample.corrected, prose=sample.filling.prose)
                fixed_path = write_workbook(sample.spec, Path(tmp) / ("更正_" + name), fixed)
                raw = _mail_bytes(sample.office, [("（更正）" + name, fixed_path.read_bytes(), XLSX_TYPE)],
                                  RESUBMIT[code], subject + "（更正）", "")
                target = outdir / f"{n:02d}_{code}_更正.eml"
                target.write_bytes(raw)
                written.append(target)
        # An identical re-send, and an email whose clerk forgot the attachment.
        first = build_samples(year)[1]
        again = outdir / f"{len(written) + 1:02d}_{first.office['code']}_重发.eml"
        path = write_workbook(first.spec, Path(tmp) / "again.xlsx", first.filling)
        again.write_bytes(_mail_bytes(first.office, [(office_filename(first.office, year, first.spec),
                                                      path.read_bytes(), XLSX_TYPE)],
                                      "2026-01-16 08:00", subject + "（重发）", ""))
        written.append(again)
        forgot = next(o for o in ROSTER if o["code"] in MISSING)
        target = outdir / f"{len(written) + 1:02d}_{forgot['code']}_无附件.eml"
        target.write_bytes(_mail_bytes(forgot, [], "2026-01-31 17:59", subject, ""))
        written.append(target)
        for code, sent in STAMPED_LATER.items():
            office = next(o for o in ROSTER if o["code"] == code)
            target = outdir / f"{len(written) + 1:02d}_{code}_盖章件.eml"
            target.write_bytes(_mail_bytes(office, [_stamped(office, year)], sent, subject + "（盖章件）", "",
                                           text="补发我单位年度报告的盖章件扫描件，请查收。"))
            written.append(target)
    return written


def write_round2_mail(outdir: str | Path, year: int = SAMPLE_YEAR) -> list[Path]:
    """The emails of the second round: offices resubmitting after their workbook was returned."""
    import tempfile

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for sample in build_samples(year):
            code = sample.office["code"]
            if code not in ROUND2:
                continue
            name = office_filename(sample.office, year, sample.spec)
            fixed = Filling(office=sample.filling.office, values=sample.corrected, prose=sample.filling.prose)
            path = write_workbook(sample.spec, Path(tmp) / name, fixed)
            raw = _mail_bytes(sample.office, [("（修改后）" + name, path.read_bytes(), XLSX_TYPE)], ROUND2[code],
                              f"{year}年度政府信息公开工作年度报告（按退回意见修改后）", _NAMING.get(code, ""),
                              text="已按退回意见修改（规章各项改为0），请审核。")
            target = outdir / f"{code}_修改后重报.eml"
            target.write_bytes(raw)
            written.append(target)
    return written
