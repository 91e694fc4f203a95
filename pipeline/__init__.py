"""xxgk: templates, checks, rollups and reports for 政府信息公开工作年度报告."""

__version__ = "0.1.0"

from .errors import InputError, SpecError, UsageError, XxgkError  # noqa: E402
from .spec import Figure, Rule, Spec, available_formats, format_for_year, get_spec, load_spec  # noqa: E402
from .template import Filling, read_roster, write_workbook  # noqa: E402

__all__ = [
    "Figure",
    "Filling",
    "InputError",
    "Rule",
    "Spec",
    "SpecError",
    "UsageError",
    "XxgkError",
    "available_formats",
    "format_for_year",
    "get_spec",
    "load_spec",
    "read_roster",
    "write_workbook",
]
