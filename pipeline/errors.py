"""Exceptions raised by the library; the CLI turns them into Chinese messages and exit codes."""


class XxgkError(Exception):
    """Base of every error xxgk reports to a user. The message is Chinese and names the file."""

    exit_code = 1


class SpecError(XxgkError):
    """A format spec is missing, malformed or inconsistent."""


class UsageError(XxgkError):
    """The command was called with arguments that cannot work together."""

    exit_code = 2


class InputError(XxgkError):
    """An input file (roster, workbook) cannot be used."""


class WorkspaceError(XxgkError):
    """The workspace cannot be used as it is: a broken settings file, a damaged or locked ledger, a full
    disk, a folder without write permission. Nothing about the offices' files."""

    exit_code = 4
