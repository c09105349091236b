"""Which rung of its ladder each calibrated detector takes for a budget (`choose`).

Why a module of its own: `calibrate` measures (it replays the organisation's history on
every rung and counts the honest alerts each raises a month); this is the decision made from
those counts, the same for every caller: the calibration itself, its self-check on earlier
parts of the history (`calibrate._foresight`), and the benchmark's trade-off curve of
several budgets. A ladder is the candidates of a detector header's `calibrate:` line, most
sensitive first (`candidates`): money as quantiles of the organisation's own charge amounts, so
that every amount times k gives the same choice; counts and ratios as values.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from monitor.sql.store import query_header

# What `calibrate --show` adds to the basis of a detector put a rung beyond (`choose`).
BEYOND = ("; a rung stricter than the budget allows: on a short history, a detector that "
          "judges a payee against its own history fires more as more payees have one")


@dataclass
class Choice:
    detector: str
    param: str | None          # None: nothing to calibrate (or the config sets it)
    value: object              # the value chosen (typed), or the one in force
    rung: int | None
    rungs: int
    basis: str                 # why, in words
    per_month: float           # honest alerts a month on the replay with this value
    curve: list[float]         # ... with each rung's value, most sensitive first
    also: dict = field(default_factory=dict)   # a grid's second setting: {param: value}

    @property
    def settings(self) -> dict:
        """Every value it sets, {param: value}: a grid's count with its amount."""
        return {self.param: self.value, **self.also}


@dataclass(frozen=True)
class Rung:
    values: dict               # param -> value, for the replay and the scan
    basis: str                 # the value in words


def candidates(spec: dict, amounts: dict) -> list[Rung]:
    """A ladder's candidates, most sensitive first. A grid (`$amount quantile ... and
    $count ladder ...`) tries every amount with every count: the fewest charges first,
    then the smallest amount. Why: a thief's charges are rarely near the threshold, so
    what he takes before the alert is about the count times his charge: two charges of
    any size up to 2,500 stay within 5,000, eight only up to 625, and a run of eight
    within the detector's window needs a charge a week. So the count grows only where no
    amount up to the grid's highest keeps two charges within the budget: on the US
    cards a card pays a new supplier two similar sums all the time (25 honest alerts a
    month at the median amount; an amount ladder alone went to 8,800 USD and caught no
    new-payee theft) but rarely eight (0.2 a month). Ordering by amount times count
    instead (the least money a run needs to fire) cost Oxford 12 of 48 thefts within
    5,000: four charges of 52 came before two of 187.

    A rung whose count times amount passes the detector's `tier_high` (`reach`) goes
    last, in the same order: it cannot fire before a thief has taken the high tier, so
    it is no earlier alarm than any other (counting one charge a day, the US cards' four
    charges of 2,471 USD fitted the budget before six of 127, and caught two fewer
    thefts within 5,000)."""
    def amount(level):
        return amounts[level] if spec["kind"] == "quantile" else level

    def words(i: int, level) -> str:
        if spec["kind"] == "quantile":
            return f"the {_ordinal(level)} percentile of the organisation's charge amounts"
        return f"rung {i + 1} of {', '.join(str(v) for v in spec['levels'])}"

    grid = spec.get("grid")
    if not grid:
        return [Rung({spec["param"]: amount(level)}, words(i, level))
                for i, level in enumerate(spec["levels"])]
    ladder = [Rung({spec["param"]: amount(level), grid["param"]: count},
                   f"{words(i, level)}, from {count} charges ({grid['param']})")
              for count in grid["levels"] for i, level in enumerate(spec["levels"])]
    reach = spec.get("reach")
    if reach is None or spec["kind"] != "quantile":
        return ladder
    return sorted(ladder, key=lambda r: r.values[spec["param"]] * r.values[grid["param"]] > reach)


def choose(ladders: dict, amounts: dict, counts: dict, budget: float,
           stricter: int = 0) -> list[Choice]:
    """Each calibrated detector on the most sensitive rung that raises at most an equal
    share of what the budget leaves after the detectors calibration cannot change; the
    share is as large as the budget allows, so a detector that needs less than its share
    leaves the rest to the others (no detector is starved to quieten another); on short
    history (`stricter`), the detectors also move one at a time between two shares, the
    quietest first (`_chain`)."""
    offered = {name: candidates(spec, amounts) for name, spec in ladders.items() if spec}
    fixed = sum(counts[name][0] for name, spec in ladders.items() if spec is None)
    # A detector silent on every rung has no evidence here (the history may be too short
    # for it to judge: drift wants 180 days of an account's history): it keeps its default
    # rather than going to its most sensitive rung blind.
    unseen = {name for name, spec in ladders.items()
              if spec and not any(counts[name][:len(offered[name])])}
    mine = [name for name, spec in ladders.items() if spec and name not in unseen]
    top = {name: len(offered[name]) - 1 for name in mine}

    def rungs_for(share: float) -> dict:
        """Each detector's most sensitive rung raising at most `share` (else its top)."""
        return {n: next((r for r in range(top[n] + 1) if counts[n][r] <= share), top[n])
                for n in mine}

    def total(chosen: dict) -> float:
        return sum(counts[n][chosen[n]] for n in mine)

    # One fixed chain of settings, from the strictest to the most sensitive, each step
    # making one or more detectors more sensitive and none stricter; the budget takes the
    # chain up to the first step that does not fit. The chain does not depend on the
    # budget, so a larger budget never leaves a detector stricter. (A handout that chose
    # among the steps that still fit did: on the demo, a larger aim let round_amount_run
    # take four rungs, and lookalike_payee went from rung 1 to rung 9.)
    rung = rungs_for(0.0)                       # the strictest that can be had
    for state in _chain(rungs_for, counts, sorted({c for n in mine
                                                   for c in counts[n][:top[n] + 1]}),
                        stricter):
        if fixed + total(state) > budget + 1e-9:
            break
        rung = state
    # Short history: a few months' counts cannot tell a rung that raised nothing by chance
    # from a stricter one (on the US cards' three counted months h=7 and h=80 both raised
    # 0, and h=7 then raised 1.6 a month): each detector that judges a payee against its
    # own history goes `stricter` rungs beyond (`grows_with_history`).
    budgeted = rung
    rung = {n: _beyond(counts[n][:top[n] + 1], r,
                       stricter if ladders[n]["grows"] else 0)
            for n, r in rung.items()}

    def now_(name):
        return counts[name][rung[name]] if name in rung else counts[name][0]

    choices = []
    for name, spec in ladders.items():
        per_month = round(now_(name), 3)
        if spec is None:
            written = query_header(f"detect/{name}")["calibrate"]
            basis = ("set in config.toml" if written else
                     "nothing to calibrate: every such alert is worth reading")
            choices.append(Choice(name, written and written["param"], None, None, 0, basis,
                                  per_month, [per_month]))
            continue
        curve = [round(n, 3) for n in counts[name][:len(offered[name])]]
        if name in unseen:
            choices.append(Choice(name, spec["param"], None, None, len(offered[name]),
                                  "not seen firing on any rung of this history: its "
                                  "default is kept", 0.0, curve))
            continue
        chosen = offered[name][rung[name]]
        also = {k: v for k, v in chosen.values.items() if k != spec["param"]}
        basis = chosen.basis + (BEYOND if rung[name] != budgeted[name] else "")
        choices.append(Choice(name, spec["param"], chosen.values[spec["param"]], rung[name],
                              len(offered[name]), basis, per_month, curve, also))
    return choices


def grows_with_history(params: dict) -> bool:
    """Whether a detector (its header's params) judges a payee against the payee's own
    history: it asks for `$min_history` charges of it. On a short history few pairs have
    that much, so such a detector's few months of counts understate the months to come
    (payee_amount_shift raised 1.3-1.6 honest alerts a month on the US cards when taken to
    the rung its first months allowed): on short history it goes a rung beyond. A detector
    of new payees judges each on its first weeks, which a short history shows as well as a
    long one; the rung beyond only made those stricter (US cards, tuning seeds: 23 of 54
    thefts within 5,000 with it, 26 without, honest alerts 0.65 and 0.98 a month;
    benchmarks/RESULTS.md, 2026-12-07)."""
    return "min_history" in params


def _chain(rungs_for, counts: dict, shares: list, stricter: int):
    """The settings `choose` climbs, strictest first: every detector on the most sensitive
    rung raising at most a share, for each share in turn (the equal share). On short
    history (`stricter`) the detectors also move one at a time between two shares, the
    one raising the fewest alerts now first (then the cheapest move): a few months'
    counts move in steps of one alert (Oxford's new_payee_repeat: 0.6 a month on rungs
    1-4, then none), so an equal share can leave most of the budget to no one, and the
    margin and the rung beyond keep it safe. On a year or more only the equal shares are
    climbed: there, moving one at a time raised Birmingham's honest alerts from 1.71 to
    1.95 a month for no theft caught sooner, Brazil's from 2.44 to 2.90."""
    state = rungs_for(0.0)
    for share in shares:
        goal = rungs_for(share)
        if not stricter:
            yield goal
        else:       # the last move reaches the goal: it is not given twice
            moving = sorted((counts[n][state[n]], counts[n][goal[n]] - counts[n][state[n]], n)
                            for n in goal if goal[n] < state[n])
            for _now, _cost, name in moving:
                state = {**state, name: goal[name]}
                yield state
        state = goal


def _beyond(counts: list, rung: int, steps: int) -> int:
    """`steps` rungs stricter than `rung`, each the next that raised no more alerts than
    the one before (a grid's next rung may be a busier one: from two charges of the
    highest amount to four of the lowest), else the last; and never less strict than
    what a stricter `rung` than this one would give, so that a larger budget never ends
    on a stricter rung (on a grid, "the next that raised no more" from a busy rung can
    lie before the one from a quieter, more sensitive rung)."""
    def once(start: int) -> int:
        for _ in range(steps):
            start = next((r for r in range(start + 1, len(counts))
                          if counts[r] <= counts[start]), len(counts) - 1)
        return start
    return max(once(r) for r in range(rung + 1)) if steps else rung


def _ordinal(quantile: float) -> str:
    return f"{quantile * 100:g}th"
