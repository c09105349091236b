"""The detectors on DuckDB, over the ledger file itself (the default engine).

detection/scan.py's evaluate runs the one detection loop; this module is what it asks of
DuckDB: `prepare` builds the temp tables every detector reads (the registry's
explanations, the rows in scope, the pair facts, `charges`, the feeds), and
`run_detector` runs one detector's SQL into temp table `events`. Spark's engine
(engines/spark.py) answers the same two calls over the lake.

The first days of each account-payee pair are kept between scans in table pair_history
(brought up to date from the files ingested since), so an incremental scan does not
read the whole history again to learn which payees are new.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb

from monitor.detection.catalog import (ACCOUNT_KEYED, QUIET_INITIATOR_LEVEL, UNBOUNDED_PAIRS,
                                       Detector)
from monitor.settings.config import Config
from monitor.sql.store import drop_temp, load_query, run, transaction, writable


def prepare(con: duckdb.DuckDBPyConnection, config: Config, as_of: date, scope) -> None:
    """Temp tables explained, ledger_rows, pair and initiator facts, charges and feeds as
    of a date; with a scope (detect.Scope), only the rows of the keys in temp table `scope`
    posted from its horizon on."""
    if scope is None:
        con.execute("CREATE OR REPLACE TEMP TABLE scope (kind VARCHAR, key VARCHAR)")
    kept = kept_first_days(con) is not None   # before ledger_rows: a rebuild borrows the name
    con.execute(load_query("scan/explain"), {"as_of": as_of})
    con.execute(load_query("scan/ledger_rows"), {
        "as_of": as_of, "horizon": scope.horizon if scope else None, "scoped": bool(scope)})
    _pair_facts(con, kept)
    _features(con, kept, scope.horizon if scope else None)
    drop_temp(con, "pair_charges")
    if scope:       # what the pair-keyed detectors judge (catalog.PAIR_KEYED; run_detector)
        con.execute("CREATE TEMP TABLE pair_charges AS SELECT c.* FROM charges c "
                    "SEMI JOIN scope_pairs s "
                    "ON s.pair_account = c.account AND s.pair_payee = c.counterparty")
    con.execute(load_query("scan/payouts"),       # the payout accounts worth judging
                {"payout_sources": config.payout_sources()})
    con.execute(load_query("scan/feeds"), {"as_of": as_of})


def run_detector(con: duckdb.DuckDBPyConnection, config: Config, detector: Detector,
                 params: dict, keyed: str | None = None, scope=None) -> None:
    """One detector's rows into temp table `events`, only those of the groups that fire.
    In an incremental scan (`scope`, a detect.Scope), `keyed` narrows what it reads as
    `charges` (a CTE of that name hides the temp table from its SQL): "pair"
    (catalog.PAIR_KEYED), only the charges of the pairs new rows touched (prepare's
    `pair_charges`, with their rows before the horizon for catalog.UNBOUNDED_PAIRS);
    "account" (catalog.ACCOUNT_KEYED), every row of the accounts of the new rows whose
    findings they can change (scan/account_charges.sql, which notes them in temp table
    account_rescanned)."""
    narrowed = ""
    built = None
    if keyed == "pair":
        narrowed = "charges AS (SELECT * FROM pair_charges),"
        if detector.name in UNBOUNDED_PAIRS and _earlier_rows(con, detector, params, scope):
            narrowed, built = "charges AS (SELECT * FROM pair_all_charges),", "pair_all_charges"
    elif keyed == "account":
        named = {k: params[p] for k, p in ACCOUNT_KEYED[detector.name].items()}
        run(con, "scan/account_charges", named | {
            "detector": detector.name, "horizon": scope.horizon,
            "late_day": scope.previous_as_of - timedelta(days=named["lag_days"])})
        narrowed, built = "charges AS (SELECT * FROM account_charges),", "account_charges"
    elif scope is not None and detector.name in QUIET_INITIATOR_LEVEL:
        # A NULL initiator joins no initiator group: the pair and payee levels keep
        # every row, the quiet initiators' level is left out (scan/quiet_initiators.sql).
        run(con, "scan/quiet_initiators", params | {
            "after_file_id": scope.after_file_id, "after_day": scope.previous_as_of,
            "as_of": scope.as_of, "horizon": scope.horizon})
        narrowed = ("charges AS (SELECT * REPLACE (CASE WHEN initiator IN ("
                    "SELECT quiet_initiator FROM quiet_initiators WHERE quiet_detector = "
                    "$detector) THEN NULL ELSE initiator END AS initiator) "
                    "FROM temp.main.charges),")
    # The SQL text is our own file; only values are bound.
    # BY NAME: a detector may add a `detail` column (facts for its sentence); the
    # others leave it NULL.
    con.execute(f"""INSERT INTO events BY NAME
        WITH {narrowed} run AS MATERIALIZED ({detector.sql}),
        hot AS (SELECT DISTINCT account, counterparty, initiator FROM run
                WHERE severity IS NOT NULL)
        SELECT $detector AS detector, run.* FROM run SEMI JOIN hot
          ON run.account IS NOT DISTINCT FROM hot.account
         AND run.counterparty IS NOT DISTINCT FROM hot.counterparty
         AND run.initiator IS NOT DISTINCT FROM hot.initiator""",
                {"detector": detector.name, **params})
    if built:
        con.execute(f"DROP TABLE {built}")       # our own name


def _earlier_rows(con, detector: Detector, params: dict, scope) -> bool:
    """For a pair-keyed detector without a bound (catalog.UNBOUNDED_PAIRS), temp table
    pair_all_charges: `pair_charges` and the rows before the horizon of the pairs it
    judges there that began before it (scan/pair_earlier_rows.sql). False, and nothing
    built, when there are none (most days: the ledger is read only for such pairs)."""
    horizon_day = (scope.horizon - date(1970, 1, 1)).days
    con.execute(f"""CREATE OR REPLACE TEMP TABLE earlier_pairs AS
        WITH charges AS (SELECT * FROM pair_charges), run AS ({detector.sql})
        SELECT DISTINCT r.account, r.counterparty FROM run r
        WHERE EXISTS (SELECT 1 FROM pair_charges c
                      WHERE c.account = r.account AND c.counterparty = r.counterparty
                        AND c.pair_first_day < $horizon_day)""",
                {**params, "horizon_day": horizon_day})
    earlier = con.execute("SELECT count(*) FROM earlier_pairs").fetchone()[0]
    if earlier:
        run(con, "scan/pair_earlier_rows", {"horizon": scope.horizon})
    con.execute("DROP TABLE earlier_pairs")
    return bool(earlier)


def kept_first_days(con) -> int | None:
    """Bring table pair_history and the facts kept from it up to date with new files.
    Returns the last file that changed facts of days already past, or None when this
    connection cannot keep them (read-only, or an old schema)."""
    kept = con.execute("SELECT count(*) FROM duckdb_tables() "
                       "WHERE table_name = 'pair_history_state' AND NOT temporary").fetchone()[0]
    if not (writable(con) and kept):
        return None
    high = con.execute("SELECT coalesce(max(file_id), -1) FROM transactions").fetchone()[0]
    state = con.execute("SELECT max_file_id, last_rewrite_file_id FROM pair_history_state"
                        ).fetchone()
    if state and state[0] == high:
        return state[1]
    with transaction(con):
        # No mark, or a lower mark than before (the ledger was replaced): rebuild.
        if not state or state[0] > high:
            rewrote = True
        else:
            run(con, "scan/pair_history", {"after_file_id": state[0], "max_file_id": high})
            rewrote = con.execute("SELECT rewrote FROM rewrites").fetchone()[0]
        if rewrote:
            _rebuild(con)
        else:
            run(con, "scan/pair_facts_append")
        con.execute("DROP TABLE IF EXISTS new_pairs; DROP TABLE IF EXISTS old_pairs; "
                    "DROP TABLE IF EXISTS rewrites")
        last_rewrite = high if rewrote else state[1]
        con.execute("DELETE FROM pair_history_state")
        con.execute("INSERT INTO pair_history_state VALUES (?, ?)", [high, last_rewrite])
    return last_rewrite


def _rebuild(con) -> None:
    """pair_history made anew from all transactions (scan/pair_firsts.sql), then the
    facts kept from it (scan/pair_facts.sql with every payee in play). A pair's rows are
    counted with its facts, pair_history's own counts being those of each row when it
    was made: so a file that changes facts of days already past (rare) has the whole
    ledger read again rather than pair_history alone."""
    drop_temp(con, "pair_firsts", "ledger_rows", "pair_facts", "initiator_facts")
    con.execute(load_query("scan/pair_firsts"))
    run(con, "scan/pair_history_rebuild")
    drop_temp(con, "pair_firsts")
    con.execute("CREATE TEMP VIEW pair_firsts AS SELECT * FROM pair_history")
    con.execute("CREATE TEMP VIEW ledger_rows AS SELECT DISTINCT counterparty FROM pair_history")
    run(con, "scan/pair_facts")
    run(con, "scan/pair_facts_keep")
    drop_temp(con, "pair_firsts", "ledger_rows", "pair_facts", "initiator_facts")


def _pair_facts(con, kept: bool) -> None:
    """Temp pair_facts and initiator_facts for features.sql: views over the kept facts,
    or (connections that cannot keep them) computed from all transactions."""
    drop_temp(con, "pair_facts", "initiator_facts")
    if not kept:
        con.execute(load_query("scan/pair_firsts"))
        run(con, "scan/pair_facts")
        return
    con.execute("CREATE TEMP VIEW pair_facts AS SELECT account, counterparty, pair_first_day, "
                "payee_accounts_before, payee_first_day FROM pair_history_pairs")
    con.execute("CREATE TEMP VIEW initiator_facts AS SELECT initiator, counterparty, "
                "initiator_payee_first_day FROM pair_history_initiators")


def _features(con, kept: bool, horizon: date | None) -> None:
    """Temp table charges: by the kept facts' key hashes when they are kept, unless two
    keys share a hash (a charge would then have two rows: every charge's pairs are kept),
    else by the keys themselves."""
    if kept:
        run(con, "scan/features_kept", {"horizon": horizon})
        (same,), = con.execute("SELECT (SELECT count(*) FROM charges) "
                               "= (SELECT count(*) FROM ledger_rows)").fetchall()
        if same:
            return
    con.execute(load_query("scan/features"))
