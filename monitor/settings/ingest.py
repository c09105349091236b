"""[ingest] in config.toml, also settable per source: the bounds a row must keep to load.

    [ingest]
    future_days = 3               # a posting this many days after today is refused
    earliest_date = "1970-01-01"  # and one before this
    max_amount = 1000000000000    # and an amount this large (keeps every sum far from overflow)

Rows outside them go to rejected_rows with the reason (queries/ingest/normalize.sql).
"""
from __future__ import annotations

import re

from monitor.settings.validator import Validator

INGEST_LIMITS = ("future_days", "earliest_date", "max_amount")


def ingest_limits(v: Validator, table: dict, prefix: str, defaults: dict) -> dict:
    """future_days, earliest_date and max_amount from `table`, else from `defaults`."""
    if prefix == "ingest.":
        v.unknown(table, INGEST_LIMITS, prefix)
    found = dict(defaults)
    days = table.get("future_days")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3660:
            raise v.error(prefix + "future_days", f"= {days!r} is not a number of days",
                          "write a whole number from 0 to 3660, such as 3")
        found["future_days"] = days
    earliest = table.get("earliest_date")
    if earliest is not None:
        text = str(earliest)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise v.error(prefix + "earliest_date", f"= {earliest!r} is not a date",
                          "write it like 1990-01-01")
        found["earliest_date"] = text
    bound = table.get("max_amount")
    if bound is not None:
        if isinstance(bound, bool) or not isinstance(bound, int) or not 0 < bound <= 10 ** 14:
            raise v.error(prefix + "max_amount", f"= {bound!r} is not a whole amount up to "
                          "10^14", "write a whole number such as 1000000000000")
        found["max_amount"] = bound
    return found
