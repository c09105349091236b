"""new_payee_ramp (issue 17): a new payee's charges that climb day after day, as a thief's do
when he starts small and raises the amount while nobody objects. It fires on the climb,
with the climb alone as evidence, and stays quiet on jitter, on a gentle rise, on a climb
too short, and on a climb that never reaches the warning tier; multiplying every amount and
tier by k changes nothing."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_factory import Ledger, assert_complete, brief, day

CLIMB = ["40.00", "65.00", "110.00", "180.00", "300.00", "480.00", "760.00"]


def climb(led: Ledger, payee: str = "Cobaltix Digital", start: int = 0,
          scale: Decimal = Decimal(1)) -> list[str]:
    """CLIMB's charges (times `scale`) to `payee`, one every three days from `start`."""
    return led.series(payee, lambda i: Decimal(CLIMB[i]) * scale, start=start, every=3,
                      count=len(CLIMB))


def test_a_climb_to_a_new_payee_fires_at_its_sixth_day(led):
    led.series("Stationer", "25.00", start=0, every=9, count=6)      # ordinary spending
    ids = climb(led, start=60)
    found = led.scan(90, "new_payee_ramp")
    assert brief(found) == [("new_payee_ramp", "card-1", "Cobaltix Digital", None)]
    (f,) = found
    assert_complete(f)
    assert f["first_alert_at"] == day(75) and f["since"] == day(60)
    assert f["charges"] == 7 and f["exposure"] == Decimal("1935.00")
    assert f["evidence_txn_ids"] == ids
    assert f["severity"] == "warning"
    assert f["sentence"] == ("7 charges to 'Cobaltix Digital' from account card-1 since "
                             "01 Mar 2024, each day's more than the last, 1,935.00 GBP in all; "
                             "the payee is new to this account and none of the charges is "
                             "approved")


def test_only_the_climb_is_evidence(led):
    led.charge(50, "Cobaltix Digital", "900.00")                     # then a fall: a new climb
    ids = climb(led, start=60)
    (f,) = led.scan(90, "new_payee_ramp")
    assert f["since"] == day(60) and f["evidence_txn_ids"] == ids


def test_jitter_a_gentle_rise_and_a_short_climb_are_silent(led):
    led.series("Jitter Ltd", lambda i: ("300.00", "340.00", "310.00")[i % 3], start=0,
               every=3, count=12)
    led.series("Gentle Ltd", lambda i: f"{300 + 10 * i}.00", start=0, every=3, count=12,
               account="card-2")                                     # up 37% in all
    led.series("Short Ltd", lambda i: Decimal(CLIMB[1:6][i]) * 3, start=0, every=3, count=5,
               account="card-3")                                     # five days up, not six
    assert led.scan(40, "new_payee_ramp") == []


def test_a_climb_below_the_warning_tier_is_silent(led):
    climb(led, "Tiny Climb", scale=Decimal("0.25"))                  # 483.75 in all
    assert led.scan(30, "new_payee_ramp") == []


def test_two_charges_of_one_day_are_one_step(led):
    climb(led, scale=Decimal("0.5"))
    climb(led, scale=Decimal("0.5"))
    (f,) = led.scan(30, "new_payee_ramp")
    assert f["charges"] == 14 and f["first_alert_at"] == day(15)       # fired at its sixth day


def test_a_climb_the_registry_explains_is_silent(led):
    climb(led)
    led.approve("Cobaltix Digital")
    assert led.scan(30, "new_payee_ramp") == []


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.sampled_from([Decimal("0.01"), Decimal("0.1"), Decimal("10"), Decimal("100")]))
def test_the_same_alert_at_any_scale(tmp_path_factory, k):
    """Every amount and every money tier times k: the same finding, its money times k."""
    tiers = {"tier_warning": 1000, "tier_high": 5000, "tier_critical": 25000}
    found = []
    for scale in (Decimal(1), k):
        led = Ledger(tmp_path_factory.mktemp("ramp"), detectors={
            "new_payee_ramp": {name: str(Decimal(v) * scale) for name, v in tiers.items()}})
        try:
            led.series("Stationer", lambda i: Decimal("25.00") * scale, start=0, every=9,
                       count=6)
            climb(led, start=60, scale=scale)
            found.append([(f["first_alert_at"], f["charges"], f["severity"],
                           f["exposure"] / scale) for f in led.scan(90, "new_payee_ramp")])
        finally:
            led.close()
    assert found[0] == found[1] and found[0]
