"""`monitor report`: the HTML report. A thin layer over monitor.report.report; registered by
monitor.cli.main.
"""
from __future__ import annotations

from pathlib import Path

import click

from monitor import outpath
from monitor.audit import log as audit
from monitor.cli import run as cli_run
from monitor.report import report
from monitor.errors import InputError


@click.command("report")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default="report.html",
              show_default=True, help="The HTML file to write (never over the database, its "
                                      "snapshot or the config).")
@click.option("--force", is_flag=True, help="Replace the --out file when it exists.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]),
              help="First day of the period (default: the first posting).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]),
              help="Last day of the period (default: the latest posting).")
@click.pass_obj
def report_command(ctx, out, start, end, force):
    """Write one self-contained HTML page (no network fetches; prints well): open alerts
    by severity with the money at risk, a chart of each one's cumulative unexplained spend
    with its tier lines and first-alert day, the payees and initiators whose unexplained
    spend drifted most, new payees per month, feed freshness and bank-statement checks per
    source, and how many alerts were acknowledged, silenced and resolved.

    The database is only read (while `monitor run` works: its snapshot). Prints the
    report's path; the writing is recorded in the audit log.

    \b
    Examples:
      monitor report
      monitor report --out reports/2017-q4.html --from 2017-10-01 --to 2017-12-31
    """
    if start and end and end < start:
        raise InputError(f"--to {end:%Y-%m-%d} is before --from {start:%Y-%m-%d}; swap them")
    out.parent.mkdir(parents=True, exist_ok=True)     # reports/2017-q4.html: made
    out = outpath.check_file(out, ctx.config, force)
    period = report.Period(start.date() if start else None, end.date() if end else None)
    con, _snapshot = cli_run.reader(ctx)
    try:
        written = report.write(con, ctx.config, out, period=period)
    finally:
        con.close()
    audit.record_at(ctx.config.database, "report",
                    {"out": str(out), "from": period.start, "to": period.end,
                     "open_alerts": written.open_alerts},
                    audit.file_sha256(out))
    click.echo(f"wrote the report ({written.open_alerts} open alerts, {written.at_risk} at "
               f"risk, {written.charts} charts) to {out}", err=True)
    click.echo(str(Path(out).resolve()))
