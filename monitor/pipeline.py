"""The use cases both front ends run, the command line (monitor/cli/) and the daemon
(monitor/daemon/): each takes an open read-write ledger and the config, and does the whole
of one job, its audit entry included, so the two cannot drift apart.

- ingest: read the planned files, append what loaded to the lake;
- scan_and_notify: reload the registry, scan, record the alerts, queue and send messages;
- send_digests: queue the day's digests (one transaction), deliver, record the delivery;
- send_outbox: deliver what is pending, record the delivery.
"""
from __future__ import annotations

from datetime import timedelta

from monitor.alerting import channels, notify
from monitor.audit import log as audit
from monitor.detection import scan as detect
from monitor.ledger import ingest as ingest_mod, lake, registry
from monitor.settings.config import Config
from monitor.sql import store


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
