"""Hypothesis properties of the detectors, on generated ledgers in a real DuckDB file.

- Adding an unexplained charge never lowers a drift total: the unexplained_drift exposure
  of any group, or the new_payee_repeat exposure, on the charge's day and until it could
  enter a baseline.
- A registry match never raises one.
- The CUSUM in queries/detect/payee_amount_shift.sql equals the plain recursion
  S_t = max(0, S_{t-1} + step_t), step_t = max(step_floor, min(z_cap, z_t) - k), with z_t
  from the same baseline, computed here in Python; so do the findings built on it.
"""
from __future__ import annotations

import re
import statistics
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from ledger_factory import DAY0, Ledger, day
from monitor.detection import scan as detect
from monitor.detection.catalog import catalog

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
ACCOUNTS = ["card-1", "card-2"]
PAYEES = ["Cloud Co", "Devlab", "Office Co"]
INITIATORS = [None, "alice", "bob"]


def only(name: str) -> dict:
    """A [detectors] table that runs one detector."""
    return {other: {"enabled": False} for other in catalog() if other != name}


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory):
    """One database per detector under test, emptied before each example."""
    folder = tmp_path_factory.mktemp("props")
    made = {}

    def get(name: str) -> Ledger:
        if name not in made:
            made[name] = Ledger(folder, detectors=only(name), name=f"{name}.duckdb")
        led = made[name]
        led.con.execute("DELETE FROM transactions; DELETE FROM authorizations; "
                        "DELETE FROM findings; DELETE FROM scans")
        led.rows, led.pending = 0, []
        return led
    yield get
    for led in made.values():
        led.close()


def body(sql: str) -> str:
    return "\n".join(re.sub(r"--.*", "", line) for line in sql.splitlines())


def events(led: Ledger, name: str, as_of, sql: str | None = None,
           prepared: bool = False) -> list[dict]:
    """Every event row the detector makes (firing or not), by running its SQL over the
    `charges` table the scan builds (unless `prepared`: the last one built is reused);
    `sql` replaces the detector's text (a probe)."""
    led.flush()
    (detector,) = [d for d in detect.detectors(led.config) if d.name == name]
    if not prepared:
        detect.evaluate(led.con, led.config, day(as_of))
    text = body(sql or detector.sql)
    params = {k: (day(as_of) if k == "as_of" else v) for k, v in detector.params.items()
              if re.search(rf"\${k}\b", text)}
    cursor = led.con.execute(text, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def by_group(rows: list[dict]) -> dict:
    """(txn_id, account, counterparty, initiator) -> exposure."""
    return {(r["txn_id"], r["account"], r["counterparty"], r["initiator"]): r["exposure"]
            for r in rows}


charge = st.fixed_dictionaries({
    "day": st.integers(0, 420),
    "account": st.sampled_from(ACCOUNTS),
    "payee": st.sampled_from(PAYEES),
    "initiator": st.sampled_from(INITIATORS),
    "amount": st.one_of(st.integers(1, 300), st.integers(700, 3000), st.integers(3000, 20000))
              .map(lambda n: Decimal(n)),
})
ledger_rows = st.lists(charge, min_size=1, max_size=30)


def fill(led: Ledger, rows: list[dict]) -> None:
    for r in rows:
        led.charge(r["day"], r["payee"], r["amount"], r["account"], initiator=r["initiator"])


# -- adding an unexplained charge never lowers a drift total ---------------------------------

@SETTINGS
@given(rows=ledger_rows, extra=charge)
def test_adding_a_charge_never_lowers_unexplained_drift(ledgers, rows, extra):
    led = ledgers("unexplained_drift")
    fill(led, rows)
    last = max(r["day"] for r in rows + [extra])
    before = by_group(events(led, "unexplained_drift", last))
    led.charge(extra["day"], extra["payee"], extra["amount"], extra["account"],
               initiator=extra["initiator"])
    after = by_group(events(led, "unexplained_drift", last))
    lag = detect.detectors(led.config)[0].params["lag_days"]
    for key, exposure in before.items():
        posted = next(r["day"] for n, r in enumerate(rows) if f"t{n + 1:05d}" == key[0])
        if posted < extra["day"]:
            assert after[key] == exposure, key          # the past is not rewritten
        elif posted < extra["day"] + lag:               # before the charge enters a baseline
            assert after[key] >= exposure, key


@SETTINGS
@given(rows=ledger_rows, pick=st.integers(0, 29), later=st.integers(0, 90),
       amount=st.integers(1, 5000).map(Decimal))
def test_adding_a_charge_never_lowers_new_payee_repeat(ledgers, rows, pick, later, amount):
    """A further charge on an existing account-payee pair, on or after its first day."""
    led = ledgers("new_payee_repeat")
    fill(led, rows)
    base = rows[pick % len(rows)]
    last = max(r["day"] for r in rows) + later
    before = by_group(events(led, "new_payee_repeat", last))
    led.charge(base["day"] + later, base["payee"], amount, base["account"])
    after = by_group(events(led, "new_payee_repeat", last))
    assert set(before) <= set(after)
    assert all(after[key] >= exposure for key, exposure in before.items())


# -- a registry match never raises a drift total ---------------------------------------------

approval = st.fixed_dictionaries({
    "payee": st.sampled_from(PAYEES + ["*o*", "cloud*", "*"]),
    "account": st.sampled_from([None] + ACCOUNTS),
    "expected_amount": st.sampled_from([None, "100", "1000", "5000"]),
    "tolerance": st.sampled_from(["0", "50", "900"]),
    "cadence": st.sampled_from([None, "weekly", "monthly", "yearly", "once"]),
    "valid_from": st.sampled_from([None, "2024-03-01"]),
})


@SETTINGS
@given(rows=ledger_rows, entry=approval)
@pytest.mark.parametrize("name", ["unexplained_drift", "new_payee_repeat"])
def test_a_registry_match_never_raises_a_drift_total(ledgers, name, rows, entry):
    led = ledgers(name)
    fill(led, rows)
    last = max(r["day"] for r in rows)
    before = by_group(events(led, name, last))
    led.approve(**{k: v for k, v in entry.items() if v is not None})
    after = by_group(events(led, name, last))
    assert set(after) <= set(before)                    # explained charges drop out
    for key, exposure in after.items():
        assert exposure <= before[key], key


# -- the SQL CUSUM is the recursion ----------------------------------------------------------

def python_cusum(rows: list[dict], p: dict) -> dict:
    """txn_id -> (S, run_amount, run_charges, run_since, run_excess) for every judged charge,
    by the plain recursion over each account-payee pair in (day, txn_id) order; the
    baseline (mean and population sd of the pair's charges between baseline_days and
    lag_days before, or the account's when the pair was busy only longer ago) is the one
    the detector's header describes."""
    def window(match, d, lo):
        return [float(r["amount"]) for r in rows if match(r) and lo <= r["day"] <= d - p["lag_days"]]

    judged = {}
    for r in rows:
        d = r["day"]
        pair = window(lambda x: (x["account"], x["payee"]) == (r["account"], r["payee"]),
                      d, d - p["baseline_days"])
        acct = window(lambda x: x["account"] == r["account"], d, d - p["baseline_days"])
        ever = window(lambda x: (x["account"], x["payee"]) == (r["account"], r["payee"]),
                      d, -10 ** 9)
        if len(pair) >= p["min_history"]:
            sample = pair
        elif len(ever) >= p["min_history"] and len(acct) >= p["min_history"]:
            sample = acct
        else:
            continue
        mean, sd = statistics.fmean(sample), statistics.pstdev(sample)
        z = (float(r["amount"]) - mean) / max(sd, p["sd_floor_share"] * mean, 0.000001 * mean)
        judged[r["txn_id"]] = (mean, max(p["step_floor"], min(p["z_cap"], z) - p["k"]))
    out = {}
    for key in sorted({(r["account"], r["payee"]) for r in rows}):
        pair_rows = [r for r in rows if (r["account"], r["payee"]) == key]
        # The detector skips a pair that can never fire: too few charges, or less money
        # in all than the first tier (all charges here are unexplained).
        if (len(pair_rows) <= p["min_history"]
                or sum(float(r["amount"]) for r in pair_rows) < float(p["tier_warning"])):
            continue
        s, run = 0.0, None
        for r in sorted((r for r in rows if (r["account"], r["payee"]) == key),
                        key=lambda r: (r["day"], r["txn_id"])):
            if r["txn_id"] not in judged:
                continue
            mean, step = judged[r["txn_id"]]
            s = max(0.0, s + step)
            if s == 0:
                run = None
                continue
            run = run or {"amount": 0.0, "charges": 0, "since": r["day"], "excess": 0.0}
            run["amount"] += float(r["amount"])
            run["charges"] += 1
            run["excess"] += float(r["amount"]) - mean
            out[r["txn_id"]] = (s, run["amount"], run["charges"], run["since"], run["excess"])
    return out


PROBE = "\nSELECT txn_id, s, run_excess FROM evidence"

def shift_charge(days: tuple[int, int], amounts) -> st.SearchStrategy:
    return st.fixed_dictionaries({
        "day": st.integers(*days),
        "account": st.sampled_from(ACCOUNTS[:1] * 3 + ACCOUNTS[1:]),
        "payee": st.sampled_from(["Office Co", "Office Co", "Cloud Co"]),
        "amount": amounts.map(Decimal),
    })


usual = st.integers(50, 150)
history_charges = st.lists(shift_charge((0, 330), st.one_of(usual, usual, st.integers(1, 400))),
                           min_size=8, max_size=40)
later_charges = st.lists(shift_charge((300, 520), st.one_of(st.integers(400, 3000), usual,
                                                            st.integers(1, 60))),
                         min_size=3, max_size=14)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=history_charges, later=later_charges)
def test_sql_cusum_equals_the_recursion(ledgers, history, later):
    led = ledgers("payee_amount_shift")
    rows = history + later
    for n, r in enumerate(rows):
        r["txn_id"] = led.charge(r["day"], r["payee"], r["amount"], r["account"])
    (detector,) = detect.detectors(led.config)
    p = detector.params
    expected = python_cusum(rows, p)
    # Float sums may differ in the last bits: leave out cases on a knife edge.
    assume(all(abs(s - p["h"]) > 1e-6 and (s > 1e-6)
               and abs(excess - float(p["min_excess"])) > 1e-6
               for s, _, _, _, excess in expected.values()))
    event(f"judged charges with S > 0: {min(len(expected), 3)}+")
    event("a run fires" if any(v[0] > p["h"] and v[4] >= float(p["min_excess"])
                                for v in expected.values()) else "nothing fires")
    last = max(r["day"] for r in rows)
    sql = detector.sql
    probe = body(sql).rsplit("\nSELECT ", 1)
    assert len(probe) == 2 and "FROM evidence" in probe[1], "the detector's last step changed"
    state = {r["txn_id"]: r for r in events(led, "payee_amount_shift", last, sql=probe[0] + PROBE)}
    positive = {t: r for t, r in state.items() if r["s"] > 1e-9}
    assert set(positive) == set(expected)
    for txn, r in positive.items():
        assert r["s"] == pytest.approx(expected[txn][0], abs=1e-6), txn
        assert r["run_excess"] == pytest.approx(expected[txn][4], abs=1e-4), txn
    # and the events built on it: the run's money, charges, start and severity
    got = {r["txn_id"]: r for r in events(led, "payee_amount_shift", last, prepared=True)}
    assert set(got) == set(expected)
    for txn, (s, amount, charges, since, excess) in expected.items():
        row = got[txn]
        assert float(row["exposure"]) == pytest.approx(amount, abs=0.005)
        assert row["charges"] == charges and row["since"] == DAY0 + timedelta(days=since)
        fires = s > p["h"] and excess >= float(p["min_excess"]) and amount >= float(p["tier_warning"])
        assert (row["severity"] is not None) == fires, (txn, s, excess, amount)
        if fires:
            tier = ("critical" if amount >= p["tier_critical"] else
                    "high" if amount >= p["tier_high"] else "warning")
            assert row["severity"] == tier


def test_cusum_steps_are_capped_and_floored(ledgers):
    """A fixed baseline (ten charges of 100: mean 100, spread floored at 50): a charge of
    1,000 adds z_cap - k = 3, never more; one of 1 takes away at most 1."""
    led = ledgers("payee_amount_shift")
    for n in range(10):
        led.charge(n, "Office Co", "100.00")
    ids = [led.charge(100 + n, "Office Co", a) for n, a in
           enumerate(["1000.00", "1.00", "1000.00", "1000.00", "1.00", "1.00", "1.00"])]
    s = {r["txn_id"]: r["s"] for r in events(led, "payee_amount_shift", 200,
                                             sql=body(detect.load_query("detect/payee_amount_shift"))
                                             .rsplit("\nSELECT ", 1)[0] + PROBE)}
    assert [s.get(t, 0.0) for t in ids] == [3.0, 2.0, 5.0, 8.0, 7.0, 6.0, 5.0]
