"""Spark for the ledger: the one SparkSession of this process, started from [engine]
settings, and DuckDB rows handed over as Arrow. The lake writes through it (a lake at a URL),
and the detection engine runs on it (monitor/detection/engines/spark.py). pyspark is imported
only when a session starts.
"""
from __future__ import annotations

import os
import re
import shutil
import warnings

from monitor.errors import MonitorError, first_line
from monitor.settings.engine import EngineSettings

_session = None          # (key, SparkSession): one per process, rebuilt when settings change


class SparkUnavailable(MonitorError):
    """pyspark or Java is missing, or Spark could not start."""


def session(settings: EngineSettings):
    """The SparkSession for these settings (started once per process)."""
    global _session
    key = (settings.master, tuple(sorted(settings.conf.items())))
    if _session and _session[0] == key:
        return _session[1]
    stop()
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("[engine] kind = \"spark\" needs pyspark; install it with "
                               "pip install 'payment-monitor[spark]'") from None
    if not shutil.which("java") and not _java_home():
        raise SparkUnavailable("[engine] kind = \"spark\" needs Java 17 or later; install a "
                               "JRE (e.g. apt-get install openjdk-17-jre-headless) or set "
                               "JAVA_HOME")
    builder = SparkSession.builder.master(settings.master).appName("payment-monitor")
    for name, value in defaults(settings).items():
        builder = builder.config(name, value)
    try:
        spark = builder.getOrCreate()
    except Exception as e:      # the JVM did not start: say why in one line
        raise SparkUnavailable(f"Spark did not start ({first_line(e)})") from None
    spark.sparkContext.setLogLevel("ERROR")
    _session = (key, spark)
    return spark


def defaults(settings: EngineSettings) -> dict:
    """Spark settings: ours, overlaid with [engine.conf]."""
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        # posted_month=2017-04 stays text (not guessed as a date)
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    }
    cores = re.fullmatch(r"local\[(\d+)\]", settings.master)
    if cores or settings.master == "local":        # small machines: few shuffle partitions
        conf["spark.sql.shuffle.partitions"] = str(4 * int(cores[1] if cores else 1))
    return conf | dict(settings.conf)


def stop() -> None:
    global _session
    if _session:
        _session[1].stop()
        _session = None


def to_arrow(con, sql: str, params: dict | None = None):
    """A query's rows as Arrow. Through execute(), which (unlike con.sql) also works while
    the caller left a result unfinished; the copy it warns about is of small tables."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return con.execute(sql, params or {}).to_arrow_table()


def _java_home() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(home) and os.path.exists(os.path.join(home, "bin", "java"))


