"""Installed as a user installs it: a wheel built from the checkout, in a fresh virtual environment, run elsewhere.

Catches what an editable install hides: files outside the package (the report templates and Word styles, the
format specs, the status page template) that the installed program cannot find.
"""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(args, **kw):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_wheel_in_a_fresh_venv_runs_the_demo(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)])
    (wheel,) = dist.glob("xxgk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("pipeline/report_templates/sentences.j2", "pipeline/report_templates/report.html.j2",
                    "pipeline/report_templates/reference.docx", "pipeline/formats/gov2021.yaml",
                    "pipeline/assets/status.html.j2"):
        assert shipped in names, shipped
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    bindir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    _run([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)])
    elsewhere = tmp_path / "desk"
    elsewhere.mkdir()
    where = _run([str(bindir / "python"), "-c", "import pipeline; print(pipeline.__file__)"], cwd=elsewhere).stdout
    assert str(venv) in where and str(ROOT) not in where
    demo = _run([str(bindir / "xxgk"), "demo", "out"], cwd=elsewhere)
    reports = elsewhere / "out" / "6-年度报告"
    for suffix in ("docx", "html", "md"):
        assert (reports / f"青溪县2025年政府信息公开工作年度报告.{suffix}").stat().st_size > 1000
    assert "全部输出在" in demo.stdout
    help_text = _run([str(bindir / "xxgk"), "report", "--help"], cwd=elsewhere).stdout
    assert "用法：xxgk report" in help_text
