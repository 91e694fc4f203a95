"""xxgk: templates, checks, rollups and reports for 政府信息公开工作年度报告.

The library behind the ``xxgk`` command; each command calls one of these.
"""

__version__ = "0.1.0"

import importlib

# The public API, imported on first use (PEP 562): `xxgk status` must not pay for what `xxgk report` loads.
_EXPORTS = {
    'InputError': 'errors',
    'SpecError': 'errors',
    'UsageError': 'errors',
    'XxgkError': 'errors',
    'Figure': 'spec',
    'Rule': 'spec',
    'Spec': 'spec',
    'available_formats': 'spec',
    'format_for_year': 'spec',
    'get_spec': 'spec',
    'load_spec': 'spec',
    'Filling': 'template',
    'read_roster': 'template',
    'write_workbook': 'template',
    'Submission': 'reader',
    'read_submission': 'reader',
    'Finding': 'findings',
    'CheckReport': 'check',
    'FileResult': 'check',
    'check_paths': 'check',
    'check_submission': 'check',
    'annotate': 'annotate',
    'Workspace': 'workspace',
    'init_workspace': 'workspace',
    'open_workspace': 'workspace',
    'Arrival': 'sources',
    'receive': 'intake',
    'receive_file': 'intake',
    'accept_submission': 'review',
    'reopen': 'review',
    'return_submission': 'review',
    'remind': 'outbox',
    'send_outgoing': 'outbox',
    'workspace_status': 'status',
    'merge': 'merge',
    'write_report': 'report',
    'import_report': 'importer',
    'import_document': 'importer',
    'audit': 'audit',
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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
    "audit",
    "available_formats",
    "check_paths",
    "check_submission",
    "format_for_year",
    "get_spec",
    "import_document",
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
