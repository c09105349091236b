"""Errors that end a command with one plain line and a documented exit code."""
from enum import IntEnum


def first_line(error: BaseException) -> str:
    """An exception's first line, spaces collapsed (DuckDB, Spark and the parsers put
    context on later lines); its type's name when it has no text. Every message that
    quotes an error quotes this."""
    text = str(error).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(error).__name__


class ExitCode(IntEnum):
    OK = 0
    ALERTS_FIRING = 1     # verbs that report alerts
    USAGE = 2             # usage, config or input error
    RUNTIME = 3           # database, mail server or other runtime failure


class MonitorError(Exception):
    exit_code = ExitCode.RUNTIME


class ConfigError(MonitorError):
    exit_code = ExitCode.USAGE


class InputError(MonitorError):
    """A file or row that cannot be read; the message names it and the fix."""
    exit_code = ExitCode.USAGE


class StoreError(MonitorError):
    exit_code = ExitCode.RUNTIME


class NotifyError(MonitorError):
    """A mail server or webhook that cannot be reached or refuses; the outbox keeps the
    messages and the next run retries them."""
    exit_code = ExitCode.RUNTIME
