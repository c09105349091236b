"""`monitor scan` and `monitor backtest`: the detectors over the ledger, today or replayed
day by day. A thin layer over monitor.pipeline and monitor.detection."""
from __future__ import annotations

import sys

import click

from monitor import output, pipeline
from monitor.audit import log as audit
from monitor.cli import alerts as cli_alerts
from monitor.cli.context import Context, pass_ctx
from monitor.detection import fold, scan as detect
from monitor.errors import ExitCode, InputError
from monitor.report import report as report_mod


FINDING_COLUMNS = ["severity", "detector", "account", "counterparty", "initiator", "exposure",
                   "currency", "since", "first_alert_at", "sentence"]


@click.command()
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
              help="Judge the ledger as it stood on this day, up to today "
                   "(default: the latest posting up to today).")
@click.option("--no-notify", is_flag=True,
              help="Record the alerts but tell no one now (a later scan tells what is due).")
@click.option("--dry-run", is_flag=True,
              help="Write the messages this scan would send to the outbox folder; "
                   "change no alert and send nothing.")
@output.format_option()
@pass_ctx
def scan(ctx: Context, as_of, no_notify, dry_run, fmt):
    """Run the detectors over the ledger, record what is firing, and notify: a message
    on first firing, on each escalation, and a reminder while unacknowledged
    (see `monitor alerts --help`).

    Exit code 1 when any alert is firing, 0 when none is, 3 when a message could not
    be delivered (it stays in the outbox for the next run) or was refused for good
    (given up: `monitor alerts outbox --status failed`).

    \b
    Examples:
      monitor scan
      monitor scan --as-of 2017-06-30 --format json --no-notify
    """
    if as_of:
        detect.not_after_today(ctx.config, as_of.date(), "--as-of")
    con = ctx.connect()
    day, findings, outcome = pipeline.scan_and_notify(    # what the daemon's pipeline runs
        con, ctx.config, as_of=as_of.date() if as_of else None, notify_now=not no_notify,
        dry_run=dry_run, warn=lambda line: click.echo(f"warning: {line}", err=True))
    con.close()
    audit.publish(ctx.config.database)      # readers query the snapshot
    if fmt == "json":
        click.echo(output.dumps({"as_of": day, "findings": findings}))
    else:
        output.emit(findings, fmt, FINDING_COLUMNS, title=f"Firing as of {day}")
    if outcome:
        cli_alerts.report(outcome, dry_run)
    if findings:
        sys.exit(ExitCode.ALERTS_FIRING)


@click.command()
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="First day of the replay.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="Last day of the replay.")
@output.format_option()
@pass_ctx
def backtest(ctx: Context, start, end, fmt):
    """Replay history as if the monitor had run every day, and list each alert once
    (detectors that saw the same charges make one alert; the others are its reasons).

    Each day sees only what was posted by then; an alert is listed at its first
    firing with the exposure and evidence of that day, and later escalations
    inside it. History before --from only warms up the baselines.

    \b
    Example:
      monitor backtest --from 2015-01-01 --to 2017-12-31 --format json
    """
    if end < start:
        raise InputError(f"--to {end:%Y-%m-%d} is before --from {start:%Y-%m-%d}; swap them")
    detect.not_after_today(ctx.config, end.date(), "--to")     # the replay's last day
    con = ctx.connect()
    pipeline.load_registry(con, ctx.config)     # the finance team's CSV, when named
    # One alert per theft, as the daily runs' alerts would have been (detection/fold.py).
    alerts = fold.over_time(detect.backtest(con, ctx.config, start.date(), end.date()))
    precision = report_mod.precision(con)     # how people judged the live alerts so far
    con.close()
    if fmt == "json":
        keys = ("detector", "severity", "account", "counterparty", "initiator",
                "first_alert_at", "exposure", "evidence_txn_ids", "other_reasons")
        click.echo(output.dumps({"alerts": [
            {k: a[k] for k in keys} | {"escalations": a["escalations"]} for a in alerts],
            "precision": [{k: p[k] for k in ("detector", "judged", "theft", "honest",
                                             "precision")} for p in precision]}))
        return
    output.emit(alerts, fmt, FINDING_COLUMNS[:-2] + ["first_alert_at", "sentence"])
    lines = [p["line"] for p in precision] or ["no alert has an outcome yet"]
    click.echo("\nPrecision per detector, from the outcomes people gave:\n  "
               + "\n  ".join(lines), err=fmt != "table")      # a CSV stays a CSV


