"""The detection benchmark's theft generator (benchmarks/thefts.py) and ledger writers.

The benchmark's figures are only as good as its thefts: the same seed must give the same
thefts, every kind must produce charges, money must stay Decimal to the cent, and the
stolen rows, written in each real ledger's own export format, must ingest without a
single reject (a rejected stolen row would silently shrink the theft).
"""
from __future__ import annotations

import datetime as dt
import random
import sys
from decimal import Decimal

import duckdb
import pytest

from helpers import ROOT, ingest, query

sys.path.insert(0, str(ROOT / "benchmarks"))
import detection as bench  # noqa: E402
import ledgers as ledger_specs  # noqa: E402
import recalibrated  # noqa: E402
import thefts as gen  # noqa: E402


def synthetic_profile(accounts: int = 40) -> gen.Profile:
    """A ledger's shape without a ledger: accounts, pairs with a history, names in use."""
    rnd = random.Random(7)
    start, end = dt.date(2020, 1, 1), dt.date(2022, 12, 31)
    names = [f"SHOP {i}" for i in range(30)]
    pairs = []
    for a in range(accounts):
        for payee in rnd.sample(names, 3):
            first = start - dt.timedelta(days=rnd.randrange(200, 400))
            pairs.append(gen.Pair(f"ACC{a:03d}", payee, rnd.randrange(6, 60),
                                  Decimal(rnd.randrange(500, 90000)) / 100, first,
                                  first + dt.timedelta(days=rnd.randrange(100, 900))))
    return gen.Profile(tuple(f"ACC{a:03d}" for a in range(accounts)), tuple(sorted(
        pairs, key=lambda p: (p.account, p.payee))), frozenset(n.lower() for n in names),
        start, end)


def flat(thefts) -> list[tuple]:
    return [(t.id, t.kind, c.day, c.account, c.payee, c.amount, c.tag)
            for t in thefts for c in t.charges]


def test_same_seed_same_thefts_other_seed_other_thefts():
    profile = synthetic_profile()
    first = gen.generate(profile, 1001, instances=2)
    assert flat(first) == flat(gen.generate(profile, 1001, instances=2))
    assert flat(first) != flat(gen.generate(profile, 1002, instances=2))


def test_every_kind_has_charges_with_money_to_the_cent():
    profile = synthetic_profile()
    thefts = gen.generate(profile, 1001, instances=3)
    assert {t.kind for t in thefts} == set(gen.ALL_KINDS)
    assert len(gen.KINDS) >= 18 and len(gen.V1) == 8
    for theft in thefts:
        charges = [c for c in theft.charges if c.amount > 0]
        assert 1 <= len(charges) <= 306, theft.id
        for c in theft.charges:
            assert isinstance(c.amount, Decimal) and c.amount.as_tuple().exponent == -2
            assert c.amount != 0 and abs(c.amount) <= Decimal(2500), (theft.id, c.amount)
            assert profile.start <= c.day <= profile.end
        if theft.kind not in ("known_payee_above", "known_payee_often", "v1_existing_merchant"):
            assert not {p.lower() for p in theft.payees} & profile.payees   # new payees
    # Parameters are drawn, not fixed: instances of one kind differ.
    advisory = [t for t in thefts if t.kind == "advisory"]
    assert len({(len(t.charges), t.charges[0].amount) for t in advisory}) == len(advisory)
    # Refunds are negative; name variants really vary; a prelude is tiny.
    assert any(c.amount < 0 for t in thefts if t.kind == "refunds" for c in t.charges)
    assert all(len(t.payees) > 1 for t in thefts if t.kind == "name_variants")
    prelude = [t for t in thefts if t.kind == "test_prelude"]
    assert all(t.charges[0].amount <= 2 for t in prelude)


@pytest.mark.parametrize("name", sorted(ledger_specs.ledgers()))
def test_stolen_rows_ingest_without_rejects_in_each_ledgers_format(tmp_path, name):
    ledger = ledger_specs.ledgers()[name]
    if not ledger.header:
        pytest.skip(f"{ledger.files[0]} is absent (its header gives the export's columns)")
    profile = synthetic_profile(accounts=12)
    if name == "oxford":       # one account, as in the real ledger
        profile = gen.Profile(("oxford-gpc",), (), profile.payees, profile.start, profile.end)
    thefts = gen.generate(profile, 1001, kinds=("advisory", "refunds", "name_variants",
                                                "round_amounts", "known_payee_often", "tiny"))
    charges = [c for t in thefts for c in t.charges]
    path = tmp_path / "thefts.csv"
    ledger.write(path, charges)
    (tmp_path / "config.toml").write_text(
        bench.config_text(ledger, tmp_path / "ledger.duckdb"), encoding="utf-8")
    (result,) = ingest(tmp_path / "config.toml", [path], ledger.sources[0]["name"])
    assert (result.rejected, result.duplicates, result.loaded) == (0, 0, len(charges))
    rows = query(tmp_path / "config.toml", "SELECT posted_at, account, counterparty, amount "
                 "FROM transactions ORDER BY source_row")
    assert rows == [(c.day, c.account, c.payee, c.amount) for c in charges]


def test_money_text_in_each_format():
    specs = ledger_specs.ledgers()
    assert specs["us2010"].amount_text(Decimal("1083.65")) == "$1.083,65"
    assert specs["us2010"].amount_text(Decimal("-12.30")) == "-$12,30"
    assert specs["brazil"].amount_text(Decimal("1050.00")) == "1050,00"
    assert specs["birmingham"].amount_text(Decimal("-594.00")) == "-594.00"


def test_evaluation_counts_loss_up_to_the_first_alert():
    theft = gen.Theft("t", "advisory", {}, [
        gen.Charge("t", "advisory", dt.date(2021, 1, d), "A", "P", Decimal("100.00"))
        for d in (1, 5, 9)])
    txn_of = {f"x{i}": c for i, c in enumerate(theft.charges)}
    alert = {"detector": "d", "account": "A", "counterparty": "P",
             "first_alert_at": dt.date(2021, 1, 5), "evidence_txn_ids": ["x0"]}
    [caught] = bench.evaluate([alert], [theft], txn_of)
    assert (caught["caught"], caught["loss"], caught["charges"]) == (True, Decimal("200.00"), 2)
    # An alert before the theft on its pair, with none of its charges, is not a catch.
    early = dict(alert, first_alert_at=dt.date(2020, 12, 1), evidence_txn_ids=[])
    [missed] = bench.evaluate([early], [theft], txn_of)
    assert (missed["caught"], missed["loss"], missed["charges"]) == (False, Decimal("300.00"), 3)


def test_a_recalibration_catches_up_only_on_episodes_begun_before_it():
    """At a recalibration on `start` the benchmark raises the new settings' episodes then in
    force, as the product's scan reports open findings. A group whose older episode had
    ended and whose next began within the run was taken as in force too, and raised twice
    (Brazil's stale_feed, until 2026-12-08): only an episode begun before `start` counts."""
    start = dt.date(2024, 3, 1)
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE episodes (detector VARCHAR, account VARCHAR, "
                "counterparty VARCHAR, initiator VARCHAR, first_alert_at DATE, "
                "active_until DATE)")
    con.executemany("INSERT INTO episodes VALUES ('d', ?, 'P', NULL, ?, ?)", [
        ("running", dt.date(2024, 2, 1), dt.date(2024, 4, 1)),     # begun before, in force
        ("again", dt.date(2024, 1, 1), dt.date(2024, 1, 31)),      # over before `start` ...
        ("again", dt.date(2024, 3, 10), dt.date(2024, 4, 10)),     # ... and begun after it
        ("later", dt.date(2024, 3, 5), dt.date(2024, 4, 5))])      # only begun after it
    day_before = start - dt.timedelta(days=1)
    assert recalibrated._groups_in_force(con, start, day_before) == {("d", "running", "P", None)}
    # At the end of a run, every episode of it still in force counts.
    assert {g[1] for g in recalibrated._groups_in_force(con, dt.date(2024, 4, 1),
                                                        dt.date(2024, 4, 1))} == \
        {"running", "again", "later"}
