"""The alert lifecycle, Alertmanager-style, kept in the database.

An alert is one episode of a fingerprint (detector, account, counterparty, initiator).
States: firing -> acknowledged (someone is on it) | silenced (a silence matches) ->
resolved (the scan no longer finds it). Every change is an alert_events row with its
time and actor.

What the recipients are told follows from the state, not from counting events, so a
scan that was skipped, a silence that hid an escalation or a crash all catch up:

- firing:     the alert was never notified (and is not silenced)
- escalation: its severity rose above the tier last notified (even when acknowledged)
- reminder:   firing, unacknowledged, and the repeat interval passed since the last one
- resolved:   it resolved after being notified, was not silenced, and send_resolved is on

`apply` writes no transaction of its own: the caller commits the state changes together
with the messages that carry the notifications (see monitor.alerting.notify).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from monitor.detection.fold import AGGREGATE as AGGREGATE_DETECTORS, fold
from monitor.settings.config import SEVERITY_RANK, AlertSettings
from monitor.errors import InputError
from monitor.ledger import payees
from monitor.sql.store import rows, run

STATES = ("firing", "acknowledged", "silenced", "resolved")
SYSTEM = "monitor"


@dataclass(frozen=True)
class Matcher:
    """What a silence matches; None matches anything, * is a wildcard. The counterparty
    matches by payee key (any way the payee is written); with a * it is a pattern over
    the names as written and the keys (queries/alerts/open_alerts.sql)."""
    detector: str | None = None
    account: str | None = None
    counterparty: str | None = None

    def is_empty(self) -> bool:
        return not (self.detector or self.account or self.counterparty)


def apply(con: duckdb.DuckDBPyConnection, settings: AlertSettings, findings: list[dict], *,
          now: datetime, scan_id: int | None = None, notify: bool = True) -> list[dict]:
    """Bring the alerts up to date with a scan's findings (those sharing evidence charges
    folded into one alert, detection/fold.py); returns the notifications
    recorded (each {notification_id, alert_id, reason, severity, exposure}).
    With notify=False the states change but nothing is recorded as told, so the
    next notifying run tells it."""
    open_by_fp = {a["fingerprint"]: a for a in open_alerts(con, now)}
    findings = fold(findings)      # one alert per theft: findings sharing charges are one
    seen = set()
    for finding in findings:
        fp = finding["fingerprint"]
        if fp in seen:
            continue
        seen.add(fp)
        facts = _facts(con, finding, now, scan_id)
        current = open_by_fp.get(fp)
        if current is None and _judged(con, fp, facts["evidence_txn_ids"]):
            continue          # a person closed it with an outcome, and nothing is new since
        if current is None:
            (alert_id,), = run(con, "alerts/insert_alert", facts).fetchall()
            _event(con, alert_id, now, SYSTEM, "fired", None, "firing",
                   f"{finding['severity']}: {finding['sentence']}")
            continue
        if SEVERITY_RANK[facts["severity"]] < SEVERITY_RANK[current["severity"]]:
            facts["severity"] = current["severity"]       # the highest tier reached stays
        elif facts["severity"] != current["severity"]:
            _event(con, current["alert_id"], now, SYSTEM, "escalated", current["state"],
                   current["state"], f"{current['severity']} -> {facts['severity']}")
        run(con, "alerts/update_facts", facts | {"alert_id": current["alert_id"]})

    told = []
    for alert in open_alerts(con, now):
        if alert["fingerprint"] not in seen:
            told += _resolve(con, settings, alert, now, scan_id, notify)
            continue
        alert = _follow_silences(con, alert, now)
        reason = due(alert, now, settings.repeat_interval)
        if reason and notify:
            told.append(_notify(con, alert, reason, now, scan_id))
    return told


def suspicion(alert: dict) -> tuple:
    """The order a person should read alerts in, most suspicious first: an alert about one
    payee's charges before one about a total across payees or a feed, whatever their
    tiers (a total's tier follows a card's whole spending: the demo's critical honest
    travel drift came before its high theft); then the higher money tier; then the more
    money; then the older. The e-mail and the inbox both sort by it."""
    return (alert["detector"] in AGGREGATE_DETECTORS, -SEVERITY_RANK.get(alert["severity"], 0),
            -(alert["exposure"] or 0), alert["alert_id"])


def due(alert: dict, now: datetime, repeat: timedelta | None) -> str | None:
    """Which notification an open alert is owed now, if any."""
    state = alert["state"]
    if state in ("silenced", "resolved"):
        return None
    if alert["notified_severity"] is None:
        return "firing"
    if SEVERITY_RANK[alert["severity"]] > SEVERITY_RANK[alert["notified_severity"]]:
        return "escalation"
    if (state == "firing" and repeat and alert["last_notified_at"] is not None
            and now - alert["last_notified_at"] >= repeat):
        return "reminder"
    return None


def shown_state(alert: dict) -> str:
    """The state an open alert (a row of open_alerts) is in now, as silences started or
    ended since it was last written: what the next scan will record. Readers show this
    and write nothing; the change itself is made, with its event, by a scan or a silence."""
    held_by, state = alert["matching_silence"], alert["state"]
    if held_by is not None and state != "silenced":
        return "silenced"
    if held_by is None and state == "silenced":
        return "acknowledged" if alert["acked_by"] else "firing"
    return state


def acknowledge(con: duckdb.DuckDBPyConnection, alert_id: int, *, by: str, note: str | None,
                now: datetime) -> dict:
    alert = get(con, alert_id)
    if alert["state"] == "resolved":
        raise InputError(f"alert {alert_id} is already resolved; nothing to acknowledge")
    if not (by or "").strip():
        raise InputError("--by is empty; say who acknowledges the alert")
    run(con, "alerts/set_ack", {"alert_id": alert_id, "acked_by": by, "acked_at": now,
                                "ack_note": note})
    new_state = "silenced" if alert["state"] == "silenced" else "acknowledged"
    if new_state != alert["state"]:
        run(con, "alerts/set_state", {"alert_id": alert_id, "state": new_state,
                                      "silence_id": alert["silence_id"], "resolved_at": None})
    _event(con, alert_id, now, by, "acknowledged", alert["state"], new_state, note)
    return get(con, alert_id)


OUTCOMES = {"theft": "theft confirmed", "expected": "honest, expected",
            "error": "honest, error"}


def close(con: duckdb.DuckDBPyConnection, alert_id: int, *, outcome: str, by: str,
          note: str | None, now: datetime) -> dict:
    """A person resolves an alert with an outcome (kept in alert_outcomes with the detector,
    so each detector's precision can be counted). If the scan still finds the pattern it
    opens a new alert: an honest pattern wants a registry entry or a silence as well."""
    alert = get(con, alert_id)
    if outcome not in OUTCOMES:
        raise InputError(f"outcome '{outcome}' is not known; use one of " + ", ".join(OUTCOMES))
    if alert["state"] == "resolved":
        raise InputError(f"alert {alert_id} is already resolved")
    run(con, "alerts/set_state", {"alert_id": alert_id, "state": "resolved",
                                  "silence_id": None, "resolved_at": now})
    _outcome(con, alert, outcome, by, note, now)
    _event(con, alert_id, now, by, "resolved", alert["state"], "resolved",
           OUTCOMES[outcome] + (f": {note}" if note else ""))
    return get(con, alert_id)


def not_recognised(con: duckdb.DuckDBPyConnection, alert_id: int, *, by: str,
                   note: str | None, now: datetime) -> tuple[dict, list[dict]]:
    """A person does not recognise the charges: the alert goes to the top tier (critical),
    which makes it owed an escalation notification to every route it matches (see `due`).
    Returns (the alert, the notifications recorded now: the caller queues them)."""
    alert = get(con, alert_id)
    if alert["state"] == "resolved":
        raise InputError(f"alert {alert_id} is already resolved")
    run(con, "alerts/set_severity", {"alert_id": alert_id, "severity": "critical"})
    _outcome(con, alert, "not_recognised", by, note, now)
    _event(con, alert_id, now, by, "not recognised", alert["state"], alert["state"],
           f"{alert['severity']} -> critical" + (f": {note}" if note else ""))
    found = get(con, alert_id)
    matched = [a for a in open_alerts(con, now) if a["alert_id"] == alert_id]
    reason = due(matched[0], now, None) if matched else None
    return found, ([_notify(con, matched[0], reason, now, None)] if reason else [])


def outcomes(con: duckdb.DuckDBPyConnection, alert_id: int) -> list[dict]:
    return rows(con, "alerts/outcomes", {"alert_id": alert_id})


def _outcome(con, alert: dict, outcome: str, by: str, note, now: datetime) -> None:
    if not (by or "").strip():
        raise InputError("say who answers the alert")
    run(con, "alerts/insert_outcome", {"alert_id": alert["alert_id"], "detector": alert["detector"],
                                    "outcome": outcome, "decided_by": by, "decided_at": now,
                                    "note": note})


def silence(con: duckdb.DuckDBPyConnection, matcher: Matcher, *, until: datetime, reason: str,
            by: str, now: datetime) -> int:
    """Record a silence and move the open alerts it matches to silenced."""
    if matcher.is_empty():
        raise InputError("a silence needs at least one of --detector, --account, --counterparty")
    if until <= now:
        raise InputError(f"--until {until:%Y-%m-%d %H:%M} is already past; give a later date")
    if not (reason or "").strip():
        raise InputError("--reason is empty; say why the alerts are silenced")
    if matcher.counterparty and "*" not in matcher.counterparty:
        # Keyed as a registry payee is, so the silence holds every way the payee is
        # written ('ACME HOSTING' holds 'Acme Hosting Ltd'); a pattern has no key.
        payees.add_names(con, [matcher.counterparty])
    (silence_id,), = run(con, "alerts/insert_silence", {
        "detector": matcher.detector, "account": matcher.account,
        "counterparty": matcher.counterparty, "starts_at": now, "ends_at": until,
        "reason": reason, "created_by": by}).fetchall()
    for alert in open_alerts(con, now):
        if alert["matching_silence"] is not None:
            _follow_silences(con, alert, now, actor=by)
    return silence_id


def expire_silence(con: duckdb.DuckDBPyConnection, silence_id: int, *, by: str,
                   now: datetime) -> None:
    if not run(con, "alerts/expire_silence",
               {"silence_id": silence_id, "now": now, "by": by}).fetchall():
        raise InputError(f"silence {silence_id} does not exist or is no longer in force; "
                         "see `monitor alerts silences --all`")
    for alert in open_alerts(con, now):
        _follow_silences(con, alert, now, actor=by)


def get(con: duckdb.DuckDBPyConnection, alert_id: int, now: datetime | None = None) -> dict:
    """One alert; with `now`, in the state it is in at that time (see shown_state)."""
    found = rows(con, "alerts/get_alert", {"alert_id": alert_id})
    if not found:
        raise InputError(f"no alert {alert_id}; see `monitor alerts list --state all`")
    if now is not None:
        return _as_of(con, found, now)[0]
    return found[0]


def listing(con: duckdb.DuckDBPyConnection, state: str = "open", limit: int = 100,
            now: datetime | None = None) -> list[dict]:
    """Alerts in a state, newest first; with `now`, states are judged at that time
    (a silence that ended shows its alert firing again) without writing anything."""
    if now is None or state in ("all", "resolved"):
        found = rows(con, "alerts/list_alerts", {"state": state, "limit": limit})
        return found if now is None else _as_of(con, found, now)
    # A state filter must see the states as judged now: take every open alert, then filter.
    found = _as_of(con, rows(con, "alerts/list_alerts", {"state": "open", "limit": 2 ** 31 - 1}),
                   now)
    return [a for a in found if state == "open" or a["state"] == state][:limit]


def _as_of(con, found: list[dict], now: datetime) -> list[dict]:
    judged = {a["alert_id"]: shown_state(a) for a in open_alerts(con, now)}
    return [a | {"state": judged.get(a["alert_id"], a["state"])} for a in found]


def money_at_risk(con: duckdb.DuckDBPyConnection, alert_ids: list[int]) -> list[dict]:
    """The money at risk in these alerts per currency ({currency, money, charges}), each
    charge counted once: what the report, the inbox and the e-mail total."""
    if not alert_ids:
        return []
    return rows(con, "alerts/money_at_risk", {"alert_ids": list(alert_ids)})


def history(con: duckdb.DuckDBPyConnection, alert_id: int) -> list[dict]:
    return rows(con, "alerts/alert_events", {"alert_id": alert_id})


def silences(con: duckdb.DuckDBPyConnection, now: datetime, include_expired: bool = False):
    return rows(con, "alerts/list_silences", {"now": now, "all": include_expired})


def evidence(con: duckdb.DuckDBPyConnection, alert: dict) -> list[dict]:
    return rows(con, "alerts/evidence_charges", {"txn_ids": list(alert["evidence_txn_ids"])})


def open_alerts(con, now: datetime) -> list[dict]:
    return rows(con, "alerts/open_alerts", {"now": now})


def _facts(con, finding: dict, now: datetime, scan_id) -> dict:
    evidence_ids = [str(t) for t in (finding.get("evidence_txn_ids") or [])]
    (sources, money), = run(con, "alerts/evidence_sources", {"txn_ids": evidence_ids}).fetchall()
    keys = ("fingerprint", "detector", "account", "counterparty", "initiator", "currency",
            "severity", "exposure", "charges", "since", "first_alert_at", "last_charge_at",
            "sentence")
    return {k: finding.get(k) for k in keys} | {
        "other_reasons": list(finding.get("other_reasons") or []),
        "sources": sources, "evidence_txn_ids": evidence_ids, "evidence_money": money,
        "now": now, "scan_id": scan_id}


def _judged(con, fingerprint: str, evidence: list[str]) -> bool:
    """True when a person resolved this fingerprint's latest alert with an outcome and the
    finding holds no charge that alert did not: judged already, not to be opened again."""
    closed = rows(con, "alerts/closed_by_person", {"fingerprint": fingerprint})
    return bool(closed) and set(evidence) <= set(closed[0]["evidence_txn_ids"])


def _follow_silences(con, alert: dict, now: datetime, actor: str = SYSTEM) -> dict:
    """Put the alert in silenced while a silence holds it, and back when none does."""
    held_by, state, new_state = alert["matching_silence"], alert["state"], shown_state(alert)
    if new_state == state:
        return alert
    if new_state == "silenced":
        action, note = "silenced", f"silence {held_by}"
    else:
        action, note = "unsilenced", f"silence {alert['silence_id']} ended"
    run(con, "alerts/set_state", {"alert_id": alert["alert_id"], "state": new_state,
                                  "silence_id": held_by, "resolved_at": None})
    _event(con, alert["alert_id"], now, actor, action, state, new_state, note)
    return alert | {"state": new_state, "silence_id": held_by}


def _resolve(con, settings: AlertSettings, alert: dict, now, scan_id, notify: bool) -> list:
    run(con, "alerts/set_state", {"alert_id": alert["alert_id"], "state": "resolved",
                                  "silence_id": None, "resolved_at": now})
    _event(con, alert["alert_id"], now, SYSTEM, "resolved", alert["state"], "resolved",
           "no longer found by the scan")
    quiet = alert["matching_silence"] is not None        # a silence in force right now
    if notify and settings.send_resolved and alert["notified_severity"] and not quiet:
        return [_notify(con, alert, "resolved", now, scan_id)]
    return []


def _notify(con, alert: dict, reason: str, now: datetime, scan_id) -> dict:
    (notification_id,), = run(con, "alerts/insert_notification", {
        "alert_id": alert["alert_id"], "reason": reason, "severity": alert["severity"],
        "exposure": alert["exposure"], "now": now, "scan_id": scan_id}).fetchall()
    if reason != "resolved":
        run(con, "alerts/set_notified", {"alert_id": alert["alert_id"],
                                         "notified_severity": alert["severity"],
                                         "last_notified_at": now})
    return {"notification_id": notification_id, "alert_id": alert["alert_id"],
            "reason": reason, "severity": alert["severity"], "exposure": alert["exposure"]}


def _event(con, alert_id: int, at: datetime, actor: str, action: str, from_state,
           to_state: str, note) -> None:
    run(con, "alerts/insert_event", {"alert_id": alert_id, "at": at, "actor": actor,
                                     "action": action, "from_state": from_state,
                                     "to_state": to_state, "note": note})
