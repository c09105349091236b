"""`monitor calibrate` (issue 17): thresholds chosen from the organisation's own history.

A generated organisation (two years of twenty cards' ordinary spending, with the honest
habits that make fixed thresholds noisy: new suppliers paid a few similar sums, round
amounts, a busy month) is calibrated for a budget; then a plain backtest over the same
replay raises what calibration said it would, within the budget. Multiplying every amount
and every money setting by k chooses the same rungs and raises the same alerts. A value
written in config.toml wins; too little history keeps the defaults and says so.
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import assert_one_line_error, ingest, monitor, opened, write_config, write_csv
from monitor.detection import calibrate as calibration, rungs, scan as detect
from monitor.detection.catalog import catalog
from monitor.settings import config as config_mod
from monitor.sql import store
from monitor.sql.store import query_header

START = date(2023, 1, 1)
# Suppliers' names differ in words (a number would be read as a reference: one payee key).
FIRST = ("Alder", "Birch", "Cedar", "Damson", "Elm", "Fir", "Gorse", "Hazel", "Ivy", "Juniper",
         "Larch", "Maple", "Nettle", "Oak", "Poplar", "Quince", "Rowan", "Sorrel", "Teasel",
         "Willow")
SECOND = ("Works", "Supplies", "Events", "Training", "Print", "Catering", "Repairs", "Hire")


def organisation(days: int = 730, cards: int = 20) -> list[tuple]:
    """(day, amount, payee, card): whole pounds, so x0.01 and x100 stay exact."""
    rows = []
    for c in range(cards):
        card = f"card-{c:02d}"
        for i, payee in enumerate(("Cafe", "Books", "Taxi", "Stationer")):
            size = 12 + 9 * i + c % 7
            rows += [(d, Decimal(size + d % 5), payee, card) for d in range(i + c % 3, days, 9)]
        for q in range(days // 90):          # each quarter a new supplier, a few similar sums
            start = q * 90 + (c * 13) % 60
            size = 300 + 45 * ((c + q) % 11)
            rows += [(start + 6 * j, Decimal(size + j), f"{FIRST[c]} {SECOND[q % 8]}", card)
                     for j in range(3 + (c + q) % 2)]
        if c % 4 == 0:                       # round-sum venue hire, twice a year
            rows += [(d, Decimal(500), "Hall Hire", card) for d in range(40 + c, days, 180)]
    return rows


def money_settings(k: Decimal, extra: dict | None = None, knobs: bool = False) -> str:
    """Every money setting of every detector, times k, except what calibration chooses
    (unless `knobs`); with `extra` (detector -> {param: value}) written too."""
    lines = []
    for name in catalog():
        header = query_header(f"detect/{name}")
        knob = None if knobs else (header["calibrate"] or {}).get("param")
        values = [f"{p} = {spec['default'] * k}" for p, spec in header["params"].items()
                  if spec["type"] == "DECIMAL" and spec["default"] is not None and p != knob]
        values += [f"{p} = {v}" for p, v in (extra or {}).get(name, {}).items()]
        if values:
            lines += [f"[detectors.{name}]", *values, ""]
    return "\n".join(lines)


def build(folder: Path, rows: list[tuple], k: Decimal = Decimal(1),
          extra: dict | None = None, knobs: bool = False) -> Path:
    out = [[(START + timedelta(days=day)).isoformat(), str((amount * k).quantize(Decimal("0.01"))),
            payee, card] for day, amount, payee, card in sorted(rows, key=lambda r: r[:1] + r[2:])]
    write_csv(folder / "in" / "cards.csv", out)
    config_path = write_config(folder)
    with config_path.open("a", encoding="utf-8") as f:
        f.write("\n[detectors]\nalert_budget = 1\n\n" + money_settings(k, extra, knobs))
    (result,) = ingest(config_path)
    assert result.loaded == len(out), result
    return config_path


def calibrated(config_path: Path):
    with opened(config_path) as (cfg, con):
        from monitor import pipeline
        found = pipeline.calibrate(con, cfg, by="tester")
        replayed = detect.backtest(con, cfg, found.replay_from, found.history_to) \
            if found.calibrated else []
    return found, replayed


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    config_path = build(tmp_path_factory.mktemp("org"), organisation())
    return (config_path, *calibrated(config_path))


# What `measure` replays of the organisation (calibrate = choose(measure)), for the tests
# that look inside it: the whole history, and its first 300 days (210 settled). Measured
# once a module (each is a replay per rung, several seconds).
@pytest.fixture(scope="module")
def measured(org):
    with opened(org[0]) as (cfg, con):
        return cfg, calibration.measure(con, cfg)


@pytest.fixture(scope="module")
def measured_short(org):
    with opened(org[0]) as (cfg, con):
        return cfg, calibration.measure(con, cfg, until=START + timedelta(days=299))


def test_the_chosen_settings_raise_what_calibration_said_within_the_budget(org, measured):
    _config_path, found, replayed = org
    assert found.calibrated and found.budget == 1
    # Aimed at the budget, moved by how far its earlier calibrations missed (`_foresight`).
    cfg, measured = measured
    assert found.aimed_at == round(1 / calibration._foresight(measured, cfg, 1, 0), 2)
    assert found.per_month <= found.aimed_at
    # The backtest with the recorded settings raises what calibration counted: per detector
    # its rate over the whole replay or, when the latest RECENT days were busier, theirs
    # grown once more by the same factor (at most GROWTH).
    assert len(replayed) / found.months <= found.per_month + 0.01
    recent_from = found.history_to - calibration.RECENT + timedelta(days=1)
    recent_months = calibration.RECENT.days / calibration.DAYS_PER_MONTH
    per_detector = {c.detector: c.per_month for c in found.choices}
    for name in per_detector:
        mine = [a for a in replayed if a["detector"] == name]
        lately = [a for a in mine if a["first_alert_at"] >= recent_from]
        overall, recent = len(mine) / found.months, len(lately) / recent_months
        assert overall <= per_detector[name] + 0.01, name
        assert calibration._ahead(overall, recent) == \
            pytest.approx(per_detector[name], abs=0.01), name


def test_defaults_would_have_been_noisy_and_calibration_made_them_stricter(org):
    _config_path, found, _replayed = org
    # On its most sensitive rungs this organisation would raise several alerts a month.
    assert sum(c.curve[0] for c in found.choices) > 3 * found.budget
    repeat = next(c for c in found.choices if c.detector == "new_payee_repeat")
    assert repeat.param == "min_charge" and repeat.rung > 0
    assert "percentile of the organisation's charge amounts" in repeat.basis
    assert repeat.curve[repeat.rung] == repeat.per_month < repeat.curve[0]


def test_one_measure_serves_every_budget_and_a_larger_budget_is_never_stricter(org, measured):
    """`measure` replays the rungs once; `choose` for the configured budget gives what
    `calibrate` gave, and a larger budget never makes a detector stricter (the trade-off
    curve the benchmark draws from one set of replays)."""
    _config_path, found, _replayed = org
    cfg, measured = measured
    again = calibration.choose(measured, cfg, found.budget)
    assert [(c.detector, c.rung, c.per_month) for c in again.choices] == \
        [(c.detector, c.rung, c.per_month) for c in found.choices]
    previous = None
    for budget in (0.25, 0.5, 1, 2, 4, 8):
        chosen = calibration.choose(measured, cfg, budget)
        chosen_at = {c.detector: c.rung for c in chosen.choices if c.rung is not None}
        if previous is not None:
            assert chosen.per_month >= previous[0]
            assert all(chosen_at[n] <= previous[1][n] for n in chosen_at), budget
        previous = (chosen.per_month, chosen_at)


def test_short_history_aims_below_the_budget_and_says_so(org, measured_short):
    """Six months of history say little about the next ones (the US cards' raised 1.3 a
    month in-sample, 3.0 after): under a year, calibration keeps a margin, and says it."""
    assert calibration.margin(calibration.MIN_HISTORY_DAYS) == calibration.SHORT_MARGIN < 1
    assert calibration.margin(calibration.FULL_MARGIN_DAYS) == 1.0
    shares = [calibration.margin(d) for d in range(calibration.MIN_HISTORY_DAYS, 400, 20)]
    assert shares == sorted(shares)
    _config_path, found, _replayed = org
    # The generated organisation's first 300 days: 210 settled, so aimed below budget.
    cfg, short = measured_short
    short = calibration.choose(short, cfg, found.budget)     # what calibrate(until=) does
    assert short.calibrated and "kept with a margin" in short.note
    aimed = found.budget * calibration.margin(210)
    assert short.per_month <= aimed or all(c.rung == c.rungs - 1 for c in short.choices
                                           if c.rung is not None)
    assert "margin" not in found.note        # two years: the whole budget


def test_on_short_history_a_detector_judging_a_payee_by_its_history_is_one_rung_stricter(
        measured_short):
    """Counts of a few months: a rung that raised nothing may have done so by chance, and
    a detector that judges a payee against its own history (it needs `$min_history`
    charges of it) fires more as more pairs have that history. So under a year of history
    such a detector goes one rung beyond what the budget allows; a detector of new payees,
    judged on each payee's first weeks, stays where the budget puts it (the rung beyond
    cost the US cards 3 of 54 thefts within 5,000 to save one honest alert in three
    months)."""
    cfg, measured = measured_short
    assert measured.days < calibration.FULL_MARGIN_DAYS
    aim = 1 * calibration.margin(measured.days)
    plain = rungs.choose(measured.ladders, measured.amounts, measured.counts, aim)
    safer = calibration.choose(measured, cfg, 1)
    assert "each detector that judges a payee against its own history is one rung" in \
        safer.note
    grows = {name for name, spec in measured.ladders.items() if spec and spec["grows"]}
    assert grows == {"payee_amount_shift", "payee_rate_change", "unexplained_drift"}
    judged = {"grows": 0, "new payees": 0}
    for mine, theirs in zip(plain, safer.choices):
        if mine.rung is None:
            continue
        if mine.detector in grows:
            # one rung beyond where the budget put it, or beyond a more sensitive rung the
            # short-history fill gave it (what the equal share leaves, quietest first)
            beyond = {rungs._beyond(mine.curve, r, 1) for r in range(mine.rung + 1)}
            assert theirs.rung in beyond, mine.detector
            judged["grows"] += 1
        else:
            # the short-history fill may take it further; never beyond
            assert theirs.rung <= mine.rung, mine.detector
            judged["new payees"] += 1
    # 210 settled days: the detectors of new payees are seen and calibrated here; those
    # judging a payee by its history are not yet (too few pairs with enough of it)
    assert judged["new payees"] >= 3, judged


def test_the_rung_beyond_goes_only_to_a_detector_that_grows_with_history():
    """The same curve for both: on short history the detector that judges a payee by its
    own history goes one rung beyond the budget's; the detector of new payees does not. A
    year or more: neither."""
    levels = {"param": "min_days", "kind": "ladder", "levels": [1, 2, 3, 4, 5]}
    ladders = {"by_history": {**levels, "grows": True},
               "new_payees": {**levels, "grows": False}}
    curve = [1.0, 0.5, 0.25, 0.1, 0.0]
    counts = {"by_history": curve, "new_payees": curve}

    def chosen_rungs(stricter: int) -> dict:
        return {c.detector: c.rung for c in rungs.choose(ladders, {}, counts, 0.5, stricter)}
    assert chosen_rungs(stricter=0) == {"by_history": 2, "new_payees": 2}
    assert chosen_rungs(stricter=1) == {"by_history": 3, "new_payees": 2}
    # `calibrate --show` says why (the basis column)
    why = {c.detector: c.basis for c in rungs.choose(ladders, {}, counts, 0.5, 1)}
    assert why["by_history"] == "rung 4 of 1, 2, 3, 4, 5" + rungs.BEYOND
    assert why["new_payees"] == "rung 3 of 1, 2, 3, 4, 5"


def _growing(before_every: int, after_every: int) -> calibration.Measured:
    """Two years of one made-up detector's honest alerts on its three rungs: on rung 1,
    one every `before_every` days, then one every `after_every` in the last HELD_OUT
    settled days; rung 0 is noisy and rung 2 quiet throughout."""
    first, last = date(2022, 1, 1), date(2023, 12, 31)
    replay_from = first + timedelta(days=calibration.warm_up((last - first).days + 1))
    cut = last - calibration.HELD_OUT
    days = [replay_from + timedelta(days=i) for i in range((last - replay_from).days + 1)]
    fired = {"growing": [
        [d for d in days[::3]],
        [d for i, d in enumerate(days) if i % (before_every if d <= cut else after_every) == 0],
        [d for d in days[::90]]]}
    ladders = {"growing": {"param": "min_charges", "kind": "ladder", "levels": [2, 4, 8],
                           "grows": True}}
    return calibration.Measured(first, last, (last - first).days + 1, replay_from,
                                ((last - replay_from).days + 1) / calibration.DAYS_PER_MONTH,
                                ladders, {}, fired)


def test_a_history_that_outran_its_own_calibrations_is_aimed_lower_one_that_fell_short_higher(
        tmp_path):
    """Calibration checks itself on its history: chosen on the history up to a day (every
    CHECK_EVERY back from the latest HELD_OUT settled days), rung 1 (one alert a month) was
    right until, in the latest HELD_OUT days, it raised six a month. All that was raised
    after the checks over all that they predicted divides the aim (within MOST_FORESIGHT
    either way), and the note says so; a history that fell short of its predictions is
    aimed higher, one that kept its pace about at the budget."""
    cfg = config_mod.load(write_config(tmp_path), warn=lambda line: None)
    grown = _growing(before_every=30, after_every=5)
    assert calibration._foresight(grown, cfg, 2.0, 0) == calibration.MOST_FORESIGHT
    chosen = calibration.choose(grown, cfg, 2.0)
    assert "aimed at 1.00" in chosen.note and "raised 2.00 times what they predicted" in chosen.note
    assert "with the open findings a change of settings brings the day it takes over" in chosen.note
    (choice,) = chosen.choices
    assert choice.per_month <= 1.0 and choice.rung == 2
    assert "over budget" not in chosen.note

    # Kept its pace: about the budget (the growth allowance of `_ahead` saw a little
    # growth in one-a-month alerts that was not there), the same rung as without a check.
    steady = _growing(before_every=30, after_every=30)
    assert 0.8 < calibration._foresight(steady, cfg, 2.0, 0) <= 1.0
    assert calibration.choose(steady, cfg, 2.0).choices[0].rung == 1

    # Fell short: aimed higher, at most MOST_FORESIGHT times; rung 0 (ten a month) still
    # does not fit, and above the budget is not called over it.
    quieter = _growing(before_every=30, after_every=300)
    assert calibration._foresight(quieter, cfg, 2.0, 0) == 1 / calibration.MOST_FORESIGHT
    looser = calibration.choose(quieter, cfg, 2.0)
    assert "aimed at 4.00" in looser.note and looser.choices[0].rung == 1
    assert "over budget" not in looser.note


def _settling_down(in_force: dict) -> calibration.Measured:
    """Two years of one made-up detector's honest alerts: rung 0 fires every 10 days for the
    first 100 days of the replay, then never; rung 1 every 60 days throughout. The check at
    the replay's day 123 finds rung 0 too busy (rung 1), the next one, at day 214, moves to
    rung 0: its episodes then in force (`in_force`, per rung) are raised that day."""
    first, last = date(2022, 1, 1), date(2023, 12, 31)
    replay_from = first + timedelta(days=calibration.warm_up((last - first).days + 1))
    days = [replay_from + timedelta(days=i) for i in range((last - replay_from).days + 1)]
    fired = {"settling": [[d for d in days[:100:10]], [d for d in days[::60]]]}
    ladders = {"settling": {"param": "min_charges", "kind": "ladder", "levels": [2, 4],
                            "grows": False}}
    return calibration.Measured(first, last, (last - first).days + 1, replay_from,
                                ((last - replay_from).days + 1) / calibration.DAYS_PER_MONTH,
                                ladders, {}, fired, in_force)


def test_a_change_of_rung_counts_what_it_raises_on_the_day_it_takes_over(tmp_path):
    """The product's scan raises the new settings' episodes already in force when a
    calibration changes a rung (an open finding), and the benchmark counts them (Brazil:
    2.07 honest alerts a month against a budget of 2, when the self-check left them out).
    So the self-check counts them as raised after that check: twenty long episodes on
    rung 0 in force at its change from rung 1 make the history outrun its calibrations
    (aimed lower); not when rung 1 had the same twenty in force (the team has them)."""
    cfg = config_mod.load(write_config(tmp_path), warn=lambda line: None)
    replay_from = _settling_down({}).replay_from
    long = [(replay_from + timedelta(days=150), date(2023, 12, 31), (f"card {i}", "payee", None))
            for i in range(20)]
    quiet = calibration._foresight(_settling_down({}), cfg, 2.0, 0)
    caught_up = calibration._foresight(_settling_down({"settling": [long, []]}), cfg, 2.0, 0)
    already = calibration._foresight(_settling_down({"settling": [long, long]}), cfg, 2.0, 0)
    assert quiet == already < 1 < caught_up

    found = _settling_down({"settling": [long, []]})
    cut = replay_from + timedelta(days=213)
    assert calibration._caught_up(found, "settling", 1, 0, cut) == 20
    assert calibration._caught_up(found, "settling", 0, 0, cut) == 0      # no change
    assert calibration._caught_up(found, "settling", None, 0, cut) == 0   # from its default
    # Begun after the day, or over before it: nothing to catch up on.
    assert calibration._caught_up(found, "settling", 1, 0, replay_from + timedelta(days=149)) == 0
    over = {"settling": [[(d, e + timedelta(days=-300), g) for d, e, g in long], []]}
    assert calibration._caught_up(_settling_down(over), "settling", 1, 0, cut) == 0


def test_on_short_history_what_the_equal_share_leaves_goes_to_the_quietest():
    """Oxford's first calibration (241 days): frequency_burst's curve falls smoothly,
    new_payee_repeat's is 0.6 a month until it drops to nothing. An equal share of 0.2
    fits both, so new_payee_repeat went four rungs stricter (five with the rung beyond)
    and most of the budget went to no one; on short history the detectors now also move
    one at a time from one share to the next, the quietest first, until a move does not
    fit. A year or more keeps what is left."""
    levels = {"param": "min_days", "kind": "ladder", "levels": [1, 2, 3, 4, 5, 6],
              "grows": True}
    ladders = {"smooth": levels, "lumpy": levels}
    counts = {"smooth": [1.0, 0.6, 0.6, 0.2, 0.2, 0.0], "lumpy": [0.6, 0.6, 0.6, 0.6, 0.0, 0.0]}

    def chosen_rungs(aim: float, stricter: int) -> dict:
        return {c.detector: c.rung
                for c in rungs.choose(ladders, {}, counts, aim, stricter)}
    # Between the shares 0.2 and 0.6, lumpy (raising nothing) moves first, to rung 0 for
    # 0.6 of the 0.93 left; smooth's move (0.4) then does not fit; then each goes one
    # rung beyond.
    assert chosen_rungs(1.13, stricter=1) == {"lumpy": 1, "smooth": 4}
    assert chosen_rungs(1.13, stricter=0) == {"lumpy": 4, "smooth": 3}      # a year or more
    # Nothing is given beyond the aim: with 0.5 neither next step fits.
    assert chosen_rungs(0.5, stricter=1) == {"lumpy": 5, "smooth": 4}


# A detector's honest alerts a month on each rung: plain ladders fall, a grid's rungs may
# rise again (two charges of the highest amount, then four of the lowest).
curves = st.lists(st.sampled_from([0.0, 0.1, 0.2, 0.33, 0.6, 1.0, 2.5]), min_size=1,
                  max_size=7)


@given(curves=st.lists(curves, min_size=1, max_size=4),
       budgets=st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.13, 1.46, 1.73, 2.0, 4.0]),
                        min_size=2, max_size=2, unique=True),
       stricter=st.sampled_from([0, 1]), grows=st.lists(st.booleans(), min_size=4, max_size=4))
# Found by a random search over the earlier handout (46 in 40,000 tries; the property's
# own examples had not met one): 0.9 put d1 on rung 4, 1.13 on rung 5.
@example(curves=[[0.0, 0.33, 0.0, 1.0, 0.1, 0.1], [0.1, 0.33, 1.0, 0.6, 0.6, 2.5]],
         budgets=[0.9, 1.13], stricter=1, grows=[True] * 4)
@settings(max_examples=300, deadline=None)
def test_a_larger_budget_never_leaves_any_detector_stricter(curves, budgets, stricter, grows):
    """Whatever the curves, on short history (the rung beyond, the one-at-a-time moves)
    or long, whichever detectors go the rung beyond (`grows`): every detector is on the
    same rung or a more sensitive one when the budget grows, and what the budget buys
    before the rung beyond fits in it. Until 2026-12-07 the short-history handout chose
    among the moves that still fit, and on the demo a larger aim (1.73 against 1.46) put
    lookalike_payee on rung 9 instead of 1."""
    names = [f"d{i}" for i in range(len(curves))]
    ladders = {n: {"param": "min_days", "kind": "ladder", "levels": list(range(len(c))),
                   "grows": g} for n, c, g in zip(names, curves, grows)}
    counts = dict(zip(names, curves))

    def chosen_rungs(budget: float, steps: int) -> dict:
        return {c.detector: c.rung for c in rungs.choose(ladders, {}, counts, budget, steps)
                if c.rung is not None}
    small, large = sorted(budgets)
    before, after = chosen_rungs(small, stricter), chosen_rungs(large, stricter)
    assert all(after[n] <= before[n] for n in before), (before, after)
    bought = chosen_rungs(large, 0)           # before any rung beyond, on the chain of a year
    within = sum(counts[n][r] for n, r in bought.items())
    strictest = {n: next((r for r, c in enumerate(counts[n]) if c == 0.0), len(counts[n]) - 1)
                 for n in bought}
    assert within <= large + 1e-9 or bought == strictest


def test_show_reads_what_was_chosen_and_changes_nothing(org):
    config_path, found, _replayed = org
    before = (config_path.parent / "ledger.duckdb").read_bytes()
    shown = monitor("--config", str(config_path), "calibrate", "--show")
    assert shown.returncode == 0, shown.stderr
    assert "new_payee_repeat" in shown.stdout and "min_charge" in shown.stdout
    assert f"budget {found.budget:g}" in shown.stdout
    repeat = next(c for c in found.choices if c.detector == "new_payee_repeat")
    row = next(line for line in shown.stdout.splitlines() if line.startswith("new_payee_repeat"))
    assert f" {repeat.rung + 1} of {repeat.rungs} " in row      # counted from 1, as the basis
    as_json = monitor("--config", str(config_path), "calibrate", "--show", "--format", "json")
    assert json.loads(as_json.stdout)["aimed_at"] == found.aimed_at > 0   # kept, not only noted
    assert (config_path.parent / "ledger.duckdb").read_bytes() == before
    cfg = config_mod.load(config_path, warn=lambda line: None)
    con = store.connect(cfg.database, read_only=True)
    try:
        actions = con.execute("SELECT action, actor FROM audit_log WHERE action = 'calibrate'"
                              ).fetchall()
    finally:
        con.close()
    assert actions == [("calibrate", "tester")]


def test_every_amount_and_money_setting_times_k_chooses_the_same(org, tmp_path_factory):
    _config_path, found, replayed = org

    def keys(alerts):
        return sorted((a["detector"], a["account"], a["counterparty"], a["first_alert_at"],
                       a["severity"]) for a in alerts)

    for k in (Decimal("0.01"), Decimal(100)):
        scaled, scaled_alerts = calibrated(build(tmp_path_factory.mktemp("k"), organisation(), k))
        assert [(c.detector, c.rung) for c in scaled.choices] == \
            [(c.detector, c.rung) for c in found.choices]
        for mine, theirs in zip(found.choices, scaled.choices):
            if mine.value is not None and "percentile" in mine.basis:
                assert Decimal(str(theirs.value)) == Decimal(str(mine.value)) * k
        assert keys(scaled_alerts) == keys(replayed)


def scanned_with(config_path: Path) -> dict:
    """detector -> the parameters a scan now runs it with (calibrated, then config)."""
    cfg = config_mod.load(config_path, warn=lambda line: None)
    con = store.connect(cfg.database, read_only=True)
    try:
        from monitor.detection.catalog import calibrated_values, detectors
        return {d.name: d.params for d in detectors(cfg, calibrated_values(con))}
    finally:
        con.close()


# One organisation for the two tests of values written in config.toml (each calibration is
# a whole replay): a grid's amount written for one detector, its count for another.
WRITTEN = {"payee_many_accounts": {"min_charge": 800}, "new_payee_repeat": {"min_charges": 3}}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    config_path = build(tmp_path_factory.mktemp("written"), organisation(days=400, cards=6),
                        extra=WRITTEN)
    found, _ = calibrated(config_path)
    return config_path, found, scanned_with(config_path)


def test_a_value_written_in_config_wins(written):
    _config_path, found, ran = written
    many = next(c for c in found.choices if c.detector == "payee_many_accounts")
    assert many.rung is None and many.basis == "set in config.toml"
    assert ran["payee_many_accounts"]["min_charge"] == Decimal(800)


def test_little_history_keeps_the_defaults_and_says_how_much(tmp_path):
    config_path = build(tmp_path, organisation(days=60, cards=3))
    proc = monitor("--config", str(config_path), "calibrate")
    assert proc.returncode == 0, proc.stderr
    assert "60 days of history" in proc.stdout + proc.stderr
    assert "needs at least 180 settled days" in proc.stdout + proc.stderr
    cfg = config_mod.load(config_path, warn=lambda line: None)
    con = store.connect(cfg.database, read_only=True)
    try:
        from monitor.detection.catalog import calibrated_values
        assert calibrated_values(con) == {}
        assert calibration.latest(con)["calibrated"] is False
    finally:
        con.close()


def keys_of(alerts: list[dict]) -> list[tuple]:
    # repr orders them: an organisation-wide alert's account is None, the others' text
    return sorted(((a["detector"], a["account"], a["counterparty"], a["first_alert_at"],
                    a["severity"], a["charges"]) for a in alerts), key=repr)


def replayed(folder: Path, rows: list[tuple], k: Decimal) -> list[dict]:
    """Every detector's alerts on the default settings, every money setting times k."""
    config_path = build(folder, rows, k, knobs=True)
    with opened(config_path) as (cfg, con):
        return detect.backtest(con, cfg, START, START + timedelta(days=max(r[0] for r in rows)))


# The example: payee_amount_shift's spread had a floor of 1.00 of money besides half the
# mean, which took over below a usual size of 2, so the run below (three times a usual
# 100) fired in pounds and not in cents (k = 0.01). The drawn examples had not met it.
@example(k=Decimal("0.01"), cards=3, days=380, theft=150, usual=100, factor=3)
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(k=st.sampled_from([Decimal("0.01"), Decimal("0.1"), Decimal(10), Decimal(1000)]),
       cards=st.integers(3, 6), days=st.integers(380, 500), theft=st.integers(150, 2400),
       usual=st.integers(40, 400), factor=st.sampled_from([2, 3, 4, 6]))
def test_every_detector_raises_the_same_alerts_at_any_scale(tmp_path_factory, k, cards, days,
                                                            theft, usual, factor):
    """Hypothesis over k and a generated organisation with two thefts (instalments to a
    new payee; a payee the account has long paid `usual`, charged `factor` times that):
    every detector, every money setting times k, the same alert keys."""
    rows = organisation(days=days, cards=cards)
    rows += [(days - 120 + 7 * i, Decimal(theft + i % 3), "Devlab Consult", "card-00")
             for i in range(12)]
    rows += [(d, Decimal(usual + d % 3), "Cleaning Co", "card-01") for d in range(0, days - 100, 14)]
    rows += [(days - 100 + 4 * i, Decimal(usual * factor + i % 3), "Cleaning Co", "card-01")
             for i in range(16)]
    base = replayed(tmp_path_factory.mktemp("k1"), rows, Decimal(1))
    assert base, "the generated organisation raises alerts (the property is not vacuous)"
    assert keys_of(replayed(tmp_path_factory.mktemp("k"), rows, k)) == keys_of(base)


def test_the_daemon_calibrates_when_a_calibration_is_a_month_old(org):
    from monitor.daemon import scheduler
    config_path, _found, _replayed = org
    cfg = config_mod.load(config_path, warn=lambda line: None)
    assert scheduler.run_calibrate(cfg) == {
        "calibrated": False, "why": "the last calibration is less than 30 days old"}
    con = store.connect(cfg.database)
    try:
        con.execute("UPDATE calibrations SET calibrated_at = calibrated_at - INTERVAL 31 DAYS")
    finally:
        con.close()
    summary = scheduler.run_calibrate(cfg)
    assert summary["calibrated"] is True and summary["per_month"] <= summary["aimed_at"]


def test_who_calibrates_is_kept_as_written_whatever_it_holds(tmp_path):
    """--by is text a person types: SQL or markup in it is stored and shown as written,
    never run (the parameters are bound). A short history records who asked as a full one
    does (`pipeline.calibrate`), without the replays."""
    config_path = build(tmp_path, organisation(days=60, cards=3))
    assert monitor("--config", str(config_path), "calibrate").returncode == 0
    hostile = "x'); DROP TABLE calibrations; -- <script>alert(1)</script>"
    proc = monitor("--config", str(config_path), "calibrate", "--by", hostile,
                   "--format", "json")
    assert proc.returncode == 0, proc.stderr
    shown = monitor("--config", str(config_path), "calibrate", "--show", "--format", "json")
    assert json.loads(shown.stdout)["calibrated_by"] == hostile
    cfg = config_mod.load(config_path, warn=lambda line: None)
    con = store.connect(cfg.database, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM calibrations").fetchone()[0] >= 2
        assert con.execute("SELECT actor FROM audit_log WHERE action = 'calibrate' "
                           "ORDER BY seq DESC LIMIT 1").fetchone()[0] == hostile
    finally:
        con.close()


@pytest.mark.parametrize("value, words", [('"two"', "not a number"), ("nan", "finite"),
                                          ("-1", "negative")])
def test_an_alert_budget_that_is_not_a_number_is_refused_in_one_line(tmp_path, value, words):
    config_path = write_config(tmp_path)
    with config_path.open("a", encoding="utf-8") as f:
        f.write(f"\n[detectors]\nalert_budget = {value}\n")
    proc = monitor("--config", str(config_path), "calibrate")
    line = assert_one_line_error(proc)
    assert "detectors.alert_budget" in line and words in line


def test_a_grid_tries_every_amount_with_every_count_fewest_charges_first():
    """new_payee_repeat's amount and count are chosen together (`and $min_charges`): on
    the US cards two similar charges to a new supplier are everyday (25 honest alerts a
    month at the median amount) and eight are not (0.2), while elsewhere two charges of
    a higher amount are the quicker alarm. Every pair is a rung: the fewest charges
    first, then the smallest amount, whatever the scale."""
    spec = query_header("detect/new_payee_repeat")["calibrate"]
    assert spec["grid"] == {"param": "min_charges", "levels": [2, 3, 4, 6, 8]}
    amounts = {q: Decimal(10) * (i + 1) ** 2 for i, q in enumerate(spec["levels"])}
    ladder = rungs.candidates(spec, amounts)
    assert len(ladder) == len(spec["levels"]) * 5
    pairs = [(r.values["min_charges"], r.values["min_charge"]) for r in ladder]
    assert pairs == sorted(pairs)
    assert ladder[0].values == {"min_charge": Decimal(10), "min_charges": 2}
    assert ladder[-1].values == {"min_charge": max(amounts.values()), "min_charges": 8}
    assert "from 8 charges (min_charges)" in ladder[-1].basis
    for k in (Decimal("0.01"), Decimal(1000)):
        scaled = rungs.candidates(spec, {q: a * k for q, a in amounts.items()})
        assert [(r.values["min_charge"], r.values["min_charges"]) for r in scaled] == \
            [(r.values["min_charge"] * k, r.values["min_charges"]) for r in ladder]



def test_a_grid_puts_the_rungs_that_cannot_warn_before_the_high_tier_last():
    """Counting one charge a day, the US cards' four charges of 2,471 USD fitted the
    budget before six of 127: a run of four such charges has taken 9,884 when it fires,
    past the high tier (5,000), so it is no earlier alarm than any rung that can fire
    below it. Those rungs go last, in the same order, at any scale."""
    spec = query_header("detect/new_payee_repeat")["calibrate"]
    amounts = dict(zip(spec["levels"], map(Decimal, ("127", "300", "600", "900", "1300",
                                                     "1800", "2471"))))
    for k in (Decimal("0.01"), Decimal(1), Decimal(100)):
        ladder = rungs.candidates({**spec, "reach": Decimal(5000) * k},
                                   {q: a * k for q, a in amounts.items()})
        pairs = [(r.values["min_charges"], r.values["min_charge"] / k) for r in ladder]
        reachable = [p for p in pairs if p[0] * p[1] <= 5000]
        assert pairs == reachable + [p for p in pairs if p[0] * p[1] > 5000]
        assert reachable == sorted(reachable) and len(pairs) == 35
        assert pairs.index((6, Decimal(127))) < pairs.index((4, Decimal(2471)))
    plain = rungs.candidates(spec, amounts)
    assert [(r.values["min_charges"], r.values["min_charge"]) for r in plain] == sorted(
        (r.values["min_charges"], r.values["min_charge"]) for r in plain)

def test_a_grid_choice_is_kept_with_its_count_and_shown_once(org):
    config_path, found, _replayed = org
    repeat = next(c for c in found.choices if c.detector == "new_payee_repeat")
    assert repeat.rung is not None and set(repeat.also) == {"min_charges"}
    assert f"from {repeat.also['min_charges']} charges" in repeat.basis
    cfg = config_mod.load(config_path, warn=lambda line: None)
    con = store.connect(cfg.database, read_only=True)
    try:
        from monitor.detection.catalog import calibrated_values
        chosen = calibrated_values(con)["new_payee_repeat"]
        shown = [c["detector"] for c in calibration.latest(con)["choices"]]
    finally:
        con.close()
    assert chosen == {"min_charge": str(repeat.value),
                      "min_charges": str(repeat.also["min_charges"])}
    assert shown.count("new_payee_repeat") == 1


def test_a_count_written_in_config_leaves_the_amount_to_calibrate(written):
    _config_path, found, ran = written
    repeat = next(c for c in found.choices if c.detector == "new_payee_repeat")
    assert repeat.also == {} and repeat.rungs == 7 and "percentile" in repeat.basis
    assert ran["new_payee_repeat"]["min_charges"] == 3
    assert ran["new_payee_repeat"]["min_charge"] == Decimal(str(repeat.value))


@pytest.mark.parametrize("line, words", [
    ("$min_charge quantile 0.5 0.9 and $min_charges ladder 2 x", "is not"),
    ("$min_charge quantile 0.5 0.9 and $similarity ladder 2 4", "INTEGER"),
    ("$min_charge quantile 0.5 0.9 and $min_charge ladder 2 4", "is not"),
    ("$min_charges ladder 2 4 and $window_days ladder 2 4", "quantile"),
])
def test_a_grid_that_cannot_be_ordered_by_money_is_refused(line, words):
    from monitor.sql.header import parse
    params = query_header("detect/new_payee_repeat")["params"]
    text = "-- name: x\n-- params:\n" + "".join(
        f"--   ${p} {s['type']} default {s['default']}  x\n" for p, s in params.items()) + \
        f"-- calibrate: {line}\n"
    with pytest.raises(ValueError, match=words):
        parse("detect/x", text)
