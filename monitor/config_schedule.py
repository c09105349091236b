"""[schedule] in config.toml: when the daemon (`monitor run`) runs its jobs.

Validated like every other section (monitor.config builds the Config and calls
schedule_settings): an unknown key is warned about; a bad cron expression, interval
or time zone stops with the file, line, key and fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from monitor.config import _bool, _duration, _table, _Validator


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
    timezone: str = "UTC"
    misfire_grace: timedelta = timedelta(minutes=10)
    feeds: dict = field(default_factory=dict)  # source name -> longest normal quiet spell
    snapshot: bool = True                      # publish a read-only copy after each pipeline run


SCHEDULE_JOBS = ("pipeline", "outbox", "digest")


def schedule_settings(v: _Validator, data: dict, source_names: list[str]) -> ScheduleSettings:
    """Validate [schedule] and [schedule.feeds]."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    p = "schedule."
    table = _table(v, data, "schedule")
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
            every = _duration(v, table, f"{job}_interval", p, timedelta(0))
            if not every:
                raise v.error(p + f"{job}_interval", "= 0 is not an interval",
                              "write a positive interval like \"2s\", \"15m\" or \"1h\"")
            trigger = Trigger(every=every)
        triggers[job] = trigger
    grace = _duration(v, table, "misfire_grace_time", p, defaults.misfire_grace)
    feeds = _table(v, table, "feeds", p)
    v.unknown(feeds, source_names, p + "feeds.")
    quiet = {}
    for name in source_names:
        if name in feeds:
            quiet[name] = _duration(v, feeds, name, p + "feeds.", timedelta(0))
            if not quiet[name]:
                raise v.error(p + "feeds." + name, "= 0 is not a cadence",
                              "write the longest normal gap between files, like \"26h\"")
    return ScheduleSettings(timezone=zone, misfire_grace=grace or timedelta(seconds=1),
                            feeds=quiet, snapshot=_bool(v, table, "snapshot", p, True),
                            **triggers)


WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(expression: str, zone: str):
    """An APScheduler CronTrigger for a standard 5-field cron expression. Weekdays are
    cron's (0 or 7 = Sunday, 1 = Monday); APScheduler 3 counts from Monday = 0, so
    its own from_crontab would run "1-5" from Tuesday to Saturday."""
    from apscheduler.triggers.cron import CronTrigger
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"Wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=_weekdays(weekday), timezone=zone)


def _weekdays(field_text: str) -> str:
    """Cron's weekday field with every number spelt as a day name, ranges expanded."""
    parts = []
    for part in field_text.split(","):
        body, _, step = part.partition("/")
        if not any(ch.isdigit() for ch in body) and not step:
            parts.append(part)                       # *, names, name ranges
            continue
        if body == "*":
            low, high = 0, 6
        elif "-" in body:
            low, high = (_weekday_number(x) for x in body.split("-", 1))
        else:
            low = high = _weekday_number(body)
            if step:
                high = 6
        if high < low:
            raise ValueError(f"weekday range '{body}' runs backwards")
        every = int(step) if step else 1
        if every < 1:
            raise ValueError(f"weekday step '{step}' is not positive")
        parts += [WEEKDAYS[d] for d in range(low, high + 1, every)]
    return ",".join(dict.fromkeys(parts))


def _weekday_number(text: str) -> int:
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    if text.lower()[:3] in WEEKDAYS:
        return WEEKDAYS.index(text.lower()[:3])
    raise ValueError(f"'{text}' is not a weekday (0-7 or sun-sat)")


def _cron(v: _Validator, table: dict, key: str, zone: str) -> str:
    value = table[key]
    fix = ("write 5 fields: minute hour day month weekday, like \"*/15 * * * *\" "
           f"(or set {key}_interval = \"15m\")")
    if not isinstance(value, str):
        raise v.error("schedule." + key, f"= {value!r} is not a cron expression", fix)
    try:
        cron_trigger(value, zone)
    except ValueError as e:
        raise v.error("schedule." + key, f"= '{value}' is not a valid cron expression ({e})",
                      fix) from None
    return value
