"""Feed arrival: per source, when its last file arrived, how long it has been quiet, and
whether that is longer than its [schedule.feeds] cadence. Read by the daemon (a stale feed is
an alert), `monitor run-status` and the report.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from monitor.settings.config import Config
from monitor.settings.schedule import ScheduleSettings
from monitor.sql import store


def feed_freshness(con, config: Config, started: datetime | None = None) -> list[dict]:
    """Per source: the last file that arrived, its configured cadence, whether it is late."""
    last = dict(con.execute("SELECT source, max(ingested_at) FROM files "
                            "WHERE status = 'loaded' GROUP BY source").fetchall())
    now, cadence = store.now(), (config.schedule or ScheduleSettings()).feeds
    found = []
    for source in config.sources:
        at = last.get(source.name)
        quiet = now - (at or (started.replace(tzinfo=None) if started else now))
        limit = cadence.get(source.name)
        found.append({"source": source.name, "last_file_at": at,
                      "quiet_for": str(timedelta(seconds=int(quiet.total_seconds()))),
                      "cadence": str(limit) if limit else None,
                      "stale": bool(limit and quiet > limit)})
    return found
