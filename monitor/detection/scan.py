"""Run the SQL detectors in queries/detect/ and turn their events into findings.

The flow, all in SQL: queries/scan/explain.sql marks charges the registry
explains; queries/scan/features.sql builds `charges` (each row with what was
known on its day); every enabled detector turns `charges` into `events` (its
running state per counted charge); queries/scan/summarize.sql finds the alert
episodes. Because every window looks backward only, one pass over history gives
the first firing of every episode: that is how `backtest` replays years of
daily runs in one go, and why `scan --as-of` and a backtest agree.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb

from monitor.detection.catalog import EMPTY_EVENTS, Detector, detectors
from monitor.detection.engines import spark as spark_engine
from monitor.settings.config import Config
from monitor.settings.engine import engine_of
from monitor.errors import InputError
from monitor.sql.store import drop_temp, load_query, now, run, transaction

SEVERITIES = ("warning", "high", "critical")
# Facts a detector may name in its sentence beyond a finding's own, from its `detail`.
DETAIL_FIELDS = ("lookalike", "lookalike_since", "lookalike_paid", "previous_account",
                 "previous_paid", "payees")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# Longest history any detector looks back over: a year of baseline, lagged.
# (A CUSUM run older than this restarts at the horizon in an incremental scan.)
HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class Scope:
    """What an incremental scan looks at again: rows of the keys in temp table `scope`."""
    horizon: date


def evaluate(con: duckdb.DuckDBPyConnection, config: Config, as_of: date,
             scope: Scope | None = None) -> list[Detector]:
    """Build temp tables explained, charges, events and episodes as of a date,
    over the whole ledger or, with a scope, over the keys in temp table `scope`."""
    if engine_of(config).spark:       # the same SQL on Spark, over the ledger lake
        return spark_engine.evaluate(con, config, as_of)
    if scope is None:
        con.execute("CREATE OR REPLACE TEMP TABLE scope (kind VARCHAR, key VARCHAR)")
    kept = _kept_first_days(con) is not None   # before ledger_rows: a rebuild borrows the name
    con.execute(load_query("scan/explain"), {"as_of": as_of})
    con.execute(load_query("scan/ledger_rows"), {
        "as_of": as_of, "horizon": scope.horizon if scope else None, "scoped": bool(scope)})
    _pair_facts(con, kept)
    con.execute(load_query("scan/features"))
    con.execute(load_query("scan/feeds"), {"as_of": as_of})
    ran = detectors(config)
    con.execute("CREATE OR REPLACE TEMP TABLE events AS SELECT "
                "''::VARCHAR AS detector, * FROM (" + EMPTY_EVENTS + ") WHERE false")
    for detector in ran:
        params = dict(detector.params)
        if "as_of" in params:          # a detector that judges time itself gets the scan date
            params["as_of"] = as_of
        # The SQL text is our own file; only values are bound. Only groups that fire at
        # some point are kept: the rest can neither alert nor be evidence.
        con.execute(f"""INSERT INTO events BY NAME
            WITH run AS MATERIALIZED ({detector.sql}),
            hot AS (SELECT DISTINCT account, counterparty, initiator FROM run
                    WHERE severity IS NOT NULL)
            SELECT $detector AS detector, run.* FROM run SEMI JOIN hot
              ON run.account IS NOT DISTINCT FROM hot.account
             AND run.counterparty IS NOT DISTINCT FROM hot.counterparty
             AND run.initiator IS NOT DISTINCT FROM hot.initiator""",
                    {"detector": detector.name, **params})
    con.execute(load_query("scan/summarize"))
    if scope:
        con.execute("DELETE FROM episodes "
                    "WHERE NOT rescanned(detector, account, counterparty, initiator)")
    con.execute(load_query("scan/evidence"))
    return ran


def _kept_first_days(con) -> int | None:
    """Bring table pair_history and the facts kept from it up to date with new files.
    Returns the last file that changed facts of days already past, or None when this
    connection cannot keep them (read-only, or an old schema)."""
    writable, kept = con.execute(
        "SELECT NOT readonly, EXISTS (SELECT 1 FROM duckdb_tables() "
        "  WHERE table_name = 'pair_history_state' AND NOT temporary) "
        "FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not (writable and kept):
        return None
    high = con.execute("SELECT coalesce(max(file_id), -1) FROM transactions").fetchone()[0]
    state = con.execute("SELECT max_file_id, last_rewrite_file_id FROM pair_history_state"
                        ).fetchone()
    if state and state[0] == high:
        return state[1]
    with transaction(con):
        # No mark, or a lower mark than before (the ledger was replaced): rebuild.
        if not state or state[0] > high:
            con.execute(load_query("scan/pair_firsts"))
            run(con, "scan/pair_history_rebuild")
            rewrote = True
        else:
            run(con, "scan/pair_history", {"after_file_id": state[0], "max_file_id": high})
            rewrote = con.execute("SELECT rewrote FROM rewrites").fetchone()[0]
        if rewrote:
            _rebuild_kept_facts(con)
        else:
            run(con, "scan/pair_facts_append")
        con.execute("DROP TABLE IF EXISTS new_pairs; DROP TABLE IF EXISTS rewrites")
        last_rewrite = high if rewrote else state[1]
        con.execute("DELETE FROM pair_history_state")
        con.execute("INSERT INTO pair_history_state VALUES (?, ?)", [high, last_rewrite])
    return last_rewrite


def _rebuild_kept_facts(con) -> None:
    """The kept facts made anew: scan/pair_facts.sql with every payee in play."""
    drop_temp(con, "pair_firsts", "ledger_rows", "pair_facts", "initiator_facts")
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
    con.execute("CREATE TEMP VIEW pair_facts AS SELECT * FROM pair_history_pairs")
    con.execute("CREATE TEMP VIEW initiator_facts AS SELECT * FROM pair_history_initiators")


def today(config: Config) -> date:
    """The date now in the configured [schedule] timezone (UTC when none is set)."""
    zone = config.schedule.timezone if config.schedule else "UTC"
    return datetime.now(ZoneInfo(zone)).date()


def not_after_today(config: Config, day: date, option: str) -> date:
    """A day given on the command line, refused when it is after today: judging as of a
    day to come would let every alert expire before its time (exit 2)."""
    now = today(config)
    if day > now:
        raise InputError(f"{option} {day.isoformat()} is after today ({now.isoformat()}); "
                         "give a day up to today")
    return day


def judging_day(con: duckdb.DuckDBPyConnection, config: Config,
                as_of: date | None = None) -> date | None:
    """The day a scan judges as of: `as_of` (refused when after today), else the latest
    posting up to today; None on an empty ledger. A row dated after today (a typo such as
    2099-12-31, which cannot be removed) is never the day: judged as of it, every open
    alert would resolve and nothing would fire again. Such rows count from their day on."""
    if as_of is not None:
        return not_after_today(config, as_of, "--as-of")
    return con.execute("SELECT max(posted_at) FROM transactions WHERE posted_at <= $today",
                       {"today": today(config)}).fetchone()[0]


def future_rows(con: duckdb.DuckDBPyConnection, config: Config) -> tuple[int, date | None]:
    """How many rows are posted after today, and the latest such day (for a warning)."""
    return tuple(con.execute("SELECT count(*), max(posted_at) FROM transactions "
                             "WHERE posted_at > $today", {"today": today(config)}).fetchone())


def scan(con: duckdb.DuckDBPyConnection, config: Config, as_of: date,
         full: bool = False) -> list[dict]:
    """Findings firing as of a date, recorded under a new scan.

    After a first full scan, a scan looks again only at the accounts, payees and
    initiators that new rows touched; the previous scan's other findings carry
    over while still in force. A change of settings or registry, an earlier
    --as-of, rows posted before the horizon, or rows that change what earlier days knew
    of a payee (table pair_history notes them) make it a full scan.
    """
    started = now()
    settings = settings_hash(con, config)
    high = con.execute("SELECT coalesce(max(file_id), -1) FROM transactions").fetchone()[0]
    previous = con.execute(
        "SELECT scan_id, as_of, max_file_id, settings_hash FROM scans "
        "WHERE finished_at IS NOT NULL ORDER BY scan_id DESC LIMIT 1").fetchone()
    full = full or engine_of(config).spark      # Spark rereads the whole lake
    scope = None if full else _incremental_scope(con, previous, settings, as_of)
    ran = evaluate(con, config, as_of, scope)
    rows = _rows(con, load_query("scan/open_findings"), {"as_of": as_of})
    if scope:
        rows = _with_carried(con, rows, previous[0], as_of)
    sentences = {d.name: d.sentence for d in ran}
    for row in rows:       # a carried finding keeps its sentence: its detail is not kept
        row["sentence"] = row.get("sentence") or sentence(sentences[row["detector"]], row)
        row.pop("detail", None)
        row["fingerprint"] = fingerprint(row)
    with transaction(con):
        scan_id = con.execute(
            "INSERT INTO scans (as_of, started_at, finished_at, detectors, findings, max_file_id, "
            "settings_hash, mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING scan_id",
            [as_of, started, now(), len(ran), len(rows), high, settings,
             "incremental" if scope else "full"]).fetchone()[0]
        if rows:
            con.executemany(
                "INSERT INTO findings (scan_id, detector, severity, account, counterparty, initiator, "
                "currency, first_alert_at, last_charge_at, since, charges, exposure, evidence_txn_ids, "
                "sentence, fingerprint, active_until, escalations) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[scan_id, r["detector"], r["severity"], r["account"], r["counterparty"],
                  r["initiator"], r["currency"], r["first_alert_at"], r["last_charge_at"], r["since"],
                  r["charges"], r["exposure"], r["evidence_txn_ids"], r["sentence"], r["fingerprint"],
                  r["active_until"], r["escalations"]]
                 for r in rows])
    for row in rows:
        row["scan_id"] = scan_id
    return rows


def _incremental_scope(con, previous, settings: str, as_of: date) -> Scope | None:
    """A Scope when the previous scan can be built on, else None (scan everything)."""
    if not previous or previous[2] is None or previous[3] != settings or previous[1] > as_of:
        return None
    rewritten = _kept_first_days(con)
    if rewritten is None or rewritten > previous[2]:
        return None             # rows arrived that change what earlier days knew
    horizon = as_of - HORIZON
    # New to this scan: rows of later files, and rows posted after the last scan's date.
    late = con.execute("SELECT count(*) FROM transactions "
                       "WHERE (file_id > ? OR posted_at > ?) AND posted_at < ?",
                       [previous[2], previous[1], horizon]).fetchone()[0]
    if late:
        return None
    run(con, "scan/scope", {"after_file_id": previous[2], "after_day": previous[1],
                            "as_of": as_of})
    return Scope(horizon=horizon)


def _with_carried(con, rows: list[dict], previous_scan: int, as_of: date) -> list[dict]:
    """This scan's findings plus the previous scan's for groups it did not look at;
    a group seen again keeps the first-alert date of its continuing episode."""
    carried = _rows(con, load_query("scan/carried_findings"),
                    {"scan_id": previous_scan, "as_of": as_of})
    earlier = {r["fingerprint"]: r for r in carried if r["in_scope"]}
    kept = [r for r in carried if not r["in_scope"]]
    for row in rows:
        before = earlier.get(fingerprint(row))
        if before and before["first_alert_at"] < row["first_alert_at"]:
            row["first_alert_at"] = before["first_alert_at"]
    for row in kept:
        del row["in_scope"]
    order = {"critical": 0, "high": 1}
    return sorted(rows + kept, key=lambda r: (order.get(r["severity"], 2), -r["exposure"],
                                              r["detector"], r["account"] or "",
                                              r["counterparty"] or ""))


def settings_hash(con, config: Config) -> str:
    """What the findings depend on besides the ledger: detector settings and registry."""
    state = [(d.name, sorted((k, str(v)) for k, v in d.params.items())) for d in detectors(config)]
    state.append(con.execute("SELECT * FROM authorizations ORDER BY auth_id").fetchall())
    return hashlib.sha256(repr(state).encode()).hexdigest()[:16]


def backtest(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date) -> list[dict]:
    """Every alert a daily run from start to end would have raised, at its first firing."""
    ran = evaluate(con, config, end)
    rows = _rows(con, load_query("scan/first_alerts"), {"start": start, "end": end})
    sentences = {d.name: d.sentence for d in ran}
    for row in rows:
        row["sentence"] = sentence(sentences[row["detector"]], row)
        row.pop("detail", None)
        row["escalations"] = [s for s in row["escalations"] if s["severity"] != row["severity"]]
    return rows


def sentence(template: str, row: dict) -> str:
    """The detector's plain sentence, filled with this finding's facts."""
    currency = row.get("currency") or ""
    if row.get("charges") == 1:
        template = template.replace("{charges} charges", "{charges} charge").replace(
            "{charges} payments", "{charges} payment")
    values = {
        "charges": row.get("charges"),
        "counterparty": row.get("counterparty") or "",
        "account": row.get("account") or "",
        "initiator": row.get("initiator") or "",
        "since": _day(row.get("since")),
        "exposure": f"{money(row.get('exposure'))} {currency}".strip(),
        "scope": scope(row),
    }
    return template.format_map(_Facts(_details(row.get("detail")), **values))


class _Facts(dict):
    """A sentence's facts; one the finding lacks (a detail not kept) reads as '?'
    rather than failing the scan."""
    def __missing__(self, key):
        return "?"


def _details(text: str | None) -> dict:
    """The further facts a detector gave in its `detail` column (a JSON object), as
    sentence text: a `..._since` ISO date written as the other dates of sentences are."""
    if not text:
        return {}
    facts = {}
    for key, value in json.loads(text).items():
        if key.endswith("_since") and isinstance(value, str) and _ISO_DAY.fullmatch(value):
            value = _day(date.fromisoformat(value))
        facts[key] = "" if value is None else value
    return facts


def scope(row: dict) -> str:
    """Which charges a finding is about, in words: the group its detector keyed it by."""
    account, payee, initiator = row.get("account"), row.get("counterparty"), row.get("initiator")
    if payee and account:
        return f"to '{payee}' from account {account}"
    if payee:
        return f"to '{payee}' across all accounts"
    if initiator:
        return f"made by initiator {initiator}"
    return f"on account {account}" if account else "in the ledger"


def money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


def fingerprint(row: dict) -> str:
    key = "\x1f".join(str(row.get(k) or "") for k in
                      ("detector", "account", "counterparty", "initiator"))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _day(value) -> str:
    return value.strftime("%d %b %Y") if value else ""


def _rows(con, sql: str, params=None) -> list[dict]:
    cursor = con.execute(sql, params or {})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
