"""The replay as the product runs it: calibrated again on a schedule, on the history known then.

Why: the daemon (`monitor run`, job `calibrate`) calibrates again when the last calibration is
30 days old, so the thresholds in force on a day were chosen on the history up to about that
day. One calibration for a replay of years measures a product that does not exist (it is
the harsher test: Brazil's spending grew for 33 months after its one calibration).

How: the replay is cut into periods of `every` days. At the start of each, the theft-free
ledger is calibrated on its history up to the day before (`calibrate.measure`: one replay
per rung, whatever the budget); each budget then only chooses from what was measured
(`calibrate.choose`), so a trade-off curve of several budgets costs one set of replays.
A replay (honest or with thefts) runs the detectors once per period with that period's
settings and keeps the alerts first raised within it.

At each recalibration after the first, the episodes the new settings find already in force
are raised that day, as the product's scan raises an open finding, unless their group was in
force under the old settings at the end of the period before. Until 2026-12-07 they were
left out, and every recalibrated honest figure was low (Birmingham at budget 2: 1.54 honest
alerts a month counted, 1.95 with them; benchmarks/RESULTS.md).

Approximation, stated where the figures are: the calibrations see the theft-free ledger
(the product's would also see a theft older than 90 days, as one episode among months of
honest alerts).
"""
from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass

from monitor.detection import calibrate, fold, scan as detect
from monitor.screening import store as screening
from monitor.sql import store


@dataclass
class Period:
    start: dt.date
    stop: dt.date
    measured: object          # calibrate.Measured, or the Calibration that kept the defaults


def schedule(con, cfg, start: dt.date, end: dt.date, every: int) -> tuple[list[Period], float]:
    """The periods of the replay and what was measured at the start of each (on `con`'s
    ledger, theft-free); with the seconds the calibrations took."""
    periods, seconds, day = [], 0.0, start
    while day <= end:
        stop = min(end, day + dt.timedelta(days=every - 1))
        t0 = time.perf_counter()
        periods.append(Period(day, stop, calibrate.measure(con, cfg, day - dt.timedelta(days=1))))
        seconds += time.perf_counter() - t0
        print(f"  calibrated as of {day} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
              flush=True)
        day = stop + dt.timedelta(days=1)
    return periods, seconds


def settings(period: Period, cfg, budget: float) -> tuple[dict, calibrate.Calibration]:
    """detector -> {param: value} in force in the period for `budget` ({}: the defaults)."""
    found = period.measured
    if isinstance(found, calibrate.Calibration):
        return {}, found
    chosen = calibrate.choose(found, cfg, budget)
    return {c.detector: c.settings for c in chosen.choices
            if c.rung is not None}, chosen


def replay(con, cfg, periods: list[Period], budget: float, cache: dict | None = None
           ) -> list[dict]:
    """Every alert a daily run would have raised over the periods, each period judged with
    the settings chosen at its start; folded as `monitor backtest` folds them. `cache`
    (one per ledger file) keeps each run's alerts: budgets that choose the same settings
    in a period share its run."""
    cache = {} if cache is None else cache
    screening.refresh(con, cfg)
    alerts, runs = [], []
    for period in periods:          # consecutive periods with the same settings: one run
        chosen, _ = settings(period, cfg, budget)
        if runs and runs[-1][2] == chosen:
            runs[-1][1] = period.stop
        else:
            runs.append([period.start, period.stop, chosen])
    before: set = set()       # groups in force at the end of the run before, its settings
    for i, (start, stop, chosen) in enumerate(runs):
        key = (start, stop, tuple(sorted((d, tuple(sorted(p.items())))
                                         for d, p in chosen.items())))
        if key not in cache:
            detect.evaluate(con, cfg, stop, calibrated=chosen)
            # The first run's start is the replay's: nothing took over there to catch up on.
            cache[key] = (store.rows(con, "scan/first_alerts", {"start": start, "end": stop}),
                          _in_force_at(con, start) if i else [],
                          _groups_in_force(con, stop, stop))
        first, caught_up, in_force = cache[key]
        alerts += first + [a for a in caught_up if _group(a) not in before]
        before = in_force
    return fold.over_time(alerts)


def _in_force_at(con, start: dt.date) -> list[dict]:
    """The alerts of the settings just evaluated that began firing before `start` and are
    still in force on it, dated `start`: an open finding the product's scan raises on the
    day the settings change. Each group's latest alert before `start` (scan/first_alerts)
    is its episode in force, when the group is in force then."""
    in_force = _groups_in_force(con, start, start - dt.timedelta(days=1))
    latest = {}
    for alert in store.rows(con, "scan/first_alerts",
                            {"start": dt.date.min, "end": start - dt.timedelta(days=1)}):
        if _group(alert) in in_force:
            latest[_group(alert)] = {**alert, "first_alert_at": start}
    return sorted(latest.values(), key=lambda a: (a["detector"], a["account"] or "",
                                                  a["counterparty"] or ""))


def _groups_in_force(con, day: dt.date, began_by: dt.date) -> set:
    """(detector, account, payee, initiator) of the groups in force on `day`, begun by
    `began_by`: calibration's own rule (`calibrate.groups_in_force`)."""
    return calibrate.groups_in_force(
        [(began, until, (detector, *group))
         for detector, began, until, group in calibrate.episodes_in_force(con, day)],
        day, began_by)


def _group(alert: dict) -> tuple:
    return alert["detector"], alert["account"], alert["counterparty"], alert["initiator"]


def described(periods: list[Period], cfg, budget: float) -> list[dict]:
    """Per period, what calibration chose for `budget` and what it expected (for the report)."""
    out = []
    for period in periods:
        _, found = settings(period, cfg, budget)
        out.append({"start": str(period.start), "stop": str(period.stop),
                    "calibrated": found.calibrated, "in_sample": found.per_month,
                    "note": found.note,
                    "chosen": {c.detector: [c.param, str(c.value), c.rung,
                                            {k: str(v) for k, v in c.also.items()}]
                               for c in found.choices if c.rung is not None}})
    return out
