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

Approximations, stated where the figures are: the calibrations see the theft-free ledger
(the product's would also see a theft older than 90 days, as one episode among months of
honest alerts); an episode that began firing before a recalibration under the new settings
but not the old ones is not raised at the recalibration (the product's next scan would raise
it if it were still firing).
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
    for start, stop, chosen in runs:
        key = (start, stop, tuple(sorted((d, tuple(sorted(p.items())))
                                         for d, p in chosen.items())))
        if key not in cache:
            detect.evaluate(con, cfg, stop, calibrated=chosen)
            cache[key] = store.rows(con, "scan/first_alerts", {"start": start, "end": stop})
        alerts += cache[key]
    return fold.over_time(alerts)


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
