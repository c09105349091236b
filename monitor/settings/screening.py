"""[screening] in config.toml: how similar a payee name must be to a sanctions list name
to be a match (monitor/screening/).

    [screening]
    threshold = 90      # 0-100; see monitor/screening/names.py for how the score is made

Lowering it finds more (and more false) matches; the next scan or `monitor screening load`
screens every payee again at the new threshold.
"""
from __future__ import annotations

from dataclasses import dataclass

from monitor.settings.validator import Validator, subtable

DEFAULT_THRESHOLD = 90.0


@dataclass(frozen=True)
class ScreeningSettings:
    threshold: float = DEFAULT_THRESHOLD


def screening_settings(v: Validator, data: dict) -> ScreeningSettings:
    table = subtable(v, data, "screening")
    v.unknown(table, ("threshold",), "screening.")
    value = table.get("threshold", DEFAULT_THRESHOLD)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 50 <= value <= 100:
        raise v.error("screening.threshold", f"= {value!r} is not a score from 50 to 100",
                      "write a number such as 90")
    return ScreeningSettings(threshold=float(value))


def screening_of(config) -> ScreeningSettings:
    """The [screening] settings of a Config (the defaults for one built in code)."""
    return getattr(config, "screening", None) or ScreeningSettings()
