"""Every detector on small hand-built ledgers: it fires where it should, with a complete
finding (detector, severity, account, payee, initiator, exposure, evidence and a plain
sentence naming the payee, the account and the money), and stays silent on the honest
look-alike: a subscription, a daily parking app, a refund, a duplicate export, ...

Ledgers are real DuckDB files; rows go straight into `transactions` (ledger_factory)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from helpers import write_config, write_csv
from ledger_factory import Ledger, assert_complete, brief, day
from monitor.settings import config as config_mod
from monitor.detection import scan as detect
from monitor.sql import store
from monitor.output import money
from monitor.ledger import ingest as ingest_mod


def only(findings: list[dict], detector: str) -> dict:
    """The single finding of a detector (and fail with the full list otherwise)."""
    mine = [f for f in findings if f["detector"] == detector]
    assert len(mine) == 1, brief(findings)
    assert_complete(mine[0])
    return mine[0]


# -- new_payee_repeat -----------------------------------------------------------------------

def test_new_payee_repeat_fires_on_the_advisory_pattern(led):
    ids = led.series("Devlab Consult", "1667.00", start=0, every=4, count=4)
    found = led.scan(12)
    assert brief(found) == [("new_payee_repeat", "card-1", "Devlab Consult", None)]
    f = only(found, "new_payee_repeat")
    assert f["severity"] == "high"                      # 6,668 passed the 5,000 tier
    assert f["exposure"] == Decimal("6668.00") and f["charges"] == 4
    assert f["evidence_txn_ids"] == ids
    assert f["first_alert_at"] == day(4) and f["since"] == day(0)
    assert [(s["severity"], s["at"]) for s in f["escalations"]] == [
        ("warning", day(4)), ("high", day(8))]
    assert f["sentence"] == ("4 charges of similar size to 'Devlab Consult' from account card-1 "
                             "since 01 Jan 2024, 6,668.00 GBP; the payee is new to this account "
                             "and none of the charges is approved")


def test_new_payee_repeat_needs_a_second_day(led):
    led.charge(0, "Devlab Consult", "1667.00")
    assert led.scan(0) == []
    led.charge(0, "Devlab Consult", "1667.00")          # one order split in two, same day
    assert led.scan(0) == []
    led.charge(1, "Devlab Consult", "1650.00")
    assert brief(led.scan(1)) == [("new_payee_repeat", "card-1", "Devlab Consult", None)]



def test_new_payee_repeat_counts_one_charge_a_day(tmp_path):
    """Several alike charges on one day are one purchase (a course booked for five people):
    on the US cards they were most of the honest repeats of four or more. Four charges on
    two days are two, not four; the fourth day with a charge fires."""
    led = Ledger(tmp_path, detectors={"new_payee_repeat": {"min_charges": 4}})
    for when in (0, 0, 0, 3):
        led.charge(when, "Training Institute", "1450.00")
    assert led.scan(3, "new_payee_repeat") == []      # (duplicate_charges sees day 0)
    led.charge(6, "Training Institute", "1450.00")
    assert led.scan(6, "new_payee_repeat") == []
    led.charge(9, "Training Institute", "1450.00")
    f = only(led.scan(9, "new_payee_repeat"), "new_payee_repeat")
    assert f["charges"] == 6 and f["exposure"] == Decimal("8700.00")
    assert f["first_alert_at"] == day(9)
    led.close()

def test_new_payee_repeat_ignores_dissimilar_amounts_and_small_charges(led):
    led.charge(0, "Builders Merchant", "900.00")
    led.charge(5, "Builders Merchant", "2400.00")       # spread far over 15% of the largest
    # ten coffees (twenty days of them at a cafe no other card uses is frequency_burst's)
    led.series("Cafe Nero", "12.50", start=0, every=1, count=10)
    assert led.scan(20) == []


def test_long_used_subscription_is_silent(led):
    """A monthly same-amount charge to a payee the account has used for two years."""
    led.monthly("Acme Hosting", "900.00", start="2022-01-01", count=27)
    assert led.scan("2024-03-05") == []


def test_new_subscription_fires_until_the_registry_explains_it(led):
    led.monthly("Acme Hosting", "899.00", start="2024-01-01", count=3)
    assert brief(led.scan("2024-03-05")) == [("new_payee_repeat", "card-1", "Acme Hosting", None)]
    led.approve("Acme Hosting", expected_amount="899.00", cadence="monthly")
    assert led.scan("2024-03-05") == []


def test_refund_and_recharge_is_not_a_repeat(led):
    """A charge refunded and taken again: net one charge, nothing to report."""
    led.charge(0, "Devlab Consult", "1200.00")
    led.refund(2, "Devlab Consult", "1200.00")
    led.charge(3, "Devlab Consult", "1200.00")
    assert led.scan(3) == []


def test_without_the_refund_the_same_two_charges_fire(led):
    led.charge(0, "Devlab Consult", "1200.00")
    led.charge(3, "Devlab Consult", "1200.00")
    f = only(led.scan(3), "new_payee_repeat")
    assert f["exposure"] == Decimal("2400.00") and f["severity"] == "warning"


# -- new_payee_rotation ----------------------------------------------------------------------

def test_rotation_across_new_payees_fires_per_initiator(led):
    ids = [led.charge(0, "Alpha Consult", "700.00", initiator="user:mallory"),
           led.charge(5, "Beta Design", "720.00", initiator="user:mallory"),
           led.charge(10, "Gamma IT", "690.00", initiator="user:mallory")]
    found = led.scan(10)
    assert brief(found) == [("new_payee_rotation", None, None, "user:mallory")]
    f = only(found, "new_payee_rotation")
    assert f["exposure"] == Decimal("2110.00") and f["charges"] == 3
    assert f["evidence_txn_ids"] == ids and f["severity"] == "warning"
    assert f["sentence"] == ("3 charges of similar size by initiator user:mallory to several "
                             "payees new to it since 01 Jan 2024, 2,110.00 GBP, none of them approved")


def test_rotation_counts_one_charge_a_day(led):
    """Three new shops on one trip's day are one errand: with a fourth shop a week later
    that is two days, not four charges; a third day fires."""
    for shop in ("Alpha Hotel", "Beta Taxis", "Gamma Dining"):
        led.charge(0, shop, "700.00", initiator="user:alice")
    led.charge(7, "Delta Rail", "710.00", initiator="user:alice")
    assert led.scan(7, "new_payee_rotation") == []
    led.charge(14, "Epsilon Air", "690.00", initiator="user:alice")
    f = only(led.scan(14, "new_payee_rotation"), "new_payee_rotation")
    assert f["charges"] == 5 and f["exposure"] == Decimal("3500.00")


def test_rotation_is_silent_on_payees_the_organisation_already_uses(led):
    """A traveller booking three hotels colleagues have used before."""
    for n, hotel in enumerate(["Alpha Hotel", "Beta Hotel", "Gamma Hotel"]):
        led.charge("2023-06-01", hotel, "650.00", account=f"card-{n + 5}")
    led.charge(0, "Alpha Hotel", "700.00", initiator="user:alice")
    led.charge(5, "Beta Hotel", "720.00", initiator="user:alice")
    led.charge(10, "Gamma Hotel", "690.00", initiator="user:alice")
    assert led.scan(10) == []


# -- payee_many_accounts ---------------------------------------------------------------------

def test_new_payee_charged_from_several_accounts_fires(led):
    a = led.charge(0, "Quickdev LLC", "800.00", account="card-1")
    b = led.charge(5, "Quickdev LLC", "820.00", account="card-2")
    found = led.scan(5)
    assert brief(found) == [("payee_many_accounts", None, "Quickdev LLC", None)]
    f = only(found, "payee_many_accounts")
    assert f["evidence_txn_ids"] == [a, b] and f["exposure"] == Decimal("1620.00")
    assert f["sentence"] == ("2 charges to 'Quickdev LLC' from several accounts since 01 Jan 2024, "
                             "1,620.00 GBP; the payee is new to the organisation and none of the "
                             "charges is approved")


def test_colleagues_booking_one_event_on_one_day_is_silent(led):
    for card in ("card-1", "card-2", "card-3"):
        led.charge(0, "Big Conference 2024", "600.00", account=card)
    assert led.scan(0) == []


def test_colleagues_booking_one_event_count_once_toward_a_run(tmp_path):
    """Four colleagues booking an event on one day and a fifth a week later are two days
    of charges, not five (on the US cards such bookings were most honest runs of four
    or more); a third and fourth day with a charge fire at four."""
    led = Ledger(tmp_path, detectors={"payee_many_accounts": {"min_charges": 4}})
    for card in ("card-1", "card-2", "card-3", "card-4"):
        led.charge(0, "Big Conference 2024", "600.00", account=card)
    led.charge(7, "Big Conference 2024", "600.00", account="card-5")
    led.charge(14, "Big Conference 2024", "600.00", account="card-6")
    assert led.scan(14, "payee_many_accounts") == []
    led.charge(21, "Big Conference 2024", "620.00", account="card-7")
    f = only(led.scan(21, "payee_many_accounts"), "payee_many_accounts")
    assert f["charges"] == 7 and f["exposure"] == Decimal("4220.00")
    led.close()


def test_a_payee_the_organisation_has_long_used_is_not_new(led):
    led.monthly("Quickdev LLC", "810.00", start="2023-01-01", count=3, account="card-9")
    led.charge(0, "Quickdev LLC", "800.00", account="card-1")
    led.charge(5, "Quickdev LLC", "820.00", account="card-2")
    assert led.scan(5) == []


# -- payee_amount_shift (CUSUM) --------------------------------------------------------------

def office_history(led) -> None:
    """A year of weekly 80..120 charges to a payee the account knows well."""
    led.series("Office Supplies Co", lambda i: f"{100 + (i % 5 - 2) * 10}.00",
               start=0, every=7, count=52)


def test_amount_shift_fires_on_a_run_of_large_charges_to_a_known_payee(led):
    office_history(led)
    a = led.charge(360, "Office Supplies Co", "1500.00")
    b = led.charge(363, "Office Supplies Co", "1500.00")
    found = led.scan(363)
    assert brief(found) == [("payee_amount_shift", "card-1", "Office Supplies Co", None)]
    f = only(found, "payee_amount_shift")
    assert f["evidence_txn_ids"] == [a, b] and f["charges"] == 2
    assert f["exposure"] == Decimal("3000.00") and f["since"] == day(360)
    assert f["sentence"] == ("2 charges to 'Office Supplies Co' from account card-1 since "
                             "26 Dec 2024, 3,000.00 GBP, far above what this account usually pays "
                             "this payee, none of them approved")


def test_one_large_charge_alone_does_not_fire(led):
    office_history(led)
    led.charge(360, "Office Supplies Co", "1500.00")    # an annual order: one step of z_cap - k
    led.series("Office Supplies Co", "100.00", start=364, every=7, count=3)
    assert led.scan(380) == []


def test_usual_charges_in_between_do_not_hide_a_run(led):
    office_history(led)
    ids = []
    for n in range(3):                                  # big, usual, big, usual, big
        ids.append(led.charge(360 + 4 * n, "Office Supplies Co", "1500.00"))
        if n < 2:
            ids.append(led.charge(362 + 4 * n, "Office Supplies Co", "100.00"))
    f = only(led.scan(368), "payee_amount_shift")   # S: 3, 2, 5 (not above h = 5), 4, 7
    assert f["first_alert_at"] == day(368)
    assert f["evidence_txn_ids"] == ids and f["charges"] == 5   # the run, usual charges too


def test_a_second_run_after_many_small_charges_still_fires(led):
    """Regression: the run's excess was measured from the largest running excess at any
    earlier reset, not the last one, so a spell of below-usual charges between two runs
    hid the second run (fixed in payee_amount_shift.sql)."""
    office_history(led)
    led.charge(360, "Office Supplies Co", "1500.00")
    for n in range(43):
        led.charge(361 + n // 3, "Office Supplies Co", "50.00")
    a = led.charge(385, "Office Supplies Co", "1500.00")
    b = led.charge(388, "Office Supplies Co", "1500.00")
    f = only(led.scan(388), "payee_amount_shift")
    assert f["evidence_txn_ids"] == [a, b] and f["exposure"] == Decimal("3000.00")


def test_amount_shift_explained_by_the_registry_is_silent(led):
    office_history(led)
    led.charge(360, "Office Supplies Co", "1500.00")
    led.charge(363, "Office Supplies Co", "1500.00")
    led.approve("Office Supplies Co", expected_amount="1500.00", valid_from="2024-12-01")
    assert led.scan(363) == []


def test_approving_the_routine_charges_does_not_hide_a_run_inside_the_payee(led):
    """The baseline counts approved charges too: approving the payee's usual 80..120 must
    not leave the large charges next to it without a baseline (they used to go unjudged)."""
    office_history(led)
    led.approve("Office Supplies Co", expected_amount="100.00", tolerance="20.00")
    led.charge(360, "Office Supplies Co", "1500.00")
    led.charge(363, "Office Supplies Co", "1500.00")
    assert brief(led.scan(363)) == [("payee_amount_shift", "card-1", "Office Supplies Co", None)]


# -- frequency_burst -------------------------------------------------------------------------

def test_many_tiny_charges_on_many_days_fire(led):
    ids = []
    for d in range(30):
        ids += [led.charge(d, "App Charge 0042", "25.00"), led.charge(d, "App Charge 0042", "25.00")]
    f = only(led.scan(29), "frequency_burst")
    assert f["first_alert_at"] == day(11)               # 24 charges on 12 days, 600 GBP
    assert f["charges"] == 60 and f["exposure"] == Decimal("1500.00")
    assert f["evidence_txn_ids"] == ids
    assert f["sentence"] == ("60 small charges to 'App Charge 0042' from account card-1 since "
                             "01 Jan 2024, 1,500.00 GBP, far more often than this account usually "
                             "pays it, none of them approved")


def test_a_few_coins_a_day_to_a_new_payee_fire(led):
    """Issue 17's 'tiny' theft: one charge of 4-12 a day or so. No single charge and no
    month of them looks like money, and the old 40-charges-and-500 rule never fired."""
    amounts = ["4.10", "11.90", "7.35", "9.80", "5.25", "12.40", "6.70"]
    for d in range(0, 40, 2):
        led.charge(d, "Nordwick Media Inc 869", amounts[d % 7])
        led.charge(d + 1, "Nordwick Media Inc 869", amounts[(d + 3) % 7])
    f = only(led.scan(39), "frequency_burst")
    assert f["first_alert_at"] == day(18)               # 19 days, 153.90 GBP: past 150
    assert f["severity"] == "warning"


def test_coins_a_day_at_a_shop_many_cards_use_are_left_to_drift(led):
    """A payee three other cards bought from before this one (a supermarket, Amazon) is
    bought from in bursts all the time: on Birmingham such pairs were 13 of the 17 honest
    bursts of 15 days in 30."""
    for other in ("card-2", "card-3", "card-4"):
        led.charge(-100, "Corner Shop", "3.00", account=other)
    for d in range(40):
        led.charge(d, "Corner Shop", "9.50")
    assert led.scan(39) == []


@pytest.mark.parametrize("start", [-400, 0], ids=["long-used", "new"])
def test_parking_app_every_day_is_silent(led, start):
    led.series("ParkMobile", "3.80", start=start, every=1, count=60 - start)
    assert led.scan(59) == []


# -- round_amount_run ------------------------------------------------------------------------

def test_round_amounts_to_a_new_payee_fire(led):
    ids = [led.charge(0, "Advisory Svcs", "500.00"), led.charge(10, "Advisory Svcs", "450.00"),
           led.charge(20, "Advisory Svcs", "600.00")]
    found = led.scan(20)
    assert brief(found) == [("round_amount_run", "card-1", "Advisory Svcs", None)]
    f = only(found, "round_amount_run")
    assert f["evidence_txn_ids"] == ids and f["exposure"] == Decimal("1550.00")
    assert f["sentence"] == ("3 round-amount charges to 'Advisory Svcs' from account card-1 since "
                             "01 Jan 2024, 1,550.00 GBP; the payee is new to this account and none "
                             "of the charges is approved")


def test_priced_amounts_or_one_priced_amount_in_the_run_is_silent(led):
    for d, amount in [(0, "512.37"), (10, "448.90"), (20, "603.15")]:
        led.charge(d, "New Supplier", amount)
    for d, amount in [(0, "500.00"), (5, "437.85"), (10, "450.00"), (20, "600.00")]:
        led.charge(d, "Other Supplier", amount, account="card-2")
    assert led.scan(20) == []


def test_round_fees_booked_on_one_day_are_one_charge_of_the_run(led):
    """Three delegates' fees of 350 on one day and a fourth a week later: two days, not
    four round charges (on the US cards such bookings were most honest runs). A third
    day with a round charge fires."""
    for amount in ("350.00", "350.00", "350.00"):
        led.charge(0, "Conference Mgmt", amount)
    led.charge(7, "Conference Mgmt", "350.00")
    assert led.scan(7, "round_amount_run") == []
    led.charge(14, "Conference Mgmt", "400.00")
    f = only(led.scan(14, "round_amount_run"), "round_amount_run")
    assert f["charges"] == 5 and f["exposure"] == Decimal("1800.00")


# -- duplicate_charges -----------------------------------------------------------------------

def test_the_same_charge_on_consecutive_days_fires(led):
    ids = [led.charge(d, "Hotel Bristol", "640.00") for d in (0, 1, 2)]
    found = led.scan(2)
    assert brief(found) == [("duplicate_charges", "card-1", "Hotel Bristol", None)]
    f = only(found, "duplicate_charges")
    assert f["evidence_txn_ids"] == ids and f["exposure"] == Decimal("1920.00")
    assert f["sentence"] == ("3 identical charges to 'Hotel Bristol' from account card-1 since "
                             "01 Jan 2024, 1,920.00 GBP, on different days, none of them approved")


def test_same_day_tickets_and_a_routine_amount_are_silent(led):
    for _ in range(3):
        led.charge(0, "Rail Tickets", "640.00")         # three tickets, one order
    led.monthly("Cleaning Contract", "640.00", start="2023-01-01", count=12)
    for d in (0, 1, 2):                                 # an amount paid for a year is routine
        led.charge(d, "Cleaning Contract", "640.00")
    assert led.scan(2) == []


def test_duplicate_export_ingested_twice_changes_nothing(tmp_path):
    """The same export ingested again, and an overlapping export of the same rows, add no
    transaction and leave the findings exactly as they were (the real ingest path)."""
    rows = [[day(d).isoformat(), "1667.00", "Devlab Consult", "1111"] for d in (0, 4, 8)]
    rows += [[day(d).isoformat(), "640.00", "Hotel Bristol", "2222"] for d in (0, 1, 2)]
    rows += [[day(d).isoformat(), "12.50", "Cafe", "1111"] for d in range(9)]
    cfg_path = write_config(tmp_path)
    export = write_csv(tmp_path / "in" / "march.csv", rows)
    cfg = config_mod.load(cfg_path, warn=lambda line: None)
    con = store.connect(cfg.database)
    try:
        (first,) = ingest_mod.ingest_all(con, [(export, cfg.source("cards"))])
        assert first.loaded == len(rows)
        before = detect.scan(con, cfg, day(4))
        assert brief(before) == [("duplicate_charges", "2222", "Hotel Bristol", None),
                                 ("new_payee_repeat", "1111", "Devlab Consult", None)]
        (again,) = ingest_mod.ingest_all(con, [(export, cfg.source("cards"))])
        assert again.status == "unchanged" and again.loaded == 0
        overlap = write_csv(tmp_path / "in" / "march-again.csv", rows[::-1])
        (second,) = ingest_mod.ingest_all(con, [(overlap, cfg.source("cards"))])
        assert second.loaded == 0 and second.duplicates == len(rows)
        assert con.execute("SELECT count(*) FROM transactions").fetchone()[0] == len(rows)
        after = detect.scan(con, cfg, day(4))
        keep = ("detector", "severity", "account", "counterparty", "exposure",
                "evidence_txn_ids", "sentence", "first_alert_at")
        assert [{k: f[k] for k in keep} for f in after] == [{k: f[k] for k in keep} for f in before]
    finally:
        con.close()


# -- below_approval_limit --------------------------------------------------------------------

def test_charges_just_below_an_approval_limit_fire(led):
    ids = [led.charge(d, "Print Shop", amount)
           for d, amount in [(0, "490.00"), (7, "495.00"), (14, "485.00")]]
    found = led.scan(14)
    assert brief(found) == [("below_approval_limit", "card-1", "Print Shop", None)]
    f = only(found, "below_approval_limit")
    assert f["evidence_txn_ids"] == ids and f["exposure"] == Decimal("1470.00")
    assert f["sentence"] == ("3 charges just below an approval limit to 'Print Shop' from account "
                             "card-1 since 01 Jan 2024, 1,470.00 GBP, none of them approved")


def test_near_limit_amounts_among_ordinary_ones_are_silent(led):
    for d, amount in [(0, "490.00"), (2, "120.00"), (7, "495.00"), (9, "230.00"),
                      (11, "85.00"), (13, "310.00"), (14, "485.00")]:
        led.charge(d, "Print Shop", amount)
    assert led.scan(14) == []


# -- unexplained_drift (three levels) --------------------------------------------------------

def drift_history(led, **kw) -> None:
    """Two years of 100 a month from card-1 to Cloud Co."""
    led.monthly("Cloud Co", "100.00", start="2022-01-01", count=24, **kw)


def test_drift_per_account_and_payee(led):
    drift_history(led)
    led.monthly("Cloud Co", "3000.00", start="2022-01-01", count=26, account="card-2")
    led.monthly("Big Supplier", "5000.00", start="2022-01-01", count=26)
    ids = led.series("Cloud Co", "3000.00", start="2024-01-10", every=10, count=5)
    found = [f for f in led.scan("2024-02-09") if f["detector"] == "unexplained_drift"]
    assert brief(found) == [("unexplained_drift", "card-1", "Cloud Co", None)]
    f = only(found, "unexplained_drift")
    assert f["evidence_txn_ids"][-4:] == ids[:4]        # the fifth is after the scan date
    assert f["exposure"] >= Decimal("10000")
    assert f["sentence"].startswith(f"{f['charges']} charges since ")
    assert f"to 'Cloud Co' from account card-1, {money(f['exposure'])} GBP" in f["sentence"]


def test_drift_per_payee_across_accounts(led):
    drift_history(led)
    ids = [led.charge(day("2024-01-10") + timedelta(days=5 * n), "Cloud Co", "2500.00",
                      account=f"card-{n + 2}") for n in range(6)]     # six cards, one each
    found = led.scan("2024-02-04")
    assert brief(found) == [("unexplained_drift", None, "Cloud Co", None)]
    f = only(found, "unexplained_drift")
    assert f["evidence_txn_ids"][-6:] == ids
    assert f"to 'Cloud Co' across all accounts, {money(f['exposure'])} GBP" in f["sentence"]


def test_drift_per_initiator(led):
    led.monthly("Hosting A", "4000.00", start="2022-01-01", count=26, account="main-bank",
                initiator="ops-bot")
    led.monthly("Stationery", "100.00", start="2022-01-01", count=24, account="main-bank",
                initiator="alice")
    ids = led.series("Hosting A", "3000.00", start="2024-01-10", every=10, count=5,
                     account="main-bank", initiator="alice")
    found = led.scan("2024-02-19")
    assert brief(found) == [("unexplained_drift", None, None, "alice")]
    f = only(found, "unexplained_drift")
    assert f["evidence_txn_ids"][-5:] == ids
    assert f"made by initiator alice, {money(f['exposure'])} GBP" in f["sentence"]


def test_drift_explained_by_the_registry_is_silent(led):
    drift_history(led)
    led.monthly("Cloud Co", "3000.00", start="2022-01-01", count=26, account="card-2")
    led.monthly("Big Supplier", "5000.00", start="2022-01-01", count=26)
    led.series("Cloud Co", "3000.00", start="2024-01-10", every=10, count=5)
    assert led.scan("2024-02-09", "unexplained_drift")
    led.approve("Cloud Co", account="card-1", expected_amount="3000.00", valid_from="2024-01-01")
    assert led.scan("2024-02-09") == []


def test_approved_routine_spend_still_counts_as_the_usual_level(led):
    """Approving Cloud Co's monthly 100 leaves its history in place: the 3,000 charges next
    to it are still judged against it (they used to have no history at all)."""
    drift_history(led)
    led.monthly("Cloud Co", "3000.00", start="2022-01-01", count=26, account="card-2")
    led.monthly("Big Supplier", "5000.00", start="2022-01-01", count=26)
    led.approve("Cloud Co", account="card-1", expected_amount="100.00", cadence="monthly")
    led.series("Cloud Co", "3000.00", start="2024-01-10", every=10, count=5)
    found = led.scan("2024-02-09", "unexplained_drift")
    assert brief(found) == [("unexplained_drift", "card-1", "Cloud Co", None)]


def test_seasonal_spend_within_its_usual_level_is_silent(led):
    """A payee paid unevenly (quarterly bills) at its usual level year on year."""
    led.series("Utility Co", "1200.00", start="2022-01-15", every=91, count=9)
    led.series("Utility Co", "1300.00", start="2024-04-15", every=30, count=1)
    assert led.scan("2024-04-15") == []


# -- high_risk_payee -------------------------------------------------------------------------

def test_crypto_exchange_and_quasi_cash_fire_on_the_first_charge(led):
    a = led.charge(3, "Coinbase UK", "50.00")
    b = led.charge(4, "QuickCash Kiosk", "300.00", account="card-2", mcc="6051")
    found = led.scan(4)
    assert brief(found) == [("high_risk_payee", "card-1", "Coinbase UK", None),
                            ("high_risk_payee", "card-2", "QuickCash Kiosk", None)]
    coin = next(f for f in found if f["counterparty"] == "Coinbase UK")
    assert_complete(coin)
    assert coin["evidence_txn_ids"] == [a] and coin["exposure"] == Decimal("50.00")
    assert coin["sentence"] == ("1 charge to 'Coinbase UK' from account card-1 since 04 Jan 2024, "
                                "50.00 GBP; the payee is a crypto exchange or money-transfer "
                                "service and none of the charges is approved")
    kiosk = next(f for f in found if f["counterparty"] == "QuickCash Kiosk")
    assert kiosk["evidence_txn_ids"] == [b]


def test_look_alike_names_and_approved_exchanges_are_silent(led):
    led.charge(0, "Wise Owl Books", "40.00", mcc="5942")
    led.charge(0, "Gemini Florist", "35.00")
    led.charge(1, "Coinbase UK", "500.00")
    led.approve("coinbase*", reference="TREASURY-7")
    assert led.scan(1) == []


# -- shared_payout_account -------------------------------------------------------------------

def test_one_payout_account_under_several_names_fires(led):
    a = led.charge(3, "Anna Dev", "300.00", payout="GB33BUKB20201555555555")
    b = led.charge(5, "Boris Dev", "300.00", account="card-2", payout="GB33BUKB20201555555555")
    found = led.scan(5)
    assert brief(found) == [("shared_payout_account", "GB33BUKB20201555555555", None, None)]
    f = only(found, "shared_payout_account")
    assert f["evidence_txn_ids"] == [a, b] and f["exposure"] == Decimal("600.00")
    assert f["sentence"] == ("2 payments since 04 Jan 2024 to one payout account "
                             "(GB33BUKB20201555555555) under different payees ('anna dev', "
                             "'boris dev'), 600.00 GBP, none of them approved")


def test_one_name_in_any_case_or_separate_payout_accounts_are_silent(led):
    led.charge(3, "ACME LTD", "300.00", payout="GB29NWBK60161331926819")
    led.charge(5, "Acme Ltd", "310.00", payout="GB29NWBK60161331926819")
    led.charge(3, "Anna Dev", "300.00", payout="DE89370400440532013000")
    led.charge(5, "Boris Dev", "300.00", payout="FR1420041010050500013M02606")
    assert led.scan(5) == []


# -- stale_feed ------------------------------------------------------------------------------

def test_a_feed_that_goes_quiet_fires(led):
    led.series("Cafe", "5.00", start=0, every=1, count=31)            # source cards: to day 30
    led.series("Rent", "5.00", start=0, every=7, count=12, source="bank")
    assert led.scan(75) == []                                         # 45 quiet days is normal
    found = led.scan(80)
    assert brief(found) == [("stale_feed", "feed cards", None, None)]
    f = only(found, "stale_feed")
    assert f["first_alert_at"] == day(76) and f["since"] == day(30)
    assert f["sentence"] == ("No transactions from feed cards since 31 Jan 2024: the feed has "
                             "gone quiet, so charges may be missing")


def test_a_feed_that_resumed_is_silent_but_the_gap_is_in_the_backtest(led):
    led.series("Cafe", "5.00", start=0, every=1, count=11)
    led.series("Cafe", "5.00", start=70, every=1, count=11)
    assert led.scan(80) == []
    (gap,) = led.backtest(0, 80)
    assert gap["detector"] == "stale_feed" and gap["first_alert_at"] == day(56)


# -- every detector on an empty ledger -------------------------------------------------------

def test_empty_ledger_and_empty_registry(led):
    assert led.scan(0) == [] and led.backtest(0, 10) == []
    assert led.con.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
