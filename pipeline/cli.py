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

# The library is imported inside each command: `xxgk status` need not load what `xxgk report` uses.
from .errors import UsageError, WorkspaceError, XxgkError

# typer (which carries its own copy of click) prints usage errors and --help in English. xxgk's users read
# Chinese: the messages they can meet are translated here, by pattern, where typer formats them (each
# exception's format_message, the usage line, the help option, the help panels' titles). Anything not
# matched stays as it was; if typer changes, the CLI still works and tests/test_cli.py says what is English.
_ERRORS = [
    (r"Missing argument (.+)\.", "缺少参数 {0}。"),
    (r"Missing option (.+)\.", "缺少选项 {0}。"),
    (r"Missing parameter:? (.+?)\.?", "缺少参数 {0}。"),
    (r"No such option:? '?([^' ]+)'?\.?(?: \((?:Possible options|Did you mean(?: one of)?):? (.+?)\??\))?",
     "没有这个选项：{0}{1}"),
    (r"No such command:? '?([^' ]+)'?\.?", "没有这个命令：{0}。"),
    (r"Missing command\.", "缺少命令。"),
    (r"Got unexpected extra arguments? \((.+)\)", "多余的参数：{0}"),
    (r"Option '?([^' ]+)'? requires an argument\.", "选项 {0} 后面需要一个值。"),
    (r"Option '?([^' ]+)'? requires (\d+) arguments\.", "选项 {0} 后面需要{1}个值。"),
    (r"Option '?([^' ]+)'? does not take a value\.", "选项 {0} 后面不能带值。"),
    (r"Invalid value for (.+?): (.+)", "{0} 的取值无效：{1}"),
    (r"Invalid value: (.+)", "取值无效：{0}"),
    (r"Value error, (.+)", "{0}"),
    (r"Input should be a valid integer.*", "应当是整数。"),
    (r"Input should be a valid (?:number|float).*", "应当是数字。"),
    (r"'(.*)' is not a valid integer(?: range)?\.", "“{0}”不是整数。"),
    (r"'(.*)' is not a valid float(?: range)?\.", "“{0}”不是数字。"),
    (r"'(.*)' is not one of (.+)\.", "“{0}”不是可选的值（{1}）之一。"),
    (r"'(.*)' is not (.+)\.", "“{0}”不是可选的值 {1}。"),
    (r"(.+) is not in the range (.+)\.", "{0} 不在 {1} 范围内。"),
    (r"(?:File|Path|Directory) '(.+)' does not exist\.", "“{0}”不存在。"),
    (r"(?:File|Path) '(.+)' is a directory\.", "“{0}”是文件夹，不是文件。"),
    (r"(?:Directory|Path) '(.+)' is a file\.", "“{0}”是文件，不是文件夹。"),
    (r"(?:File|Path|Directory) '(.+)' is not readable\.", "“{0}”无法读取。"),
    (r"(?:File|Path|Directory) '(.+)' is not writable\.", "“{0}”无法写入。"),
]
_TEXTS = {"Arguments": "参数", "Options": "选项", "Commands": "命令", "Error": "错误", "Aborted.": "已中止。",
          "Aborted!": "已中止。", "[required]": "[必填]", "[default: {}]": "[默认：{}]", "[env var: {}]": "[环境变量：{}]",
          "Try [blue]'{command_path} {help_option}'[/] for help.": "运行 [blue]“{command_path} {help_option}”[/] 查看帮助。",
          "No such command {name!r}.": "没有这个命令：{name!r}。", "Missing command.": "缺少命令。",
          "required": "必填", "default: {default}": "默认：{default}", "env var: {var}": "环境变量：{var}",
          "(dynamic)": "（动态）"}
HELP_OPTION_TEXT = "显示本帮助并退出。"


def translate_error(message: str) -> str:
    """A typer/click error message in Chinese (unchanged when it is not one they print)."""
    import re

    for pattern, chinese in _ERRORS:
        m = re.fullmatch(pattern, message.strip(), flags=re.S)
        if m:
            nested = "取值无效" in chinese or chinese == "{0}"  # the reason inside is a message of its own
            groups = [translate_error(g) if g and nested and i == len(m.groups()) - 1 else (g or "")
                      for i, g in enumerate(m.groups())]
            if "没有这个选项" in chinese:
                groups[1] = f"（是不是 {groups[1]}？）" if groups[1] else "。"
            return chinese.format(*groups)
    return message


def _speak_chinese() -> None:
    import functools
    import gettext
    import importlib

    try:
        importlib.import_module("typer._click")  # typer ≥ 0.2x carries its own click
        impl = "typer._click"
    except ImportError:  # pragma: no cover - older typer uses click itself
        impl = "click"
    exceptions, formatting, decorators = (importlib.import_module(f"{impl}.{m}")
                                          for m in ("exceptions", "formatting", "decorators"))
    import typer.core

    for cls in list(vars(exceptions).values()):
        if isinstance(cls, type) and issubclass(cls, exceptions.ClickException) and "format_message" in vars(cls):
            original = cls.format_message

            @functools.wraps(original)
            def format_message(self, _original=original):
                return translate_error(_original(self))

            cls.format_message = format_message
    formatter = formatting.HelpFormatter
    write_usage = formatter.write_usage

    @functools.wraps(write_usage)
    def usage(self, prog, args="", prefix=None):
        return write_usage(self, prog, args, "用法：" if prefix is None else prefix)

    formatter.write_usage = usage
    if hasattr(decorators, "help_option"):
        help_option = decorators.help_option

        def chinese_help_option(*args, **kwargs):
            add = help_option(*args, **kwargs)

            def apply(command):
                command = add(command)
                if command.params and getattr(command.params[-1], "help", None) == "Show this message and exit.":
                    command.params[-1].help = HELP_OPTION_TEXT
                return command
            return apply

        decorators.help_option = chinese_help_option
    if getattr(typer.core, "_", None) is gettext.gettext:
        typer.core._ = lambda message: _TEXTS.get(message, message)
    _after_import("typer.rich_utils", _chinese_rich_utils)


def _chinese_rich_utils(rich_utils) -> None:
    """typer's help and error panels in Chinese."""
    import gettext

    for name in ("DEFAULT_STRING", "ENVVAR_STRING", "REQUIRED_LONG_STRING", "ARGUMENTS_PANEL_TITLE",
                 "OPTIONS_PANEL_TITLE", "COMMANDS_PANEL_TITLE", "ERRORS_PANEL_TITLE", "ABORTED_TEXT", "RICH_HELP"):
        value = getattr(rich_utils, name, None)
        if isinstance(value, str):
            setattr(rich_utils, name, _TEXTS.get(value, value))
    if getattr(rich_utils, "_", None) is gettext.gettext:
        rich_utils._ = lambda message: _TEXTS.get(message, message)


def _after_import(name: str, patch) -> None:
    """Patch module ``name`` once it is imported: typer imports its rich help formatter (a tenth of a second
    with rich's Markdown) only to show help or an error, and a plain run should not pay for it."""
    import importlib.abc
    import importlib.util

    if name in sys.modules:
        patch(sys.modules[name])
        return

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            if spec is None or spec.loader is None:
                return spec
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                patch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Finder())


try:
    _speak_chinese()
except Exception:  # noqa: BLE001 - a typer that changed inside: its English messages, never a broken CLI
    pass

app = typer.Typer(
    help="xxgk：政府信息公开工作年度报告的模板、校验、汇总与报告。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class FormatChoice(str, Enum):
    f2021 = "2021"
    f2019 = "2019"


class LevelChoice(str, Enum):
    county = "county"
    city = "city"
    province = "province"


class _Progress:
    """Progress of long work on a terminal (rich), nothing when output is not a terminal or with --quiet."""

    def __init__(self, label: str, quiet: bool = False):
        self.label, self.enabled = label, not quiet and sys.stderr.isatty()
        self.bar = self.task = None
        self.done = 0

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def count(self, done: int, total: int | None = None) -> None:
        """(done, total) callbacks of batch work."""
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)

    def step(self, _item: object = None) -> None:
        """One more item of a stream of unknown length."""
        self.done += 1
        self.count(self.done)


QUIET = typer.Option(False, "--quiet", "-q", help="不显示进度")
SEND = typer.Option(False, "--send", help="通过设置中的 SMTP 服务器立即发出起草的邮件")


def _smtp_password() -> str | None:
    return os.environ.get("XXGK_SMTP_PASSWORD")


def _fail(exc: Exception) -> None:
    """Print a user-facing error in Chinese and exit; a traceback only with XXGK_DEBUG=1."""
    if os.environ.get("XXGK_DEBUG"):
        raise exc
    exc = environment_error(exc) or exc
    if isinstance(exc, XxgkError):
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(exc.exit_code)
    typer.echo(f"内部错误：{type(exc).__name__}: {exc}（设置环境变量 XXGK_DEBUG=1 可查看详细信息）", err=True)
    raise typer.Exit(3)


def environment_error(exc: BaseException) -> WorkspaceError | None:
    """A fault of the machine rather than of xxgk or the files (disk full, no permission), in Chinese."""
    import errno
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        from .ledger import ledger_error

        return ledger_error(Path("ledger.sqlite"), exc)
    if isinstance(exc, OSError):
        where = f"（{exc.filename}）" if getattr(exc, "filename", None) else ""
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return WorkspaceError(f"磁盘空间不足，无法写入{where}；请清理磁盘后再运行，已收取的文件不会丢失")
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return WorkspaceError(f"没有写入权限或磁盘是只读的{where}；查看报送情况和汇总（输出到可写的位置）仍可进行")
        if exc.errno == errno.ENOENT:
            return WorkspaceError(f"找不到文件或文件夹{where}")
    if isinstance(exc, MemoryError):
        return WorkspaceError("内存不足，无法完成；请关闭其他程序后再运行")
    return None


@app.command("spec")
def spec_cmd(
    format: FormatChoice = typer.Option(FormatChoice.f2021, "--format", help="国家格式：2021 或 2019"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出，供程序读取"),
) -> None:
    """列出一种国家格式的全部数据项（编号、表、行列标签、单元格、定义名称）和校验规则。"""
    from .spec import get_spec
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
    severity = {"error": "错误", "warning": "提醒", "info": "参考"}
    for r in spec.rules:
        typer.echo(f"  {r.id:<4} {severity[r.severity]}  {r.title}：{r.description}")


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
    from .template import Filling, resolve_spec, write_office_templates, write_workbook
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
    level: LevelChoice = typer.Option(LevelChoice.county, "--level", help="报送单位所在层级：county、city 或 province"),
    quiet: bool = QUIET,
) -> None:
    """检查各单位报回的报表：公式、表格结构、勾稽关系和文字与表格是否一致。

    退出码：0 没有错误；1 有文件有错误或无法读取；2 用法错误。
    """
    from .check import check_and_annotate
    try:
        with _Progress("检查", quiet) as progress:
            report = check_and_annotate(paths, year=year, previous=previous, annotate_dir=annotate_dir, jobs=jobs,
                                        level=level.value, progress=progress.count)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    if as_json:
        report.write_json(sys.stdout)
    else:
        typer.echo(report.to_text())
    raise typer.Exit(0 if report.valid else 1)


@app.command("init")
def init_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    roster: Path = typer.Option(..., "--roster", help="名单（CSV 或 xlsx：单位代码,单位名称,单位类型,联系邮箱）"),
    year: int = typer.Option(..., "--year", help="本次收集的报告年度（2019年至明年）"),
    name: str = typer.Option(..., "--name", help="汇总单位名称，例如 青溪县（用于汇总表和年度报告的标题）"),
    code: Optional[str] = typer.Option(None, "--code", help="汇总单位代码"),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="报送截止日期 YYYY-MM-DD"),
    sender: Optional[str] = typer.Option(None, "--sender", help="回复邮件的发件人邮箱"),
    level: LevelChoice = typer.Option(LevelChoice.county, "--level",
                                      help="汇总单位所在层级：county（县）、city（市）或 province（省）"),
) -> None:
    """建立工作区：名单、设置、收件存档、反馈发件箱和台账（SQLite）。

    名单中单位类型为“汇总”的是报送下级汇总表的单位（例如市的名单列出各县）。"""
    from .workspace import init_workspace
    try:
        ws = init_workspace(workspace, roster, year, deadline, name=name, code=code, sender=sender, level=level.value)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    for notice in ws.notices:
        typer.echo(f"注意：{notice}")
    typer.echo(f"已建立{ws.name}{ws.year}年度工作区：{ws.path}（{len(ws.offices())}个单位"
               + (f"，截止日期{ws.deadline}" if ws.deadline else "") + "）")


@app.command("settings")
def settings_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    key: Optional[str] = typer.Argument(None, help="设置项，例如 name、deadline、sender、smtp.host、merge_policy"),
    value: Optional[str] = typer.Argument(None, help="新的值（不给则显示当前值；给空字符串 \"\" 清除）"),
) -> None:
    """查看或修改工作区设置（汇总单位名称和代码、截止日期、发件人、SMTP 服务器、审核人、汇总口径），修改时检查是否有效。"""
    from .workspace import open_workspace
    try:
        ws = open_workspace(workspace)
        if key is not None and value is not None:
            stored = ws.set(key, value)
            typer.echo(f"已设置 {key} = {stored}")
            return
        rows = ws.settings_view()
        if key is not None:
            rows = [r for r in rows if r[0] == key]
            if not rows:
                ws.set(key, "")  # raises the usage error naming the valid keys
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    for k, label, v in rows:
        typer.echo(f"{k:<14} {label}：{v if v not in (None, '') else '（未设置）'}")


@app.command("receive")
def receive_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    sources: list[str] = typer.Argument(..., help="文件、文件夹、.eml、mbox、Maildir 或 imaps://用户名@服务器/INBOX"),
    send: bool = SEND,
    received_at: Optional[str] = typer.Option(None, "--received-at",
                                              help="直接给出的文件的收到时间 YYYY-MM-DDTHH:MM（北京时间；默认为现在）"),
    office: Optional[str] = typer.Option(None, "--office", help="无法识别单位的文件归属的单位代码"),
    quiet: bool = QUIET,
) -> None:
    """收取各单位报送的文件和邮件：先存档、记入台账，再校验，写反馈工作簿并起草回复邮件。"""
    from .intake import receive
    from .lifecycle import STATE_LABELS
    from .workspace import open_workspace
    def imap_password(url: str) -> str:
        if os.environ.get("XXGK_IMAP_PASSWORD"):
            return os.environ["XXGK_IMAP_PASSWORD"]
        if not sys.stdin.isatty():  # a scheduled job: no one to type it
            raise UsageError("读取 IMAP 邮箱需要密码：请设置环境变量 XXGK_IMAP_PASSWORD（没有终端可以输入密码）")
        return typer.prompt(f"{url} 的密码", hide_input=True)

    try:
        when = _parse_time(received_at) if received_at else None
        ws = open_workspace(workspace)
        with _Progress("收取", quiet) as progress:
            result = receive(ws, sources, password=imap_password, received_at=when, office=office, send=send,
                             smtp_password=_smtp_password(), progress=progress.step)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    labels = {"duplicate": "重复报送", "already": "已处理过", "attachment": "附件", **STATE_LABELS}
    for item in result.items:
        who = item.office_name or "未识别单位"
        note = f"（{item.note}）" if item.note else ""
        typer.echo(f"  {item.filename} —— {who}：{labels.get(item.status, item.status)}{note}")
    for text in result.mail_notes:
        typer.echo(f"  {text}")
    typer.echo(f"共处理{len(result.items)}个文件，起草{len(result.drafts)}封回复邮件"
               + (f"，发出{result.sent}封" if send else "（在 outbox/drafts/，用邮件客户端打开即为草稿）"))
    if result.drafts and not ws.get("sender"):
        typer.echo(f"提示：回复草稿没有发件人，请设置：xxgk settings {workspace} sender 邮箱地址")


def _parse_time(text: str):
    from datetime import datetime

    from .workspace import LOCAL_TZ

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"时间应为 YYYY-MM-DDTHH:MM（例如 2026-01-20T09:30）：{text}") from None
    return when if when.tzinfo else when.replace(tzinfo=LOCAL_TZ)


@app.command("status")
def status_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    html: Optional[Path] = typer.Option(None, "--html", help="另写一份可打印的网页（单个 .html 文件）"),
) -> None:
    """各单位报送情况：已报或未报、收到时间、是否逾期、校验结果、审核状态和轮次、附件、是否已反馈。"""
    from .status import status_json, workspace_status, write_status_html
    from .workspace import open_workspace
    try:
        ws = open_workspace(workspace)
        report = workspace_status(ws, history=as_json or html is not None)
        if html is not None:
            if html.suffix.lower() not in (".html", ".htm"):
                raise UsageError(f"网页文件应以 .html 结尾：{html}")
            write_status_html(report, ws, html)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(status_json(report) if as_json else report.to_text())
    if html is not None and not as_json:
        typer.echo(f"已写出网页：{html}")


def _decision_text(d) -> str:
    what = {"return": "已退回", "accept": "已审核通过", "reopen": "已重新打开"}[d.action]
    text = f"{d.office_name}（{d.office_code}）{what}：{d.filename}（sha256 {d.sha256[:12]}…）"
    if d.action == "return":
        text += f"，第{d.round - 1}次退回，原因：{d.reason}"
    elif d.action == "accept" and d.warnings:
        text += f"，接受提醒{len(d.warnings)}项，理由：{d.reason}"
    if d.draft is not None:
        text += f"\n  邮件草稿：{d.draft}" + (f"（已发出）" if d.sent else "")
    return text


@app.command("return")
def return_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    code: str = typer.Argument(..., help="单位代码"),
    reason: str = typer.Option(..., "--reason", help="退回原因（写给报送单位看）"),
    send: bool = SEND,
) -> None:
    """退回某单位的当前版本：记录原因和审核人，轮次加一，起草附带反馈工作簿的退回邮件。"""
    from .review import return_submission
    from .workspace import open_workspace
    try:
        d = return_submission(open_workspace(workspace), code, reason, send=send, smtp_password=_smtp_password())
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(_decision_text(d))


@app.command("accept")
def accept_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    code: str = typer.Argument(..., help="单位代码"),
    reason: Optional[str] = typer.Option(None, "--reason", help="接受提醒的理由（不给则采用单位的“情况说明”）"),
    send: bool = SEND,
) -> None:
    """审核通过并锁定某单位的当前版本：有错误的不能通过；每项提醒都要有理由（单位的情况说明或 --reason）。"""
    from .review import accept_submission
    from .workspace import open_workspace
    try:
        d = accept_submission(open_workspace(workspace), code, reason, send=send, smtp_password=_smtp_password())
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(_decision_text(d))


@app.command("reopen")
def reopen_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    code: str = typer.Argument(..., help="单位代码"),
    reason: Optional[str] = typer.Option(None, "--reason", help="重新打开的原因"),
) -> None:
    """取消某单位的审核通过（解锁）：此后收到的最新版本成为当前版本，重新待审核。"""
    from .review import reopen
    from .workspace import open_workspace
    try:
        d = reopen(open_workspace(workspace), code, reason)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(_decision_text(d))


@app.command("remind")
def remind_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    send: bool = SEND,
) -> None:
    """为未报送、报送无效或退回后未重报的单位起草催报邮件（附预填的模板或反馈工作簿，写明截止日期）。"""
    from .outbox import remind
    from .workspace import open_workspace
    try:
        result = remind(open_workspace(workspace), send=send, smtp_password=_smtp_password())
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    for code, name, path in result.drafted:
        typer.echo(f"  {code} {name}：{path}")
    for code, name, why in result.skipped:
        typer.echo(f"  {code} {name}：未起草（{why}）")
    typer.echo(f"起草催报邮件{len(result.drafted)}封" + (f"，发出{result.sent}封" if send else ""))


@app.command("send")
def send_cmd(workspace: Path = typer.Argument(..., help="工作区文件夹")) -> None:
    """发出工作区中所有尚未发出的邮件草稿（回复、退回、审核通过、催报），并记入台账。"""
    from .outbox import send_outgoing
    from .workspace import open_workspace
    try:
        n = send_outgoing(open_workspace(workspace), password=_smtp_password())
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(f"发出{n}封邮件" if n else "没有尚未发出的邮件")


@app.command("merge")
def merge_cmd(
    workspace: Path = typer.Argument(..., help="工作区文件夹"),
    output: Path = typer.Option(..., "-o", "--output", help="汇总表（.xlsx），同名 .csv 一并写出"),
    include_warnings: bool = typer.Option(False, "--include-warnings", help="有提醒但尚未审核通过的单位也计入汇总"),
    include_errors: bool = typer.Option(False, "--include-errors", help="有错误的单位也计入汇总"),
    texts: Optional[Path] = typer.Option(None, "--texts", help="本级的文字部分（UTF-8 文字或 Markdown，每段前写标题，如“（一）主动公开”）"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="不显示进度"),
) -> None:
    """汇总各单位的当前版本（审核通过的和没有任何问题的）：国家格式表格、分单位数据、按类型汇总、报送情况、问题清单、来源、图表。"""
    from .merge import merge, read_texts
    from .workspace import open_workspace
    try:
        ws = open_workspace(workspace)
        own = read_texts(ws.spec, texts) if texts else None
        with _Progress("汇总", quiet) as bar:
            result = merge(ws, output, include_errors=include_errors, include_warnings=include_warnings, texts=own,
                           progress=bar.count)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    typer.echo(f"已写出汇总表：{result.path}（计入{len(result.included)}个单位）和 {result.csv_path}")
    for o in result.excluded:
        typer.echo(f"  未计入：{o.name}（{o.reason}）")
    if result.kept_texts:
        typer.echo(f"  文字部分：{'、'.join(result.spec.text_heading(k) for k in result.kept_texts)}")
    else:
        typer.echo("  文字部分尚未填写：请在汇总表的“文字部分”表中填写（或用 --texts 文件），再生成报告")


@app.command("report")
def report_cmd(
    source: Path = typer.Argument(..., help="单位的报表或全县汇总表（.xlsx）"),
    output: Path = typer.Option(..., "-o", "--output", help="输出文件：.docx、.html 或 .md（编制说明另写在旁边的 .编制说明.md）"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年度的报表或汇总表（用于“较上年增加N件，增长N%”）"),
    name: Optional[str] = typer.Option(None, "--name", help="报告单位名称（默认取报表或汇总表中的单位名称）"),
    draft: bool = typer.Option(False, "--draft", help="文字未填写时也生成，用【待补充：…】标出，文档标为征求意见稿"),
    force: bool = typer.Option(False, "--force", help="文字与表格不一致时也生成（不一致之处列入编制说明）"),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete", help="有单位未报送或未计入汇总时也生成"),
    templates: Optional[Path] = typer.Option(None, "--templates", help="改写过的报告模板文件夹（其中没有的文件用自带的）"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="不显示进度"),
) -> None:
    """由填报数据生成年度报告（六个部分和三张国家格式表格），文字中的数字与表格一致。

    必填的文字（总体情况的五个方面、存在的主要问题及改进情况）未填写、文字与表格不一致、汇总不完整时不生成，并列出原因。
    """
    from .report import write_report
    try:
        with _Progress("生成报告", quiet) as bar:
            result = write_report(source, output, previous=previous, templates=templates, name=name, draft=draft,
                                  force=force, allow_incomplete=allow_incomplete, progress=bar.count)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    doc = result.doc
    typer.echo(f"已生成报告：{result.path}（{doc.title}{'，' + '征求意见稿' if doc.draft else ''}）")
    typer.echo(f"编制说明：{result.notes_path}")
    if doc.draft and doc.missing:
        typer.echo(f"  待补充：{'、'.join(doc.missing)}")
    if force and doc.contradictions:
        typer.echo(f"  注意：照写了{len(doc.contradictions)}处文字与表格不一致，见编制说明")


@app.command("import")
def import_cmd(
    sources: list[Path] = typer.Argument(..., help="公开发布的年度报告：.txt、.md、.html、.docx 或 .pdf"),
    output: Path = typer.Option(..., "-o", "--output", help="输出文件夹（每份报告写一个填报表）"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    year: Optional[int] = typer.Option(None, "--year", help="报告年度（仅作提示）"),
    format: Optional[FormatChoice] = typer.Option(None, "--format", help="国家格式；缺省时按表格文字识别"),
) -> None:
    """把已公开的年度报告（网页、Word、抓取的文字）读成填报表；无法确定的数留空并列出。"""
    from .findings import severity_label
    from .importer import import_report
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
                typer.echo(f"  {severity_label(f.severity)} {f.message}")
    raise typer.Exit(1 if errors else 0)


@app.command("audit")
def audit_cmd(
    sources: list[Path] = typer.Argument(..., help="已公开的年度报告（.txt、.md、.html、.docx、.pdf）或其所在文件夹（含子文件夹）"),
    output: Path = typer.Option(..., "-o", "--output", help="评估结果工作簿（.xlsx）：评估结果和问题清单两张表"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上一年度报告所在的文件夹：跨年度核对数据，比对文字雷同"),
    html: Optional[Path] = typer.Option(None, "--html", help="另存一份可打印的网页"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    scorecard: Optional[Path] = typer.Option(None, "--scorecard", help="计分表（YAML）；缺省用自带的示例计分表"),
    quiet: bool = QUIET,
) -> None:
    """评估一批已公开的年度报告：要素、数据、格式、雷同，按计分表打分。"""
    from .audit import audit
    if output.suffix.lower() != ".xlsx":
        _fail(UsageError(f"评估结果只能保存为 .xlsx 工作簿：{output}"))
    try:
        with _Progress("评估年度报告", quiet) as bar:
            report = audit(sources, previous=previous, scorecard=scorecard, progress=bar.count)
        report.write_xlsx(output)
        if html is not None:
            report.write_html(html)
    except Exception as exc:  # noqa: BLE001 - rendered by _fail
        _fail(exc)
    if as_json:
        typer.echo(report.to_json())
    else:
        for row in report.rows:
            if row.error:
                typer.echo(f"{row.path}：{row.error}")
                continue
            imp = row.imported
            typer.echo(f"{row.path}：{imp.office or '单位不明'}，{imp.year or '年度不明'}年度，{row.score:g}分"
                       f"（错误{row.count('error')}项，提醒{row.count('warning')}项，无法确定的数{len(imp.uncertain)}个）")
        typer.echo(f"评估结果：{output}" + (f"；网页：{html}" if html else ""))
    raise typer.Exit(1 if report.failed else 0)


@app.command("demo")
def demo_cmd(outdir: Path = typer.Argument(..., help="输出文件夹")) -> None:
    """用自带的示例（一个虚构县的名单和各单位报表）演示全部流程。"""
    from .demo import run_demo
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
        if title.startswith("报送情况") and result.status is not None:
            typer.echo(result.status.to_text())
    typer.echo(f"全部输出在：{result.outdir}")


def main() -> None:  # pragma: no cover
    """The ``xxgk`` entry point."""
    app(prog_name="xxgk")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
