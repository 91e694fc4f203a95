"""The status page (``xxgk status --html``) as a person sees it: in headless Chromium, on screen and printed."""

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.samples import write_round2_mail, write_sample_mail

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A workspace after a first round, a return, an accepted explanation, a resubmission and reminders,
    each step at its moment of the samples' calendar; the page written by the command line."""
    from pipeline.intake import receive
    from pipeline.outbox import remind
    from pipeline.review import accept_submission, return_submission
    from pipeline.workspace import init_workspace

    from conftest import beijing

    tmp = tmp_path_factory.mktemp("statuspage")
    write_sample_mail(tmp / "mail")
    write_round2_mail(tmp / "mail2")
    ws = init_workspace(tmp / "ws", ROOT / "samples" / "roster.csv", 2025, "2026-01-31", name="青溪县",
                        sender="zwgk@qingxi.example")
    steps = [
        ("2026-02-03 11:00", lambda: receive(ws, [str(tmp / "mail")])),
        ("2026-02-03 14:00", lambda: return_submission(ws, "QX005", "县直部门没有规章制定权，规章各项应为0")),
        ("2026-02-03 14:30", lambda: accept_submission(ws, "QX012")),
        ("2026-02-04 11:00", lambda: receive(ws, [str(tmp / "mail2")])),
        ("2026-02-04 14:00", lambda: accept_submission(ws, "QX005")),
        ("2026-02-05 09:00", lambda: remind(ws)),
    ]
    for when, step in steps:
        ws.clock = lambda when=when: beijing(when)
        step()
    out = tmp / "pages" / "报送情况.html"
    result = runner.invoke(app, ["status", str(ws.path), "--html", str(out), "--json"])
    assert result.exit_code == 0, result.output
    import json

    return out, json.loads(result.output)


def test_the_page_shows_the_counts_and_each_offices_history(browser, page):
    from selenium.webdriver.common.by import By

    path, status = page
    browser.get(path.as_uri())
    assert browser.title == "青溪县2025年度政府信息公开工作年度报告报送情况"
    counts = {e.get_attribute("data-count"): int(e.text) for e in browser.find_elements(By.CSS_SELECTOR, "td[data-count]")}
    s = status["summary"]
    assert counts == {"offices": 12, "submitted": 11, "late": s["late"], **s["groups"]}
    assert s["groups"] == {"missing": 1, "unusable": 1, "returned": 0, "errors": 1, "warnings": 1, "ok": 6,
                           "accepted": 2}
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "section.group h2")]
    assert headings == ["未报送（1个）", "无法采用（1个）", "已退回修改（0个）", "有错误（1个）", "有提醒，待审核（1个）",
                        "通过，待审核（6个）", "审核通过（2个）"]
    # Which group each office is shown in.
    group_of = {a.get_attribute("id")[7:]: a.find_element(By.XPATH, "ancestor::section").get_attribute("id")
                for a in browser.find_elements(By.CSS_SELECTOR, "article.office")}
    assert group_of["QX005"] == group_of["QX012"] == "group-accepted"
    assert group_of["QX006"] == "group-missing" and group_of["QX008"] == "group-unusable"
    # QX005's history, as visible text, in order: received, returned with the reason, received again, accepted.
    office = browser.find_element(By.ID, "office-QX005")
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in office.find_elements(By.CSS_SELECTOR, "table.history tbody tr")]
    events = [r[1] for r in rows if not r[1].startswith("已起草")]
    assert events == ["收到", "退回", "收到", "审核通过"]
    assert "县直部门没有规章制定权，规章各项应为0" in office.text
    assert "审核轮次：第2轮" in office.text and "审核通过" in office.text
    qx012 = browser.find_element(By.ID, "office-QX012").text
    assert "单位情况说明：结转下年度的申请" in qx012 and "接受的提醒" in qx012
    qx003 = browser.find_element(By.ID, "office-QX003").text
    assert "附件：QX003_青溪县教育局_2025_盖章件.pdf" in qx003
    # The feedback links lead to the feedback workbooks, relative to where the page was written.
    links = [a.get_attribute("href") for a in office.find_elements(By.LINK_TEXT, "反馈工作簿")]
    assert links
    for href in links:
        target = Path(unquote(urlparse(href).path))
        assert target.exists() and target.name.endswith(".校验结果.xlsx"), href
    # Self-contained: nothing was fetched, nothing refers outside the file.
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == []
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html) and "<script" not in html


def test_the_page_prints_on_a4(browser, page, tmp_path):
    from selenium.webdriver.common.by import By

    path, status = page
    browser.get(path.as_uri())
    pdf = base64.b64decode(browser.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True,
                                                                        "printBackground": True})["data"])
    out = tmp_path / "status.pdf"
    out.write_bytes(pdf)
    if not shutil.which("pdfinfo"):
        pytest.skip("poppler-utils not installed")
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert (round(width), round(height)) == (595, 842), info  # A4 portrait
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert 1 <= pages <= 8
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True).stdout
    for o in status["offices"]:
        assert o["code"] in text and o["name"] in text
    # Printed, no office block is taller than a page (so none is cut in the middle) and nothing is wider than A4.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        heights = browser.execute_script(
            "return [...document.querySelectorAll('article.office')].map(a => a.getBoundingClientRect().height)")
        page_css_px = (297 - 28) / 25.4 * 96  # A4 minus the page margins, in CSS pixels
        assert max(heights) < page_css_px
        body = browser.find_element(By.TAG_NAME, "body")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= max(
            body.rect["width"] + 40, browser.execute_script("return window.innerWidth"))
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
