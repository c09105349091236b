"""Saved audit queries (queries/audit/): each runs on an empty and on a populated ledger
with its header's defaults; `monitor queries` lists them; the planted findings are found;
the monetary-unit sample is reproducible by seed; the Benford tests use Nigrini's MAD
cut-offs and minimum populations and judge as his table says."""
from __future__ import annotations

import json
import math
import random
from collections import Counter
from decimal import Decimal

import pytest

from audit_ledger import DAY0, insert, insert_amounts, run, setup
from monitor.audit import log as audit
from monitor.sql import snapshot, store

NIGRINI = {   # Nigrini (2012), Table 7.1: MAD upper bounds; minimum N from NOTES.md
    "benford_first_digit": {"close": 0.006, "acceptable": 0.012, "marginal": 0.015,
                            "min_n": 1000},
    "benford_first_two_digits": {"close": 0.0012, "acceptable": 0.0018, "marginal": 0.0022,
                                 "min_n": 3000},
}


def reader(folder):
    snap = snapshot.publish_from_file(folder / "ledger.duckdb")
    return snapshot.open_readonly(snap)


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aq")
    config = setup(folder)
    con = reader(folder)
    yield con, str(config)
    con.close()


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aq_empty")
    setup(folder, fill=False)
    con = reader(folder)
    yield con
    con.close()


def saved_run(con, name: str, **given) -> list[dict]:
    spec = audit.saved(name)
    params = audit.bind([f"{k}={v}" for k, v in given.items()], spec["params"])
    columns, rows = audit.execute(con, spec["sql"], params)
    return [dict(zip(columns, r)) for r in rows]


@pytest.mark.parametrize("name", audit.saved_names())
def test_every_saved_query_runs_on_empty_and_populated(name, populated, empty):
    header = store.query_header(f"audit/{name}")
    assert header["finds"] and header["params"], name
    assert set(store.query_params(f"audit/{name}")) <= set(header["params"]), name
    saved_run(empty, name)
    found = saved_run(populated[0], name)
    assert isinstance(found, list)


def test_monitor_queries_lists_descriptions_and_parameters(capsys):
    code, out, _err = run(capsys, "queries", "--format", "json")
    assert code == 0
    listed = {q["name"]: q for q in json.loads(out)}
    assert set(listed) == set(audit.saved_names()) and len(listed) >= 13
    assert "seed BIGINT (default 1)" in listed["mus_sample"]["params"]
    assert "Benford" in listed["benford_first_digit"]["finds"]


def test_saved_query_from_cli_with_typed_parameters(populated, capsys):
    _con, config = populated
    code, out, err = run(capsys, "--config", config, "query", "--saved", "charges",
                         "-p", "payee=devlab*", "-p", "date_from=2024-07-02", "--format", "json")
    assert code == 0, err
    assert [r["txn_id"] for r in json.loads(out)] == ["ev2", "ev3"]
    code, _out, err = run(capsys, "--config", config, "query", "--saved", "charges",
                          "-p", "nope=1")
    assert code == 2 and "unknown parameter" in err
    code, _out, err = run(capsys, "--config", config, "query", "--saved", "mus_sample",
                          "-p", "seed=abc")
    assert code == 2 and "not a BIGINT" in err


def test_planted_findings_are_found(populated):
    con, _ = populated
    dups = saved_run(con, "duplicates")
    assert any(r["counterparty"] == "Acme Hosting" and r["copies"] == 2 for r in dups)
    near = saved_run(con, "near_duplicates")
    assert any(r["counterparties"] == "Northwind Limited; Northwind Ltd" for r in near)
    similar = saved_run(con, "similar_payees")
    assert any({r["payee_a"], r["payee_b"]} == {"Contoso Consulting", "Contoso Consultng"}
               for r in similar)
    gaps = saved_run(con, "statement_gaps")
    problems = " | ".join(r["problem"] for r in gaps)
    assert "1 statement number(s) missing" in problems and "day(s) no statement covers" in problems
    strata = saved_run(con, "stratify")
    (total,), = con.execute("SELECT sum(amount) FROM transactions WHERE amount > 0").fetchall()
    assert sum(r["total"] for r in strata) == total
    drift = saved_run(con, "top_drift_payees", window_days=30, baseline_days=365)
    assert all(r["counterparty"] != "Supplier 000" for r in drift)     # approved: explained
    months = saved_run(con, "new_payees_by_month")
    assert sum(r["new_payees"] for r in months) == con.execute(
        "SELECT count(DISTINCT counterparty) FROM transactions").fetchone()[0]
    evidence = saved_run(con, "alert_evidence", alert_id=1)
    assert [r["txn_id"] for r in evidence] == ["ev1", "ev2", "ev3"]


def test_mus_sample_is_reproducible_by_seed(populated):
    con, _ = populated
    first = saved_run(con, "mus_sample", seed=42, sample_size=50)
    again = saved_run(con, "mus_sample", seed=42, sample_size=50)
    other = saved_run(con, "mus_sample", seed=43, sample_size=50)
    assert first == again
    assert [r["txn_id"] for r in first] != [r["txn_id"] for r in other]
    assert all(r["seed"] == 42 for r in first)
    # the charge larger than the interval is always in, as many times as it spans intervals
    big = [r for r in first if r["txn_id"] == "big1"]
    assert big and big[0]["hits"] >= int(Decimal("150000") / first[0]["interval"])
    assert sum(r["hits"] for r in first) == 50
    # every other pick is a distinct charge
    assert len({r["txn_id"] for r in first}) == len(first)


@pytest.mark.parametrize("name", sorted(NIGRINI))
def test_benford_cut_offs_are_nigrinis(name):
    params = store.query_header(f"audit/{name}")["params"]
    for key, value in NIGRINI[name].items():
        assert params[key]["default"] == value, (name, key)


def _amounts(share_benford: float, n: int, seed: int) -> list[Decimal]:
    """n amounts: a share drawn from Benford's law, the rest with uniform first digits."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < share_benford:
            value = 10 ** rng.uniform(1, 4)
        else:
            value = rng.randint(1, 9) * 10 ** rng.randint(1, 3) * rng.uniform(1, 1.11)
        out.append(Decimal(str(round(value, 2))))
    return out


def _judge(mad: float, n: int, cut: dict) -> str:
    if n < cut["min_n"]:
        return "too few charges"
    if mad <= cut["close"]:
        return "close conformity"
    if mad <= cut["acceptable"]:
        return "acceptable conformity"
    if mad <= cut["marginal"]:
        return "marginal conformity"
    return "nonconformity"


@pytest.mark.parametrize("share", [1.0, 0.85, 0.7, 0.55, 0.0])
def test_benford_judgement_matches_nigrinis_table(tmp_path, share):
    """The MAD is recomputed in Python from the amounts, judged by the table above, and
    the query must agree, for populations from conforming to far off."""
    setup(tmp_path, fill=False)
    con = store.connect(tmp_path / "ledger.duckdb")
    amounts = _amounts(share, 4000, seed=int(share * 100))
    insert_amounts(con, amounts)
    con.close()
    ro = reader(tmp_path)
    seen = set()
    for name, width in (("benford_first_digit", 1), ("benford_first_two_digits", 2)):
        digits = Counter(int(str(int(a * 100))[:width]) for a in amounts if a >= 10)
        n = sum(digits.values())
        span = range(1, 10) if width == 1 else range(10, 100)
        mad = sum(abs(digits[d] / n - math.log10(1 + 1 / d)) for d in span) / len(span)
        found = saved_run(ro, name)
        assert found[0]["n"] == n
        assert found[0]["mad"] == pytest.approx(mad, abs=1e-6)
        assert {r["conformity"] for r in found} == {_judge(mad, n, NIGRINI[name])}
        seen.add(found[0]["conformity"])
    ro.close()
    if share == 1.0:
        assert "close conformity" in seen
    if share == 0.0:
        assert seen == {"nonconformity"}


def test_benford_below_the_minimum_population_warns(tmp_path, capsys):
    config = setup(tmp_path, fill=False)
    con = store.connect(tmp_path / "ledger.duckdb")
    insert_amounts(con, _amounts(1.0, 1500, 1))
    con.close()
    code, out, err = run(capsys, "--config", str(config), "query", "--saved",
                         "benford_first_two_digits", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {r["conformity"] for r in rows} == {"too few charges"}
    assert "warning: only 1500 charges; the first-two-digits test needs at least 3000" in err
    code, out, err = run(capsys, "--config", str(config), "query", "--saved",
                         "benford_first_digit", "--format", "json")
    assert "too few" not in out and "warning" not in err


def test_last_two_digits_and_round_amounts(tmp_path):
    setup(tmp_path, fill=False)
    con = store.connect(tmp_path / "ledger.duckdb")
    rows = [(f"r{i}", "Round Co", "a", DAY0, Decimal(500 + 100 * (i % 30)))
            for i in range(1200)]                                            # all end in 00
    rows += [(f"s{i}", "Round Co", "a", DAY0, Decimal("123.45") + i) for i in range(300)]
    insert(con, rows)
    con.close()
    ro = reader(tmp_path)
    endings = saved_run(ro, "last_two_digits")
    assert len(endings) == 100
    assert endings[0]["ending"] == "00" and endings[0]["count"] == 1203    # 200, 300, 400 too
    assert endings[0]["judgement"].startswith("endings not uniform")
    rounds = {r["multiple"]: r for r in saved_run(ro, "round_amounts")}
    assert rounds[100]["round_charges"] == 1200 and rounds[100]["ratio"] > 50
    assert rounds[100]["top_payees"] == "Round Co (1200)"
    ro.close()
