"""Incremental scans: after a first full scan, a scan reads again only the keys that new
files touched, and takes every payee's first days from table pair_history, which each
scan brings up to date with the new files. Shown here: whatever files arrive, in any
split and between any scans, pair_history equals a rebuild from all transactions, and
an incremental scan reports exactly what a full scan of the same ledger reports."""
from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_factory import DAY0, Ledger
from monitor.detection import scan as detect
from monitor.sql import store

ACCOUNTS = ["card-1", "card-2", "card-3"]
# Some payees written several ways: every kept fact is by payee key (table payee_keys).
PAYEES = ["Cloud Co", "Devlab Consult", "DEVLAB CONSULT LTD", "PAYPAL *Devlab Consult",
          "Office Co", "Anna Dev", None]
PAYEE = "coalesce((SELECT payee_key FROM payee_keys k WHERE k.name = counterparty), " \
        "counterparty, '(no payee)')"
INITIATORS = [None, "alice", "bob"]

REBUILT = f"""SELECT account, {PAYEE}, coalesce(initiator, account),
                    CAST(min(date_diff('day', DATE '1970-01-01', posted_at)) AS INTEGER)
             FROM transactions GROUP BY ALL ORDER BY ALL"""
KEPT = "SELECT account, counterparty, initiator, first_day FROM pair_history ORDER BY ALL"
PAIRS_REBUILT = f"""
    WITH pairs AS (
        SELECT account, {PAYEE} AS payee,
               CAST(min(date_diff('day', DATE '1970-01-01', posted_at)) AS INTEGER) AS first,
               count(*) AS charges, sum(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS spend,
               CAST(max(date_diff('day', DATE '1970-01-01', posted_at)) AS INTEGER) AS last
        FROM transactions GROUP BY ALL)
    SELECT account, payee, first,
           (SELECT count(*) FROM pairs o WHERE o.payee = p.payee AND o.first < p.first),
           (SELECT min(first) FROM pairs o WHERE o.payee = p.payee), charges, spend, last
    FROM pairs p ORDER BY ALL"""
# A pair's rows and positive spend: its own plus what later files added
# (pair_history_added); its last day, the latest of its own and theirs.
PAIRS_KEPT = """SELECT account, counterparty, pair_first_day, payee_accounts_before,
                     payee_first_day,
                     charges + coalesce((SELECT sum(a.charges) FROM pair_history_added a
                                         WHERE a.pair_key = p.pair_key), 0),
                     spend + coalesce((SELECT sum(a.spend) FROM pair_history_added a
                                       WHERE a.pair_key = p.pair_key), 0),
                     greatest(last_day, (SELECT max(a.last_day) FROM pair_history_added a
                                         WHERE a.pair_key = p.pair_key))
                FROM pair_history_pairs p ORDER BY ALL"""
INITIATORS_REBUILT = f"""
    SELECT coalesce(initiator, account), {PAYEE},
           CAST(min(date_diff('day', DATE '1970-01-01', posted_at)) AS INTEGER)
    FROM transactions GROUP BY ALL ORDER BY ALL"""
INITIATORS_KEPT = """SELECT initiator, counterparty, initiator_payee_first_day
                          FROM pair_history_initiators ORDER BY ALL"""
# Each kept fact's key hash (the incremental scan joins by it) is the hash of its key.
KEYS_HASHED = """SELECT (SELECT count(*) FROM pair_history_pairs
                         WHERE pair_key <> hash(account, counterparty))
                      + (SELECT count(*) FROM pair_history_initiators
                         WHERE pair_key <> hash(initiator, counterparty))"""
SAME = ("detector", "severity", "account", "counterparty", "initiator", "exposure",
        "charges", "since", "evidence_txn_ids", "first_alert_at")

charge = st.tuples(st.integers(0, 60), st.sampled_from(ACCOUNTS), st.sampled_from(PAYEES),
                   st.sampled_from(INITIATORS),
                   st.sampled_from(["4.20", "95.00", "640.00", "1667.00", "999.00", "-95.00"]))


def essentials(findings: list[dict]) -> list[tuple]:
    return sorted(tuple(str(f[k]) for k in SAME) for f in findings)


def scan_file_by_file(folder, files, spacing: int):
    """Ingest each file (its days shifted by `spacing` per file), scanning after each;
    then a full scan. Returns the modes of the scans, the last incremental findings and
    the full scan's findings."""
    led = Ledger(folder)
    last = DAY0
    modes = []
    for n, rows in enumerate(files):
        for offset, account, payee, initiator, amount in rows:
            when = DAY0 + timedelta(days=offset + spacing * n)
            last = max(last, when)
            led.charge(when, payee, amount, account, initiator=initiator)
        led.flush()
        incremental = detect.scan(led.con, led.config, last)
        modes.append(led.con.execute(
            "SELECT mode FROM scans ORDER BY scan_id DESC LIMIT 1").fetchone()[0])
        for kept, rebuilt in ((KEPT, REBUILT), (PAIRS_KEPT, PAIRS_REBUILT),
                              (INITIATORS_KEPT, INITIATORS_REBUILT)):
            assert led.con.execute(kept).fetchall() == led.con.execute(rebuilt).fetchall()
        assert led.con.execute(KEYS_HASHED).fetchall() == [(0,)]
    full = detect.scan(led.con, led.config, last, full=True)
    led.close()
    return modes, essentials(incremental), essentials(full)


SETTINGS = settings(max_examples=10, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
files = st.lists(st.lists(charge, min_size=1, max_size=25), min_size=2, max_size=4)


@SETTINGS
@given(files=files)
def test_files_in_any_order_of_days(tmp_path_factory, files):
    """Late rows too: a file may hold days before the last scan's. Where they change
    what earlier days knew of a payee, the scan is a full one; either way the same."""
    modes, incremental, full = scan_file_by_file(tmp_path_factory.mktemp("any"), files, 0)
    assert incremental == full


@SETTINGS
@given(files=files)
def test_files_of_later_days_scan_incrementally(tmp_path_factory, files):
    """The daily case: each file holds later days. Every scan after the first is an
    incremental one, and it reports what a full scan reports."""
    modes, incremental, full = scan_file_by_file(tmp_path_factory.mktemp("later"), files, 61)
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}
    assert incremental == full


def test_a_read_only_connection_computes_first_days_itself(tmp_path):
    """A reader cannot keep pair_history; its scan still sees every payee's history."""
    led = Ledger(tmp_path)
    led.series("Devlab Consult", "1667.00", start=0, every=4, count=4)
    led.charge(1, "Devlab Consult", "5.00", account="card-2")
    expected = essentials(led.backtest(0, 20))
    led.close()
    con = store.connect(led.path, read_only=True)
    try:
        assert essentials(detect.backtest(con, led.config, DAY0, DAY0 + timedelta(days=20))) \
            == expected
    finally:
        con.close()


def test_pair_history_is_rebuilt_when_missing_or_behind(tmp_path):
    led = Ledger(tmp_path)
    led.series("Cloud Co", "95.00", start=0, every=7, count=5)
    led.scan(30)
    led.con.execute("DELETE FROM pair_history_state")
    led.charge(31, "Cloud Co", "95.00", account="card-2")
    led.scan(31)
    assert led.con.execute(KEPT).fetchall() == led.con.execute(REBUILT).fetchall()
    led.close()


def test_a_shared_key_hash_falls_back_to_the_keys(tmp_path):
    """An incremental scan joins its rows with the kept facts by each key's hash; were two
    keys to share one (here every kept hash is made the same), a charge would get two
    rows, and the scan joins by the keys themselves instead: its findings are still a
    full scan's."""
    led = Ledger(tmp_path)
    led.series("Devlab Consult", "1667.00", start=0, every=4, count=3)
    led.series("Cloud Co", "95.00", start=0, every=7, count=5)
    led.scan(30)
    led.con.execute("UPDATE pair_history_pairs SET pair_key = 0; "
                    "UPDATE pair_history_initiators SET pair_key = 0")
    for day in (32, 36, 40, 44):
        led.charge(day, "Devlab Consult", "1667.00")
    led.flush()
    incremental = detect.scan(led.con, led.config, DAY0 + timedelta(days=44))
    mode = led.con.execute("SELECT mode FROM scans ORDER BY scan_id DESC LIMIT 1").fetchall()
    charges = led.con.execute("SELECT count(*) FROM charges").fetchall()
    rows = led.con.execute("SELECT count(*) FROM ledger_rows").fetchall()
    full = detect.scan(led.con, led.config, DAY0 + timedelta(days=44), full=True)
    led.close()
    assert mode == [("incremental",)] and charges == rows
    assert incremental and essentials(incremental) == essentials(full)


def test_a_run_that_began_before_the_horizon_is_judged_as_a_full_scan_judges_it(tmp_path):
    """payee_amount_shift's CUSUM run carries on until it falls back to zero, however long
    ago it began, and each charge is judged against a year of charges before it. Here a
    run of large charges begins on day 400 and is still alive on day 900, when a new file
    adds one more: more than the incremental scan's horizon (detect.HORIZON, 400 days)
    after the run began. Cut at the horizon, the incremental scan saw a run of one charge
    since day 900 where the full scan sees thirteen since day 400."""
    led = Ledger(tmp_path)
    led.series("Cloud Co", "100.00", start=0, every=7, count=57)       # the usual charge
    led.series("Cloud Co", "2000.00", start=400, every=7, count=5)     # the run begins
    led.series("Cloud Co", "100.00", start=480, every=60, count=7)     # it decays slowly
    led.series("Office Co", "40.00", start=0, every=30, count=29, account="card-2")
    first = led.scan(840)
    assert [f["since"] for f in first if f["detector"] == "payee_amount_shift"] \
        == [DAY0 + timedelta(days=400)]
    led.charge(900, "Cloud Co", "2000.00")                               # a new file
    led.flush()
    as_of = DAY0 + timedelta(days=900)
    assert as_of - detect.HORIZON > DAY0 + timedelta(days=400)
    incremental = detect.scan(led.con, led.config, as_of)
    mode = led.con.execute("SELECT mode FROM scans ORDER BY scan_id DESC LIMIT 1").fetchall()
    full = detect.scan(led.con, led.config, as_of, full=True)
    led.close()
    shift = [f for f in full if f["detector"] == "payee_amount_shift"]
    assert [(f["since"], f["charges"]) for f in shift] == [(DAY0 + timedelta(days=400), 13)]
    assert mode == [("incremental",)]
    assert essentials(incremental) == essentials(full)


def test_a_high_risk_payee_paid_before_the_horizon_is_summed_over_all_its_charges(tmp_path):
    """high_risk_payee sums every unapproved charge to a crypto exchange since the pair's
    first (a window without a bound): charges from before the incremental scan's horizon
    count in its exposure and its `since` as they do in a full scan."""
    led = Ledger(tmp_path)
    led.series("Coinbase", "100.00", start=0, every=50, count=3)
    led.series("Office Co", "40.00", start=0, every=30, count=16)
    led.scan(450)
    led.charge(460, "Coinbase", "100.00")                                # a new file
    led.flush()
    as_of = DAY0 + timedelta(days=460)
    assert as_of - detect.HORIZON > DAY0 + timedelta(days=0)
    incremental = detect.scan(led.con, led.config, as_of)
    full = detect.scan(led.con, led.config, as_of, full=True)
    led.close()
    risky = [f for f in full if f["detector"] == "high_risk_payee"]
    assert [(f["since"], f["charges"]) for f in risky] == [(DAY0, 4)]
    assert essentials(incremental) == essentials(full)


def _run_ledger(tmp_path):
    """card-1's Cloud Co run of test_a_run_that_began_before_the_horizon..., scanned on day
    840 (the run's finding is in force), card-2 paying Office Co since day 0."""
    led = Ledger(tmp_path)
    led.series("Cloud Co", "100.00", start=0, every=7, count=57)
    led.series("Cloud Co", "2000.00", start=400, every=7, count=5)
    led.series("Cloud Co", "100.00", start=480, every=60, count=7)
    led.series("Office Co", "40.00", start=0, every=30, count=29, account="card-2")
    led.scan(840)
    return led


def _incremental_then_full(led, as_of_day: int,
                           kept: str = "SELECT rescanned_account FROM account_rescanned"):
    """An incremental scan on the day, what it left in a temp table (`kept`, our own
    query), then a full scan of the same day: (mode, kept rows, incremental, full)."""
    as_of = DAY0 + timedelta(days=as_of_day)
    incremental = detect.scan(led.con, led.config, as_of)
    mode = led.con.execute("SELECT mode FROM scans ORDER BY scan_id DESC LIMIT 1").fetchone()[0]
    rows = led.con.execute(kept).fetchall()
    full = detect.scan(led.con, led.config, as_of, full=True)
    return mode, rows, incremental, full


def test_new_rows_that_cannot_move_an_accounts_judgments_leave_its_history_unread(tmp_path):
    """A new row of a pair that cannot fire (one charge), posted after the last scan,
    moves no baseline of the account's earlier charges: payee_amount_shift does not read
    the account's history again, and its run's finding carries over, as a full scan
    finds it."""
    led = _run_ledger(tmp_path)
    led.charge(845, "Anna Dev", "40.00")
    led.flush()
    mode, read, incremental, full = _incremental_then_full(led, 845)
    incremental, full = essentials(incremental), essentials(full)
    led.close()
    assert mode == "incremental" and read == []
    assert [f for f in full if f[0] == "payee_amount_shift"]
    assert incremental == full


def test_a_late_row_has_its_accounts_history_judged_again(tmp_path):
    """A new row posted at least lag_days (30) before the last scan's date falls in the
    baselines of charges already judged: the account's every pair is judged again."""
    led = _run_ledger(tmp_path)
    led.charge(800, "Office Co", "40.00")           # card-1's first Office Co charge
    led.flush()
    mode, read, incremental, full = _incremental_then_full(led, 845)
    incremental, full = essentials(incremental), essentials(full)
    led.close()
    assert mode == "incremental" and read == [("card-1",)]
    assert incremental == full


def test_the_kept_facts_joined_cover_a_pair_quiet_since_before_the_horizon(tmp_path):
    """An incremental scan joins its rows only with the kept pairs posted since its horizon
    (their last day, or that of rows later files added). A pair quiet for longer than the
    horizon that is paid again is among them: the join alone gives every row its facts
    (the row-count fallback to joining by the keys is not what saves it)."""
    led = Ledger(tmp_path)
    led.series("Cloud Co", "95.00", start=0, every=10, count=11)           # days 0-100
    led.series("Office Co", "40.00", start=0, every=30, count=21, account="card-2")
    led.scan(600)
    led.charge(700, "Cloud Co", "95.00")                    # paid again after 600 quiet days
    led.charge(700, "Anna Dev", "40.00")                    # and a new pair
    led.flush()
    as_of = DAY0 + timedelta(days=700)
    incremental = detect.scan(led.con, led.config, as_of)
    mode = led.con.execute("SELECT mode FROM scans ORDER BY scan_id DESC LIMIT 1").fetchone()[0]
    store.run(led.con, "scan/features_kept", {"horizon": as_of - detect.HORIZON})
    joined = led.con.execute("SELECT (SELECT count(*) FROM charges), "
                             "(SELECT count(*) FROM ledger_rows)").fetchone()
    full = detect.scan(led.con, led.config, as_of, full=True)
    led.close()
    assert mode == "incremental"
    assert joined[0] == joined[1] and joined[1] >= 2
    assert essentials(incremental) == essentials(full)


def _drifting_initiator(tmp_path):
    """alice spends 100.00 a week over many payees for 420 days, then 5,000.00 four times:
    unexplained_drift fires at her (initiator) level alone. Scanned on day 440."""
    led = Ledger(tmp_path)
    for i in range(60):
        led.charge(7 * i, f"Shop {i % 12}", "100.00", initiator="alice")
    led.series("Devlab Consult", "5000.00", start=425, every=5, count=4, initiator="alice")
    first = led.scan(440)
    assert [(f["initiator"], f["account"]) for f in first
            if f["detector"] == "unexplained_drift"] == [("alice", None)]
    return led


def _drift_scan(led, as_of_day: int):
    mode, quiet, incremental, full = _incremental_then_full(
        led, as_of_day, "SELECT quiet_initiator FROM quiet_initiators")
    led.close()
    drift = [f for f in full if f["detector"] == "unexplained_drift"]
    return mode, quiet, drift, essentials(incremental), essentials(full)


def test_an_initiator_whose_new_days_cannot_fire_keeps_its_drift_finding(tmp_path):
    """A refund is alice's only new row: no new day of hers can fire, so her windows are
    not run again and her finding, still in force, carries over as a full scan finds it."""
    led = _drifting_initiator(tmp_path)
    led.refund(450, "Shop 3", "20.00", initiator="alice")
    led.flush()
    mode, quiet, drift, incremental, full = _drift_scan(led, 450)
    assert mode == "incremental" and quiet == [("alice",)] and drift
    assert incremental == full


def test_an_initiator_whose_new_day_may_fire_is_judged_again(tmp_path):
    """A new charge while the surge is in her window: that day may fire (it does), so her
    level is judged again."""
    led = _drifting_initiator(tmp_path)
    led.charge(450, "Shop 3", "100.00", initiator="alice")
    led.flush()
    mode, quiet, drift, incremental, full = _drift_scan(led, 450)
    assert mode == "incremental" and quiet == [] and drift
    assert incremental == full


def test_an_initiators_late_row_has_her_level_judged_again(tmp_path):
    """A new row posted before the last scan's date enters the windows of days already
    judged: her level is judged again, though no new day of hers can fire."""
    led = _drifting_initiator(tmp_path)
    led.refund(436, "Shop 3", "20.00", initiator="alice")
    led.flush()
    mode, quiet, drift, incremental, full = _drift_scan(led, 445)
    assert mode == "incremental" and quiet == []
    assert incremental == full
