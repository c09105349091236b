"""test_charge_prelude (issue 17, "detect what is missed today"): tiny test charges to a
new payee followed by a larger one fire at the first larger charge; an honest merchant's
card checks alone, or tiny charges to a payee paid for months, do not. Through the real
ingest and the library's backtest (helpers in test_calibrate)."""
from __future__ import annotations

from decimal import Decimal

from test_calibrate import START, organisation, replayed


def prelude_alerts(tmp_path, rows, k=Decimal(1)) -> list[dict]:
    return [a for a in replayed(tmp_path, rows, k) if a["detector"] == "test_charge_prelude"]


def test_tiny_tests_then_a_larger_charge_fire_at_the_first_larger_charge(tmp_path):
    rows = organisation(days=400, cards=4)
    rows += [(300, Decimal(1), "Quickpay Studio", "card-01"),
             (301, Decimal(2), "Quickpay Studio", "card-01")]
    rows += [(303 + 5 * i, Decimal(400), "Quickpay Studio", "card-01") for i in range(6)]
    (alert,) = prelude_alerts(tmp_path, rows)
    assert (alert["account"], alert["counterparty"]) == ("card-01", "Quickpay Studio")
    assert (alert["first_alert_at"] - START).days == 303       # the first larger charge
    assert alert["exposure"] == Decimal("403.00") and alert["charges"] == 3
    assert "began with tiny test charges" in alert["sentence"]


def test_card_checks_alone_and_tiny_charges_to_a_known_payee_do_not_fire(tmp_path):
    rows = organisation(days=400, cards=4)
    rows += [(310, Decimal(1), "Honest Hotel", "card-02"),
             (311, Decimal(1), "Honest Hotel", "card-02")]            # checks, no charge
    rows += [(d, Decimal(60), "Old Printer", "card-03") for d in range(0, 300, 30)]
    rows += [(320, Decimal(1), "Old Printer", "card-03"), (321, Decimal(1), "Old Printer",
             "card-03"), (322, Decimal(300), "Old Printer", "card-03")]   # paid for months
    rows += [(330, Decimal(1), "Late Larger", "card-00"), (331, Decimal(2), "Late Larger",
             "card-00"), (380, Decimal(500), "Late Larger", "card-00")]   # 50 days on
    assert prelude_alerts(tmp_path, rows) == []
