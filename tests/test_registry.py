"""The expected-charges registry: an approval explains the charges it matches (they stop
counting); a cadence explains at most one charge per period; wildcard payees; approvals
for one account; validity dates; tolerance; an empty registry. And the `monitor authorize
add/list/remove/load` verbs, run as the real command line."""
from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal

import pytest

from helpers import assert_one_line_error, monitor, run
from ledger_factory import Ledger, brief, day
from monitor.ledger import registry
from monitor.sql import store
from monitor.errors import InputError


def explained(led: Ledger, as_of=date(2030, 1, 1)) -> dict[str, str]:
    """txn_id -> the approval's reference, for every charge the registry explains."""
    led.flush()
    led.con.execute(store.load_query("scan/explain"), {"as_of": as_of})
    return dict(led.con.execute("SELECT txn_id, reference FROM explained").fetchall())


# -- matching --------------------------------------------------------------------------------

def test_an_approval_explains_charges_and_they_stop_counting(led):
    ids = led.series("Devlab Consult", "1667.00", start=0, every=4, count=4)
    assert brief(led.scan(12)) == [("new_payee_repeat", "card-1", "Devlab Consult", None)]
    led.approve("  devlab CONSULT ", reference="CONTRACT-9")     # case and spaces do not matter
    assert explained(led) == {i: "CONTRACT-9" for i in ids}
    assert led.scan(12) == []


def test_empty_registry_explains_nothing_and_everything_still_runs(led):
    led.series("Devlab Consult", "1667.00", start=0, every=4, count=2)
    led.charge(1, "Cafe", "3.50")
    assert registry.entries(led.con) == [] and explained(led) == {}
    assert registry.replace_all(led.con, []) == 0
    assert brief(led.scan(4)) == [("new_payee_repeat", "card-1", "Devlab Consult", None)]


def test_refunds_are_never_explained(led):
    charge = led.charge(0, "Acme Hosting", "49.00")
    led.refund(1, "Acme Hosting", "49.00")
    led.approve("Acme Hosting")
    assert set(explained(led)) == {charge}


def test_charges_after_the_scan_date_are_not_looked_at(led):
    early = led.charge(0, "Acme Hosting", "49.00")
    led.charge(40, "Acme Hosting", "49.00")
    led.approve("Acme Hosting", cadence="once")
    assert set(explained(led, day(10))) == {early}


# -- cadence ---------------------------------------------------------------------------------

def period(cadence: str, d: date):
    return {"weekly": lambda: d.isocalendar()[:2], "monthly": lambda: (d.year, d.month),
            "quarterly": lambda: (d.year, (d.month - 1) // 3), "yearly": lambda: d.year,
            "once": lambda: 0}[cadence]()


@pytest.mark.parametrize("cadence", registry.CADENCES)
def test_a_cadence_explains_the_first_charge_of_each_period(led, cadence):
    ids = led.series("Acme Hosting", "49.00", start=-3, every=3, count=140)   # Dec 2023..Feb 2025
    led.approve("Acme Hosting", expected_amount="49.00", cadence=cadence)
    firsts, seen = set(), set()
    for n, txn in enumerate(ids):
        key = period(cadence, day(-3 + 3 * n))
        if key not in seen:
            seen.add(key)
            firsts.add(txn)
    assert set(explained(led)) == firsts
    assert len(firsts) > 1 or cadence == "once"


def test_a_second_charge_in_the_month_of_a_monthly_contract_still_counts(led):
    ids = led.series("Devlab Consult", "1667.00", start=0, every=10, count=7)   # Jan 1 .. Mar 1
    led.approve("Devlab Consult", expected_amount="1667.00", cadence="monthly")
    assert set(explained(led)) == {ids[0], ids[4], ids[6]}          # Jan 1, Feb 10, Mar 1
    f = led.scan(60, "new_payee_repeat")[0]
    assert ids[0] not in f["evidence_txn_ids"] and ids[1] in f["evidence_txn_ids"]


def test_a_charge_that_does_not_fit_does_not_use_up_the_period(led):
    led.charge(1, "Acme Hosting", "120.00")              # not the expected amount
    fits = led.charge(4, "Acme Hosting", "49.00")
    led.approve("Acme Hosting", expected_amount="49.00", cadence="monthly")
    assert set(explained(led)) == {fits}


# -- wildcards, accounts, validity, tolerance ------------------------------------------------

@pytest.mark.parametrize("pattern, payee, matches", [
    ("zoom.us*", "ZOOM.US 888-799-9666", True),
    ("zoom.us*", "zoom.us", True),
    ("zoom.us*", "my zoom.us", False),
    ("*hosting*", "Acme Hosting Ltd", True),
    ("*hosting", "Acme Hosting Ltd", True),          # its key "acme hosting" ends so
    ("*hosting", "Acme Hosting Services", False),
    ("a*c", "abbbc", True),
    ("100%_pure", "100%_Pure", True),
    ("100%_pure", "100xypure", False),                  # % and _ are plain text, not wildcards
    ("acme", "acme hosting", False),                     # no * : the whole key must match
    ("acme", "ACME LTD", True),                          # by payee key: legal form, case
    ("Acme Hosting", "PAYPAL *ACME HOSTING", True),      # and a processor's prefix
    ("acme*", "PAYPAL *ACME HOSTING", True),             # a pattern matches the key too
    ("Acme Hosting", "Acme Hosting Services", False),
])
def test_wildcard_payees(led, pattern, payee, matches):
    txn = led.charge(0, payee, "10.00")
    led.approve(pattern)
    assert (txn in explained(led)) is matches


def test_an_approval_for_one_account_leaves_the_others_unexplained(led):
    mine = led.charge(0, "Acme Hosting", "49.00", account="card-1")
    led.charge(0, "Acme Hosting", "49.00", account="card-2")
    led.approve("Acme Hosting", account="card-1")
    assert set(explained(led)) == {mine}


def test_validity_dates_are_inclusive(led):
    ids = {d: led.charge(d, "Acme Hosting", "49.00") for d in (8, 9, 19, 20)}
    led.approve("Acme Hosting", valid_from=day(9).isoformat(), valid_to=day(19).isoformat())
    assert set(explained(led)) == {ids[9], ids[19]}


def test_open_ended_validity(led):
    ids = {d: led.charge(d, "Acme Hosting", "49.00") for d in (0, 100)}
    led.approve("Acme Hosting", valid_from=day(50).isoformat())
    assert set(explained(led)) == {ids[100]}


@pytest.mark.parametrize("tolerance, inside, outside", [
    ("5.00", ["44.00", "49.00", "54.00"], ["43.99", "54.01", "98.00"]),
    ("", ["49.00"], ["48.99", "49.01"]),                  # no tolerance: the exact amount
])
def test_tolerance(led, tolerance, inside, outside):
    ids = {a: led.charge(n, "Acme Hosting", a) for n, a in enumerate(inside + outside)}
    led.approve("Acme Hosting", expected_amount="49.00", tolerance=tolerance)
    assert set(explained(led)) == {ids[a] for a in inside}


def test_several_approvals_each_explain_their_own(led):
    a = led.charge(0, "Acme Hosting", "49.00")
    b = led.charge(0, "Zoom.us", "14.39")
    led.approve("Acme Hosting", reference="PO-1")
    led.approve("zoom*", reference="SUB-7")
    assert explained(led) == {a: "PO-1", b: "SUB-7"}


# -- validation (the module) -----------------------------------------------------------------

@pytest.mark.parametrize("entry, words", [
    ({"payee": "Acme", "approver": "", "reference": "PO-1"}, "approver is empty"),
    ({"payee": "Acme", "approver": "me", "reference": "PO-1", "expected_amount": "4x"},
     "expected_amount '4x' is not an amount"),
    ({"payee": "Acme", "approver": "me", "reference": "PO-1", "cadence": "fortnightly"},
     "cadence 'fortnightly' is not known"),
    ({"payee": "Acme", "approver": "me", "reference": "PO-1", "valid_to": "31/12/2024"},
     "valid_to '31/12/2024' is not a date"),
])
def test_validate_names_the_problem_and_the_fix(entry, words):
    with pytest.raises(InputError, match="where: " + words):
        registry.validate(entry, "where")


def test_validate_types_the_values():
    clean = registry.validate({"payee": " Acme ", "approver": "me", "reference": "PO-1",
                               "expected_amount": "1,667.00", "cadence": "Monthly",
                               "valid_from": "2024-01-01"}, "x")
    assert clean["payee"] == "Acme" and clean["expected_amount"] == Decimal("1667.00")
    assert clean["tolerance"] == Decimal(0) and clean["cadence"] == "monthly"
    assert clean["valid_from"] == date(2024, 1, 1) and clean["valid_to"] is None


# -- the command line ------------------------------------------------------------------------

APPROVALS = [
    {"payee": "Acme Hosting", "account": "", "expected_amount": "49.00", "tolerance": "5",
     "cadence": "monthly", "valid_from": "2024-01-01", "valid_to": "", "approver": "J. Smith",
     "reference": "PO-1042"},
    {"payee": "zoom.us*", "account": "card-1", "expected_amount": "14.39", "tolerance": "",
     "cadence": "", "valid_from": "", "valid_to": "2025-12-31", "approver": "Finance lead",
     "reference": "SUB-7"},
]


def write_approvals(path, rows, columns=registry.COLUMNS):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path



@pytest.fixture
def cfg(cfg):
    return str(cfg)


def listed(capsys, cfg) -> list[dict]:
    code, out, err = run(capsys, "--config", cfg, "authorize", "list", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_authorize_add_list_remove(cfg, capsys):
    code, _, err = run(capsys, "--config", cfg, "authorize", "add", "--payee", "Acme Hosting",
                       "--amount", "49.00", "--tolerance", "5", "--cadence", "monthly",
                       "--from", "2024-01-01", "--approver", "J. Smith", "--reference", "PO-1042")
    assert code == 0 and err.strip() == "added authorization 1"
    code, _, err = run(capsys, "--config", cfg, "authorize", "add", "--payee", "zoom.us*",
                       "--account", "card-1", "--approver", "Finance lead", "--reference", "SUB-7")
    assert code == 0 and err.strip() == "added authorization 2"
    rows = listed(capsys, cfg)
    assert rows[0] == {"auth_id": 1, "payee": "Acme Hosting", "account": None,
                       "expected_amount": "49.00", "tolerance": "5.00", "cadence": "monthly",
                       "valid_from": "2024-01-01", "valid_to": None, "approver": "J. Smith",
                       "reference": "PO-1042"}
    assert rows[1]["payee"] == "zoom.us*" and rows[1]["account"] == "card-1"
    code, _, err = run(capsys, "--config", cfg, "authorize", "remove", "1")
    assert code == 0 and err.strip() == "removed authorization 1"
    assert [r["auth_id"] for r in listed(capsys, cfg)] == [2]


def test_authorize_list_as_csv_loads_back(cfg, capsys, tmp_path):
    path = write_approvals(tmp_path / "approvals.csv", APPROVALS)
    assert run(capsys, "--config", cfg, "authorize", "load", str(path))[0] == 0
    code, out, _ = run(capsys, "--config", cfg, "authorize", "list", "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "auth_id," + ",".join(registry.COLUMNS)
    (tmp_path / "again.csv").write_text(out, encoding="utf-8")
    before = [{k: v for k, v in r.items() if k != "auth_id"} for r in listed(capsys, cfg)]
    assert run(capsys, "--config", cfg, "authorize", "load", str(tmp_path / "again.csv"))[0] == 0
    after = [{k: v for k, v in r.items() if k != "auth_id"} for r in listed(capsys, cfg)]
    assert after == before


def test_authorize_load_replaces_the_registry(cfg, capsys, tmp_path):
    run(capsys, "--config", cfg, "authorize", "add", "--payee", "Old Payee", "--approver", "me",
        "--reference", "OLD-1")
    path = write_approvals(tmp_path / "approvals.csv", APPROVALS)
    code, _, err = run(capsys, "--config", cfg, "authorize", "load", str(path))
    assert code == 0 and err.strip() == f"loaded 2 authorizations from {path}"
    rows = listed(capsys, cfg)
    assert [r["payee"] for r in rows] == ["Acme Hosting", "zoom.us*"]
    assert rows[1]["tolerance"] == "0.00" and rows[1]["valid_to"] == "2025-12-31"


def test_authorize_load_with_a_header_only_empties_it(cfg, capsys, tmp_path):
    run(capsys, "--config", cfg, "authorize", "add", "--payee", "Old Payee", "--approver", "me",
        "--reference", "OLD-1")
    path = write_approvals(tmp_path / "empty.csv", [])
    assert run(capsys, "--config", cfg, "authorize", "load", str(path))[0] == 0
    assert listed(capsys, cfg) == []


def test_bad_csv_row_is_one_line_with_the_row_number_and_exit_2(cfg, tmp_path):
    """The real executable: a bad row names its row (the header is row 1), and nothing of
    the file is loaded: the registry keeps what it had."""
    assert monitor("--config", cfg, "authorize", "add", "--payee", "Old Payee", "--approver",
                   "me", "--reference", "OLD-1").returncode == 0
    rows = APPROVALS + [dict(APPROVALS[0], payee="Third", expected_amount="about 50")]
    path = write_approvals(tmp_path / "approvals.csv", rows)
    line = assert_one_line_error(monitor("--config", cfg, "authorize", "load", str(path)))
    assert line == (f"error: {path}: row 4: expected_amount 'about 50' is not an amount; "
                    "write it like 1667.00")
    proc = monitor("--config", cfg, "authorize", "list", "--format", "json")
    assert [r["payee"] for r in json.loads(proc.stdout)] == ["Old Payee"]


@pytest.mark.parametrize("row, words", [
    ({"approver": ""}, "row 2: approver is empty"),
    ({"cadence": "fortnightly"}, "row 2: cadence 'fortnightly' is not known"),
    ({"valid_from": "01/02/2024"}, "row 2: valid_from '01/02/2024' is not a date"),
])
def test_other_bad_rows(cfg, capsys, tmp_path, row, words):
    path = write_approvals(tmp_path / "approvals.csv", [dict(APPROVALS[0], **row)])
    code, out, err = run(capsys, "--config", cfg, "authorize", "load", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: {words}")


def test_a_csv_without_the_required_columns(cfg, capsys, tmp_path):
    path = write_approvals(tmp_path / "approvals.csv", APPROVALS, columns=("payee", "amount"))
    code, _, err = run(capsys, "--config", cfg, "authorize", "load", str(path))
    assert code == 2 and "missing column(s) approver, reference" in err


def test_authorize_add_and_remove_errors_exit_2(cfg):
    line = assert_one_line_error(monitor("--config", cfg, "authorize", "add", "--payee", "Acme",
                                         "--amount", "12,5x", "--approver", "me",
                                         "--reference", "PO-1"))
    assert "authorize add: expected_amount '12,5x' is not an amount" in line
    line = assert_one_line_error(monitor("--config", cfg, "authorize", "remove", "7"))
    assert "authorization 7: no such entry" in line
