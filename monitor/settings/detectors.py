"""[detectors] in config.toml: shared parameter values and one table per detector.

The detectors' SQL headers (queries/detect/*.sql) say which parameters exist and of
what type; a value the SQL cannot use as meant (nan, inf, out of its type's range) is
refused here, at load, rather than turning a detector off or failing every scan.
"""
from __future__ import annotations

import math

from monitor.settings.validator import Validator
from monitor.sql.store import QUERIES, query_header

LARGEST = {"DECIMAL": 10**15, "INTEGER": 2**31 - 1, "BIGINT": 2**63 - 1}   # DECIMAL(18,2) money
LARGEST_DAYS = 36_600      # a window of a hundred years; more overflows date arithmetic
# Honest alerts a month the finance team is willing to read, for the whole organisation:
# what `monitor calibrate` aims the detectors' thresholds at ([detectors] alert_budget).
ALERT_BUDGET = 2.0


def alert_budget(config) -> float:
    """[detectors] alert_budget, else ALERT_BUDGET (validated at load)."""
    return float(config.sections.get("detectors", {}).get("alert_budget", ALERT_BUDGET))


def check_detectors(v: Validator, section) -> None:
    """[detectors] holds shared parameter values and one table per detector; the
    detectors' SQL headers say which parameters exist and of what type."""
    if not isinstance(section, dict):
        raise v.error("detectors", "must be a table", "write it as [detectors]")
    catalog = {p.stem: query_header(f"detect/{p.stem}")["params"]
               for p in sorted((QUERIES / "detect").glob("*.sql"))}
    shared = {name: spec for params in catalog.values() for name, spec in params.items()}
    for key, value in section.items():
        if key == "alert_budget":
            _check_param(v, "detectors.alert_budget", value, "DOUBLE")
            continue
        if isinstance(value, dict):
            if key not in catalog:
                v.unknown({key: value}, catalog, "detectors.")
                continue
            v.unknown(value, ("enabled", *catalog[key]), f"detectors.{key}.")
            if not isinstance(value.get("enabled", True), bool):
                raise v.error(f"detectors.{key}.enabled", f"= {value['enabled']!r} is not true "
                              "or false", "write enabled = true or enabled = false")
            for name, spec in catalog[key].items():
                if name in value:
                    _check_param(v, f"detectors.{key}.{name}", value[name], spec["type"])
        elif key in shared:
            _check_param(v, f"detectors.{key}", value, shared[key]["type"])
        else:
            v.unknown({key: value}, (*catalog, *shared, "alert_budget"), "detectors.")


def _check_param(v: Validator, key: str, value, sql_type: str) -> None:
    numeric = sql_type in ("DECIMAL", "DOUBLE", "INTEGER", "BIGINT")
    if numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise v.error(key, f"= {value!r} is not a number", "write a plain number, unquoted")
    if numeric and not math.isfinite(value):
        # nan compares false with everything: a threshold of nan turns a detector off
        raise v.error(key, f"= {value!r} is not a finite number",
                      "write a plain number such as 800, not nan or inf")
    if sql_type in ("INTEGER", "BIGINT") and not isinstance(value, int):
        raise v.error(key, f"= {value!r} is not a whole number", "write a whole number")
    if numeric and value < 0:
        raise v.error(key, f"= {value!r} is negative", "write zero or a positive number")
    largest = LARGEST_DAYS if key.endswith("_days") else LARGEST.get(sql_type)
    if numeric and largest is not None and value > largest:
        # past this the detector's SQL overflows (DECIMAL(18,2) money, dates, INTEGER)
        raise v.error(key, f"= {value!r} is too large", f"write at most {largest:,}")
    if sql_type == "VARCHAR" and not isinstance(value, str):
        raise v.error(key, f"= {value!r} is not text", "quote the value")
