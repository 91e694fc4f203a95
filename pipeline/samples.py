"""The bundled samples: a fictional county's roster and its offices' filled workbooks.

Reproducible (seeded). Most offices are consistent; a few carry the mistakes real
reports make, so that the demo and tests have something to find. The seed report
(a real 街道, 2020) is entered into a 2019-format workbook from
``sample_data/seed_2020.yaml``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from .fill import consistent_values, totals
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


def _prose(spec: Spec, values: dict[str, Any], office: dict[str, str], year: int) -> dict[str, str]:
    t = totals(spec, values)
    received = t.get("t3.new.total", 0)
    done = t.get("t3.outcome_total.total", 0)
    return {
        "s1": (
            f"{year}年，{office['name']}认真贯彻落实《中华人民共和国政府信息公开条例》，"
            f"扎实推进政府信息公开工作。全年共收到政府信息公开申请{received:g}件，办结{done:g}件。"
        ),
        "s5": "存在的主要问题：政策解读形式较为单一。改进情况：下一步将丰富解读形式，提升公开质量。",
        "s6": (f"本年度实际收取信息处理费{t['t6.fee.collected_amount.value']:g}元。"
               if t.get("t6.fee.collected_amount.value") else "本年度未收取信息处理费。") + "无其他需要报告的事项。",
    }


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


def _prose_mismatch(spec, values, prose):
    received = totals(spec, values)["t3.new.total"]
    prose["s1"] = prose["s1"].replace(f"申请{received:g}件", f"申请{received + 1:g}件")
    return "文字中的申请数与表三不一致"


MISTAKES: dict[str, Callable[[Spec, dict[str, Any], dict[str, str]], str]] = {
    "QX004": _typo_in_table3,
    "QX011": _slashes,
    "QX005": _rules_by_county_dept,
    "QX012": _prose_mismatch,
}
# An office that filled last year's (2019-format) template for this year's report (D7).
OLD_TEMPLATE = {"QX008": "2019"}


def build_samples(year: int = SAMPLE_YEAR, seed: int = 2025) -> list[Sample]:
    """The sample submissions of the fictional county, one per office that has sent one."""
    rng = random.Random(seed)
    samples = []
    for office in ROSTER:
        if office["code"] in MISSING:
            continue
        spec = get_spec(OLD_TEMPLATE[office["code"]]) if office["code"] in OLD_TEMPLATE else format_for_year(year)
        values = consistent_values(spec, rng, office_kind=office["kind"])
        prose = _prose(spec, values, office, year)
        mistake = None
        corrected = dict(values)
        if office["code"] in MISTAKES:
            mistake = MISTAKES[office["code"]](spec, values, prose)
        if office["code"] in OLD_TEMPLATE:
            mistake = "使用了2019年格式的旧模板填报本年度报告"
        info = {"name": office["name"], "kind": office["kind"], "code": office["code"], "year": year,
                "filler": "张三", "phone": "0571-00000000", "date": f"{year + 1}-01-15"}
        samples.append(Sample(office, spec, Filling(office=info, values=values, prose=prose), mistake, corrected))
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
    write_sample_mail(outdir / "mail", year)
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


def _mail_bytes(office: dict[str, str], filename: str, data: bytes | None, sent: str, subject: str, naming: str) -> bytes:
    """A clerk's email as its client would encode it."""
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
    body_text = base64.encodebytes("附件是我单位的年度报告填报表，请查收。".encode("utf-8")).decode()
    if data is None:
        head.append("Content-Type: text/plain; charset=utf-8")
        head.append("Content-Transfer-Encoding: base64")
        return ("\r\n".join(head) + "\r\n\r\n" + body_text).encode()
    head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    if naming == "rfc2047-gbk":
        disp = f'attachment; filename="{Header(filename, "gbk").encode()}"'
    elif naming == "rfc2047-utf8":
        disp = f'attachment; filename="{Header(filename, "utf-8").encode()}"'
    elif naming == "rfc2231-gbk":
        from urllib.parse import quote

        disp = f"attachment; filename*=gbk''{quote(filename.encode('gbk'))}"
    elif naming == "raw-gbk":
        disp = None  # raw 8-bit bytes, written below
    else:
        from urllib.parse import quote

        disp = f"attachment; filename*=utf-8''{quote(filename.encode('utf-8'))}"
    parts = [
        f"--{boundary}", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", body_text,
        f"--{boundary}", "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Transfer-Encoding: base64",
    ]
    raw = ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(parts) + "\r\n").encode()
    if disp is None:
        raw += b'Content-Disposition: attachment; filename="' + filename.encode("gbk") + b'"\r\n'
    else:
        raw += f"Content-Disposition: {disp}\r\n".encode()
    raw += b"\r\n" + base64.encodebytes(data).replace(b"\n", b"\r\n") + f"--{boundary}--\r\n".encode()
    return raw


def write_sample_mail(outdir: str | Path, year: int = SAMPLE_YEAR) -> list[Path]:
    """The offices' emails as .eml files: attachments named in GBK, RFC 2047 and RFC 2231 ways,
    some after the deadline, one correction resubmitted, one identical re-send, one without attachment."""
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
            raw = _mail_bytes(sample.office, name, path.read_bytes(), _SENT[code], subject, _NAMING.get(code, ""))
            target = outdir / f"{n:02d}_{code}.eml"
            target.write_bytes(raw)
            written.append(target)
            if code in RESUBMIT:
                fixed = Filling(office=sample.filling.office, values=sample.corrected, prose=sample.filling.prose)
                fixed_path = write_workbook(sample.spec, Path(tmp) / ("更正_" + name), fixed)
                raw = _mail_bytes(sample.office, "（更正）" + name, fixed_path.read_bytes(), RESUBMIT[code],
                                  subject + "（更正）", "")
                target = outdir / f"{n:02d}_{code}_更正.eml"
                target.write_bytes(raw)
                written.append(target)
        # An identical re-send, and an email whose clerk forgot the attachment.
        first = build_samples(year)[1]
        again = outdir / f"{len(written) + 1:02d}_{first.office['code']}_重发.eml"
        path = write_workbook(first.spec, Path(tmp) / "again.xlsx", first.filling)
        again.write_bytes(_mail_bytes(first.office, office_filename(first.office, year, first.spec), path.read_bytes(),
                                      "2026-01-16 08:00", subject + "（重发）", ""))
        written.append(again)
        forgot = next(o for o in ROSTER if o["code"] in MISSING)
        target = outdir / f"{len(written) + 1:02d}_{forgot['code']}_无附件.eml"
        target.write_bytes(_mail_bytes(forgot, "", None, "2026-01-31 17:59", subject, ""))
        written.append(target)
    return written
