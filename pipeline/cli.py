"""The ``xxgk`` command line. Each command parses arguments, calls one library function,
renders the result and sets the exit code; all work happens in the library."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .check import STATUS_LABELS, check_and_annotate
from .demo import run_demo
from .merge import merge
from .importer import import_report
from .report import write_report
from .workspace import init_workspace, open_workspace, receive, workspace_status
from .errors import UsageError, XxgkError
from .spec import get_spec
from .template import Filling, resolve_spec, write_office_templates, write_workbook

app = typer.Typer(
    help="xxgk：政府信息公开工作年度报告的模板、校验、汇总与报告。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class FormatChoice(str, Enum):
    f2021 = "2021"
    f2019 = "2019"


def _progress_bar(label: str):
    """A one-line progress display on a terminal, for batches long enough to wait on."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total < 100:
            return
        width = 30
        filled = width * done // total
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r{label} {done}/{total} [{'#' * filled}{'.' * (width - filled)}]{end}")
        sys.stderr.flush()

    return show


def _fail(exc: Exception) -> None:
    """Print a user-facing error in Chinese and exit; a traceback only with XXGK_DEBUG=1."""
    if os.environ.get("XXGK_DEBUG"):
        raise exc
    if isinstance(exc, XxgkError):
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(exc.exit_code)
    typer.echo(f"内部错误：{type(exc).__name__}: {exc}（设置环境变量 XXGK_DEBUG=1 可查看详细信息）", err=True)
    raise typer.Exit(3)


@app.command("spec")
def spec_cmd(
    format: FormatChoice = typer.Option(FormatChoice.f2021, "--format", help="国家格式：2021 或 2019"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出，供程序读取"),
) -> None:
    """列出一种国家格式的全部数据项（编号、表、行列标签、单元格、定义名称）和校验规则。"""
    try:
        spec = get_spec(format.value)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(spec.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{spec.title}（{spec.basis}），适用于{spec.years_text()}年度报告")
    for f in spec.figures:
        kind = "计算" if f.kind == "computed" else "填报"
        typer.echo(f"  {f.id:<45} {f.label:<40} {f.sheet}!{f.cell:<5} {kind} {f.unit or ''}")
    typer.echo("校验规则：")
    for r in spec.rules:
        typer.echo(f"  {r.id:<4} {'错误' if r.severity == 'error' else '提醒'}  {r.title}：{r.description}")


@app.command("template")
def template_cmd(
    output: Path = typer.Option(..., "-o", "--output", help="输出文件（.xlsx）；与 --roster 一起用时为输出文件夹"),
    format: Optional[FormatChoice] = typer.Option(None, "--format", help="国家格式；缺省时按报告年度选择"),
    year: Optional[int] = typer.Option(None, "--year", help="报告年度，例如 2025"),
    office: Optional[str] = typer.Option(None, "--office", help="单位名称（预先填好并锁定）"),
    office_kind: Optional[str] = typer.Option(None, "--office-kind", help="单位类型，例如 县直部门、乡镇、街道"),
    office_code: Optional[str] = typer.Option(None, "--office-code", help="单位代码或统一社会信用代码"),
    roster: Optional[Path] = typer.Option(None, "--roster", help="名单 CSV（单位代码,单位名称,单位类型,联系邮箱）：每个单位生成一份"),
) -> None:
    """生成锁定的 Excel 填报模板；用 --roster 为名单中每个单位各生成一份。"""
    try:
        fmt = format.value if format else None
        if roster:
            if office or office_kind or office_code:
                raise UsageError("--roster 不能与 --office、--office-kind、--office-code 同时使用")
            paths = write_office_templates(roster, output, year=year, format_id=fmt)
            typer.echo(f"已为{len(paths)}个单位生成模板：{output}")
            return
        if output.suffix.lower() != ".xlsx":
            raise UsageError(f"输出文件应以 .xlsx 结尾：{output}")
        spec = resolve_spec(fmt, year)
        fields = {"name": office, "kind": office_kind, "code": office_code, "year": year}
        write_workbook(spec, output, Filling(office={k: v for k, v in fields.items() if v}))
        typer.echo(f"已生成模板（{spec.basis}）：{output}")
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)


@app.command("check")
def check_cmd(
    paths: list[Path] = typer.Argument(..., help="要检查的文件或文件夹"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    annotate_dir: Optional[Path] = typer.Option(None, "--annotate", help="把带批注的反馈工作簿写到此文件夹"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年度的报表或全县汇总表（用于核对上年结转）"),
    year: Optional[int] = typer.Option(None, "--year", help="本次收集的报告年度"),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="并行进程数（默认每个处理器核心一个）"),
) -> None:
    """检查各单位报回的报表：公式、表格结构、勾稽关系和文字与表格是否一致。

    退出码：0 没有错误；1 有文件有错误或无法读取；2 用法错误。
    """
    try:
        report = check_and_annotate(paths, year=year, previous=previous, annotate_dir=annotate_dir, jobs=jobs,
                                    progress=_progress_bar("已检查"))
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(report.to_text())
    raise typer.Exit(0 if report.valid else 1)


@app.command("init")
def init_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    roster: Path = typer.Option(..., "--roster", help="名单（CSV 或 xlsx：单位代码,单位名称,单位类型,联系邮箱）"),
    year: int = typer.Option(..., "--year", help="本次收集的报告年度"),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="报送截止日期 YYYY-MM-DD"),
) -> None:
    """建立工作区：名单、设置、收件存档、反馈发件箱和台账（SQLite）。"""
    try:
        ws = init_workspace(workspace, roster, year, deadline)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(f"已建立{ws.year}年度工作区：{ws.path}（{len(ws.offices())}个单位"
               + (f"，截止日期{ws.deadline}" if ws.deadline else "") + "）")


@app.command("receive")
def receive_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    sources: list[str] = typer.Argument(..., help="文件、文件夹、.eml、mbox、Maildir 或 imaps://用户名@服务器/INBOX"),
    send: bool = typer.Option(False, "--send", help="通过设置中的 SMTP 服务器发出回复邮件"),
) -> None:
    """收取各单位报送的文件和邮件：先存档、记入台账，再校验，写反馈工作簿并起草回复邮件。"""
    def imap_password(url: str) -> str:
        return os.environ.get("XXGK_IMAP_PASSWORD") or typer.prompt(f"{url} 的密码", hide_input=True)

    try:
        ws = open_workspace(workspace)
        result = receive(ws, sources, password=imap_password, send=send,
                         smtp_password=os.environ.get("XXGK_SMTP_PASSWORD"))
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    labels = {"duplicate": "重复报送", "already": "已处理过", "crashed": "读取出错", **STATUS_LABELS}
    for item in result.items:
        who = item.office_name or "未识别单位"
        note = f"（{item.note}）" if item.note else ""
        typer.echo(f"  {item.filename} —— {who}：{labels.get(item.status, item.status)}{note}")
    for text in result.mail_notes:
        typer.echo(f"  {text}")
    typer.echo(f"共处理{len(result.items)}个文件" + (f"，发出{result.sent}封回复邮件" if send else ""))


@app.command("status")
def status_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
) -> None:
    """各单位报送情况：已报或未报、收到时间、是否逾期、校验状态、版本数。"""
    try:
        report = workspace_status(open_workspace(workspace))
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else report.to_text())


@app.command("merge")
def merge_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    output: Path = typer.Option(..., "-o", "--output", help="汇总表（.xlsx），同名 .csv 一并写出"),
    include_errors: bool = typer.Option(False, "--include-errors", help="有错误的单位也计入汇总"),
) -> None:
    """把各单位当前版本的数据汇总为全县汇总表（国家格式表格、分单位数据、按类型汇总、报送情况、问题清单、来源、图表）。"""
    try:
        result = merge(open_workspace(workspace), output, include_errors=include_errors)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(f"已写出汇总表：{result.path}（计入{len(result.included)}个单位）和 {result.csv_path}")
    for o in result.excluded:
        typer.echo(f"  未计入：{o.name}（{o.reason}）")


@app.command("report")
def report_cmd(
    source: Path = typer.Argument(..., help="单位的报表或全县汇总表（.xlsx）"),
    output: Path = typer.Option(..., "-o", "--output", help="输出文件：.docx、.html 或 .md"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年度的报表或汇总表（用于“较上年增加N件”）"),
    templates: Optional[Path] = typer.Option(None, "--templates", help="改写过的报告模板文件夹（默认 templates/report）"),
) -> None:
    """由填报数据生成年度报告（六个部分和三张国家格式表格），文字中的数字与表格一致。"""
    try:
        doc = write_report(source, output, previous=previous, templates=templates)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(f"已生成报告：{output}（{doc.title}）")


@app.command("import")
def import_cmd(
    sources: list[Path] = typer.Argument(..., help="公开发布的年度报告：.txt、.md、.html 或 .docx"),
    output: Path = typer.Option(..., "-o", "--output", help="输出文件夹（每份报告写一个填报表）"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    year: Optional[int] = typer.Option(None, "--year", help="报告年度（仅作提示）"),
    format: Optional[FormatChoice] = typer.Option(None, "--format", help="国家格式；缺省时按表格文字识别"),
) -> None:
    """把已公开的年度报告（网页、Word、抓取的文字）读成填报表；无法确定的数留空并列出。"""
    results, errors = [], 0
    for source in sources:
        try:
            results.append(import_report(source, output, year=year, format_id=format.value if format else None))
        except XxgkError as exc:
            if isinstance(exc, UsageError):
                _fail(exc)
            errors += 1
            typer.echo(f"错误：{exc}", err=True)
        except Exception as exc:  # noqa: BLE001 - rendered by _fail
            _fail(exc)
    if as_json:
        typer.echo(json.dumps({"files": [r.to_dict() for r in results]}, ensure_ascii=False, indent=2, default=str))
    else:
        for r in results:
            typer.echo(f"{r.path} → {r.workbook}（{r.spec.format}年格式，{r.year or '年度不明'}，"
                       f"{len(r.uncertain)}个数无法确定）")
            for f in r.findings:
                typer.echo(f"  提醒 {f.message}")
    raise typer.Exit(1 if errors else 0)


@app.command("demo")
def demo_cmd(outdir: Path = typer.Argument(..., help="输出文件夹")) -> None:
    """用自带的示例（一个虚构县的名单和各单位报表）演示全部流程。"""
    try:
        result = run_demo(outdir)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    for title, items in result.steps:
        typer.echo(f"【{title}】")
        for path, note in items:
            if path is None:
                typer.echo(f"  {note}")
            else:
                typer.echo(f"  {path.relative_to(result.outdir)}" + (f"  —— {note}" if note else ""))
        if title.startswith("工作区") and result.status is not None:
            typer.echo("【报送情况】")
            typer.echo(result.status.to_text())
    typer.echo(f"全部输出在：{result.outdir}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
