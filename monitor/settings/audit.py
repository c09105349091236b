"""[audit] in config.toml: the limits of auditor queries (`monitor query`, saved queries,
evidence).

    [audit]
    query_timeout = "5m"       # stop a query after this long ("90s", "30m", "1h"; "0": never)
    temp_limit = "10GB"        # disk a query may spill to beyond [database] memory_limit

Validated like every other section (monitor.settings.config builds the Config and calls
audit_settings): an unknown key is warned about; a bad value stops with the file, line,
key and fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from monitor.settings.validator import SIZE, Validator, duration, subtable
from monitor.sql.store import DEFAULT_TEMP_LIMIT

DEFAULT_QUERY_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True)
class AuditSettings:
    query_timeout: float | None = DEFAULT_QUERY_TIMEOUT.total_seconds()   # None: no timeout
    temp_limit: str = DEFAULT_TEMP_LIMIT


def audit_settings(v: Validator, data: dict) -> AuditSettings:
    p = "audit."
    table = subtable(v, data, "audit")
    v.unknown(table, ("query_timeout", "temp_limit"), p)
    timeout = duration(v, table, "query_timeout", p, DEFAULT_QUERY_TIMEOUT).total_seconds()
    temp_limit = v.string(table, "temp_limit", p + "temp_limit", default=DEFAULT_TEMP_LIMIT)
    if not SIZE.fullmatch(temp_limit):
        raise v.error(p + "temp_limit", f"= '{temp_limit}' is not a size",
                      "write it like \"10GB\" or \"500MB\"")
    return AuditSettings(query_timeout=timeout or None, temp_limit=temp_limit)
