"""Findings are data: a stable code, a severity, a location, a Chinese message, expected and actual.

Rule findings take their code and message template from the spec; findings about
files, structure and formulas take them from the catalogue below. Every view (the
console, ``--json``, the annotated workbook, the reply email) renders the same
:class:`Finding` objects.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from .xlexpr import general

# code: (severity, message template). Templates use {file}, {sheet}, {cell}, {label}, {expected}, {actual}, {detail}.
CATALOGUE: dict[str, tuple[str, str]] = {
    # The file itself
    "file-empty": ("error", "文件是空的（0字节），请重新发送填好的.xlsx文件"),
    "file-missing": ("error", "找不到文件：{detail}"),
    "file-corrupt": ("error", "文件已损坏或不完整，无法打开，请重新保存后发送（{detail}）"),
    "file-too-large": ("error", "文件过大或解压后过大，已拒绝读取，请确认发送的是填报表"),
    "file-too-many-cells": ("error", "工作表中的单元格数量异常多，已拒绝读取，请使用下发的模板填报"),
    "file-poisoned": ("error", "处理这个文件时程序已中断{actual}次（可能是文件异常复杂），不再重试；文件已存档，"
                               "请人工查看，或请单位在Excel中重新保存后发送"),
    "file-not-regular": ("error", "{detail} 不是普通文件（可能是管道或设备），已跳过"),
    "file-too-complex": ("error", "文件过于复杂，无法处理（{detail}），请使用下发的模板填报后重新发送"),
    "file-too-many-sheets": ("error", "工作表数量异常多，已拒绝读取，请使用下发的模板填报"),
    "file-unsafe-xml": ("error", "文件中含有不安全的内容（XML实体或外部引用），已拒绝读取"),
    "file-encrypted": ("error", "文件设置了打开密码，无法读取，请取消密码后重新发送"),
    "file-xls": ("error", "这是旧版.xls文件，请在Excel或WPS中“另存为”Excel工作簿（.xlsx）后重新发送"),
    "file-et": ("error", "这是WPS表格（.et）文件，请在WPS中“另存为”Excel工作簿（.xlsx）后重新发送"),
    "file-not-workbook": ("error", "这不是Excel工作簿（看起来是{detail}），请发送填好的.xlsx填报表"),
    "file-unknown-template": ("error", "没有在工作簿中找到年度报告的表格，请使用下发的模板填报"),
    "file-macros": ("warning", "文件含有宏（.xlsm），宏未运行；请使用下发的.xlsx模板"),
    "file-read-error": ("error", "读取文件时出错：{detail}"),
    # Template identity and structure
    "template-identified-by-labels": ("warning", "未找到模板标识（可能不是下发的模板，或表格被复制到了其他工作簿），已按表格文字识别为{detail}"),
    "template-outdated": ("warning", "模板版本{actual}不是当前版本{expected}，请使用新下发的模板"),
    "template-spec-changed": ("warning", "模板与当前格式定义不一致（校验和不同），请使用新下发的模板"),
    "structure-unprotected": ("warning", "工作表“{sheet}”的保护已被撤销，请不要撤销保护"),
    "structure-sheet-missing": ("error", "缺少工作表“{sheet}”"),
    "structure-sheet-added": ("warning", "多出了工作表“{sheet}”"),
    "structure-sheet-renamed": ("warning", "工作表“{expected}”被改名为“{actual}”"),
    "structure-moved": ("warning", "工作表“{sheet}”的表格位置被移动（插入或删除了行、列），请不要插入或删除行、列"),
    "structure-label-changed": ("warning", "表格文字被修改：应为“{expected}”，实为“{actual}”"),
    "structure-figure-missing": ("error", "找不到填报项“{label}”的单元格"),
    # Formulas
    "formula-replaced": ("error", "“{label}”原为自动计算的公式，现被改为固定数值{actual}，请恢复公式（应为{expected}）"),
    "formula-altered": ("error", "“{label}”的公式被修改（应为 {expected}，实为 {actual}）"),
    "formula-cached-mismatch": ("warning", "“{label}”保存的计算结果为{actual}，按填报数据重新计算应为{expected}，请在表格软件中重新计算后保存"),
    # Values (rule D5)
    "value-blank": ("error", "“{label}”空白；没有发生的事项请填0"),
    "value-not-number": ("error", "“{label}”应填数值，不能填“{actual}”；没有发生的事项请填0"),
    "value-negative": ("error", "“{label}”不能为负数（现为{actual}）"),
    "value-not-integer": ("error", "“{label}”应为整数（现为{actual}）"),
    "value-too-large": ("error", "“{label}”的数值{actual}大得不合理（上限{expected}），请核实"),
    "text-too-long": ("warning", "“{label}”有{actual}个字，超过表格单元格能保存的{expected}个字，超出部分在Excel中会丢失"),
    "value-text-number": ("warning", "“{label}”的数字是以文字形式填写的（“{actual}”），已按{expected}读取，请改为数字格式"),
    # Office information
    "office-field-missing": ("warning", "单位信息“{label}”未填写"),
    "office-year-missing": ("error", "未填写报告年度"),
    "office-year-mismatch": ("error", "报告年度为{actual}，本次收集的是{expected}年度报告"),
    "office-kind-unknown": ("warning", "单位类型“{actual}”不在可选范围内（{expected}）"),
    "previous-unreadable": ("error", "无法读取上年度数据：{detail}"),
    # Importing a published report: every figure the reader could not place, and why
    "import-uncertain": ("warning", "{detail}，已留空，请核对原文后填写"),
    "import-block-missing": ("warning", "{detail}，其中{actual}个数无法核对，已留空"),
    "import-section-missing": ("warning", "{detail}，{actual}个数已留空"),
    "import-not-found": ("warning", "{detail}，{actual}个数无法核对，已留空"),
    "import-tables-images": ("error", "表格为图片，无法核对数据（{detail}），{actual}个数均已留空"),
    # A published report's structure (field-rules S1, S2, S5, S6, T1)
    "report-section-missing": ("error", "缺少“{label}”部分"),
    "report-section-order": ("warning", "各部分的顺序与格式不符（原文顺序：{detail}）"),
    "report-basis-outdated": ("warning", "编制依据仍引用{actual}，应为{expected}"),
    "report-title-year": ("warning", "标题年度{actual}与统计期限的年度{expected}不一致"),
    "report-title-office": ("warning", "标题中的单位“{actual}”与落款单位“{expected}”不一致"),
    "report-period": ("warning", "统计期限“{actual}”与报告年度{expected}不符（应为{expected}年1月1日至12月31日）"),
    "report-late": ("error", "{label}年报于{actual}公开，超过法定时限{expected}"),
}


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value: Any, limit: int = 2000) -> Any:
    """Text safe to print, store as JSON and write into a workbook: no control characters, no lone
    surrogates, bounded length. Other values pass through."""
    if not isinstance(value, str):
        return value
    value = _ILLEGAL.sub("\ufffd", value)
    return value if len(value) <= limit else value[:limit] + "……"


STATUS_LABELS = {"ok": "通过", "warnings": "有提醒", "errors": "有错误", "unreadable": "无法读取"}


def severity_label(severity: str, explained: bool = False) -> str:
    """错误 / 提醒 / 提醒（已说明） / 参考: how every view names a finding's severity."""
    if severity == "error":
        return "错误"
    if severity == "info":
        return "参考"
    return "提醒（已说明）" if explained else "提醒"


@dataclass(frozen=True)
class Finding:
    """One problem found in one file, located as precisely as possible."""

    code: str
    severity: str  # "error" / "warning" / "info"
    message: str
    sheet: str | None = None
    cell: str | None = None
    figure: str | None = None
    rule: str | None = None
    expected: Any = None
    actual: Any = None
    expected_label: str | None = None  # what ``expected`` is, e.g. "第三项+第四项"
    actual_label: str | None = None  # what ``actual`` is, e.g. "第一项+第二项"

    def __post_init__(self) -> None:
        # Messages quote what offices typed: keep them printable, whatever was in the file.
        for name in ("message", "expected", "actual"):
            object.__setattr__(self, name, clean_text(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def where(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or ""


def finding(code: str, *, label: str = "", detail: str = "", sheet: str | None = None, cell: str | None = None,
            figure: str | None = None, expected: Any = None, actual: Any = None) -> Finding:
    """A finding from the catalogue, its message filled in."""
    severity, template = CATALOGUE[code]
    message = template.format(label=label, detail=detail, sheet=sheet or "", cell=cell or "",
                              expected=general(expected), actual=general(actual))
    return Finding(code, severity, message, sheet, cell, figure, None, expected, actual)
