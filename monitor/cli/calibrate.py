"""`monitor calibrate`: choose the detectors' thresholds from the organisation's own history
for the alert budget, or show what was chosen and why. A thin layer over
monitor.pipeline.calibrate and monitor.detection.calibrate; listed in monitor.cli.main's VERBS."""
from __future__ import annotations

import click

from monitor import output, pipeline
from monitor.cli import run as cli_run
from monitor.detection import calibrate as calibration

COLUMNS = ["detector", "param", "value", "rung", "rungs", "per_month", "basis", "curve"]


@click.command("calibrate")
@click.option("--show", is_flag=True,
              help="Show the last calibration (what was chosen, why, when, by whom); "
                   "changes nothing.")
@click.option("--by", help="Who calibrates (default: $MONITOR_ACTOR, else the OS user).")
@output.format_option()
@click.pass_obj
def calibrate(ctx, show, by, fmt):
    """Choose each detector's threshold from this organisation's own history, so that
    replaying that history raises about [detectors] alert_budget honest alerts a month
    (default 2) for the whole organisation. The next scan judges with the new thresholds.

    Each detector has one setting that decides how sensitive it is (its .sql file's
    `calibrate:` line): money as percentiles of the organisation's own charge amounts,
    counts and ratios from a ladder; four detectors have an amount and a count, tried
    together, the fewest charges first (a pair that cannot fire before the high tier is
    lost goes last). A value you write in config.toml always wins; the
    money tiers (warning / high / critical) are never changed. With less than 180 days of
    history the defaults are kept, and the note says how much history there is; with less
    than a year, it aims below the budget (three quarters of it at 180 days), because a few
    months say little about the next ones. A detector whose latest six months were busier
    than its average is judged on them (spending grows). Calibration also checks itself on
    the same history (what its choices six months back raised in the six months after) and
    aims lower or higher by as much; the note says so. The daemon (`monitor run`)
    calibrates again every month ([schedule] calibrate).

    \b
    Examples:
      monitor calibrate                  # replay history, choose, record (a few minutes)
      monitor calibrate --show           # what the scan uses now, and why
      monitor calibrate --show --format json
    """
    if show:
        con = cli_run.brief_reader(ctx)
        found = calibration.latest(con)
        con.close()
        if found is None:
            click.echo("never calibrated: the detectors use their default settings "
                       "(run `monitor calibrate`)", err=True)
            if fmt == "json":
                click.echo(output.dumps(None))
            return
        _emit(found, found["choices"], fmt, f"calibration {found['calibration_id']}, "
              f"{found['calibrated_at']:%Y-%m-%d %H:%M} by {found['calibrated_by']}")
        return
    con = ctx.connect()
    found = pipeline.calibrate(con, ctx.config, by=by)
    con.close()
    summary = found.as_dict()
    _emit(summary, summary["choices"], fmt, "calibrated" if found.calibrated else
          "not calibrated")


def _emit(summary: dict, choices: list[dict], fmt: str, title: str) -> None:
    if fmt == "json":       # `rung` stays the index into `curve`, counted from 0
        click.echo(output.dumps(summary))
        return
    if summary["calibrated"]:
        # People count rungs from 1, as the basis beside it does ("rung 7 of 3.0, ...").
        shown = [{**c, "rung": "" if c["rung"] is None else f"{c['rung'] + 1} of {c['rungs']}"}
                 for c in choices]
        output.emit(shown, fmt, [c for c in COLUMNS if c != "rungs"], title=title)
    click.echo(summary["note"], err=fmt != "table")
