"""The use cases both front ends run, the command line (monitor/cli/) and the daemon
(monitor/daemon/): each takes an open read-write ledger and the config, and does the whole
of one job, its audit entry included, so the two cannot drift apart.

- ingest: read the planned files, append what loaded to the lake;
- scan_and_notify: reload the registry, scan, record the alerts, queue and send messages;
- send_digests: queue the day's digests (one transaction), deliver, record the delivery;
- send_outbox: deliver what is pending, record the delivery;
- send_reviews: e-mail registry owners before their entries' review dates;
- answer / answer_review: a person's answer to an alert or to a review (web, e-mail links).
- calibrate: choose the detectors' thresholds from the ledger's history, record them.
"""
from __future__ import annotations

from datetime import timedelta

from monitor.alerting import channels, lifecycle, notify, reviews
from monitor.audit import log as audit
from monitor.detection import calibrate as calibration, scan as detect
from monitor.ledger import ingest as ingest_mod, lake, registry
from monitor.settings.config import Config
from monitor.sql import store
from monitor.errors import InputError


def ingest(con, config: Config, planned: list, *, on_file=None, reload: bool = False,
           complete: bool = False, audit_detail: dict | None = None):
    """Read the planned files (a bad file never stops the others) and append the rows that
    loaded to the ledger lake when [engine] kind = "spark": `monitor ingest` and the
    daemon's pipeline. With audit_detail, records the "ingest" audit entry (the daemon
    records one entry for its whole run instead). Returns (results, rows appended to the lake)."""
    results = ingest_mod.ingest_all(con, planned, on_file=on_file, reload=reload,
                                    complete=complete)
    if audit_detail is not None:
        if reload:                     # which earlier loads each file's rows replaced
            audit_detail = audit_detail | {"replaced": {r.path: r.replaced for r in results}}
        audit.record(con, "ingest", audit_detail, audit.digest([r.as_dict() for r in results]))
    loaded = [r for r in results if r.status == "loaded"]
    return results, lake.to_lake(con, config, loaded)


def load_registry(con, config: Config) -> None:
    """Reload the registry from the finance team's CSV when the config names one; a
    change is recorded in the audit log (an unchanged file changes nothing)."""
    path = registry.managed_by(config)
    if path:
        registry.load(con, registry.read_csv(path), str(path), only_if_changed=True)


def scan_and_notify(con, config: Config, *, as_of=None, notify_now: bool = True,
                    dry_run: bool = False, extra: list[dict] | None = None, warn=None,
                    audit_detail: dict | None = None):
    """Reload the registry, scan as of the latest posting up to today (or as_of, never after
    today: detect.judging_day), record the alerts and notify: `monitor scan` and the
    daemon's pipeline. `warn(line)` hears of rows posted after today. The "scan" audit
    entry (with audit_detail added, e.g. who ran it) and the "notification" entry are
    recorded here. Returns (day, findings, outcome or None)."""
    day, findings, outcome = _scan(con, config, as_of, notify_now, dry_run, extra, warn)
    if outcome:
        audit.record_notification(con, outcome, dry_run)
    audit.record(con, "scan", {"as_of": day, "findings": len(findings), "dry_run": dry_run,
                               "notify": notify_now} | (audit_detail or {}),
                 audit.digest(findings))
    return day, findings, outcome


def _scan(con, config: Config, as_of, notify_now: bool, dry_run: bool, extra, warn):
    load_registry(con, config)
    day = detect.judging_day(con, config, as_of)
    ahead, latest = detect.future_rows(con, config)
    if ahead and warn:
        warn(f"{ahead} row(s) posted after today (the latest on {latest}) are not judged "
             "before their day")
    findings = detect.scan(con, config, day) if day else []
    if not day and not extra:
        return day, findings, None
    outcome = notify.handle_scan(
        con, config, findings + (extra or []), now=store.now(), notify=notify_now,
        dry_run=dry_run, scan_id=findings[0]["scan_id"] if findings else None)
    return day, findings, outcome


def send_digests(con, config: Config, wait: timedelta, dry_run: bool = False):
    """`monitor alerts send` and the daemon's digest job. Returns (queued, delivery)."""
    with store.transaction(con):
        queued = notify.enqueue_digests(con, config, now=store.now())
    result = channels.deliver(con, config, wait=wait, dry_run=dry_run)
    audit.record_notification(con, result, dry_run)
    return queued, result


def send_outbox(con, config: Config, wait: timedelta):
    """The daemon's outbox job: deliver what is pending, record it."""
    result = channels.deliver(con, config, wait=wait)
    audit.record_notification(con, result)
    return result


# -- the expected-spend review (issue 18) ------------------------------------------------------

def send_reviews(con, config: Config, *, wait: timedelta, today=None, dry_run: bool = False,
                 who: str | None = None):
    """Queue a review e-mail to the owner of each registry entry whose review date is near
    (monitor.alerting.reviews), deliver, and record both: `monitor authorize review --send`
    and the daemon's digest job (hourly is fine: each entry's owner is asked once per review
    date). A dry run says what would be sent and changes nothing. Returns (queued, delivery
    or None)."""
    now = store.now()
    today = today or now.date()
    with store.transaction(con) as tx:
        queued = reviews.queue(con, config, today, now)
        if dry_run:
            tx.rollback()
            return queued, None
        if queued:
            audit.record(con, "registry review", {
                "today": today, "sent": [{k: q[k] for k in ("auth_id", "recipient", "valid_to")}
                                         for q in queued]}, who=who)
    result = channels.deliver(con, config, wait=wait) if queued else None
    if result is not None:
        audit.record_notification(con, result)
    return queued, result


def answer_review(con, config: Config, auth_id: int, answer: str, *, by: str, via: str) -> dict:
    """The owner's answer to a review: Still expected moves the entry's review date a year
    on, No longer expected ends it today; audited with the person (registry.set_review_date).
    Refused while a file manages the registry (the next scan would undo it)."""
    registry.refuse_if_managed(config, "add")
    found = [e for e in registry.entries(con) if e["auth_id"] == auth_id]
    if not found:
        raise InputError(f"registry entry {auth_id} no longer exists")
    valid_to = reviews.new_review_date(found[0], answer, store.now().date())
    with store.transaction(con):
        return registry.set_review_date(con, auth_id, valid_to, who=by, via=via, answer=answer)


def calibrate(con, config: Config, *, by: str | None = None,
              until=None) -> calibration.Calibration:
    """`monitor calibrate` and the daemon's calibrate job: replay the ledger's history to
    choose each detector's threshold for the alert budget, record the choice (the next
    scan judges with it) and its audit entry."""
    load_registry(con, config)          # charges the registry explains are not alerts
    found = calibration.calibrate(con, config, until)
    by = by or audit.actor()
    calibration_id = calibration.save(con, found, by)
    audit.record(con, "calibrate", {"calibration_id": calibration_id, "by": by,
                                    "calibrated": found.calibrated, "budget": found.budget,
                                    "per_month": found.per_month},
                 audit.digest(found.as_dict()), who=by)
    return found


# -- a person's answer to an alert (the web inbox and its e-mail links) -----------------------

ANSWERS = ("ack", "snooze", "resolve", "expected", "not_recognised")


def answer(con, config: Config, alert_id: int, kind: str, *, by: str, note: str | None = None,
           days: int | None = None, outcome: str | None = None, entry: dict | None = None,
           via: str = "web") -> dict:
    """One answer to one alert, with its audit entry naming the person (`by`):

    - ack: acknowledge (no more reminders at this tier);
    - snooze: silence this payee on this account for `days` days;
    - resolve: close with an `outcome` (theft / expected / error), kept for precision;
    - expected: add `entry` to the registry (owner = by, valid_to = its review date), then
      close the alert as honest, expected: the next scan no longer counts those charges;
    - not_recognised: raise it to critical and notify its routes at once (an escalation).

    Returns {"alert": the alert after, "detail": what was recorded}."""
    now = store.now()
    note = (note or "").strip() or None
    found = lifecycle.get(con, alert_id)
    detail = {"alert_id": alert_id, "by": by, "note": note, "via": via}
    told = []
    if kind == "ack":
        action = "ack"
        with store.transaction(con):
            after = lifecycle.acknowledge(con, alert_id, by=by, note=note, now=now)
    elif kind == "snooze":
        if not days or not 0 < days <= 366:
            raise InputError("snooze for 1 to 366 days")
        until = now + timedelta(days=days)
        matcher = lifecycle.Matcher(account=found["account"],
                                    counterparty=found["counterparty"],
                                    detector=None if found["counterparty"] else found["detector"])
        with store.transaction(con):
            silence_id = lifecycle.silence(con, matcher, until=until, by=by, now=now,
                                           reason=note or f"snoozed from alert {alert_id}")
        action, after = "silence", lifecycle.get(con, alert_id)
        detail |= {"silence_id": silence_id, "account": matcher.account,
                   "counterparty": matcher.counterparty, "detector": matcher.detector,
                   "until": until, "reason": note or f"snoozed from alert {alert_id}"}
    elif kind == "resolve":
        action = "resolve"
        with store.transaction(con):
            after = lifecycle.close(con, alert_id, outcome=outcome or "", by=by, note=note,
                                    now=now)
        detail["outcome"] = outcome
    elif kind == "expected":
        registry.refuse_if_managed(config, "add")
        clean = registry.validate((entry or {}) | {"approver": by}, "expected")
        with store.transaction(con):       # the entry and the closing, or neither
            after = lifecycle.close(con, alert_id, outcome="expected", by=by, note=note,
                                    now=now)
            auth_id = registry.approve(con, clean, who=by, via=f"{via}: alert {alert_id}")
        action = "resolve"
        detail |= {"outcome": "expected", "auth_id": auth_id}
    elif kind == "not_recognised":
        action = "not recognised"
        with store.transaction(con):
            after, told = lifecycle.not_recognised(con, alert_id, by=by, note=note, now=now)
            queued = notify.enqueue(con, config, told, now=now) if told else []
        detail["queued"] = queued
    else:
        raise InputError(f"unknown answer '{kind}'; use one of " + ", ".join(ANSWERS))
    audit.record(con, action, detail, audit.digest(after), who=by)
    if told:
        audit.record_notification(con, channels.deliver(con, config, wait=timedelta(0)))
    return {"alert": after, "detail": detail}
