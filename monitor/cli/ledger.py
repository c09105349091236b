"""The ledger verbs: `monitor init`, `ingest`, `status` and `rejects`. A thin layer over
monitor.pipeline (ingest) and the status queries."""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click

from monitor import output, pipeline
from monitor.cli import run as cli_run
from monitor.cli.context import Context, one_line as _one_line, pass_ctx
from monitor.errors import ExitCode, InputError
from monitor.ledger import ingest as ingest_mod
from monitor.sql import store
from monitor.sql.store import dicts


@click.command()
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


@click.command()
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


@click.command()
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


@click.command()
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



def _rows(con, sql: str, params=None) -> list[dict]:
    return dicts(con.execute(sql, params or {}))
