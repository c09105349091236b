"""The `monitor` command line. Each verb is a thin layer over one stage module.

Exit codes: 0 ok, 1 alerts firing, 2 usage/config/input error, 3 runtime failure.
Errors are one plain line on stderr; --debug shows the traceback.
"""
from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

import click
import duckdb

from monitor.settings import config as config_mod
from monitor.detection import fold, scan as detect
from monitor.ledger import registry
from monitor.sql import store
from monitor.sql.store import dicts
from monitor.ledger import ingest as ingest_mod
from monitor.audit import log as audit
from monitor.cli import audit as cli_audit
from monitor.cli import screening as cli_screening
from monitor import output, pipeline
from monitor.report import report as report_mod
from monitor.cli import alerts as cli_alerts, lake as cli_lake, report as cli_report, run as cli_run
from monitor.cli import calibrate as cli_calibrate, web as cli_web
from monitor.errors import ExitCode, InputError, MonitorError, NotifyError
from monitor.redact import redact

EPILOG_WIDTH = 100


class Context:
    def __init__(self, config_path: Path, debug: bool):
        self.config_path, self.debug = config_path, debug
        self._config = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
        return self._config

    def connect(self, read_only: bool = False):
        """The ledger; a writer waits for a daemon's job (or another verb) holding it, as
        the daemon waits for the operator's verbs."""
        return store.connect(self.config.database, read_only=read_only,
                             memory_limit=self.config.memory_limit,
                             wait=0 if read_only else store.LOCK_WAIT,
                             on_wait=lambda line: click.echo(f"note: {line}", err=True))


pass_ctx = click.make_pass_decorator(Context)


class ClosedPipe(Exception):
    """Standard output was closed by its reader (`monitor query ... | head`). Not an
    OSError, so click does not turn it into its exit code 1; `main` exits 0."""


class MonitorGroup(click.Group):
    def invoke(self, ctx):     # every verb runs inside this call
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise ClosedPipe() from None


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"],
                               "max_content_width": EPILOG_WIDTH})
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              envvar="MONITOR_CONFIG", default="config.toml", show_default=True,
              help="Config file (env MONITOR_CONFIG).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="payment-monitor")
@click.pass_context
def cli(click_ctx, config_path, debug):
    """Watch payment-account ledgers for repeated small unauthorised charges.

    \b
    Example:
      monitor init && monitor ingest && monitor status
    """
    click_ctx.obj = Context(config_path, debug)


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_ctx
def init(ctx: Context, force):
    """Write a starter config.toml and create its database.

    \b
    Example:
      monitor --config finance/config.toml init
    """
    path = ctx.config_path
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; edit it, or pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(resources.files("monitor").joinpath("starter_config.toml").read_text("utf-8"),
                    encoding="utf-8")
    con = ctx.connect()
    version = store.schema_version(con)
    con.close()
    click.echo(f"wrote {path}; database {ctx.config.database} at schema version {version}",
               err=True)
    # A new user's next step: make the starter [[sources]] match their exports.
    first = ctx.config.sources[0]
    command = "monitor" + ("" if str(path) == "config.toml" else f" --config {path}")
    click.echo(f"next: edit [[sources]] in {path} to match your exports (path, now "
               f"{first.path}; currency, charges and [sources.columns]), then run "
               f"`{command} ingest` and `{command} scan`", err=True)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--source", "source_name", help="Read the files with this configured source.")
@click.option("--reload", is_flag=True,
              help="Replace the rows earlier loads of these files gave (after a config fix).")
@click.option("--complete", is_flag=True,
              help="The files are finished: read one whose last line has no line end now, "
                   "instead of once it has rested 15 minutes.")
@output.format_option()
@pass_ctx
def ingest(ctx: Context, paths, source_name, reload, complete, fmt):
    """Load ledger files into the database, each transaction once.

    With no PATH, reads every file matched by each source's path glob. A PATH is
    read with the source whose glob matches it (or --source), otherwise its
    format is detected from its content. Rows that cannot be used are set
    aside with a reason (see `monitor rejects`); the rest still load. Bank
    statements (camt.05x, MT940/942, BAI2, OFX) need no source, and each
    statement's balances are checked (see docs/formats.md).

    \b
    Examples:
      monitor ingest
      monitor ingest exports/march.csv --source pcards --format json
      monitor ingest statements/2024-03.camt053.xml
      monitor ingest --reload exports/march.csv
      monitor ingest --complete downloads/spend-jan-mar.csv
    """
    if reload and not paths:
        raise InputError("--reload needs the file(s) to reload: monitor ingest --reload FILE")
    planned = ingest_mod.plan(ctx.config, list(paths), source_name)
    con = ctx.connect()
    detail = {"paths": list(paths), "source": source_name}
    if complete:
        detail["complete"] = True
    if reload:
        detail["reload"] = True
    results, to_lake = _with_progress(con, ctx.config, planned, detail, reload, complete)
    con.close()
    if to_lake:
        click.echo(f"note: appended {to_lake} rows to the ledger lake", err=True)
    # No snapshot here: a reader that finds the snapshot older than the ledger refreshes
    # it, so ingest does not pay for a copy of the whole ledger on every run.
    rows = [r.as_dict() for r in results]
    if fmt == "json":
        keys = ("path", "source", "rows_read", "loaded", "duplicates", "rejected", "status")
        click.echo(output.dumps({"files": [{k: r[k] for k in keys} | {"message": r["message"]}
                                           | ({"balance": r["balance"]} if r["balance"] else {})
                                           for r in rows]}))
    else:
        output.emit(rows, fmt, ["path", "source", "format", "rows_read", "loaded", "duplicates",
                                "rejected", "status"])
    for result in results:
        if result.message and fmt != "json":
            prefix = "error" if result.status in ("error", "rejected") else "note"
            click.echo(f"{prefix}: {_one_line(result.message)}", err=True)
        if result.hint and fmt != "json":
            click.echo(result.hint, err=True)
        if result.balance and fmt != "json":    # bank statements: balance and sequence checks
            prefix = "warning" if result.balance.startswith("CHECK FAILED") else "note"
            click.echo(f"{prefix}: {result.path}: {_one_line(result.balance)}", err=True)
    if not planned:
        click.echo("note: no files matched; check the path globs in [[sources]]", err=True)
    if any(r.status in ("error", "rejected") for r in results):
        sys.exit(ExitCode.USAGE)


def _with_progress(con, config, planned, detail: dict, reload=False, complete=False):
    def read(on_file=None):
        return pipeline.ingest(con, config, planned, on_file=on_file, reload=reload,
                               complete=complete, audit_detail=detail)
    if not sys.stderr.isatty() or len(planned) < 2:
        return read()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    with Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task("", total=len(planned))

        def step(result):
            bar.update(task, advance=1, description=Path(result.path).name)
        return read(step)


@cli.command()
@output.format_option()
@pass_ctx
def status(ctx: Context, fmt):
    """Show what the database holds, per source, files that failed, and bank
    statements whose balance or sequence checks failed; then the daemon (`monitor run`):
    each job's last and next run and what it did, feed freshness, the outbox backlog.
    While the daemon runs, this reads its published snapshot.

    \b
    Example:
      monitor status --format json
    """
    con, snapshot = cli_run.reader(ctx)    # while `monitor run` works: its snapshot
    rows = _rows(con, store.load_query("status/sources"))
    errors = _rows(con, "SELECT path, error, ingested_at AS at FROM files "
                        "WHERE status IN ('error', 'rejected') ORDER BY file_id")
    checks = _rows(con, store.load_query("formats/failed_checks"), {"limit": 100})
    daemon = cli_run.daemon_status(ctx, con)
    con.close()
    if fmt == "json":
        click.echo(output.dumps({"database": str(ctx.config.database), "sources": rows,
                                 "failed_files": errors, "statement_checks": checks,
                                 "from_snapshot": snapshot} | daemon))
        return
    output.emit(rows, fmt, title=f"Ledger in {ctx.config.database}"
                + (" (daemon snapshot)" if snapshot else ""))
    if errors and fmt == "table":
        output.emit(errors, fmt, title="Files that failed")
    if checks and fmt == "table":
        output.emit(checks, fmt, title="Bank statements whose checks failed")
    if fmt == "table":
        cli_run.emit_daemon_status(daemon, fmt)


@cli.command()
@click.option("--file", "file_id", type=int, help="Only rows from this file id.")
@click.option("--limit", type=int, default=100, show_default=True)
@output.format_option()
@pass_ctx
def rejects(ctx: Context, file_id, limit, fmt):
    """List rows set aside at ingest, with the reason and the row's text.

    \b
    Example:
      monitor rejects --file 3 --format csv > rejects.csv
    """
    con = ctx.connect()
    rows = _rows(con, store.load_query("status/rejects"), {"file_id": file_id, "limit": limit})
    con.close()
    output.emit(rows, fmt, ["file_id", "path", "source_row", "reason", "raw"])


FINDING_COLUMNS = ["severity", "detector", "account", "counterparty", "initiator", "exposure",
                   "currency", "since", "first_alert_at", "sentence"]


@cli.command()
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


@cli.command()
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


@cli.group()
def authorize():
    """The expected-charges registry: approved payees, contracts, subscriptions.
    Every change is in the audit log with who made it ($MONITOR_ACTOR, else the OS
    user). When the config names a file ([registry] path), edit that file instead.

    \b
    Examples:
      monitor authorize add --payee "Acme Hosting" --amount 49.00 --tolerance 5 \\
          --cadence monthly --by "J. Smith" --reference PO-1042
      monitor authorize load approvals.csv
    """


@authorize.command("add")
@click.option("--payee", required=True, help="Payee name; * matches any text.")
@click.option("--account", help="Only this account (default: any).")
@click.option("--amount", "expected_amount", help="Expected amount (default: any).")
@click.option("--tolerance", default="0", show_default=True, help="Allowed difference.")
@click.option("--cadence", type=click.Choice(registry.CADENCES), help="At most one charge per.")
@click.option("--from", "valid_from", help="Valid from (YYYY-MM-DD).")
@click.option("--to", "valid_to", help="Valid to (YYYY-MM-DD).")
@click.option("--by", "--approver", "approver", default=None,
              help="Who approved it (default: $MONITOR_ACTOR, else the OS user).")
@click.option("--reference", required=True, help="Contract, PO or ticket reference.")
@pass_ctx
def authorize_add(ctx: Context, **entry):
    """Approve a payee, contract or recurring charge.

    \b
    Example:
      monitor authorize add --payee "zoom.us*" --amount 14.39 --cadence monthly \\
          --by "Finance lead" --reference SUB-7
    """
    registry.refuse_if_managed(ctx.config, "add")
    entry["approver"] = entry["approver"] or audit.actor()
    con = ctx.connect()
    auth_id = registry.approve(con, registry.validate(entry, "authorize add"))
    con.close()
    click.echo(f"added authorization {auth_id}", err=True)


@authorize.command("list")
@output.format_option()
@pass_ctx
def authorize_list(ctx: Context, fmt):
    """List the registry.

    \b
    Example:
      monitor authorize list --format csv > approvals.csv
    """
    con = ctx.connect()
    rows = registry.entries(con)
    con.close()
    output.emit(rows, fmt, ["auth_id", *registry.COLUMNS])


@authorize.command("show")
@click.argument("auth_id", type=int)
@output.format_option()
@pass_ctx
def authorize_show(ctx: Context, auth_id, fmt):
    """The payee names as written that one entry covers. An approval matches by payee
    key, so "Acme Hosting" covers "ACME HOSTING LTD" and "PAYPAL *ACME HOSTING";
    a payee with * covers the names or keys the pattern matches.

    \b
    Example:
      monitor authorize show 3 --format csv
    """
    con = ctx.connect()
    rows = registry.covers(con, auth_id)
    con.close()
    output.emit(rows, fmt, ["name", "payee_key", "charges", "first_posted", "last_posted"])


@authorize.command("remove")
@click.argument("auth_id", type=int)
@pass_ctx
def authorize_remove(ctx: Context, auth_id):
    """Remove one entry by its id.

    \b
    Example:
      monitor authorize remove 3
    """
    registry.refuse_if_managed(ctx.config, "remove")
    con = ctx.connect()
    registry.withdraw(con, auth_id)
    con.close()
    click.echo(f"removed authorization {auth_id}", err=True)


@authorize.command("load")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@pass_ctx
def authorize_load(ctx: Context, path):
    """Replace the registry with a CSV (columns: payee, account, expected_amount,
    tolerance, cadence, valid_from, valid_to, approver, reference).

    \b
    Example:
      monitor authorize load finance/approvals.csv
    """
    registry.refuse_if_managed(ctx.config, "load", path)
    entries = registry.read_csv(path)
    con = ctx.connect()
    count = registry.load(con, entries, str(path.resolve()))
    con.close()
    click.echo(f"loaded {count} authorizations from {path}", err=True)


@authorize.command("review")
@click.option("--send", is_flag=True, help="E-mail the owners now (else only list them).")
@pass_ctx
def authorize_review(ctx: Context, send):
    """The entries whose review date ([registry] review_before ahead, default 14 days) is
    near and whose owner was not yet asked; with --send, e-mail each owner Still expected /
    No longer expected links (the daemon does it on its digest job). An entry not confirmed
    stops explaining charges after its review date (valid_to).

    \b
    Example:
      monitor authorize review --send
    """
    con = ctx.connect()
    queued, result = pipeline.send_reviews(con, ctx.config, wait=ctx.config.notify.retry_for,
                                           dry_run=not send)
    con.close()
    output.emit(queued, "table", ["auth_id", "valid_to", "recipient"])
    click.echo(f"sent {len(queued)} review e-mail(s)" if send else
               f"would send {len(queued)} review e-mail(s); --send sends them", err=True)
    if result is not None and (result.pending or result.failed):
        raise NotifyError(f"review e-mail(s) not delivered: {result.error or result.gave_up}; "
                          "they stay in the outbox (`monitor alerts send` retries)")


cli.add_command(cli_alerts.alerts)
cli_audit.register(cli)
cli_lake.register(cli)
cli_screening.register(cli)
cli.add_command(cli_run.run)
cli.add_command(cli_report.report_command)
cli_web.register(cli)
cli_calibrate.register(cli)


def _rows(con, sql: str, params=None) -> list[dict]:
    return dicts(con.execute(sql, params or {}))


def _one_line(text: str) -> str:
    """A message as one line, with any secret masked (monitor.redact)."""
    return redact(" ".join(text.split()))


def _quiet_stdout() -> None:
    """After the reader closed the pipe: point stdout at /dev/null so Python's final
    flush does not fail again (the recipe in the signal module's documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # not a real file (tests' capture)
        pass


def main(argv=None) -> None:
    """`monitor ... | head`: a reader that closes the pipe early is not a failure of the
    verb, so every verb then exits 0 (click's own handling would exit 1, the code for
    "alerts firing"); the flush is done here so that a late EPIPE is caught too."""
    try:
        _main(argv)
        sys.stdout.flush()
    except SystemExit:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
        raise
    except (ClosedPipe, BrokenPipeError):
        _quiet_stdout()
        sys.exit(ExitCode.OK)


def _main(argv=None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        cli.main(args=argv, prog_name="monitor", standalone_mode=False)
    except click.exceptions.Abort:     # Ctrl-C: click turns KeyboardInterrupt into Abort
        click.echo("error: interrupted; work in progress was rolled back", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(ExitCode.USAGE)
    except MonitorError as e:
        if debug:
            raise
        click.echo(f"error: {_one_line(str(e))}", err=True)
        sys.exit(e.exit_code)
    except duckdb.InterruptException:  # Ctrl-C while DuckDB works comes back as this
        click.echo("error: interrupted; work in progress was rolled back", err=True)
        sys.exit(130)
    except duckdb.Error as e:
        if debug:
            raise
        damage = store.damaged(None, e)      # a truncated or overwritten file: the way back
        click.echo(f"error: {_one_line(str(damage))}" if damage
                   else f"error: database: {_one_line(str(e))}", err=True)
        sys.exit(ExitCode.RUNTIME)
    except KeyboardInterrupt:
        sys.exit(130)
    except ClosedPipe:
        raise
    except Exception as e:  # a bug: still one line, unless --debug
        if isinstance(e, RuntimeError) and str(e) == "Query interrupted":   # DuckDB's Ctrl-C
            click.echo("error: interrupted; work in progress was rolled back", err=True)
            sys.exit(130)
        if debug:
            raise
        click.echo(f"error: internal: {type(e).__name__}: {_one_line(str(e))} "
                   "(rerun with --debug for the traceback)", err=True)
        sys.exit(ExitCode.RUNTIME)
