"""The scheduler daemon behind `monitor run`: unattended ingest, scan and notify.

APScheduler 3.11 BlockingScheduler with an in-memory job store rebuilt from
[schedule] on every start (a DuckDB job store would hold the ledger's lock for the
daemon's whole life). Jobs run one at a time on one worker thread, each opening the
database, doing its work and closing it:

- pipeline: ingest every source's new files, scan, record alerts, notify (exactly what
  `monitor ingest` then `monitor scan` do), check feed arrival, then publish the
  read-only snapshot readers use while the daemon holds the file.
- outbox: retry messages not yet accepted by their server.
- digest: queue and send the day's digests, and the registry owners' review e-mails.

Coalesce, max_instances=1 and a misfire grace time: after downtime or a long job, one
catch-up run, not a burst. SIGTERM/SIGINT let the running job finish, then exit 0.
A lock file beside the database (flock plus pid) keeps a second daemon out; a lock
left by a dead process is taken over. What each job did is kept in a JSON state file
beside the database, which `monitor status` reads without touching DuckDB.
"""
from __future__ import annotations

import contextvars
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from monitor import pipeline, redact
from monitor.detection import calibrate as calibration, scan as detect
from monitor.ledger import ingest
from monitor.ledger.feeds import feed_freshness
from monitor.sql import snapshot, store
from monitor.settings.config import Config
from monitor.settings.schedule import ScheduleSettings, Trigger, cron_trigger
from monitor.errors import MonitorError, StoreError

log = logging.getLogger("monitor.daemon")
RUN_ID: contextvars.ContextVar[str] = contextvars.ContextVar("run_id", default="-")
JOB: contextvars.ContextVar[str] = contextvars.ContextVar("job", default="-")
SETTLE_SECONDS = 1.0      # a file written this recently may still be being copied in
FEED_DETECTOR = "feed_arrival"


def settings(config: Config) -> ScheduleSettings:
    return config.schedule or ScheduleSettings()


def lock_path(config: Config) -> Path:
    return snapshot.lock_path(config.database)


def state_path(config: Config) -> Path:
    return Path(f"{config.database}.daemon.json")


def snapshot_path(config: Config) -> Path:
    return snapshot.snapshot_path(config.database)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ---- the shared pipeline: what `monitor ingest` then `monitor scan` do ----------------

def fresh_files(con, planned: list, seen: dict | None = None) -> list:
    """The planned files new or changed since they were last read (the rest would only
    be hashed again to learn they are unchanged), and none still being written.
    `seen` maps path -> (size, mtime_ns) of files this process has read already."""
    known = {path: (size, at) for path, size, at in con.execute(
        "SELECT path, arg_max(size_bytes, file_id), max(ingested_at) FROM files "
        "WHERE status = 'loaded' GROUP BY path").fetchall()}
    now, todo = time.time(), []
    for path, source in planned:
        try:
            facts = path.stat()
        except OSError:
            continue                                      # gone since the glob
        if now - facts.st_mtime < SETTLE_SECONDS:
            continue                                      # next run takes it
        if seen is not None and seen.get(str(path)) == (facts.st_size, facts.st_mtime_ns):
            continue
        loaded = known.get(str(path))
        written = datetime.fromtimestamp(facts.st_mtime, timezone.utc).replace(tzinfo=None)
        if loaded and loaded[0] == facts.st_size and written < loaded[1]:
            continue
        todo.append((path, source))
        if seen is not None:
            seen[str(path)] = (facts.st_size, facts.st_mtime_ns)
    return todo


def run_pipeline(config: Config, started: datetime | None = None,
                 seen: dict | None = None) -> dict:
    """One pipeline run: ingest new files, scan, notify, check feeds, publish the snapshot.
    Holds the database only while it runs. A file that failed is read again once it
    changes, or after a restart."""
    planned = ingest.plan(config)
    con = connect(config)
    try:
        todo = fresh_files(con, planned, seen)
        try:
            results, _ = pipeline.ingest(
                con, config, todo, on_file=_log_file,
                audit_detail={"paths": [str(p) for p, _ in todo], "daemon": True} if todo else None)
        except BaseException:
            for path, _ in todo:                          # not read: try them again
                (seen or {}).pop(str(path), None)
            raise
        for result in results:
            if result.status == "not ready":             # still being written: look again
                (seen or {}).pop(result.path, None)
        loaded = [r for r in results if r.status == "loaded"]
        stale = stale_feeds(con, config, started)
        day, findings, outcome = pipeline.scan_and_notify(con, config, extra=stale,
                                                          warn=log.warning,
                                                          audit_detail={"daemon": True})
        summary = {
            "files_seen": len(planned), "files_read": len(results), "files_loaded": len(loaded),
            "rows_loaded": sum(r.loaded for r in loaded),
            "rows_rejected": sum(r.rejected for r in loaded),
            "files_failed": sum(r.status in ("error", "rejected") for r in results),
            "files_not_ready": sum(r.status == "not ready" for r in results),
            "balance_failures": sum(r.balance.startswith("CHECK FAILED") for r in results),
            "as_of": day.isoformat() if day else None, "findings": len(findings),
            "stale_feeds": [f["account"][5:] for f in stale],
            "notifications": len(outcome.notifications) if outcome else 0,
            "sent": len(outcome.sent) if outcome else 0,
            "pending": len(outcome.pending) if outcome else 0,
            "failed": len(outcome.failed) if outcome else 0,
        }
        if outcome and outcome.error:
            summary["delivery_error"] = outcome.error
        if outcome and outcome.gave_up:
            summary["gave_up"] = outcome.gave_up
        if settings(config).snapshot:
            snapshot.publish_snapshot(con, snapshot_path(config))
        return summary
    finally:
        con.close()


def connect(config: Config, wait: float = store.LOCK_WAIT):
    """The ledger, read-write. A reader or an operator's verb may hold it for a moment
    (`monitor alerts ack`, an audit entry): retry for a while before giving up the run
    (store.connect: the same wait the operator's verbs give the daemon). A verb already
    waiting goes first (store.give_way): the daemon's jobs may follow each other closely."""
    store.give_way(config.database, most=wait, on_wait=log.info)
    return store.connect(config.database, memory_limit=config.memory_limit, wait=wait,
                         on_wait=log.warning)


def _log_file(result) -> None:
    level = logging.WARNING if result.status in ("error", "rejected") else logging.INFO
    log.log(level, "file %s: %s, %d read, %d loaded, %d duplicate, %d rejected%s",
            result.path, result.status, result.rows_read, result.loaded, result.duplicates,
            result.rejected, f" ({result.message})" if result.message else "")


def run_outbox(config: Config) -> dict:
    con = connect(config)
    try:
        result = pipeline.send_outbox(con, config, wait=timedelta(0))
    finally:
        con.close()
    return {"sent": len(result.sent), "pending": len(result.pending),
            "failed": len(result.failed),
            **({"delivery_error": result.error} if result.error else {}),
            **({"gave_up": result.gave_up} if result.gave_up else {})}


def run_digest(config: Config) -> dict:
    con = connect(config)
    try:
        queued, result = pipeline.send_digests(con, config, wait=config.notify.retry_for)
        # the expected-spend review rides on the digest job: once an hour or a day is
        # plenty for a review sent [registry] review_before ahead, and once per review date
        reviews, _ = pipeline.send_reviews(con, config, wait=config.notify.retry_for,
                                           who="monitor run")
    finally:
        con.close()
    return {"digests": len(queued), "sent": len(result.sent), "pending": len(result.pending),
            "failed": len(result.failed), "reviews": len(reviews)}


def run_calibrate(config: Config) -> dict:
    """Calibrate again when the last calibration is a month old (or there is none)."""
    con = connect(config)
    try:
        if not calibration.is_due(con):
            return {"calibrated": False, "why": "the last calibration is less than 30 days old"}
        found = pipeline.calibrate(con, config, by="monitor run")
    finally:
        con.close()
    return {"calibrated": found.calibrated, "per_month": found.per_month,
            "budget": found.budget, "aimed_at": found.aimed_at}


# ---- feed arrival --------------------------------------------------------------------

def stale_feeds(con, config: Config, started: datetime | None = None) -> list[dict]:
    """Findings (alert lifecycle input) for sources quiet longer than their cadence."""
    found = []
    for feed in feed_freshness(con, config, started):
        if not feed["stale"]:
            continue
        since = feed["last_file_at"].date() if feed["last_file_at"] else None
        row = {"detector": FEED_DETECTOR, "account": f"feed {feed['source']}",
               "counterparty": None, "initiator": None, "currency": None,
               "severity": "warning", "exposure": 0, "charges": 0, "since": since,
               "first_alert_at": store.now().date(), "last_charge_at": since,
               "evidence_txn_ids": [],
               "sentence": f"No file from source '{feed['source']}' for {feed['quiet_for']} "
                           f"(expected at least every {feed['cadence']}): the export may have "
                           "stopped, so charges may be missing"}
        row["fingerprint"] = detect.fingerprint(row)
        found.append(row)
    return found


# ---- the read-only snapshot ----------------------------------------------------------

def reader_database(config: Config) -> tuple[Path, bool]:
    """The file a reader should open read-only, and whether it is the snapshot: while a
    daemon runs, the ledger may be locked at any moment, so readers use its snapshot."""
    snap = snapshot_path(config)
    if running(config) and snap.exists():
        return snap, True
    return config.database, False


# ---- the lock: one daemon per database -----------------------------------------------

class Lock:
    """`<database>.lock`: flock held for the daemon's life, with its pid and start time."""

    def __init__(self, path: Path):
        self.path, self.fd = path, None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = snapshot.read_lock(self.path) or {}
            raise StoreError(
                f"{self.path}: another `monitor run` is already running on this database "
                f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                f"{holder.get('started_at', '?')}); stop it first (kill {holder.get('pid', 'PID')})"
            ) from None
        stale = snapshot.read_lock(self.path)
        if stale and stale.get("pid"):
            log.warning("taking over the lock of pid %s (started %s), which is no longer running",
                        stale["pid"], stale.get("started_at"))
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started_at": utcnow().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        os.fsync(fd)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)       # an empty lock file: nobody holds it
            os.close(self.fd)
            self.fd = None


def running(config: Config) -> dict | None:
    """The lock's holder when a daemon is alive on this database, else None."""
    return snapshot.daemon_holder(config.database)


# ---- state: what each job did, for `monitor status` ----------------------------------

class State:
    def __init__(self, path: Path):
        self.path, self.mutex = path, threading.Lock()
        self.data = read_state(path) or {}
        self.data.setdefault("jobs", {})

    def update(self, **top) -> None:
        with self.mutex:
            self.data.update(top)
            self._write()

    def job(self, name: str, **fields) -> None:
        with self.mutex:
            self.data["jobs"].setdefault(name, {}).update(fields)
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, self.path)


def read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---- logging: plain lines or JSON, a run id on every line -----------------------------

class _Context(logging.Filter):
    def __init__(self, daemon_id: str):
        super().__init__()
        self.daemon_id = daemon_id

    def filter(self, record):
        run_id = RUN_ID.get()
        record.run_id = self.daemon_id if run_id == "-" else run_id
        record.job = JOB.get()
        return True


class _Json(logging.Formatter):
    def format(self, record):
        line = {"ts": datetime.fromtimestamp(record.created, timezone.utc)
                .isoformat(timespec="milliseconds"), "level": record.levelname.lower(),
                "run_id": record.run_id, "job": record.job, "logger": record.name,
                "msg": record.getMessage()}
        if getattr(record, "summary", None) is not None:
            line["summary"] = record.summary
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(fmt: str, daemon_id: str, stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_Context(daemon_id))
    handler.addFilter(redact.LogFilter())       # no secret in a log line
    if fmt == "json":
        handler.setFormatter(_Json())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s run=%(run_id)s job=%(job)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


# ---- the daemon ----------------------------------------------------------------------

def build_trigger(trigger: Trigger, zone: str):
    from apscheduler.triggers.interval import IntervalTrigger
    if trigger.every:
        return IntervalTrigger(seconds=trigger.every.total_seconds(), timezone=zone)
    return cron_trigger(trigger.cron, zone)


class Daemon:
    def __init__(self, config: Config, log_format: str = "plain"):
        self.config, self.log_format = config, log_format
        self.settings = settings(config)
        self.daemon_id = uuid.uuid4().hex[:12]
        self.state = State(state_path(config))
        self.lock = Lock(lock_path(config))
        self.stopping = False
        self.scheduler = None
        self.started = utcnow()
        self.sequence = 0
        self.stopper = None
        self.jobs = {}

    def run(self) -> int:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler
        setup_logging(self.log_format, self.daemon_id)
        # Handlers first: a SIGTERM while the lock is taken over or the jobs are set up
        # must still end in a clean exit 0, not the default kill (exit -15).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.lock.acquire()
        try:
            s = self.settings
            self.scheduler = BlockingScheduler(
                timezone=s.timezone, executors={"default": ThreadPoolExecutor(1)},
                job_defaults={"coalesce": True, "max_instances": 1,
                              "misfire_grace_time": int(s.misfire_grace.total_seconds())})
            seen = {}
            jobs = {"pipeline": lambda: run_pipeline(self.config, self.started, seen),
                    "outbox": lambda: run_outbox(self.config),
                    "digest": lambda: run_digest(self.config),
                    "calibrate": lambda: run_calibrate(self.config)}
            previous = self.state.data.get("jobs", {})
            self.state.update(pid=os.getpid(), daemon_run_id=self.daemon_id,
                              started_at=self.started.isoformat(timespec="seconds"),
                              stopped_at=None, config=str(self.config.path))
            for name, work in jobs.items():
                trigger = build_trigger(getattr(s, name), s.timezone)
                first = self._first_run(name, trigger, previous.get(name, {}))
                self.jobs[name] = self.scheduler.add_job(
                    self._wrap(name, work), trigger, id=name, name=name, next_run_time=first)
                self.state.job(name, trigger=getattr(s, name).describe())
            log.info("monitor run: pid %d, database %s, jobs: %s", os.getpid(),
                     self.config.database, "; ".join(
                         f"{n} {getattr(s, n).describe()}" for n in jobs))
            if self.stopping:             # told to stop while starting: no job has run
                log.info("stopped before the first job")
                return 0
            self.scheduler.start()        # blocks until shutdown
            if self.stopper:
                self.stopper.join()       # the running job has finished
            log.info("stopped")
            return 0
        finally:
            self.state.update(stopped_at=utcnow().isoformat(timespec="seconds"))
            self.lock.release()

    def _first_run(self, name: str, trigger, previous: dict):
        """Pipeline and outbox run at once on start (new files may have landed while down);
        the digest and calibration run at once only when a fire time passed while the
        daemon was down."""
        now = utcnow()
        if name not in ("digest", "calibrate"):
            return now
        last = previous.get("last_start")
        if not last:
            return None                   # the trigger's own next fire time
        missed = trigger.get_next_fire_time(None, datetime.fromisoformat(last) + timedelta(seconds=1))
        return now if missed and missed <= now else None

    def _wrap(self, name: str, work):
        def job():
            self.sequence += 1
            run_id = f"{self.daemon_id}-{self.sequence}"
            tokens = RUN_ID.set(run_id), JOB.set(name)
            start = utcnow()
            self.state.job(name, running=True, last_run_id=run_id,
                           last_start=start.isoformat(timespec="milliseconds"))
            status, summary = "ok", {}
            try:
                summary = work()
            except MonitorError as e:
                status, summary = "error", {"error": str(e)}
                log.error("%s failed: %s", name, e)
            except Exception as e:           # keep the daemon alive; the next run retries
                # A damaged ledger: one line naming the file and the way back.
                damage = store.damaged(self.config.database, e) \
                    if isinstance(e, duckdb.Error) else None
                if damage:
                    status, summary = "error", {"error": str(damage)}
                    log.error("%s failed: %s", name, damage)
                else:
                    status, summary = "error", {"error": f"{type(e).__name__}: {e}"}
                    log.exception("%s failed", name)
            finally:
                took = (utcnow() - start).total_seconds()
                # Not scheduler.get_job: its lock is held by a shutdown waiting for us.
                nxt = None if self.stopping else self.jobs.get(name)
                self.state.job(name, running=False, last_status=status, last_summary=summary,
                               last_end=utcnow().isoformat(timespec="milliseconds"),
                               last_seconds=round(took, 3),
                               next_run=nxt.next_run_time.isoformat() if nxt and
                               nxt.next_run_time else None)
                if status == "ok":
                    log.info("%s done in %.2fs: %s", name, took, _brief(summary),
                             extra={"summary": summary})
                RUN_ID.reset(tokens[0])
                JOB.reset(tokens[1])
        job.__name__ = name
        return job

    def _on_signal(self, signum, frame):
        name = signal.Signals(signum).name
        if self.stopping:
            log.info("%s again: still finishing the running job", name)
            return
        self.stopping = True
        if self.scheduler is None:        # still starting: run() sees `stopping` and exits
            log.info("%s while starting: exiting before the first job", name)
            return
        log.info("%s: finishing the running job, then exiting", name)
        # Not in this handler: shutdown(wait=True) joins the worker, which may log.
        self.stopper = threading.Thread(target=self._shutdown, name="shutdown", daemon=True)
        self.stopper.start()

    def _shutdown(self):
        from apscheduler.schedulers.base import STATE_STOPPED
        for _ in range(400):        # built but not started yet: wait until it runs
            if self.scheduler.state != STATE_STOPPED:
                break
            time.sleep(0.05)
        try:
            self.scheduler.pause()
            self.scheduler.shutdown(wait=True)
        except Exception:                   # already stopped
            log.exception("shutdown")


def _brief(summary: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in summary.items() if v not in (None, [], 0)) or "nothing new"
