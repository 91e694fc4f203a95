"""The coordinator's workspace: whose it is, its settings, its folders.

A workspace folder holds ``settings.json`` (the collecting unit, the report year, the
deadline, mail), ``roster.csv``, ``archive/`` (every received file under its sha256,
never rewritten), ``outbox/`` (feedback workbooks and mail drafts) and ``ledger.sqlite``
(what arrived, what was decided, what was sent; see :mod:`pipeline.ledger`).
Receiving, review, reminders and status live in their own modules.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from . import ledger
from .errors import InputError, UsageError, WorkspaceError
from .fsutil import atomic_write_text
from .mail import now_utc
from .spec import LEVELS, Spec, format_for_year
from .textutil import visible_text

try:
    from zoneinfo import ZoneInfo

    LOCAL_TZ = ZoneInfo("Asia/Shanghai")
except Exception:  # noqa: BLE001 - no tz database: China has had one offset since 1991
    LOCAL_TZ = timezone(timedelta(hours=8))

FIRST_REPORT_YEAR = 2019  # the first year of the national formats under the 2019 条例


def iso(dt: datetime) -> str:
    """A moment as the ledger stores it: ISO 8601 in UTC, to the second."""
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def local_time(value: str) -> datetime:
    """A ledger time in Beijing time, for people."""
    return datetime.fromisoformat(value).astimezone(LOCAL_TZ)


# -- settings ---------------------------------------------------------------------------

def _text(value: str) -> str:
    value = value.strip()
    if len(value) > 200:
        raise ValueError("不能超过200个字")
    return value


def _name(value: str) -> str:
    value = _text(visible_text(value)[0])
    if not value:
        raise ValueError("不能为空")
    return value


def _email(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
        raise ValueError("应为邮箱地址，例如 zwgk@qingxi.gov.cn")
    return value.lower()


def _port(value: str) -> int:
    if not str(value).strip().isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError("应为1到65535之间的端口号")
    return int(value)


def _positive(low: float, high: float) -> Callable[[str], float]:
    def check(value: str) -> float:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"应为{low:g}到{high:g}之间的数") from None
        if not low <= number <= high:
            raise ValueError(f"应为{low:g}到{high:g}之间的数")
        return int(number) if number.is_integer() else number
    return check


def _zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = value.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("应为时区名称，例如 Asia/Shanghai") from None
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError("只能是 " + "、".join(choices))
        return value
    return check


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    parse: Callable[[str], Any]
    default: Any = ""
    help: str = ""


MERGE_POLICIES = ("accepted-or-clean", "include-warnings", "include-errors")

SETTINGS: dict[str, Setting] = {s.key: s for s in [
    Setting("name", "汇总单位名称", _name, help="例如 青溪县；用于汇总表和年度报告的标题"),
    Setting("code", "汇总单位代码", _text, help="例如 QX 或统一社会信用代码"),
    Setting("year", "报告年度", int, help="建立工作区时确定，不能修改"),
    Setting("deadline", "报送截止日期", str, help="YYYY-MM-DD；此后收到的为逾期"),
    Setting("sender", "发件人邮箱", _email, help="回复、退回、催报邮件的发件人（From）"),
    Setting("signature", "邮件落款", _text, "政务公开办"),
    Setting("reviewer", "审核人", _text, help="记入审核记录；未设置时用当前登录用户名"),
    Setting("smtp.host", "SMTP 服务器", _text),
    Setting("smtp.port", "SMTP 端口", _port, 465),
    Setting("smtp.security", "SMTP 加密方式", _choice("ssl", "starttls", "none"), "ssl",
            help="ssl、starttls，或 none（只能用于本机测试）"),
    Setting("smtp.user", "SMTP 用户名", _text, help="密码用环境变量 XXGK_SMTP_PASSWORD"),
    Setting("level", "汇总层级", _choice(*LEVELS), "county",
            help="county（县级）、city（设区的市级）或 province（省级）；规章等规则按层级判断"),
    Setting("previous", "上年度工作区", _text,
            help="上一年度的工作区文件夹：据此核对上年结转、现行有效件数和文字是否与上年雷同"),
    Setting("budget_seconds", "每个文件的处理时限（秒）", _positive(1, 3600), 20,
            help="读取、校验、标注一个文件最多用的时间；超过的文件记为“文件过于复杂，无法处理”，其余文件照常处理"),
    Setting("budget_memory_mb", "每个文件的内存上限（MB）", _positive(64, 65536), 1024,
            help="读取、校验、标注一个文件最多增加的内存"),
    Setting("max_attempts", "处理失败的重试次数", _positive(1, 100), 3,
            help="一个文件处理中断（程序被终止）达到此次数后不再重试，记为无法处理并报告"),
    Setting("timezone", "时区", _zone, "Asia/Shanghai",
            help="邮件日期没有写时区（或写作 -0000）时按此时区理解；CST、GMT+8 一律按北京时间"),
    Setting("merge_policy", "汇总口径", _choice(*MERGE_POLICIES), "accepted-or-clean",
            help="accepted-or-clean：只汇总审核通过或没有任何问题的单位；include-warnings：未审核的有提醒单位也汇总；"
                 "include-errors：有错误的单位也汇总"),
]}


def check_year(year: Any) -> int:
    """A report year xxgk can collect: 2019 (the first year of the national formats) up to next year."""
    try:
        y = int(str(year).strip())
    except ValueError:
        raise UsageError(f"报告年度应为四位数字：{year}") from None
    latest = date.today().year + 1
    if not FIRST_REPORT_YEAR <= y <= latest:
        raise UsageError(f"报告年度{y}不在可收集的范围内（{FIRST_REPORT_YEAR}—{latest}年）")
    return y


def check_deadline(value: str, year: int) -> str:
    """A deadline is a real date after the report year has ended (reports are made the year after)."""
    value = value.strip()
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"截止日期应为真实的日期，格式 YYYY-MM-DD（例如 {year + 1}-01-31）：{value}") from None
    if d <= date(year, 12, 31):
        raise UsageError(f"截止日期{d}早于{year}年度结束，年度报告在次年报送（例如 {year + 1}-01-31）")
    return d.isoformat()


def parse_setting(key: str, value: str, year: int) -> Any:
    """Validate one setting as typed on the command line; a Chinese usage error when it is wrong."""
    if key not in SETTINGS:
        raise UsageError(f"没有“{key}”这一设置；可设置：{'、'.join(k for k in SETTINGS if k != 'year')}")
    if key == "year":
        raise UsageError("报告年度在建立工作区时确定，不能修改；另一年度请另建工作区")
    if key == "deadline":
        return check_deadline(value, year) if value.strip() else ""
    if key == "previous" and value.strip():
        folder = Path(value.strip()).expanduser().resolve()
        if not (folder / "settings.json").exists() or not (folder / "ledger.sqlite").exists():
            raise UsageError(f"{value} 不是 xxgk 工作区（没有 settings.json 和 ledger.sqlite）")
        last = json.loads((folder / "settings.json").read_text(encoding="utf-8")).get("year")
        if last is not None and int(last) != year - 1:
            raise UsageError(f"{value} 是{last}年度的工作区，上年度应为{year - 1}年度")
        return str(folder)
    try:
        return SETTINGS[key].parse(value)
    except ValueError as exc:
        raise UsageError(f"设置“{SETTINGS[key].label}”（{key}）{exc}：{value}") from None


def _upgrade_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Settings written by earlier versions (nested smtp, reply_from, the demo's county) in today's keys."""
    out = dict(raw)
    smtp = out.pop("smtp", None)
    if isinstance(smtp, dict):
        for k in ("host", "port", "security", "user"):
            if smtp.get(k) not in (None, ""):
                out.setdefault(f"smtp.{k}", smtp[k])
        if smtp.get("sender"):
            out.setdefault("sender", smtp["sender"])
    if out.get("reply_from"):
        out.setdefault("sender", out["reply_from"])
    out.pop("reply_from", None)
    if out.get("county"):
        out.setdefault("name", out["county"])
    out.pop("county", None)
    return out


@dataclass
class Workspace:
    """An opened workspace folder.

    ``clock`` stands in for the wall clock (a simulation such as the demo's runs on its own calendar).
    """

    path: Path
    settings: dict[str, Any]
    clock: Callable[[], datetime] | None = field(default=None, repr=False, compare=False)
    notices: list[str] = field(default_factory=list, repr=False, compare=False)  # what opening it had to say

    def now(self) -> datetime:
        """The current moment, by the workspace's clock."""
        return self.clock() if self.clock is not None else now_utc()

    def get(self, key: str) -> Any:
        """A setting's value, or its default."""
        value = self.settings.get(key)
        return SETTINGS[key].default if value in (None, "") and key in SETTINGS else value

    @property
    def year(self) -> int:
        return int(self.settings["year"])

    @property
    def name(self) -> str:
        """The collecting unit (a county, a city): it titles the rollup and its report."""
        return str(self.settings.get("name") or "")

    @property
    def code(self) -> str:
        return str(self.settings.get("code") or "")

    @property
    def spec(self) -> Spec:
        """The national format the year's reports are made in."""
        return format_for_year(self.year)

    @property
    def level(self) -> str:
        """county / city / province: the level the offices report at."""
        return str(self.get("level"))

    @property
    def deadline(self) -> date | None:
        d = self.settings.get("deadline")
        return _parse_date(d) if d else None

    @property
    def reviewer(self) -> str:
        """Who decides (recorded with every decision)."""
        if self.settings.get("reviewer"):
            return str(self.settings["reviewer"])
        try:
            return getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name (a service account): say so
            return "未设置审核人"

    @property
    def archive(self) -> Path:
        return self.path / "archive"

    @property
    def outbox(self) -> Path:
        return self.path / "outbox"

    @property
    def drafts(self) -> Path:
        return self.outbox / "drafts"

    @property
    def ledger_path(self) -> Path:
        return self.path / "ledger.sqlite"

    @property
    def read_only(self) -> bool:
        """Whether the folder or the ledger cannot be written (a copy on a read-only share, a backup)."""
        if not os.access(self.path, os.W_OK):
            return True
        return self.ledger_path.exists() and not os.access(self.ledger_path, os.W_OK)

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A ledger connection; each ``with conn:`` block inside is one transaction."""
        with ledger.connect(self.ledger_path, read_only=self.read_only) as conn:
            yield conn

    def offices(self) -> list[sqlite3.Row]:
        with self.db() as conn:
            return conn.execute("SELECT * FROM offices ORDER BY code").fetchall()

    def is_late(self, received_at: str) -> bool:
        return self.deadline is not None and local_time(received_at).date() > self.deadline

    def past_deadline(self, now: datetime | None = None) -> bool:
        """Whether the deadline has passed (an office still missing then is late)."""
        today = (now or self.now()).astimezone(LOCAL_TZ).date()
        return self.deadline is not None and today > self.deadline

    def set(self, key: str, value: str) -> Any:
        """Validate and store one setting; returns the stored value."""
        parsed = parse_setting(key, value, self.year)
        if parsed == "" and key == "name":
            raise UsageError("汇总单位名称不能为空")
        self.settings[key] = parsed
        self.save()
        return parsed

    def save(self) -> None:
        atomic_write_text(self.path / "settings.json", json.dumps(self.settings, ensure_ascii=False, indent=2))

    def settings_view(self) -> list[tuple[str, str, Any]]:
        """(key, label, value) of every setting, for ``xxgk settings``."""
        return [(s.key, s.label, self.get(s.key)) for s in SETTINGS.values()]


@functools.lru_cache(maxsize=8)
def _parse_date(text: str) -> date:
    return date.fromisoformat(text)  # (asked once per office by status: 10,000 times)


def init_workspace(path: str | Path, roster: str | Path, year: int, deadline: str | None = None, *,
                   name: str, code: str | None = None, sender: str | None = None,
                   level: str | None = None) -> Workspace:
    """Create a workspace: roster, settings, archive, outbox and ledger.

    :param path: the folder to create (may exist if empty or already a workspace of the same year).
    :param roster: CSV or xlsx with 单位代码,单位名称,单位类型,联系邮箱.
    :param year: the report year being collected (2019 up to next year).
    :param deadline: YYYY-MM-DD; submissions received after that day are late.
    :param name: the collecting unit, e.g. 青溪县 (titles the rollup and the county's report).
    :param code: its code, optional.
    :param sender: the address replies are sent from, optional.
    :param level: county (default), city or province: where the collecting unit sits. Its roster may list
        units below that send rollups (单位类型 汇总) beside offices that send workbooks.
    """
    path = Path(path)
    roster = Path(roster)
    year = check_year(year)
    format_for_year(year)
    deadline = check_deadline(deadline, year) if deadline else None
    notices: list[str] = []
    shown, hidden = visible_text(name or "")
    if hidden:
        notices.append(f"汇总单位名称含有不可见的控制字符（如改变文字方向的字符），已去除：{shown}")
    name = parse_setting("name", shown, year)
    from .template import read_roster, roster_to_csv  # the template writer: only when a workspace is made

    offices = read_roster(roster, notices)
    codes = [o["code"] for o in offices]
    if len(set(codes)) != len(codes):
        dup = sorted({c for c in codes if codes.count(c) > 1})
        raise InputError(f"名单文件 {roster} 中单位代码重复：{'、'.join(dup)}")
    settings_path = path / "settings.json"
    if settings_path.exists():
        settings = load_settings(settings_path)
        if int(settings["year"]) != year:
            raise UsageError(f"{path} 已是{settings['year']}年度的工作区")
    elif path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} 不是空文件夹，也不是工作区")
    else:
        settings = {"year": year}
    settings["name"] = name
    for key, value in (("code", code), ("sender", sender), ("deadline", deadline), ("level", level)):
        if value:
            settings[key] = parse_setting(key, value, year) if key != "deadline" else value
    for sub in ("archive", "outbox", "outbox/drafts"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    ws = Workspace(path, settings, notices=notices)
    ws.save()
    atomic_write_text(path / "roster.csv", roster_to_csv(offices))
    with ws.db() as conn:
        ledger.set_roster(conn, offices)
    return ws


def load_settings(path: Path) -> dict[str, Any]:
    """settings.json, checked: a file edited by hand into something xxgk cannot use is said so, by key."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorkspaceError(f"工作区设置文件 {path} 已损坏（第{exc.lineno}行第{exc.colno}列：{exc.msg}）；"
                             f"请改正或从备份恢复") from None
    except UnicodeDecodeError:
        raise WorkspaceError(f"工作区设置文件 {path} 不是 UTF-8 文本；请改正或从备份恢复") from None
    except OSError as exc:
        raise WorkspaceError(f"无法读取工作区设置文件 {path}：{exc.strerror}") from None
    if not isinstance(raw, dict) or "year" not in raw:
        raise WorkspaceError(f"工作区设置文件 {path} 缺少报告年度（year）；请改正或从备份恢复")
    settings = _upgrade_settings(raw)
    try:
        year = check_year(settings["year"])
    except UsageError as exc:
        raise WorkspaceError(f"工作区设置文件 {path}：{exc}") from None
    for key, value in settings.items():
        # (The previous year's workspace is looked for when it is used: it may have moved since.)
        if key in SETTINGS and key not in ("year", "previous") and value not in (None, ""):
            try:
                parse_setting(key, str(value), year)
            except UsageError as exc:
                raise WorkspaceError(f"工作区设置文件 {path} 中的“{SETTINGS[key].label}”（{key}）无效：{exc}；"
                                     f"可用 xxgk settings 改正") from None
    return settings


def open_workspace(path: str | Path) -> Workspace:
    """Open an existing workspace, with a Chinese error if it is not one, or if its settings or ledger are broken."""
    path = Path(path)
    settings_path = path / "settings.json"
    if not settings_path.exists() or not (path / "ledger.sqlite").exists():
        raise UsageError(f"{path} 不是工作区，请先运行 xxgk init")
    ws = Workspace(path, load_settings(settings_path))
    ledger.verify(ws.ledger_path)
    with ledger.connect(ws.ledger_path, read_only=ws.read_only, check=True):
        pass  # checks the ledger and brings an older one up to date
    return ws
