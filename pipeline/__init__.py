"""xxgk: templates, checks, rollups and reports for 政府信息公开工作年度报告.

The library behind the ``xxgk`` command; each command calls one of these.
"""

__version__ = "0.1.0"

from .errors import InputError, SpecError, UsageError, XxgkError  # noqa: E402
from .spec import Figure, Rule, Spec, available_formats, format_for_year, get_spec, load_spec  # noqa: E402
from .template import Filling, read_roster, write_workbook  # noqa: E402
from .reader import Submission, read_submission  # noqa: E402
from .findings import Finding  # noqa: E402
from .check import CheckReport, FileResult, check_paths, check_submission  # noqa: E402
from .annotate import annotate  # noqa: E402
from .workspace import Workspace, init_workspace, open_workspace  # noqa: E402
from .sources import Arrival  # noqa: E402
from .intake import receive, receive_file  # noqa: E402
from .review import accept_submission, reopen, return_submission  # noqa: E402
from .outbox import remind, send_outgoing  # noqa: E402
from .status import workspace_status  # noqa: E402
from .merge import merge  # noqa: E402
from .report import write_report  # noqa: E402
from .importer import import_report  # noqa: E402

__all__ = [
    "Arrival",
    "CheckReport",
    "Figure",
    "FileResult",
    "Filling",
    "Finding",
    "InputError",
    "Rule",
    "Spec",
    "SpecError",
    "Submission",
    "UsageError",
    "Workspace",
    "XxgkError",
    "accept_submission",
    "annotate",
    "available_formats",
    "check_paths",
    "check_submission",
    "format_for_year",
    "get_spec",
    "import_report",
    "init_workspace",
    "load_spec",
    "merge",
    "open_workspace",
    "read_roster",
    "read_submission",
    "receive",
    "receive_file",
    "remind",
    "reopen",
    "return_submission",
    "send_outgoing",
    "workspace_status",
    "write_report",
    "write_workbook",
]
