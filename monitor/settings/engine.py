"""[engine] in config.toml: where the detectors run.

    [engine]
    kind = "spark"             # "duckdb" (default, embedded) or "spark"
    master = "local[2]"        # or spark://host:7077, yarn, k8s://https://host:443
    lake = "lake/"             # the ledger lake: a folder (relative to this file) or a URL
    buckets = 0                # > 0: also partition the lake by an account hash bucket
    [engine.conf]              # any Spark setting, passed through as text
    "spark.driver.memory" = "8g"

Validated like every other section (monitor.settings.config builds the Config and calls
engine_settings): an unknown key is warned about; a bad kind, master or missing lake
stops with the file, line, key and fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from monitor.settings.validator import Validator, subtable

KINDS = ("duckdb", "spark")
# local, local[4], local[*], local[4,2], spark://h:7077[,h2:7077], yarn, k8s://..., mesos://...
MASTER = re.compile(r"local(\[(\d+|\*)(,\s*\d+)?\])?|spark://\S+|yarn|k8s://\S+|mesos://\S+")
URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class EngineSettings:
    """[engine]. With kind "spark", `lake` is an absolute folder or a URL."""
    kind: str = "duckdb"
    master: str = "local[*]"
    lake: str | None = None
    buckets: int = 0
    conf: dict = field(default_factory=dict)     # Spark setting -> text

    @property
    def spark(self) -> bool:
        return self.kind == "spark"

    @property
    def lake_is_url(self) -> bool:
        return bool(self.lake and URL.match(self.lake))


def engine_settings(v: Validator, data: dict) -> EngineSettings:
    p = "engine."
    table = subtable(v, data, "engine")
    v.unknown(table, ("kind", "master", "lake", "buckets", "conf"), p)
    kind = v.string(table, "kind", p + "kind", default="duckdb", choices=KINDS)
    master = v.string(table, "master", p + "master", default="local[*]")
    if not MASTER.fullmatch(master):
        raise v.error(p + "master", f"= '{master}' is not a Spark master URL",
                      "write \"local[2]\", \"spark://host:7077\", \"yarn\" or \"k8s://https://host\"")
    lake = v.string(table, "lake", p + "lake")
    if kind == "spark" and lake is None:
        raise v.error(p + "lake", "is missing",
                      "add lake = \"lake/\" (a folder relative to the config file, or a URL "
                      "such as \"s3a://bucket/ledger\") for the Parquet ledger lake")
    if lake is not None and not URL.match(lake):
        lake = str(v.base / lake)
    buckets = table.get("buckets", 0)
    if isinstance(buckets, bool) or not isinstance(buckets, int) or not 0 <= buckets <= 4096:
        raise v.error(p + "buckets", f"= {buckets!r} is not a bucket count",
                      "write a whole number from 0 (no buckets) to 4096")
    conf = subtable(v, table, "conf", p)
    for key, value in conf.items():
        if not key.startswith("spark.") or isinstance(value, (dict, list)):
            raise v.error(p + "conf." + key, f"= {value!r} is not a Spark setting",
                          "write Spark settings as \"spark.name\" = \"value\"")
    return EngineSettings(kind=kind, master=master, lake=lake, buckets=buckets,
                          conf={k: _text(value) for k, value in conf.items()})


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def engine_of(config) -> EngineSettings:
    """The engine a Config runs on (configs built in code may have none: DuckDB)."""
    return getattr(config, "engine", None) or EngineSettings()
