"""[schedule] in config.toml: when the daemon (`monitor run`) runs its jobs.

Validated like every other section (monitor.settings.config builds the Config and calls
schedule_settings): an unknown key is warned about; a bad cron expression, interval
or time zone stops with the file, line, key and fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.base import BaseTrigger

from monitor.settings.validator import Validator, boolean, duration, subtable


@dataclass(frozen=True)
class Trigger:
    """When a daemon job runs: a 5-field cron expression, or a fixed interval."""
    cron: str | None = None
    every: timedelta | None = None

    def describe(self) -> str:
        return f"every {self.every}" if self.every else f"cron '{self.cron}'"


@dataclass(frozen=True)
class ScheduleSettings:
    """[schedule]: jobs of `monitor run`. `<job>` is a cron expression in `timezone`,
    `<job>_interval` an interval ("2s", "15m", "1h"); the interval wins when both are set."""
    pipeline: Trigger = Trigger(cron="*/15 * * * *")     # ingest all, scan, notify
    outbox: Trigger = Trigger(every=timedelta(minutes=5))  # retry undelivered messages
    digest: Trigger = Trigger(cron="0 8 * * *")          # the daily digest
    # Recalibrate the detectors when the last calibration is 30 days old (history grew).
    calibrate: Trigger = Trigger(cron="0 3 * * *")
    timezone: str = "UTC"
    misfire_grace: timedelta = timedelta(minutes=10)
    feeds: dict = field(default_factory=dict)  # source name -> longest normal quiet spell
    snapshot: bool = True                      # publish a read-only copy after each pipeline run


SCHEDULE_JOBS = ("pipeline", "outbox", "digest", "calibrate")


def schedule_settings(v: Validator, data: dict, source_names: list[str]) -> ScheduleSettings:
    """Validate [schedule] and [schedule.feeds]."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    p = "schedule."
    table = subtable(v, data, "schedule")
    allowed = [k for job in SCHEDULE_JOBS for k in (job, f"{job}_interval")]
    v.unknown(table, allowed + ["timezone", "misfire_grace_time", "feeds", "snapshot"], p)
    zone = v.string(table, "timezone", p + "timezone", default="UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise v.error(p + "timezone", f"= '{zone}' is not a known time zone",
                      "write an IANA name such as \"UTC\" or \"Europe/London\"") from None
    defaults, triggers = ScheduleSettings(), {}
    for job in SCHEDULE_JOBS:
        trigger = getattr(defaults, job)
        if job in table:
            trigger = Trigger(cron=_cron(v, table, job, zone))
        if f"{job}_interval" in table:
            every = duration(v, table, f"{job}_interval", p, timedelta(0))
            if not every:
                raise v.error(p + f"{job}_interval", "= 0 is not an interval",
                              "write a positive interval like \"2s\", \"15m\" or \"1h\"")
            trigger = Trigger(every=every)
        triggers[job] = trigger
    grace = duration(v, table, "misfire_grace_time", p, defaults.misfire_grace)
    feeds = subtable(v, table, "feeds", p)
    v.unknown(feeds, source_names, p + "feeds.")
    quiet = {}
    for name in source_names:
        if name in feeds:
            quiet[name] = duration(v, feeds, name, p + "feeds.", timedelta(0))
            if not quiet[name]:
                raise v.error(p + "feeds." + name, "= 0 is not a cadence",
                              "write the longest normal gap between files, like \"26h\"")
    return ScheduleSettings(timezone=zone, misfire_grace=grace or timedelta(seconds=1),
                            feeds=quiet, snapshot=boolean(v, table, "snapshot", p, True),
                            **triggers)


def cron_trigger(expression: str, zone: str) -> "CronSimTrigger":
    """An APScheduler trigger for a standard 5-field cron expression, with cron's own
    meaning (cronsim follows Debian cron): weekdays count from Sunday = 0 (or 7), and
    when both day-of-month and day-of-week are restricted a day matching EITHER fires
    (`0 8 1 * 1`: the 1st and every Monday). APScheduler's CronTrigger ANDs them and
    counts weekdays from Monday. ValueError for an expression that is invalid or can
    never fire (`0 0 31 2 *`)."""
    return CronSimTrigger(expression, zone)


class CronSimTrigger(BaseTrigger):
    """Asks cronsim for the next fire time. Times in a DST gap fire once, just after the
    clocks go forward; a repeated hour fires once (as cron does)."""

    def __init__(self, expression: str, zone: str):
        from cronsim import CronSimError
        from zoneinfo import ZoneInfo
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(f"Wrong number of fields; got {len(fields)}, expected 5")
        self.expression, self.zone = " ".join(fields), ZoneInfo(zone)
        try:
            first = self.get_next_fire_time(None, datetime.now(timezone.utc))
        except CronSimError as e:
            raise ValueError(_never_fires(fields) or str(e)) from None
        if first is None:
            raise ValueError("it never fires")

    def get_next_fire_time(self, previous_fire_time, now):
        """The first fire time at or after `now`, or just after the previous one
        (APScheduler's contract, as its CronTrigger)."""
        from cronsim import CronSim
        # In UTC: arithmetic and comparisons on times in the zone itself go by the wall
        # clock, and in a repeated hour 01:10 (second pass) would sort before 01:50 (first).
        start, previous_fire_time = _utc(now), _utc(previous_fire_time)
        if previous_fire_time is not None:
            start = min(start, previous_fire_time + timedelta(microseconds=1))
            if start == previous_fire_time:
                start += timedelta(microseconds=1)
        # cronsim yields times strictly after the minute it starts in: start one minute
        # earlier and skip what is before `start` (in a repeated hour that can be the
        # whole first pass of it, hence the bound; None would drop the job).
        begin = (start - timedelta(minutes=1)).astimezone(self.zone)
        for _, fire in zip(range(1500), CronSim(self.expression, begin)):
            fire = fire.astimezone(timezone.utc)      # a time in a DST gap becomes real
            if fire >= start:
                return fire                           # UTC, for the reason above
        return None

    def __str__(self) -> str:
        return f"cron[{self.expression}]"


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(timezone.utc)


def _never_fires(fields: list[str]) -> str | None:
    """'it never fires ...' when the days are valid but no month named has them
    (cronsim says only "Bad day-of-month")."""
    from cronsim import CronSim, CronSimError
    try:
        CronSim(" ".join(fields[:3] + ["*"] + fields[4:]), datetime.now(timezone.utc))
    except CronSimError:
        return None
    return f"it never fires: no month {fields[3]} has day {fields[2]}"


def _cron(v: Validator, table: dict, key: str, zone: str) -> str:
    value = table[key]
    fix = ("write 5 fields: minute hour day month weekday, like \"*/15 * * * *\" "
           f"(or set {key}_interval = \"15m\")")
    if not isinstance(value, str):
        raise v.error("schedule." + key, f"= {value!r} is not a cron expression", fix)
    try:
        cron_trigger(value, zone)      # also refuses one that never fires (0 0 31 2 *)
    except ValueError as e:
        raise v.error("schedule." + key, f"= '{value}' is not a valid cron expression ({e})",
                      fix) from None
    return value
