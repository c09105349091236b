"""The detectors on Apache Spark, over the Parquet ledger lake ([engine] kind = "spark").

The same SQL files run as on DuckDB: queries/scan/explain.sql, ledger_rows.sql,
features.sql and feeds.sql, then every enabled detector in queries/detect/. Each file
is parsed in DuckDB's dialect and written out in Spark's by sqlglot; nothing is written
twice by hand. `CREATE OR REPLACE TEMP TABLE x AS q` becomes a Spark temp view of q,
materialised once (localCheckpoint) as DuckDB materialises its temp tables, and so is
each CTE a detector reads more than once (Spark would plan and run every copy); each
detector's rows are materialised before the firing groups are picked; the files' `$name`
parameters become Spark's named parameter markers `:name`, bound through
spark.sql(text, args=...): values are never pasted into the text.

Spark reads `transactions` from the lake; the small tables a detector joins
(authorizations, statements, files, screening_hits for sanctioned_payee, and payee_keys,
which maps each name as written to the payee key the scan groups by) are shipped from
DuckDB. The detection loop is
detection/scan.py's evaluate, the same for both engines: it asks this module to
`prepare` and to `run_detector` (as it asks engines/duckdb.py). Only the event rows of
the groups that fire come back, into DuckDB's temp table `events`; summarize.sql and
evidence.sql then run there, so episodes, findings, alerts, the outbox and the audit
log are the same code on both engines. A Spark scan is always a full scan (Spark's unit
of work is the whole lake; the incremental scope is a DuckDB optimisation).
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import date

import duckdb

from monitor.ledger.ingest import CONFLICT
from monitor.ledger.spark import session, to_arrow
from monitor.settings.engine import EngineSettings, engine_of
from monitor.errors import ConfigError, MonitorError, first_line
from monitor.sql.store import load_query

# What detect.evaluate runs before the detectors, in order (Spark computes pair_firsts
# from the lake; DuckDB keeps them in pair_history).
STEPS = ("scan/explain", "scan/ledger_rows", "scan/pair_firsts", "scan/pair_facts",
         "scan/features", "scan/payouts", "scan/feeds")
# Tables the detectors read besides transactions, shipped from DuckDB: name -> the rows
# Spark needs (of the rows set aside at ingest, only those the conflicting_duplicate
# detector reads: a ledger may hold millions of rejected rows).
SHIPPED = {
    "authorizations": ("SELECT * FROM authorizations", None),
    "statements": ("SELECT * FROM statements", None),
    "files": ("SELECT * FROM files", None),
    "payee_keys": ("SELECT * FROM payee_keys", None),     # names as written -> payee key
    "screening_hits": ("SELECT * FROM screening_hits", None),     # sanctioned_payee
    "rejected_rows": ("SELECT * FROM rejected_rows WHERE starts_with(reason, $conflict)",
                      {"conflict": CONFLICT}),
}
EVENT_COLUMNS = ("account", "counterparty", "initiator", "txn_id", "posted_at", "day", "amount",
                 "currency", "exposure", "charges", "since", "severity", "active_until")

timings: dict[str, float] = {}     # seconds per step of the last evaluate (for benchmarks)


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
        if isinstance(tree, exp.Create):
            name = tree.this.name
            out.append(Statement("view", name, tree.expression.sql(dialect="spark"),
                                 _params(tree)))
        elif isinstance(tree, exp.Drop):
            out.append(Statement("drop", tree.find(exp.Table).name, "", ()))
        else:
            out.extend(_shared_ctes(tree, query))
            out.append(Statement("select", None, tree.sql(dialect="spark"), _params(tree)))
    return tuple(out)


def _params(node) -> tuple:
    """The named parameters a statement (or part of one) uses."""
    from sqlglot import exp
    return tuple(sorted({p.name for p in node.find_all(exp.Placeholder, exp.Parameter)}))


def _shared_ctes(tree, query: str) -> list[Statement]:
    """A query's common table expressions that are read more than once (and those they
    read), taken out of its WITH as views of their own: Spark writes a CTE into every
    place that reads it and plans each copy again, where DuckDB computes it once.
    Materialised once, as prepare's temp tables are, lookalike_payee's eight unions over
    the same names are planned once. Each view's name carries the query's, so that no
    detector's CTE replaces a table another step made. Changes `tree` in place."""
    from sqlglot import exp
    key = "with_" if "with_" in tree.arg_types else "with"     # sqlglot renamed it
    with_ = tree.args.get(key)
    if not with_ or with_.args.get("recursive"):
        return []
    ctes = {c.alias_or_name: c for c in with_.expressions}
    inner = {c.alias_or_name for w in tree.find_all(exp.With) if w is not with_
             for c in w.expressions}
    if inner & set(ctes):        # a nested WITH reuses a name: renaming would cross it
        return []

    def read(node) -> list[str]:
        return [t.name for t in node.find_all(exp.Table)
                if not t.args.get("db") and t.name in ctes]

    counts: dict[str, int] = dict.fromkeys(ctes, 0)
    for name in read(tree):
        counts[name] += 1
    taken = {name for name, n in counts.items() if n > 1}
    for name in reversed(list(ctes)):                   # and what they read
        if name in taken:
            taken.update(read(ctes[name].this))
    if not taken:
        return []
    prefix = "q_" + query.replace("/", "_") + "_"

    def rename(node) -> None:
        for table in list(node.find_all(exp.Table)):
            if not table.args.get("db") and table.name in taken:
                if not table.alias:
                    table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
                table.set("this", exp.to_identifier(prefix + table.name))

    out = []
    for name, cte in ctes.items():
        if name in taken:
            body = cte.this
            rename(body)
            out.append(Statement("view", prefix + name, body.sql(dialect="spark"),
                                 _params(body)))
    kept = [c for c in with_.expressions if c.alias_or_name not in taken]
    if kept:
        with_.set("expressions", kept)
    else:
        tree.set(key, None)
    rename(tree)
    return out


def _spark_errors(step):
    """Spark's own errors as one line (--debug shows the rest)."""
    @functools.wraps(step)
    def guarded(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        except MonitorError:
            raise
        except Exception as e:
            if type(e).__module__.startswith(("pyspark", "py4j")):
                raise MonitorError(f"Spark: {first_line(e)}") from e
            raise
    return guarded


@_spark_errors
def prepare(con: duckdb.DuckDBPyConnection, config, as_of: date, scope=None) -> None:
    """What engines/duckdb.py's prepare builds, as Spark temp views over the lake. Always
    the whole ledger: Spark's unit of work is the lake (scope is DuckDB's optimisation)."""
    settings = engine_of(config)
    spark = session(settings)
    timings.clear()
    started = time.perf_counter()
    _views(con, spark, settings)
    for query in STEPS:
        for st in statements(query):
            if st.kind == "drop":
                spark.catalog.dropTempView(st.name)
                continue
            df = spark.sql(st.sql, args=_args(st, {
                "as_of": as_of, "horizon": None, "scoped": False,
                "payout_sources": config.payout_sources()}))
            # Each temp table is materialised once with its lineage cut, as DuckDB's temp
            # tables are: every later plan starts from it (re-planning the whole chain for
            # each detector cost more than running it).
            df.localCheckpoint(eager=True).createOrReplaceTempView(st.name)
    timings["prepare"] = time.perf_counter() - started


@_spark_errors
def run_detector(con: duckdb.DuckDBPyConnection, config, detector, params: dict,
                 keyed: str | None = None, scope=None) -> None:
    """One detector on Spark; the rows of the groups that fire come back into DuckDB's
    temp table `events`. Always over the whole ledger, as prepare is (`keyed`, an
    incremental scan's narrowing, is DuckDB's optimisation)."""
    began = time.perf_counter()
    spark = session(engine_of(config))
    *shared, st = statements(f"detect/{detector.name}")
    for view in shared:           # the CTEs it reads more than once, each computed once
        spark.sql(view.sql, args=_args(view, params)).localCheckpoint(eager=True) \
            .createOrReplaceTempView(view.name)
    spark.sql(st.sql, args=_args(st, params)).localCheckpoint(eager=True) \
        .createOrReplaceTempView("detector_run")
    for view in shared:           # its rows are in detector_run: let Spark free theirs
        spark.catalog.dropTempView(view.name)
    hot = spark.sql(
        "SELECT :detector AS detector, r.* FROM detector_run r LEFT SEMI JOIN ("
        "SELECT DISTINCT account, counterparty, initiator FROM detector_run "
        "WHERE severity IS NOT NULL) h "
        "ON r.account <=> h.account AND r.counterparty <=> h.counterparty "
        "AND r.initiator <=> h.initiator", args={"detector": detector.name})
    batch = hot.select("detector", *EVENT_COLUMNS,
                       *(["detail"] if "detail" in hot.columns else [])).toArrow()
    con.register("spark_events", batch)
    try:
        con.execute("INSERT INTO events BY NAME SELECT * FROM spark_events")
    finally:
        con.unregister("spark_events")
    timings[detector.name] = time.perf_counter() - began


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
    for table, (select, params) in SHIPPED.items():
        arrow = to_arrow(con, select, params)
        spark.createDataFrame(arrow).createOrReplaceTempView(table)
    spark.createDataFrame([], "kind STRING, key STRING").createOrReplaceTempView("scope")


def _args(st: Statement, values: dict) -> dict:
    missing = [p for p in st.params if p not in values]
    if missing:
        raise MonitorError(f"no value for parameter(s) {', '.join(missing)}")
    return {p: values[p] for p in st.params}
