"""Choose each detector's threshold from the organisation's own history (`monitor calibrate`).

Why: thresholds fixed in the SQL (charges of 800 or more, a ratio of 8) were chosen on one
organisation. Another spends at another scale and shares accounts differently, and the
same numbers raise 55 honest alerts a month there instead of 2. So each detector's header
names the ONE setting that decides how sensitive it is (`-- calibrate:`) and a ladder of
candidates, most sensitive first: money as quantiles of the organisation's own charge
amounts (so the choice scales with the ledger: every amount times k gives thresholds times
k, and the same alerts), counts and ratios as values; a grid (`and $count ladder`)
tries an amount with each count (`rungs.candidates`).

How: the organisation's history is replayed once per rung of the ladders (every detector on
its rung i at once: a detector's alerts depend only on its own settings), counting the
alerts each detector would have raised a month after a warm-up. The budget ([detectors]
alert_budget, honest alerts a month for the whole organisation; default 2), less what the
detectors without a ladder raise, is shared equally: each detector takes the most
sensitive rung that raises at most the share, and the share is as large as the budget
allows, so a quiet detector leaves its unused share to the others. No detector is made
blind to quieten another one (an earlier greedy "climb the noisiest" did exactly that to
new_payee_repeat, the advisory's detector, on Birmingham). What is counted is meant to hold on
the months to come, which history only estimates: a detector is judged on its latest six
months when they were busier than the average, grown once more by as much (spending grows,
and kept growing after each calibration on Brazil's cards); where the history outran
its own calibrations anyway (chosen on its history up to a day, more alerts in the six
months after than predicted), or fell short of them, the aim moves by as much
(`_foresight`); and on less than a year of
settled history calibration aims below the budget (`margin`). History is taken as honest, so the
latest 90 days (SETTLING), where a theft in progress would be, are left out: counted as
honest, the theft would make its own detector stricter. An older theft in history is one
episode among months of alerts.

What it does not touch: the money tiers (warning / high / critical stay absolute, in the
ledger's currency, because a finance team thinks in money), the detectors without a
`calibrate:` line (sanctions, feeds, statements: always worth an alert; their alerts still
count against the budget), and any value written in config.toml, which always wins.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta

import duckdb

from monitor.detection import rungs, scan as detect
from monitor.detection.catalog import catalog, configured, detectors
from monitor.screening import store as screening
from monitor.settings.config import Config
from monitor.settings.detectors import alert_budget
from monitor.sql.store import now, query_header, rows, transaction

MIN_HISTORY_DAYS = 180     # less than this is too little to say what is usual: defaults kept
# The latest days are not calibrated on: what happens there is still being judged.
SETTLING = timedelta(days=90)
DAYS_PER_MONTH = 30.44
# The latest part of the replay whose rate counts if it is higher than the average.
RECENT = timedelta(days=182)
# How much further a rate that grew over the history is expected to grow (see `_ahead`).
GROWTH = 1.5
# With less settled history than this, calibration aims below the budget (see `margin`).
FULL_MARGIN_DAYS = 365
# Three quarters, not half: with each detector also one rung stricter on short history
# (`rungs.choose`; since then only those that judge a payee by its own history, see
# `rungs.grows_with_history`), half of a budget of 2 left the US cards' calibrations raising
# 0.33 alerts a month; three quarters caught thefts sooner there and more on Oxford, for
# no more honest alerts after (benchmarks/RESULTS.md, 2026-12-07).
SHORT_MARGIN = 0.75
# Calibration checks itself on its history (see `_foresight`): the days after each check
# that are counted, how often back in history a check is made, and the most the checks
# may move the aim, either way.
HELD_OUT = timedelta(days=182)
CHECK_EVERY = timedelta(days=91)
MOST_FORESIGHT = 2.0


@dataclass
class Calibration:
    calibrated: bool
    note: str
    budget: float
    history_from: date | None = None
    history_to: date | None = None
    replay_from: date | None = None
    months: float = 0.0
    per_month: float = 0.0
    choices: list[rungs.Choice] = field(default_factory=list)
    aimed_at: float = 0.0      # honest alerts a month on the history aimed at (see the note)

    def as_dict(self) -> dict:
        return asdict(self)


def history(con, until: date | None = None) -> tuple[date | None, date | None]:
    """The first and last day the organisation was charged, up to today (or `until`)."""
    return tuple(con.execute("SELECT min(posted_at), max(posted_at) FROM transactions "
                             "WHERE amount > 0 AND posted_at <= least(current_date, $until)",
                             {"until": until or date.max}).fetchone())


def warm_up(days: int) -> int:
    """Days of history that only warm the baselines up before alerts are counted: a third
    of it, at least 90 days and at most a year (the longest baseline a detector keeps)."""
    return max(90, min(365, days // 3))


@dataclass
class Measured:
    """What replaying the history on every rung found, before any budget is applied: a
    calibration for another budget needs only `choose` (the benchmark's trade-off curve)."""
    first: date
    last: date
    days: int
    replay_from: date
    months: float
    ladders: dict
    amounts: dict
    fired: dict          # detector -> [the days its alerts were first raised, on each rung]
    # detector -> [its episodes in force after the replay's start, on each rung]: what a
    # change of rung raises on the day it takes over (`_caught_up`)
    in_force: dict = field(default_factory=dict)

    @property
    def counts(self) -> dict:
        """detector -> [honest alerts a month on each rung], as judged (`_judged`)."""
        return _judged(self.fired, self.replay_from, self.last)


def calibrate(con: duckdb.DuckDBPyConnection, config: Config,
              until: date | None = None) -> Calibration:
    """Choose the detectors' thresholds from the ledger's history, up to `until` when given
    (nothing is written: `save` records the result). Every window of a detector looks
    back only, so charges after `until` change nothing of what is counted."""
    found = measure(con, config, until)
    budget = alert_budget(config)
    if isinstance(found, Calibration):
        found.budget = budget
        return found
    return choose(found, config, budget)


def measure(con: duckdb.DuckDBPyConnection, config: Config,
            until: date | None = None) -> Measured | Calibration:
    """Replay the settled history once per rung; a Calibration (not calibrated, with its
    note) when there is too little of it."""
    first, latest = history(con, until)
    # Only settled history counts: a theft in progress is in the latest days, and counted
    # as honest it would make its own detector stricter (the demo's did, until this).
    last = latest - SETTLING if latest else None
    days = (last - first).days + 1 if first and last >= first else 0
    if days < MIN_HISTORY_DAYS:
        whole = (latest - first).days + 1 if first else 0
        return Calibration(False, (
            f"{whole} days of history" + (f" ({first} to {latest})" if first else "") +
            f", {days} of them settled (older than {SETTLING.days} days); calibration needs "
            f"at least {MIN_HISTORY_DAYS} settled days: the detectors keep their default "
            "settings until then. Run `monitor calibrate` again later (the daemon does, on "
            "its schedule)."), alert_budget(config), first, last)
    replay_from = first + timedelta(days=warm_up(days))
    months = ((last - replay_from).days + 1) / DAYS_PER_MONTH
    ladders = _ladders(config)
    amounts = _quantiles(con, first, last, ladders)
    fired, in_force = _replay(con, config, ladders, amounts, replay_from, last)
    return Measured(first, last, days, replay_from, months, ladders, amounts, fired, in_force)


def choose(found: Measured, config: Config, budget: float) -> Calibration:
    """The settings for `budget` from what `measure` found."""
    first, last, months = found.first, found.last, found.months
    stricter = 1 if found.days < FULL_MARGIN_DAYS else 0
    aim = budget * margin(found.days)
    # Measured once, at the configured budget: a property of the organisation, so that a
    # larger budget is never stricter (the benchmark's trade-off curve).
    foresight = _foresight(found, config, alert_budget(config) * margin(found.days), stricter)
    choices = rungs.choose(found.ladders, found.amounts, found.counts, aim / foresight,
                           stricter)
    per_month = round(sum(c.per_month for c in choices), 2)
    over = per_month > max(budget, aim / foresight) + 0.005
    note = (f"{found.days} days of settled history ({first} to {last}; the last "
            f"{SETTLING.days} days are still being judged); alerts counted from "
            f"{found.replay_from} ({months:.1f} months) after a warm-up. The chosen settings "
            f"raise {per_month:g} alerts a month on that history, budget {budget:g}" +
            (f" (aimed at {budget * margin(found.days):.2f}: with less than "
             f"{FULL_MARGIN_DAYS} days of history the budget is kept with a margin, and "
             "each detector that judges a payee against its own history is one rung "
             "stricter than that allows)"
             if margin(found.days) < 1 else "") +
            (f" (aimed at {aim / foresight:.2f}: chosen on this history up to earlier "
             f"days, the settings raised {foresight:.2f} times what they predicted in the "
             f"{HELD_OUT.days} days after each, with the open findings a change of "
             "settings brings the day it takes over)" if foresight != 1 else "") +
            (": over budget even with every detector at its strictest rung; the "
             "detectors without a rung to climb, or set in config.toml, raise the rest "
             "(see per_month)." if over else "."))
    return Calibration(True, note, budget, first, last, found.replay_from, round(months, 2),
                       per_month, choices, round(aim / foresight, 2))


def _ladders(config: Config) -> dict:
    """detector -> its header's `calibrate:` (param, kind, levels), for the detectors the
    config enables and does not set that parameter for; None for the others. Each also
    says whether the detector `grows` with history (`rungs.grows_with_history`), and a grid
    carries the detector's `tier_high` (`reach`, see `rungs.candidates`)."""
    ladders = {}
    tiers = {d.name: d.params.get("tier_high") for d in detectors(config)}
    for name in catalog():
        own = configured(config, name)
        if not own.get("enabled", True):
            continue
        header = query_header(f"detect/{name}")
        spec = header["calibrate"] and {**header["calibrate"],
                                        "grows": rungs.grows_with_history(header["params"])}
        if spec and spec["grid"] and spec["grid"]["param"] in own:
            spec = {**spec, "grid": None}       # its count is written: a plain ladder
        if spec and spec["grid"]:
            spec = {**spec, "reach": tiers.get(name)}
        ladders[name] = None if spec is None or spec["param"] in own else spec
    return ladders


def _quantiles(con, first: date, last: date, ladders: dict) -> dict:
    """quantile -> the organisation's charge amount at it, for every quantile a ladder uses
    (quantile_disc: an amount actually charged, exact in DECIMAL, so scaling the ledger by
    k scales it by k)."""
    wanted = sorted({q for spec in ladders.values() if spec and spec["kind"] == "quantile"
                     for q in spec["levels"]})
    if not wanted:
        return {}
    found = con.execute("SELECT quantile_disc(amount, $q) FROM transactions "
                        "WHERE amount > 0 AND posted_at BETWEEN $first AND $last",
                        {"q": wanted, "first": first, "last": last}).fetchone()[0]
    return dict(zip(wanted, found))


def _replay(con, config: Config, ladders: dict, amounts: dict, start: date,
            end: date) -> tuple[dict, dict]:
    """detector -> [the days its honest alerts were first raised, on each rung], and
    detector -> [its episodes in force on some day from `start`, on each rung: (began,
    in force until, group)] (past the end of its ladder, and for detectors without one,
    its last rung's: only the detectors with a rung left run). Every window looks back
    only, so the alerts up to any day are what a replay ending that day raises: one
    replay serves the whole history and any earlier part of it (`_foresight`)."""
    candidates = {name: rungs.candidates(spec, amounts) for name, spec in ladders.items() if spec}
    fired: dict = {name: [] for name in ladders}
    in_force: dict = {name: [] for name in ladders}
    screening.refresh(con, config)
    detect.prepare(con, config, end)       # the charges, once: the rungs change no input
    for rung in range(max((len(c) for c in candidates.values()), default=1)):
        running = {name for name in ladders
                   if rung < len(candidates.get(name, ())) or rung == 0}
        detect.run_detectors(con, _only(config, running), end, calibrated={
            name: c[rung].values for name, c in candidates.items() if name in running})
        days: dict = {name: [] for name in ladders}
        for row in rows(con, "scan/first_alerts", {"start": start, "end": end}):
            days.setdefault(row["detector"], []).append(row["first_alert_at"])
        episodes: dict = {name: [] for name in ladders}
        for detector, began, until, group in episodes_in_force(con, start):
            episodes.setdefault(detector, []).append((began, until, group))
        for name in ladders:
            fired[name].append(sorted(days[name]) if name in running else fired[name][-1])
            in_force[name].append(episodes[name] if name in running else in_force[name][-1])
    return fired, in_force


def _only(config: Config, names: set) -> Config:
    """The config with every other detector disabled (a replay of some ladders' rungs)."""
    section = dict(config.sections.get("detectors", {}))
    for name in catalog():
        if name not in names:
            section[name] = {**section.get(name, {}), "enabled": False}
    return replace(config, sections={**config.sections, "detectors": section})


def _between(days: list[date], start: date, end: date) -> int:
    """How many of the sorted `days` fall from `start` to `end`, both included."""
    return bisect_right(days, end) - bisect_left(days, start)


def _judged(fired: dict, start: date, end: date) -> dict:
    """detector -> [honest alerts a month on each rung between `start` and `end`], each the
    larger of the rate over those days and over their latest RECENT days, grown (`_ahead`):
    spending grows (Brazil's look-alike payees did, three-fold, after its first
    calibration), and the budget is for the months to come, which resemble the latest ones
    more than the average."""
    months = ((end - start).days + 1) / DAYS_PER_MONTH
    recent_from = max(start, end - RECENT + timedelta(days=1))
    recent_months = ((end - recent_from).days + 1) / DAYS_PER_MONTH
    return {name: [_ahead(_between(days, start, end) / months,
                          _between(days, recent_from, end) / recent_months)
                   for days in per_rung]
            for name, per_rung in fired.items()}


def _ahead(overall: float, recent: float) -> float:
    """The rate a detector is judged on: its latest RECENT days' when they were busier than
    the whole replay, grown once more by the same factor (at most GROWTH): a calibration
    serves the months after it, and where alerts grew over the history they kept growing
    (Brazil: 1.75 a month in-sample, 2.78 in the 90 days after each calibration)."""
    if recent <= overall:
        return overall
    return recent * min(recent / overall, GROWTH)


def margin(days: int) -> float:
    """The share of the budget aimed at: all of it on a year of settled history or more;
    less on a shorter one (down to SHORT_MARGIN at MIN_HISTORY_DAYS), whose few months of
    alerts say little about the next ones (the US cards' six months raised 1.3 a month
    in-sample and 3.0 after)."""
    if days >= FULL_MARGIN_DAYS:
        return 1.0
    share = (days - MIN_HISTORY_DAYS) / (FULL_MARGIN_DAYS - MIN_HISTORY_DAYS)
    return SHORT_MARGIN + (1 - SHORT_MARGIN) * max(0.0, share)


def _foresight(found: Measured, config: Config, aim: float, stricter: int) -> float:
    """How far this organisation's alerts outran (above 1) or fell short of (below 1) what
    its own calibrations predicted: calibrate on the settled replay up to a day, count what
    those settings raised in the HELD_OUT days after it, for a day every CHECK_EVERY back
    from the latest HELD_OUT (while CHECK_EVERY of replay is left before it: the first
    calibrations are made on little history too); the ratio of all raised to
    all predicted, within MOST_FORESIGHT either way, divides the aim. Why: how far the
    months after a calibration differ from its history is the organisation's own (Brazil's
    cards raised 1.9 a month in-sample and 2.4 in the months after each calibration, even
    with `_ahead`; Calderdale's fewer than predicted), so its history measures it, not a
    constant tuned on one ledger. 1 when the replay is too short to hold part of it out.

    What was raised includes what a check's change of rung raises on the day it takes over
    (`_caught_up`), as the product's scan does: counting only the alerts first raised after
    each check, Brazil's calibrations kept their budget here and raised 2.07 a month."""
    held_out = HELD_OUT.days / DAYS_PER_MONTH
    cuts = []
    cut = found.last - HELD_OUT
    while (cut - found.replay_from).days + 1 >= CHECK_EVERY.days:
        cuts.append(cut)
        cut -= CHECK_EVERY
    said = raised = 0.0
    before: dict = {}             # detector -> the rung the check before chose
    for cut in reversed(cuts):    # the oldest first: a change of rung is from the one before
        judged = _judged(found.fired, found.replay_from, cut)
        chosen = {}
        for choice in rungs.choose(found.ladders, found.amounts, judged, aim, stricter):
            if choice.rung is None and found.ladders[choice.detector]:
                continue             # kept its default (unseen): neither side counts it
            name, rung = choice.detector, choice.rung or 0
            chosen[name] = rung
            said += choice.per_month
            raised += (_between(found.fired[name][rung], cut + timedelta(days=1),
                                cut + HELD_OUT)
                       + _caught_up(found, name, before.get(name), rung, cut)) / held_out
        before = chosen
    if said <= 0:
        return 1.0
    return min(MOST_FORESIGHT, max(1 / MOST_FORESIGHT, raised / said))


def _caught_up(found: Measured, name: str, old: int | None, new: int, cut: date) -> int:
    """How many alerts a detector's change from rung `old` to rung `new`, chosen on the
    history up to `cut`, raises the day after: its episodes on the new rung begun by then
    and still in force, of groups (account, payee, initiator) not in force on the old rung
    (those the team already has). None when it came from its default: no rung to compare."""
    if old is None or old == new or not found.in_force:
        return 0
    now = groups_in_force(found.in_force[name][new], cut + timedelta(days=1), cut)
    had = groups_in_force(found.in_force[name][old], cut, cut)
    return len(now - had)


def episodes_in_force(con, start: date) -> list[tuple]:
    """(detector, began, in force until, (account, payee, initiator)) of every episode the
    detectors just run left in force on some day from `start` (scan/episodes_in_force)."""
    return [(r["detector"], r["first_alert_at"], r["active_until"],
             (r["account"], r["counterparty"], r["initiator"]))
            for r in rows(con, "scan/episodes_in_force", {"start": start})]


def groups_in_force(episodes, day: date, began_by: date) -> set:
    """The groups of `episodes` ((began, in force until, group)) with one begun by
    `began_by` and still in force on `day`: what settings taking over on `day` (chosen on
    the history up to `began_by`) find open, as the scan reports open findings. One begun
    later is raised as it begins, not caught up on (the benchmark counted such a group
    twice until 2026-12-08)."""
    return {group for began, until, group in episodes if began <= began_by and until >= day}


def save(con, calibration: Calibration, by: str) -> int:
    """Record a calibration; the next scan judges with it (a change of settings makes that
    scan a full one). Returns its id."""
    c = calibration
    with transaction(con):
        calibration_id = con.execute(
            "INSERT INTO calibrations (calibrated_at, calibrated_by, history_from, history_to, "
            "replay_from, months, budget, per_month, calibrated, note, aimed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING calibration_id",
            [now(), by, c.history_from, c.history_to, c.replay_from, c.months, c.budget,
             c.per_month, c.calibrated, c.note,
             c.aimed_at if c.calibrated else None]).fetchone()[0]
        if c.choices:
            con.executemany(
                "INSERT INTO calibrated_params VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[calibration_id, ch.detector, ch.param if ch.rung is not None else None,
                  None if ch.value is None else str(ch.value), ch.rung, ch.rungs, ch.basis,
                  ch.per_month, ch.curve] for ch in c.choices] +
                # a grid's second setting: a row of its own for the scan (rung NULL marks
                # it), told in the first one's basis
                [[calibration_id, ch.detector, param, str(value), None, 0,
                  f"with {ch.param} (see its row)", 0.0, []]
                 for ch in c.choices if ch.rung is not None for param, value in ch.also.items()])
    return calibration_id


def latest(con) -> dict | None:
    """The last calibration recorded, with its choices (`monitor calibrate --show`)."""
    try:
        run = con.execute("SELECT * FROM calibrations ORDER BY calibration_id DESC LIMIT 1")
    except duckdb.CatalogException:
        return None
    row = run.fetchone()
    if row is None:
        return None
    found = dict(zip([d[0] for d in run.description], row))
    params = con.execute("SELECT detector, param, value, rung, rungs, basis, per_month, curve "
                         "FROM calibrated_params WHERE calibration_id = ? "
                         "AND (rung IS NOT NULL OR param IS NULL) ORDER BY per_month "
                         "DESC, detector", [found["calibration_id"]])
    columns = [d[0] for d in params.description]
    found["choices"] = [dict(zip(columns, r)) for r in params.fetchall()]
    return found


def is_due(con, every: timedelta = timedelta(days=30)) -> bool:
    """Whether the daemon should calibrate again: never calibrated, or the last run is older
    than `every` (history has grown by about a month since)."""
    last = latest(con)
    return last is None or now() - last["calibrated_at"] >= every


