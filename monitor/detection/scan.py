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
from zoneinfo import ZoneInfo

import duckdb

from monitor.detection.catalog import (ACCOUNT_KEYED, EMPTY_EVENTS, PAIR_KEYED, Detector,
                                       calibrated_values, detectors)
from monitor.detection.engines import duckdb as duckdb_engine, spark as spark_engine
from monitor.ledger import payees
from monitor.settings.config import SEVERITY_RANK, Config
from monitor.screening import store as screening
from monitor.settings.engine import engine_of
from monitor.errors import InputError
from monitor.output import money
from monitor.sql.store import dicts, load_query, now, run, transaction, writable

ALSO_WRITTEN_AS = 5     # other names as written a finding lists (the sentence counts the rest)
# Facts a detector may name in its sentence beyond a finding's own, from its `detail`.
DETAIL_FIELDS = ("lookalike", "lookalike_since", "lookalike_paid", "accounts", "previous_account",
                 "previous_paid", "payees")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_QUOTED = re.compile(r"'([^']*)'")


# Longest history any detector looks back over: a year of baseline, lagged. (Those
# whose windows reach further, catalog.ACCOUNT_KEYED, read their accounts' every row.)
HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class Scope:
    """What an incremental scan looks at again: rows of the keys in temp table `scope`."""
    horizon: date
    previous_scan: int          # the scan it builds on: its findings carry over
    as_of: date
    previous_as_of: date        # that scan's date: rows posted after it are new
    after_file_id: int          # and rows of files after this one


def evaluate(con: duckdb.DuckDBPyConnection, config: Config, as_of: date,
             scope: Scope | None = None, calibrated: dict | None = None) -> list[Detector]:
    """Build temp tables explained, charges, events and episodes as of a date,
    over the whole ledger or, with a scope, over the keys in temp table `scope`.

    The one detection loop: the engine (DuckDB, or Spark over the lake) prepares the
    charges and runs each detector's SQL into `events`; the episodes and their evidence
    are then summarised here, in DuckDB, the same way for both. The detectors' settings
    are those `monitor calibrate` chose last, unless `calibrated` gives others (a
    calibration trying its candidates); config.toml wins over both."""
    prepare(con, config, as_of, scope)
    return run_detectors(con, config, as_of, scope, calibrated)


def prepare(con: duckdb.DuckDBPyConnection, config: Config, as_of: date,
            scope: Scope | None = None) -> None:
    """The payee keys, then the charges every detector reads, as of a date: what the
    detectors' settings do not change, so a calibration builds it once for all its rungs
    (a fifth of its time) and calls run_detectors for each."""
    if writable(con):      # payee keys as [payees] says (a reader uses the stored ones)
        with transaction(con):
            if payees.refresh(con, config.payees):
                _open_alerts_follow_keys(con)
    _engine(config).prepare(con, config, as_of, scope)


def _engine(config: Config):
    return spark_engine if engine_of(config).spark else duckdb_engine


def run_detectors(con: duckdb.DuckDBPyConnection, config: Config, as_of: date,
                  scope: Scope | None = None, calibrated: dict | None = None) -> list[Detector]:
    """Every enabled detector over what `prepare` built for the same date and scope, into
    temp tables events, episodes and their evidence (see evaluate)."""
    engine = _engine(config)
    ran = detectors(config, calibrated_values(con) if calibrated is None else calibrated)
    con.execute("CREATE OR REPLACE TEMP TABLE events AS SELECT "
                "''::VARCHAR AS detector, * FROM (" + EMPTY_EVENTS + ") WHERE false")
    for detector in ran:
        params = dict(detector.params)
        if "as_of" in params:          # a detector that judges time itself gets the scan date
            params["as_of"] = as_of
        # Only groups that fire at some point are kept: the rest can neither alert nor
        # be evidence. An incremental scan narrows what some detectors read (catalog.py).
        keyed = None
        if scope is not None:
            keyed = ("pair" if detector.name in PAIR_KEYED
                     else "account" if detector.name in ACCOUNT_KEYED else None)
        engine.run_detector(con, config, detector, params, keyed=keyed, scope=scope)
    con.execute(load_query("scan/summarize"))
    if scope:
        run(con, "scan/partial_payees", {"previous_scan": scope.previous_scan})
        con.execute("DELETE FROM episodes "
                    "WHERE NOT rescanned(detector, account, counterparty, initiator)")
    con.execute(load_query("scan/evidence"))
    return ran


def _open_alerts_follow_keys(con) -> None:
    """After the payee keys are (re)built, each open alert takes the fingerprint of its
    payee's key, so an alert raised before keys (or under other processor prefixes)
    carries on instead of resolving and firing again under the key. Where two open
    alerts now share one (two spellings of one payee), the older takes it; the newer
    keeps its own and resolves at this scan, its charges being the older one's."""
    found = con.execute(
        "SELECT a.alert_id, a.detector, a.account, a.counterparty, a.initiator, "
        "a.fingerprint, k.payee_key FROM alerts a "
        "LEFT JOIN payee_keys k ON k.name = a.counterparty "
        "WHERE a.state <> 'resolved' ORDER BY a.alert_id").fetchall()
    taken = set()
    for alert_id, detector, account, counterparty, initiator, old, key in found:
        new = fingerprint({"detector": detector, "account": account, "payee_key": key,
                           "counterparty": counterparty, "initiator": initiator})
        if new in taken:
            continue
        taken.add(new)
        if new != old:
            con.execute("UPDATE alerts SET fingerprint = ? WHERE alert_id = ?", [new, alert_id])


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
    """Findings firing as of a date, recorded under a new scan: each detector's (alerts
    fold those that share evidence charges into one: detection/fold.py).

    After a first full scan, a scan looks again only at the accounts, payees and
    initiators that new rows touched; the previous scan's other findings carry
    over while still in force. A change of settings or registry, an earlier
    --as-of, rows posted before the horizon, or rows that change what earlier days knew
    of a payee (table pair_history notes them) make it a full scan.
    """
    started = now()
    screening.refresh(con, config)        # payees new since the last scan, against the lists
    settings = settings_hash(con, config)
    high = con.execute("SELECT coalesce(max(file_id), -1) FROM transactions").fetchone()[0]
    previous = con.execute(
        "SELECT scan_id, as_of, max_file_id, settings_hash FROM scans "
        "WHERE finished_at IS NOT NULL ORDER BY scan_id DESC LIMIT 1").fetchone()
    full = full or engine_of(config).spark      # Spark rereads the whole lake
    scope = None if full else _incremental_scope(con, previous, settings, as_of)
    ran = evaluate(con, config, as_of, scope)
    rows = named(con, _rows(con, load_query("scan/open_findings"), {"as_of": as_of}))
    if scope:
        rows = _with_carried(con, rows, previous[0], as_of)
    sentences = {d.name: d.sentence for d in ran}
    screening.describe(con, rows)
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
                "sentence, fingerprint, active_until, escalations, payee_key, also_written_as) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[scan_id, r["detector"], r["severity"], r["account"], r["counterparty"],
                  r["initiator"], r["currency"], r["first_alert_at"], r["last_charge_at"], r["since"],
                  r["charges"], r["exposure"], r["evidence_txn_ids"], r["sentence"], r["fingerprint"],
                  r["active_until"], r["escalations"], r.get("payee_key"), r.get("also_written_as")]
                 for r in rows])
    for row in rows:
        row["scan_id"] = scan_id
    return rows


def _incremental_scope(con, previous, settings: str, as_of: date) -> Scope | None:
    """A Scope when the previous scan can be built on, else None (scan everything)."""
    if not previous or previous[2] is None or previous[3] != settings or previous[1] > as_of:
        return None
    rewritten = duckdb_engine.kept_first_days(con)
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
                            "as_of": as_of, "pair_keyed": list(PAIR_KEYED),
                            "account_keyed": list(ACCOUNT_KEYED)})
    return Scope(horizon=horizon, previous_scan=previous[0], as_of=as_of,
                 previous_as_of=previous[1], after_file_id=previous[2])


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
    return sorted(rows + kept, key=lambda r: (-SEVERITY_RANK.get(r["severity"], 0), -r["exposure"],
                                              r["detector"], r["account"] or "",
                                              r["counterparty"] or ""))


def settings_hash(con, config: Config) -> str:
    """What the findings depend on besides the ledger: detector settings and registry."""
    state = [(d.name, sorted((k, str(v)) for k, v in d.params.items()))
             for d in detectors(config, calibrated_values(con))]
    state.append(con.execute("SELECT * FROM authorizations ORDER BY auth_id").fetchall())
    state.append(payees.fingerprint(config.payees))       # what groups charges by payee
    state.append(screening.state(con))
    return hashlib.sha256(repr(state).encode()).hexdigest()[:16]


def backtest(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date) -> list[dict]:
    """Every alert a daily run from start to end would have raised, at its first firing."""
    screening.refresh(con, config)
    ran = evaluate(con, config, end)
    rows = named(con, _rows(con, load_query("scan/first_alerts"), {"start": start, "end": end}))
    sentences = {d.name: d.sentence for d in ran}
    screening.describe(con, rows)
    for row in rows:
        row["sentence"] = sentence(sentences[row["detector"]], row)
        row.pop("detail", None)
        row["escalations"] = [s for s in row["escalations"] if s["severity"] != row["severity"]]
    return rows


def sentence(template: str, row: dict) -> str:
    """The detector's plain sentence, filled with this finding's facts."""
    currency = row.get("currency") or ""
    also = also_written(row)
    if also:        # after the payee's name, wherever the sentence names it
        template = template.replace("'{counterparty}'", "'{counterparty}'" + also.replace(
            "{", "{{").replace("}", "}}"), 1)
    if row.get("charges") == 1:
        template = template.replace("{charges} charges", "{charges} charge").replace(
            "{charges} payments", "{charges} payment")
    values = {
        "charges": row.get("charges"),
        "counterparty": row.get("counterparty") or "",
        "account": row.get("account") or "",
        "initiator": row.get("initiator") or "",
        "since": _day(row.get("since")),
        "exposure": money(row.get('exposure'), currency),
        "scope": scope(row),
        "match": row.get("match") or "see `monitor screening matches`",
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


def also_written(row: dict) -> str:
    """" (also written as 'A', 'B' and 3 more)" for a payee written in several ways."""
    others = row.get("also_written_as") or []
    if not others:
        return ""
    more = (row.get("names_written") or 0) - 1 - len(others)
    shown = ", ".join(f"'{name}'" for name in others)
    return f" (also written as {shown}" + (f" and {more} more)" if more > 0 else ")")


def named(con, rows: list[dict]) -> list[dict]:
    """Findings as people know their payee. A finding is grouped by the payee key (its
    counterparty from the SQL); this keeps the key in payee_key and names the payee by
    its most used name as written in the finding's evidence, the others (at most
    ALSO_WRITTEN_AS) in also_written_as, and how many names in all in names_written."""
    evidence = {"i": [], "payee_key": [], "txn_id": []}
    for i, row in enumerate(rows):
        row["payee_key"] = row["counterparty"]
        row["also_written_as"], row["names_written"] = [], 0
        if row["counterparty"] is None:
            continue
        for txn_id in row.get("evidence_txn_ids") or []:
            evidence["i"].append(i)
            evidence["payee_key"].append(row["counterparty"])
            evidence["txn_id"].append(txn_id)
    if not evidence["i"]:
        return rows
    import pyarrow as pa    # late: only a scan with findings needs it (CLI start-up)
    con.register("finding_evidence", pa.table(evidence))
    try:
        found = con.execute(load_query("scan/payee_names")).fetchall()
    finally:
        con.unregister("finding_evidence")
    for i, names, _charges in found:
        row = rows[i]
        row["counterparty"] = names[0]
        row["also_written_as"] = names[1:1 + ALSO_WRITTEN_AS]
        row["names_written"] = len(names)
    return _details_named(con, rows)


def _details_named(con, rows: list[dict]) -> list[dict]:
    """Payees a detector names in its `detail` (the look-alike's original, the payees of
    one payout account) are payee keys, as the SQL groups by them: people read each by
    its most used name as written (one query for all of them)."""
    details = {i: json.loads(row["detail"]) for i, row in enumerate(rows) if row.get("detail")}
    keys = set()
    for facts in details.values():
        if isinstance(facts.get("lookalike"), str):
            keys.add(facts["lookalike"])
        if isinstance(facts.get("payees"), str):       # "'a', 'b'": keys hold no quote
            keys.update(_QUOTED.findall(facts["payees"]))
    if not keys:
        return rows
    written = dict(con.execute(
        "SELECT payee_key, first(name ORDER BY uses DESC, name) FROM ("
        "  SELECT k.payee_key, k.name, count(*) AS uses FROM payee_keys k "
        "  JOIN transactions t ON t.counterparty = k.name "
        "  WHERE list_contains($keys, k.payee_key) GROUP BY ALL) GROUP BY payee_key",
        {"keys": sorted(keys)}).fetchall())
    for i, facts in details.items():
        if isinstance(facts.get("lookalike"), str):
            facts["lookalike"] = written.get(facts["lookalike"], facts["lookalike"])
        if isinstance(facts.get("payees"), str):
            facts["payees"] = _QUOTED.sub(
                lambda m: "'" + written.get(m.group(1), m.group(1)) + "'", facts["payees"])
        rows[i]["detail"] = json.dumps(facts)
    return rows


def fingerprint(row: dict) -> str:
    """An alert's identity: detector, account, payee KEY (so a payee written another way
    is the same alert), initiator. Rows without a key (findings from before keys, a feed)
    use the counterparty."""
    payee = row.get("payee_key") if row.get("payee_key") is not None else row.get("counterparty")
    key = "\x1f".join(str(v or "") for v in
                      (row.get("detector"), row.get("account"), payee, row.get("initiator")))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _day(value) -> str:
    return value.strftime("%d %b %Y") if value else ""


def _rows(con, sql: str, params=None) -> list[dict]:
    return dicts(con.execute(sql, params or {}))
