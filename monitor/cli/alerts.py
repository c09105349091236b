"""`monitor alerts ...`: the alert lifecycle and the notification outbox on the command line.

A thin layer over monitor.alerting.lifecycle and monitor.alerting.notify; listed in monitor.cli.main's VERBS.
"""
from __future__ import annotations

from datetime import timedelta

import click

from monitor import output, pipeline
from monitor.cli import run as cli_run
from monitor.alerting import lifecycle as alert
from monitor.audit import log as audit
from monitor.errors import NotifyError
from monitor.sql.store import now as utc_now
from monitor.sql.store import rows, run, transaction

ALERT_COLUMNS = ["alert_id", "state", "severity", "detector", "account", "counterparty",
                 "initiator", "exposure", "currency", "charges", "since", "opened_at",
                 "last_notified_at", "acked_by"]


@click.group()
def alerts():
    """Alerts raised by `monitor scan`: list, show, acknowledge, silence, and deliver the
    e-mails and webhook posts about them.

    \b
    Examples:
      monitor alerts list
      monitor alerts show 17
      monitor alerts ack 17 --by "J. Smith" --note "card cancelled, bank informed"
      monitor alerts silence --counterparty "zoom.us*" --until 2025-01-31 --reason "new contract"
    """


@alerts.command("list")
@click.option("--state", type=click.Choice(("open",) + alert.STATES + ("all",)), default="open",
              show_default=True, help="Which alerts: open means not resolved.")
@click.option("--limit", type=int, default=100, show_default=True)
@output.format_option()
@click.pass_obj
def alerts_list(ctx, state, limit, fmt):
    """List alerts, newest first.

    \b
    Example:
      monitor alerts list --state all --format csv > alerts.csv
    """
    con = cli_run.brief_reader(ctx)
    found = alert.listing(con, state, limit, now=utc_now())
    con.close()
    output.emit(found, fmt, ALERT_COLUMNS + ["sentence"] if fmt != "table" else ALERT_COLUMNS,
                title=f"Alerts ({state})")


@alerts.command("show")
@click.argument("alert_id", type=int)
@output.format_option()
@click.pass_obj
def alerts_show(ctx, alert_id, fmt):
    """Show one alert: its facts, the evidence charges, its history and notifications.

    \b
    Example:
      monitor alerts show 17 --format json
    """
    con = cli_run.brief_reader(ctx)
    found = alert.get(con, alert_id, now=utc_now())
    charges = alert.evidence(con, found)
    events = alert.history(con, alert_id)
    told = rows(con, "alerts/alert_notifications", {"alert_id": alert_id})
    con.close()
    if fmt == "json":
        click.echo(output.dumps({"alert": found, "evidence": charges, "history": events,
                                 "notifications": told}))
        return
    facts = [{"field": k, "value": v} for k, v in found.items() if k != "evidence_txn_ids"]
    output.emit(facts, fmt, ["field", "value"], title=f"Alert {alert_id}")
    if fmt == "table":
        output.emit(charges, fmt, title="Evidence charges")
        output.emit(events, fmt, title="History")
        if told:
            output.emit(told, fmt, ["notification_id", "reason", "severity", "created_at",
                                    "channel", "recipient", "status", "sent_at"],
                        title="Notifications")


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--by", default=None,
              help="Who acknowledges it (default: $MONITOR_ACTOR, else the OS user).")
@click.option("--note", help="What is being done about it.")
@click.pass_obj
def alerts_ack(ctx, alert_id, by, note):
    """Acknowledge an alert: no more reminders while it stays at this tier
    (an escalation is still told).

    \b
    Example:
      monitor alerts ack 17 --by "J. Smith" --note "card cancelled, bank informed"
    """
    if by is None:                   # one rule for who acts, in every verb
        by = audit.actor()
    con = ctx.connect()
    found = alert.acknowledge(con, alert_id, by=by, note=note, now=utc_now())
    audit.record(con, "ack", {"alert_id": alert_id, "by": by, "note": note}, audit.digest(found))
    con.close()
    click.echo(f"alert {alert_id} acknowledged by {by}; state {found['state']}", err=True)


@alerts.command("silence")
@click.option("--detector", help="Detector name (* matches any text).")
@click.option("--account", help="Account (* matches any text).")
@click.option("--counterparty", "--payee", "counterparty",
              help="Payee, however it is written (its payee key); with * a pattern over "
                   "the names as written and the keys.")
@click.option("--until", "until", required=True,
              type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
              help="Silenced through this day (UTC), or until this time.")
@click.option("--reason", required=True, help="Why.")
@click.option("--by", default=None,
              help="Who silences (default: $MONITOR_ACTOR, else the OS user).")
@click.pass_obj
def alerts_silence(ctx, detector, account, counterparty, until, reason, by):
    """Silence the alerts that match, until a date: no notifications while it holds.

    \b
    Example:
      monitor alerts silence --account 1200 --counterparty "acme*" --until 2025-01-31 \\
          --reason "approved project spend, PO-1042" --by "J. Smith"
    """
    if until.hour == 0 and until.minute == 0:
        until = until + timedelta(days=1)     # a bare date silences through that day
    by = by or audit.actor()
    con = ctx.connect()
    silence_id = alert.silence(con, alert.Matcher(detector, account, counterparty), until=until,
                               reason=reason, by=by, now=utc_now())
    audit.record(con, "silence", {"silence_id": silence_id, "detector": detector,
                                  "account": account, "counterparty": counterparty,
                                  "until": until, "reason": reason, "by": by})
    con.close()
    click.echo(f"silence {silence_id} in force until {until:%Y-%m-%d %H:%M} UTC", err=True)


@alerts.command("silences")
@click.option("--all", "include_expired", is_flag=True, help="Include expired silences.")
@output.format_option()
@click.pass_obj
def alerts_silences(ctx, include_expired, fmt):
    """List silences, those in force first.

    \b
    Example:
      monitor alerts silences --all --format json
    """
    con = ctx.connect()
    found = alert.silences(con, utc_now(), include_expired)
    con.close()
    output.emit(found, fmt, ["silence_id", "active", "detector", "account", "counterparty",
                             "starts_at", "ends_at", "reason", "created_by", "expired_by"])


@alerts.command("unsilence")
@click.argument("silence_id", type=int)
@click.option("--by", default=None,
              help="Who ends it (default: $MONITOR_ACTOR, else the OS user).")
@click.pass_obj
def alerts_unsilence(ctx, silence_id, by):
    """End a silence now.

    \b
    Example:
      monitor alerts unsilence 3 --by "J. Smith"
    """
    con = ctx.connect()
    by = by or audit.actor()
    alert.expire_silence(con, silence_id, by=by, now=utc_now())
    audit.record(con, "unsilence", {"silence_id": silence_id, "by": by})
    con.close()
    click.echo(f"silence {silence_id} ended", err=True)


@alerts.command("send")
@click.option("--wait", type=click.IntRange(0), default=None,
              help="Keep retrying for up to this many seconds (default: [notify] retry_for).")
@click.option("--dry-run", is_flag=True,
              help="Write the pending messages to the outbox folder as files; send nothing.")
@click.option("--retry-failed", is_flag=True,
              help="First put the messages given up (status failed) back to pending: "
                   "after fixing the URL, address or server that refused them.")
@click.pass_obj
def alerts_send(ctx, wait, dry_run, retry_failed):
    """Deliver what is pending in the outbox (and the day's digests), retrying with backoff.
    Exit code 3 while some remain undelivered or were given up.

    \b
    Example:
      monitor alerts send --wait 600
      monitor alerts send --retry-failed
    """
    config = ctx.config
    con = ctx.connect()
    if retry_failed:       # given-up messages become pending again, then go with the rest
        with transaction(con):
            again = [i for (i,) in run(con, "notify/retry_failed").fetchall()]
        if again:
            audit.record(con, "retry-failed", {"outbox_ids": again})
            click.echo(f"{len(again)} message(s) given up before are pending again", err=True)
    delay = timedelta(seconds=wait) if wait is not None else config.notify.retry_for
    _, result = pipeline.send_digests(con, config, wait=delay, dry_run=dry_run)
    con.close()
    report(result, dry_run)


@alerts.command("outbox")
@click.option("--status", type=click.Choice(("pending", "sent", "failed", "all")), default="all",
              show_default=True)
@click.option("--limit", type=int, default=100, show_default=True)
@output.format_option()
@click.pass_obj
def alerts_outbox(ctx, status, limit, fmt):
    """List the messages in the outbox: what was sent, when, what is still pending, and
    what was given up (failed) with the reason in last_error.

    \b
    Example:
      monitor alerts outbox --status pending
    """
    con = ctx.connect()
    found = rows(con, "notify/list_outbox", {"status": status, "limit": limit})
    con.close()
    output.emit(found, fmt, ["outbox_id", "status", "channel", "recipient", "kind", "alerts",
                             "attempts", "created_at", "sent_at", "sent_via", "last_error",
                             "subject"])


def report(result, dry_run: bool = False) -> None:
    """One line per outcome on stderr; NotifyError (exit 3) while messages remain pending."""
    if result.files:
        folder = result.files[0].parent
        click.echo(f"{'dry run: ' if dry_run else ''}{len(result.files)} message file(s) "
                   f"in {folder}", err=True)
    if result.sent:
        click.echo(f"delivered {len(result.sent)} message(s)", err=True)
    failed = getattr(result, "failed", [])
    if failed and not dry_run:
        pending = (f"; {len(result.pending)} more not delivered yet: {result.error}"
                   if result.pending else "")
        raise NotifyError(f"{len(failed)} message(s) given up: {result.gave_up}{pending}; "
                          "see `monitor alerts outbox --status failed`")
    if result.pending and not dry_run:
        raise NotifyError(f"{len(result.pending)} message(s) not delivered: {result.error}; "
                          "they stay in the outbox, `monitor alerts send` retries them")
