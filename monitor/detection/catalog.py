"""The detectors: the catalog of queries/detect/, the ones a config enables with their typed
parameters, and the empty shape of the `events` every engine fills. Both engines (the DuckDB
scan and detection/engines/spark.py) start from here.
"""
from __future__ import annotations

from dataclasses import dataclass

from monitor.errors import ConfigError
from monitor.settings.config import Config
from monitor.sql.header import coerce
from monitor.sql.store import QUERIES, load_query, query_header


@dataclass(frozen=True)
class Detector:
    name: str
    finds: str
    sentence: str
    params: dict           # name -> value, defaults overlaid with config

    @property
    def sql(self) -> str:
        return load_query(f"detect/{self.name}")


def catalog() -> list[str]:
    return sorted(p.stem for p in (QUERIES / "detect").glob("*.sql"))


def detectors(config: Config) -> list[Detector]:
    """The enabled detectors with their parameters: header defaults, then the
    [detectors] table's shared values, then [detectors.<name>]."""
    section = config.sections.get("detectors", {})
    shared = {k: v for k, v in section.items() if not isinstance(v, dict)}
    enabled = []
    for name in catalog():
        header = query_header(f"detect/{name}")
        own = section.get(name, {})
        if not own.get("enabled", True):
            continue
        params = {}
        for pname, spec in header["params"].items():
            value = own.get(pname, shared.get(pname, spec["default"]))
            params[pname] = _typed(value, spec["type"], f"detectors.{name}.{pname}", config)
        enabled.append(Detector(name, header["finds"], header["sentence"], params))
    return enabled


def _typed(value, ptype: str, key: str, config: Config):
    try:
        return coerce(value, ptype)
    except (ValueError, TypeError, ArithmeticError):
        raise ConfigError(f"{config.path}: {key} = {value!r} is not a valid {ptype.lower()}; "
                          "write a plain number") from None


EMPTY_EVENTS = """SELECT NULL::VARCHAR AS account, NULL::VARCHAR AS counterparty,
    NULL::VARCHAR AS initiator, NULL::VARCHAR AS txn_id, NULL::DATE AS posted_at,
    NULL::INTEGER AS day, NULL::DECIMAL(18,2) AS amount, NULL::VARCHAR AS currency,
    NULL::DECIMAL(38,2) AS exposure, NULL::INTEGER AS charges, NULL::DATE AS since,
    NULL::VARCHAR AS severity, NULL::DATE AS active_until, NULL::VARCHAR AS detail"""
# `detail` is optional: a detector that names further facts in its sentence (a look-alike's
# original, say) returns them as a JSON object; the others leave it out and get NULL.
