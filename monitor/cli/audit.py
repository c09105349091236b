"""`monitor query`, `monitor queries`, `monitor evidence` and `monitor audit ...`: the
auditors' toolkit on the command line. A thin layer over monitor.audit.log; registered by
monitor.cli.main (`register`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor import output, outpath
from monitor.audit import log as audit, export
from monitor.errors import InputError

QUERY_FORMATS = ("table", "csv", "json", "ndjson", "parquet", "xlsx")
BINARY = ("parquet", "xlsx")


@click.command("query")
@click.argument("sql", required=False)
@click.option("--saved", "saved_name", metavar="NAME", help="Run a saved audit query "
              "(see `monitor queries`).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A bound parameter ($NAME in the SQL), passed as text and cast by DuckDB "
                   "where it is compared; repeatable.")
@click.option("--format", "fmt", type=click.Choice(QUERY_FORMATS), default="table",
              show_default=True, help="Output shape (parquet and xlsx need --out).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file instead of standard output (never over the "
                   "database, its snapshot or the config).")
@click.option("--force", is_flag=True, help="Replace the --out file when it exists.")
@click.pass_obj
def query(ctx, sql, saved_name, params, fmt, out, force):
    """Ask the ledger a question, read-only: one SELECT, on a snapshot of the database, with
    no file access. A statement that would write anything is refused (exit code 2). Works
    while another monitor process holds the database. Every query is written to the audit
    log with the SHA-256 of the output it wrote (refused, failed, timed-out and interrupted
    ones too). It runs within [database] memory_limit, [audit] temp_limit and [audit]
    query_timeout (exit code 3 when one stops it; Ctrl-C: 130). Results stream: any size
    fits in memory; xlsx starts a new sheet every 1,048,575 rows. In CSV, control
    characters in text are written as \\xHH (see docs/security.md) and formulas are defused.

    \b
    Examples:
      monitor query "SELECT counterparty, sum(amount) FROM transactions GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
      monitor query "SELECT * FROM transactions WHERE account = \\$acct" -p acct=1200 --format csv
      monitor query --saved charges -p payee="acme*" -p date_from=2024-01-01 --out acme.xlsx --format xlsx
      echo "SELECT count(*) FROM transactions" | monitor query -
    """
    if saved_name and sql:
        raise InputError("give either SQL or --saved NAME, not both")
    if not saved_name and not sql:
        raise InputError("give the SQL to run (or - to read it from standard input, "
                         "or --saved NAME); see `monitor queries`")
    if fmt in BINARY and not out:
        raise InputError(f"--format {fmt} writes a file; add --out PATH")
    target = outpath.check_file(out, ctx.config, force) if out else None
    if saved_name:
        spec = audit.saved(saved_name)
        sql, bound = spec["sql"], audit.bind(list(params), spec["params"])
    else:
        if sql == "-":
            sql = sys.stdin.read()
        bound = audit.bind(list(params), None)
    database = ctx.config.database
    detail = {"saved": saved_name, "sql": None if saved_name else sql, "params": bound,
              "snapshot": None, "out": str(out) if out else None}
    try:       # refused, failed, timed out, interrupted or cut off: the attempt is logged too
        con, snap, fresh = audit.open_reader(database, ctx.config)
        detail["snapshot"] = str(snap)
        if not fresh:
            click.echo(f"note: the database is busy; read the snapshot {snap} published "
                       "at the end of the last ingest or scan", err=True)
        try:
            with audit.guarded(con, audit.query_timeout(ctx.config)):
                written = export.write(con, sql, bound, fmt, out=target, stream=sys.stdout)
        finally:
            con.close()
    except BrokenPipeError:           # `| head` closed the pipe: logged, then exit 0
        audit.record_at(database, "query", detail | {"output_closed": True}, None)
        raise
    except BaseException as e:
        _log_attempt(database, "query", detail, e)
        raise
    audit.record_at(database, "query", detail | {"rows": written.rows}, written.sha256)
    if out:
        sheets = f" in {written.sheets} sheets" if written.sheets > 1 else ""
        click.echo(f"wrote {written.rows} row(s){sheets} to {out}", err=True)
    for warning in sorted(written.warnings):
        click.echo(f"warning: {warning}", err=True)


@click.command("queries")
@output.format_option()
def queries(fmt):
    """List the saved audit queries (queries/audit/), what each finds and its parameters.

    \b
    Example:
      monitor queries --format json
    """
    output.emit(audit.listing(), fmt, ["name", "finds", "params"], title="Saved audit queries")


@click.command("evidence")
@click.argument("alert_id", type=int, required=False)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="New (or empty) folder to write the evidence to.")
@click.option("--verify", "verify_dir", type=click.Path(path_type=Path, file_okay=False,
                                                         exists=True),
              help="Check an evidence folder instead: its files against the manifest and "
                   "the recorded query re-run against the recorded data version.")
@click.pass_obj
def evidence(ctx, alert_id, out, verify_dir):
    """Export an alert's evidence: the alert (alert.json), its evidence rows (evidence.csv),
    the exact SQL and parameters that produced them (query.sql, params.json), the data
    version (SHA-256 of the rows read) and a manifest with the SHA-256 of every file.

    \b
    Examples:
      monitor evidence 17 --out evidence/alert-17
      monitor evidence --verify evidence/alert-17
    """
    database = ctx.config.database
    timeout = audit.query_timeout(ctx.config)
    if verify_dir:
        detail = {"folder": str(verify_dir)}
        try:
            con, _snap, _fresh = audit.open_reader(database, ctx.config)
            try:
                result = audit.verify_evidence(con, verify_dir, database, timeout)
            finally:
                con.close()
        except BaseException as e:
            _log_attempt(database, "evidence-verify", detail, e)
            raise
        audit.record_at(database, "evidence-verify",
                        detail | {"ok": result["ok"], "problems": result["problems"]},
                        result["data_version_now"])
        click.echo(output.dumps(result))
        for problem in result["problems"]:
            click.echo(f"evidence NOT verified: {problem}", err=True)
        if not result["ok"]:
            sys.exit(1)
        return
    if alert_id is None or out is None:
        raise InputError("give ALERT_ID and --out DIR (or --verify DIR)")
    outpath.check_folder(out, ctx.config)
    con, snap, _fresh = audit.open_reader(database, ctx.config)
    try:
        manifest = audit.export_evidence(con, alert_id, out, snapshot_path=snap,
                                         timeout=timeout)
    finally:
        con.close()
    audit.record_at(database, "evidence", {"alert_id": alert_id, "out": str(out),
                                           "rows": manifest["rows"],
                                           "data_version": manifest["data_version"]},
                    audit.file_sha256(Path(out) / "manifest.json"))
    click.echo(f"wrote the evidence of alert {alert_id} ({manifest['rows']} row(s), data "
               f"version {manifest['data_version'][:12]}) to {out}", err=True)


@click.group("audit")
def audit_group():
    """The audit log: every ingest, scan, notification, ack, silence, query and evidence
    export, hash-chained so that an edited or deleted row is found.

    \b
    Examples:
      monitor audit verify
      monitor audit log --limit 20
    """


@audit_group.command("verify")
@output.format_option()
@click.pass_obj
def audit_verify(ctx, fmt):
    """Check the chain; exit code 1 and the first broken link when a row was changed or
    deleted.

    \b
    Example:
      monitor audit verify
    """
    database = ctx.config.database
    con, from_snapshot = audit.open_log_at(database)
    try:
        result = audit.verify(con, audit.read_head(database), snapshot_read=from_snapshot)
    finally:
        con.close()
    if fmt == "json":
        click.echo(output.dumps(result))
    elif result["ok"]:
        click.echo(f"audit log intact: {result['rows']} row(s)")
        if result.get("note"):
            click.echo(f"note: {result['note']}", err=True)
    else:
        click.echo(f"audit log BROKEN at row {result['first_broken']}: {result['problem']}")
    if not result["ok"]:
        sys.exit(1)


@audit_group.command("log")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--action", help="Only this action (ingest, scan, query, ...).")
@output.format_option()
@click.pass_obj
def audit_log(ctx, limit, action, fmt):
    """List the audit log, newest first.

    \b
    Example:
      monitor audit log --action query --format csv > queries.csv
    """
    con = audit.open_log(ctx.config.database)
    try:
        found = audit.entries(con, limit, action)
    finally:
        con.close()
    output.emit(found, fmt, ["seq", "logged_at", "actor", "action", "detail", "result_hash"])


def _log_attempt(database: Path, action: str, detail: dict, error: BaseException) -> None:
    """Log a query that did not finish (refused, failed, timed out, interrupted). Logging
    must never hide the error itself, and never create a ledger where there is none."""
    if isinstance(error, KeyboardInterrupt):
        outcome = {"interrupted": True}
    elif isinstance(error, InputError):
        outcome = {"refused": str(error)}
    else:
        outcome = {"failed": " ".join(str(error).split()) or type(error).__name__}
    if not Path(database).exists():
        return
    try:
        audit.record_at(database, action, detail | outcome, None)
    except Exception as e:    # the error being raised matters more; say why it is unlogged
        click.echo(f"warning: this attempt could not be written to the audit log ({e})",
                   err=True)
