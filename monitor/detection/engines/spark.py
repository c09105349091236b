"""The detectors on Apache Spark, over the Parquet ledger lake ([engine] kind = "spark").

The same SQL files run as on DuckDB: queries/scan/explain.sql, ledger_rows.sql,
features.sql and feeds.sql, then every enabled detector in queries/detect/. Each file
is parsed in DuckDB's dialect and written out in Spark's by sqlglot; nothing is written
twice by hand. `CREATE OR REPLACE TEMP TABLE x AS q` becomes a Spark temp view of q,
materialised once (localCheckpoint) as DuckDB materialises its temp tables, and each
detector's rows are materialised before the firing groups are picked; the files' `$name`
parameters become Spark's named parameter markers `:name`, bound through
spark.sql(text, args=...): values are never pasted into the text.

Spark reads `transactions` from the lake; the small tables a detector joins
(authorizations, statements, files) are shipped from DuckDB. Only the event rows of the
groups that fire come back, into DuckDB's temp table `events`; queries/scan/summarize.sql
and evidence.sql then run there, so episodes, findings, alerts, the outbox and the audit
log are the same code on both engines. A Spark scan is always a full scan (Spark's unit
of work is the whole lake; the incremental scope is a DuckDB optimisation).
"""
from __future__ import annotations

import functools
import re
import shutil
import time
import warnings
from dataclasses import dataclass
from datetime import date

import duckdb

from monitor.settings.engine import EngineSettings, engine_of
from monitor.errors import ConfigError, MonitorError
from monitor.sql.store import load_query

# What detect.evaluate runs before the detectors, in order (Spark computes pair_firsts
# from the lake; DuckDB keeps them in pair_history).
STEPS = ("scan/explain", "scan/ledger_rows", "scan/pair_firsts", "scan/pair_facts",
         "scan/features", "scan/feeds")
SHIPPED = ("authorizations", "statements", "files", "rejected_rows")
EVENT_COLUMNS = ("account", "counterparty", "initiator", "txn_id", "posted_at", "day", "amount",
                 "currency", "exposure", "charges", "since", "severity", "active_until")

_session = None          # (key, SparkSession): one per process, rebuilt when settings change
timings: dict[str, float] = {}     # seconds per step of the last evaluate (for benchmarks)


class SparkUnavailable(MonitorError):
    """pyspark or Java is missing, or Spark could not start."""


@dataclass(frozen=True)
class Statement:
    kind: str              # "view" (CREATE ... AS), "drop" or "select"
    name: str | None       # the view's (or dropped table's) name
    sql: str               # Spark SQL text (for "view": the query alone)
    params: tuple          # the named parameters it uses


@functools.cache
def statements(query: str) -> tuple[Statement, ...]:
    """A queries/ file in Spark SQL, one Statement per statement, transpiled by sqlglot."""
    import sqlglot
    from sqlglot import exp
    out = []
    for tree in sqlglot.parse(load_query(query), read="duckdb"):
        if tree is None:
            continue
        params = tuple(sorted({p.name for p in tree.find_all(exp.Placeholder, exp.Parameter)}))
        if isinstance(tree, exp.Create):
            name = tree.this.name
            out.append(Statement("view", name, tree.expression.sql(dialect="spark"), params))
        elif isinstance(tree, exp.Drop):
            out.append(Statement("drop", tree.find(exp.Table).name, "", ()))
        else:
            out.append(Statement("select", None, tree.sql(dialect="spark"), params))
    return tuple(out)


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
        raise SparkUnavailable(f"Spark did not start ({_first_line(e)})") from None
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


def evaluate(con: duckdb.DuckDBPyConnection, config, as_of: date) -> list:
    """detect.evaluate on Spark: build DuckDB's temp tables `events` and `episodes` as of
    a date, with the detectors run over the lake."""
    settings = engine_of(config)
    spark = session(settings)
    timings.clear()
    try:
        return _evaluate(con, spark, settings, config, as_of)
    except MonitorError:
        raise
    except Exception as e:       # Spark's own errors: one line (--debug shows the rest)
        if type(e).__module__.startswith(("pyspark", "py4j")):
            raise MonitorError(f"Spark: {_first_line(e)}") from e
        raise


def _evaluate(con, spark, settings: EngineSettings, config, as_of: date) -> list:
    from monitor.detection import scan as detect
    started = time.perf_counter()
    _views(con, spark, settings)
    for query in STEPS:
        for st in statements(query):
            if st.kind == "drop":
                spark.catalog.dropTempView(st.name)
                continue
            df = spark.sql(st.sql, args=_args(st, {
                "as_of": as_of, "horizon": None, "scoped": False}))
            # Each temp table is materialised once with its lineage cut, as DuckDB's temp
            # tables are: every later plan starts from it (re-planning the whole chain for
            # each detector cost more than running it).
            df.localCheckpoint(eager=True).createOrReplaceTempView(st.name)
    timings["prepare"] = time.perf_counter() - started
    ran = detect.detectors(config)
    con.execute("CREATE OR REPLACE TEMP TABLE events AS SELECT "
                "''::VARCHAR AS detector, * FROM (" + detect._EMPTY_EVENTS + ") WHERE false")
    for detector in ran:
        began = time.perf_counter()
        params = dict(detector.params)
        if "as_of" in params:
            params["as_of"] = as_of
        (st,) = statements(f"detect/{detector.name}")
        spark.sql(st.sql, args=_args(st, params)).localCheckpoint(eager=True) \
            .createOrReplaceTempView("detector_run")
        # Only groups that fire at some point come back (as on DuckDB).
        hot = spark.sql(
            "SELECT :detector AS detector, r.* FROM detector_run r LEFT SEMI JOIN ("
            "SELECT DISTINCT account, counterparty, initiator FROM detector_run "
            "WHERE severity IS NOT NULL) h "
            "ON r.account <=> h.account AND r.counterparty <=> h.counterparty "
            "AND r.initiator <=> h.initiator", args={"detector": detector.name})
        batch = hot.select("detector", *EVENT_COLUMNS).toArrow()
        con.register("spark_events", batch)
        try:
            con.execute("INSERT INTO events SELECT * FROM spark_events")
        finally:
            con.unregister("spark_events")
        timings[detector.name] = time.perf_counter() - began
    began = time.perf_counter()
    con.execute(load_query("scan/summarize"))
    con.execute(load_query("scan/evidence"))
    timings["summarize"] = time.perf_counter() - began
    return ran


def _views(con, spark, settings: EngineSettings) -> None:
    """transactions from the lake; the registry and statements shipped from DuckDB."""
    try:
        spark.read.parquet(settings.lake).createOrReplaceTempView("transactions")
    except Exception as e:
        if "UNABLE_TO_INFER_SCHEMA" in str(e) or "PATH_NOT_FOUND" in str(e):
            raise ConfigError(
                f"the ledger lake {settings.lake} holds no Parquet yet; run "
                f"`monitor export-lake --out {settings.lake}` to move the DuckDB ledger "
                "there (later ingests append to it)") from None
        raise
    for table in SHIPPED:
        arrow = _arrow(con, f"SELECT * FROM {table}")
        spark.createDataFrame(arrow).createOrReplaceTempView(table)
    spark.createDataFrame([], "kind STRING, key STRING").createOrReplaceTempView("scope")


def _args(st: Statement, values: dict) -> dict:
    missing = [p for p in st.params if p not in values]
    if missing:
        raise MonitorError(f"no value for parameter(s) {', '.join(missing)}")
    return {p: values[p] for p in st.params}


def _arrow(con, sql: str, params: dict | None = None):
    """A query's rows as Arrow. Through execute(), which (unlike con.sql) also works while
    the caller left a result unfinished; the copy it warns about is of small tables."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return con.execute(sql, params or {}).to_arrow_table()


def _java_home() -> bool:
    import os
    home = os.environ.get("JAVA_HOME")
    return bool(home) and os.path.exists(os.path.join(home, "bin", "java"))


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(error).__name__


def append_rows(con: duckdb.DuckDBPyConnection, settings: EngineSettings,
                file_ids: list[int]) -> int:
    """Append ingested files' rows to a lake at a URL (s3a://, abfss://, hdfs://...):
    DuckDB cannot write there offline, Spark can. Folders go through monitor.ledger.lake."""
    from monitor.ledger import lake
    # The partition columns come from monitor.ledger.lake, so both writers bucket alike.
    with lake.batch(con, lake.FILES_ROWS, {"file_ids": [int(f) for f in file_ids]},
                    settings.buckets) as table:
        arrow = _arrow(con, f"SELECT * FROM {table}")
    if not arrow.num_rows:
        return 0
    parts = ["posted_month"] + (["account_bucket"] if settings.buckets else [])
    session(settings).createDataFrame(arrow).write.mode("append").partitionBy(*parts).parquet(
        settings.lake)
    return arrow.num_rows
