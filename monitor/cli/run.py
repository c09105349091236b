"""`monitor run`: the scheduler daemon, and what `monitor status` shows about it.

A thin layer over monitor.daemon.scheduler; listed in monitor.cli.main's VERBS.
"""
from __future__ import annotations

from datetime import datetime

import click
import duckdb

from monitor import output
from monitor.daemon import scheduler as schedule
from monitor.ledger.feeds import feed_freshness
from monitor.sql import store
from monitor.errors import StoreError


@click.command("run")
@click.option("--log-format", type=click.Choice(("plain", "json")), default="plain",
              show_default=True, help="Log lines on stderr as plain text or one JSON object each.")
@click.pass_obj
def run(ctx, log_format):
    """Run unattended: ingest new files, scan and notify on the [schedule] in the config;
    retry undelivered messages; send the daily digest. Stops cleanly on SIGTERM or
    Ctrl-C once the running job has finished. One daemon per database.

    \b
    [schedule] keys (cron in `timezone`, or an interval that wins when both are set):
      pipeline = "*/15 * * * *"    pipeline_interval = "2s"
      outbox_interval = "5m"       digest = "0 8 * * 1-5"      timezone = "UTC"

    \b
    Example:
      monitor --config /srv/monitor/config.toml run --log-format json
    """
    code = schedule.Daemon(ctx.config, log_format).run()
    ctx_exit(code)


def ctx_exit(code: int) -> None:
    if code:
        raise SystemExit(code)


def reader(ctx) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """A read-only connection for reader verbs: the daemon's snapshot while it runs
    (the ledger itself may be locked by a job at any moment), else the ledger."""
    path, is_snapshot = schedule.reader_database(ctx.config)
    if not is_snapshot and not path.exists():
        return store.connect(path), False          # first use: create it
    try:
        return store.connect(path, read_only=True), is_snapshot
    except StoreError as e:
        if is_snapshot or "in use" not in str(e):      # a damaged file says so itself
            raise
        raise StoreError(f"{path}: the database is in use by another monitor process and no "
                         "snapshot is published yet; wait for the daemon's first pipeline "
                         "run") from None


def brief_reader(ctx) -> duckdb.DuckDBPyConnection:
    """A read-only connection for a short read that must show the latest state (`alerts
    list` right after an `alerts ack`): the ledger itself unless a job holds it (a brief
    read-only hold only delays the daemon's next job, which waits for it), else the
    daemon's snapshot, with a note saying so."""
    path = ctx.config.database
    if path.exists():
        try:
            return store.connect(path, read_only=True, memory_limit=ctx.config.memory_limit)
        except StoreError as e:
            if "in use" not in str(e):
                raise
    con, is_snapshot = reader(ctx)
    if is_snapshot:
        click.echo("note: a job of `monitor run` holds the ledger; showing its last snapshot",
                   err=True)
    return con


def daemon_status(ctx, con) -> dict:
    """The daemon's side of `monitor status`: jobs, feeds, outbox backlog."""
    config = ctx.config
    holder = schedule.running(config)
    state = schedule.read_state(schedule.state_path(config)) or {}
    jobs = []
    for name in ("pipeline", "outbox", "digest"):
        job = state.get("jobs", {}).get(name, {})
        jobs.append({"job": name, "schedule": job.get("trigger") or
                     getattr(schedule.settings(config), name).describe(),
                     "last_start": job.get("last_start"), "last_status": job.get("last_status"),
                     "last_seconds": job.get("last_seconds"),
                     "next_run": job.get("next_run") if holder else None,
                     "last_result": job.get("last_summary")})
    started = state.get("started_at")
    feeds = feed_freshness(
        con, config, datetime.fromisoformat(started) if started else None)
    (backlog, oldest), = con.execute(
        "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'").fetchall()
    return {"daemon": {"running": bool(holder), "pid": holder.get("pid") if holder else None,
                       "started_at": holder.get("started_at") if holder else None,
                       "last_stopped_at": state.get("stopped_at")},
            "jobs": jobs, "feeds": feeds,
            "outbox": {"pending": backlog, "oldest_pending_at": oldest}}


def emit_daemon_status(info: dict, fmt: str) -> None:
    """Table/CSV form (JSON callers merge `info` into their own object)."""
    d = info["daemon"]
    title = (f"Daemon: running, pid {d['pid']} since {d['started_at']}" if d["running"]
             else f"Daemon: not running (last stopped {d['last_stopped_at'] or 'never'})")
    rows = [{k: v for k, v in j.items() if k != "last_result"}
            | {"last_result": _brief(j["last_result"])} for j in info["jobs"]]
    output.emit(rows, fmt, title=title)
    output.emit(info["feeds"], fmt, title="Feed freshness")
    backlog = info["outbox"]
    output.emit([backlog], fmt, ["pending", "oldest_pending_at"], title="Outbox backlog")


def _brief(summary) -> str:
    if not summary:
        return ""
    return ", ".join(f"{k} {v}" for k, v in summary.items() if v not in (None, [], 0, ""))
