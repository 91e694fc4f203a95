"""The command line: thin over the library, Chinese messages, exit codes."""

import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from pipeline import get_spec
from pipeline.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("fmt", ["2019", "2021"])
def test_spec_json_equals_library(fmt):
    result = runner.invoke(app, ["spec", "--format", fmt, "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads(json.dumps(get_spec(fmt).to_dict(), ensure_ascii=False))


def test_spec_text_lists_rules():
    result = runner.invoke(app, ["spec"])
    assert result.exit_code == 0
    assert "F1" in result.output and "t3.new.natural" in result.output


def test_template_defaults_format_from_year(tmp_path):
    out = tmp_path / "a.xlsx"
    result = runner.invoke(app, ["template", "-o", str(out), "--year", "2020", "--office", "某局", "--office-kind", "县直部门"])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out)
    meta = wb["_xxgk"]
    assert meta["B1"].value == "2019"
    assert wb["单位信息"]["B4"].value == "某局" and wb["单位信息"]["B4"].protection.locked


def test_template_roster_writes_one_per_office(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("单位代码,单位名称,单位类型,联系邮箱\nA1,甲局,县直部门,a@x.example\nB2,乙镇,乡镇,b@x.example\n", encoding="utf-8")
    result = runner.invoke(app, ["template", "--roster", str(roster), "-o", str(tmp_path / "out"), "--year", "2025"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["A1_甲局_2025.xlsx", "B2_乙镇_2025.xlsx"]
    wb = openpyxl.load_workbook(tmp_path / "out" / files[1])
    assert wb["单位信息"]["B5"].value == "乡镇"
    assert wb["_xxgk"]["B4"].value == "B2"


def test_roster_in_gbk_is_read(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes("单位代码,单位名称,单位类型,联系邮箱\nA1,甲局,县直部门,\n".encode("gbk"))
    result = runner.invoke(app, ["template", "--roster", str(roster), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output


def test_bad_roster_is_a_chinese_error_not_a_traceback(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("code,name\n1,x\n", encoding="utf-8")
    result = runner.invoke(app, ["template", "--roster", str(roster), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "缺少列" in result.output and str(roster) in result.output
    missing = runner.invoke(app, ["template", "--roster", str(tmp_path / "nope.csv"), "-o", str(tmp_path)])
    assert missing.exit_code == 1 and "无法读取名单文件" in missing.output


def test_usage_errors_exit_2(tmp_path):
    result = runner.invoke(app, ["template", "-o", str(tmp_path / "a.txt")])
    assert result.exit_code == 2 and ".xlsx" in result.output
    result = runner.invoke(app, ["template", "--roster", "r.csv", "--office", "x", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert runner.invoke(app, ["spec", "--format", "1999"]).exit_code == 2


def test_demo_writes_templates_and_samples(tmp_path):
    result = runner.invoke(app, ["demo", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "1-空白模板" / "gov2021.xlsx").exists()
    assert len(list((tmp_path / "d" / "2-下发各单位的模板").glob("*.xlsx"))) == 12
    returned = list((tmp_path / "d" / "3-各单位报回的报表").rglob("*.xlsx"))
    assert len(returned) == 12  # 11 offices sent theirs, plus the seed report
    assert "数据一致" in result.output and "勾稽关系不成立" in result.output
    # The whole loop: a return with its reason, the resubmission accepted, an explained warning accepted,
    # reminders, a PDF kept as an attachment, the status page; the rollup of the accepted and clean offices.
    out = result.output
    assert "退回 青溪县自然资源局：县直部门没有规章制定权" in out and "（修改后）QX005_青溪县自然资源局_2025.xlsx：青溪县自然资源局，通过" in out
    assert "审核通过 青溪县东城街道办事处，接受提醒1项" in out
    assert "QX003_青溪县教育局_2025_盖章件.pdf：青溪县教育局，附件，已存档" in out
    assert out.count("_催报.eml") == 4
    assert (tmp_path / "d" / "5-工作区" / "报送情况.html").exists()
    assert "计入8个单位" in out and "未计入：青溪县云岭乡人民政府（已退回修改）" in out
    assert "退回 青溪县城关镇人民政府：第五部分“存在的主要问题及改进情况”与石桥镇人民政府的报告完全相同" in out
    # An assessor's audit of the offices' published reports: the one with errors (QX004) publishes none.
    assessed = tmp_path / "d" / "7-评估已公开的报告"
    assert (assessed / "评估结果.xlsx").exists() and (assessed / "评估结果.html").exists()
    assert "8份报告" in out and "QX007_青溪县住房和城乡建设局_2025.html：100分（错误0项，提醒0项）" in out
    assert not (assessed / "已公开的报告" / "QX004_青溪县公安局_2025.html").exists()


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert command.callback.__doc__, f"{name} has no help"
        assert f"xxgk {name}" in readme, f"{name} missing from README"


@pytest.mark.parametrize("args, words", [
    (["report"], "缺少参数"),
    (["report", "x.xlsx", "-o", "y.md", "--bogus"], "没有这个选项：--bogus"),
    (["check", "--level", "town", "a.xlsx"], "“town”不是可选的值"),
    (["template", "--year", "abc", "-o", "x.xlsx"], "应当是整数"),
    (["nosuch"], "没有这个命令"),
])
def test_usage_errors_speak_chinese(args, words):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and words in result.output, result.output
    for english in ("Missing", "No such", "Invalid value", "Try '", "Usage:", "Error", "is not one of", "Input should"):
        assert english not in result.output, (english, result.output)


def test_help_speaks_chinese():
    for args in (["--help"], ["report", "--help"], ["receive", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert "用法：" in result.output and "选项" in result.output and "显示本帮助并退出" in result.output
        for english in ("Usage", "Show this message", "Options", "Commands", "Arguments", "[required]"):
            assert english not in result.output, (english, args)


def test_the_installed_entry_point_runs_from_any_folder(tmp_path):
    """`python -m pipeline` (as the `xxgk` script) from a folder that is not the checkout."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pipeline", "spec", "--json"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["format"] == "2021"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "report"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "缺少参数" in proc.stderr and "用法：xxgk report" in proc.stderr
