"""The Spark engine ([engine] kind = "spark") finds exactly what DuckDB finds.

Each ledger is a real DuckDB file, exported to a Parquet lake with monitor.ledger.lake (what
`monitor export-lake` runs); the same detector SQL then runs on DuckDB and, transpiled by
sqlglot, on pyspark in local mode over the lake. Compared row for row: every event row of
the groups that fire, every alert episode (keys, severity, exposure to the cent, evidence
txn ids, escalations), the backtest's alerts and a scan's findings.

Ledgers: the demo (Birmingham purchase cards 2017, the cards its alerts name, and the
injected theft) and
Hypothesis-generated ones: a scaffold that makes every detector fire (with a source of
domestic payout accounts beside the cards), plus random charges, refunds and registry
entries that move the groups around.

One Spark session serves the whole module (starting the JVM costs about 10 s). Skipped,
with the reason, when pyspark or Java is missing.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import shutil
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import ROOT
from ledger_factory import DAY0, Ledger
from monitor.settings import config as config_mod
from monitor.detection import scan as detect
from monitor.ledger import lake
from monitor.ledger import ingest as ingest_mod
from monitor.screening import lists as screening_lists, store as screening
from monitor.sql import store
from monitor.sql.store import load_query
from monitor.settings.engine import EngineSettings

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.spark
pytest.importorskip("sqlglot", reason="sqlglot is not installed (pip install -e '.[test]')")
if not shutil.which("java"):
    pytest.skip("Java is not installed (apt-get install openjdk-17-jre-headless)",
                allow_module_level=True)

from monitor.detection.catalog import catalog  # noqa: E402
from monitor.ledger import spark as spark_runtime  # noqa: E402

SANCTIONS_EXTRACT = ROOT / "tests" / "fixtures" / "sanctions"
# Tiny ledgers: one shuffle partition and no adaptive re-planning keep each query short.
# The JVM lives for a minute or two: its quick (C1) compiler only and one GC thread spend
# about half the CPU that C2's and the parallel collector's threads did (demo test 64 -> 37 s).
# Nor does Spark generate and compile Java for each query here (interpreted expressions,
# its own testing mode): on a few thousand rows compiling costs more than it saves (the
# demo test's JVM: 38.3 -> 29.2 s of CPU). The results are Spark's either way; the
# compiled path is what benchmarks/spark.py runs and times. C1 alone filled the default
# 48 MB code cache after five or six backtests, and the JVM then stopped compiling for
# good (a failing example's replays took 96 s): hence the larger cache.
TEST_CONF = {"spark.sql.shuffle.partitions": "1", "spark.sql.adaptive.enabled": "false",
             "spark.default.parallelism": "1", "spark.driver.memory": "1g",
             "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC "
                                              "-XX:ReservedCodeCacheSize=160m",
             "spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@pytest.fixture(scope="module")
def spark_settings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lakes")
    settings = EngineSettings(kind="spark", master="local[1]", lake=str(folder / "none"),
                              conf=TEST_CONF)
    spark_runtime.session(settings)          # started once for the module
    yield lambda lake_path: dataclasses.replace(settings, lake=str(lake_path))
    spark_runtime.stop()


def both_engines(con, config, lake_path: Path, start: date, end: date) -> tuple[dict, dict]:
    """Everything the detectors produce, on DuckDB and on Spark, in comparable form: one
    evaluation each (a backtest), read as the backtest's alerts and as a scan's findings."""
    results = []
    for engine in (None, EngineSettings(kind="spark", master="local[1]", lake=str(lake_path),
                                        conf=TEST_CONF)):
        cfg = dataclasses.replace(config, engine=engine)
        out = {"alerts": detect.backtest(con, cfg, start, end)}
        for name, sql, params in (
                ("events", "SELECT * FROM events ORDER BY ALL", {}),
                ("episodes", "SELECT * FROM episodes ORDER BY ALL", {}),
                ("findings", load_query("scan/open_findings"), {"as_of": end})):
            cursor = con.execute(sql, params)
            names = [d[0] for d in cursor.description]
            out[name] = [dict(zip(names, row)) for row in cursor.fetchall()]
        results.append(out)
    return results[0], results[1]


def assert_same(duck: dict, spark: dict) -> None:
    for part in ("events", "episodes", "alerts", "findings"):
        assert len(spark[part]) == len(duck[part]), part
        # The queries' ORDER BY leaves ties (same day, detector, account, payee) unordered.
        for d, s in zip(sorted(duck[part], key=repr), sorted(spark[part], key=repr)):
            assert s == d, part
    for alert in duck["alerts"]:          # exposure to the cent, as Decimal
        assert alert["exposure"] == alert["exposure"].quantize(Decimal("0.01"))


def export(con, folder: Path) -> Path:
    out = folder / f"lake-{uuid.uuid4().hex[:8]}"
    facts = lake.export(con, out)
    expected = con.execute("SELECT count(*), coalesce(sum(amount), 0) FROM transactions").fetchall()
    assert (facts["rows"], facts["amount"]) == expected[0]
    return out


# -- the demo ledger -------------------------------------------------------------------------

# Eleven of the demo ledger's 1,010 cards: for each detector that fires on the whole demo,
# the cards of one of its alerts' evidence (on DuckDB, chosen greedily). Their 4,100 rows
# and the injected theft still make every one of those detectors fire (25 alerts): the
# equivalence is about the detectors, and Spark's time grows with the rows (the 61 cards
# any alert names, 10,180 rows, took 29 s of the module's 73 alone on two cores).
DEMO_CARDS = frozenset("0682 1200 3443 3929 4243 4637 5190 6308 6740 6947 9531".split())
DEMO_FIRES = {"below_approval_limit", "duplicate_charges", "frequency_burst", "lookalike_payee",
              "new_payee_instalments", "new_payee_repeat", "new_payee_rotation",
              "payee_amount_shift", "payee_many_accounts", "payee_rate_change",
              "round_amount_run", "test_charge_prelude", "unexplained_drift"}


def test_demo_ledger_same_findings_on_both_engines(tmp_path, spark_settings):
    ledgers = tmp_path / "ledgers"
    ledgers.mkdir()
    with gzip.open(ROOT / "demo" / "ledgers" / "birmingham_pcards_2017.csv.gz", "rt",
                   encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    card = rows[0].index("card_last4")
    with open(ledgers / "birmingham_pcards_2017_slice.csv", "w", encoding="utf-8",
              newline="") as f:
        csv.writer(f).writerows([rows[0]] + [r for r in rows[1:] if r[card] in DEMO_CARDS])
    shutil.copy(ROOT / "demo" / "ledgers" / "injected_theft.csv", ledgers)
    text = (ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'path = "demo/ledgers/*.csv*"', f'path = "{ledgers.as_posix()}/*.csv*"')
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    config = config_mod.load(tmp_path / "config.toml")
    con = store.connect(config.database)
    ingest_mod.ingest_all(con, ingest_mod.plan(config, []))
    assert con.execute("SELECT count(*) FROM transactions").fetchone()[0] > 4_000
    end = con.execute("SELECT max(posted_at) FROM transactions").fetchone()[0]
    duck, spark = both_engines(con, config, export(con, tmp_path), date(2017, 1, 1), end)
    assert_same(duck, spark)
    fired = {a["detector"] for a in duck["alerts"]}
    assert len(duck["alerts"]) >= 10 and len(fired) >= 4, fired
    assert fired == DEMO_FIRES, fired
    con.close()


# -- generated ledgers -----------------------------------------------------------------------

def scaffold(led: Ledger) -> None:
    """Charges that make every detector fire at least once (see tests/test_detectors.py)."""
    led.series("Devlab Consult", "1667.00", start=200, every=4, count=5)         # new payee repeat
    for i, payee in enumerate(["Alpha Ltd", "Beta Ltd", "Gamma Ltd", "Delta Ltd"]):  # rotation
        led.charge(220 + 3 * i, payee, 900 + 10 * i, "card-9", initiator="mallory")
    for i, account in enumerate(["card-1", "card-2", "card-3"]):                 # many accounts
        led.charge(300 + 2 * i, "Newco Services", "700.00", account)
    led.series("Office Co", lambda i: 100 + (i % 3) * 5, start=0, every=14, count=26)
    led.series("Office Co", "950.00", start=380, every=2, count=6)               # amount shift
    led.series("Parking App", "4.50", start=0, every=1, count=60, account="card-2")
    for d in range(30):                                                          # frequency
        led.charge(330 + d, "App Charge 0042", "25.00", "card-3")
        led.charge(330 + d, "App Charge 0042", "25.00", "card-3")
    led.series("Round Co", lambda i: 500 * (1 + i % 2), start=150, every=5, count=4)  # round
    led.series("Dup Co", "750.00", start=100, every=1, count=3)                  # duplicates
    for i, amount in enumerate(["990.00", "985.00", "995.00", "975.00"]):       # below limit
        led.charge(250 + 6 * i, "Split Co", amount, "card-2")
    led.series("Cloud Co", lambda i: 200 + i, start=0, every=7, count=40, account="card-4")
    led.series("Cloud Co", "2500.00", start=330, every=3, count=10, account="card-4")  # drift
    led.charge(120, "Coinbase UK", "50.00")                                      # high risk
    led.charge(121, "QuickCash Kiosk", "300.00", "card-2", mcc="6051")
    led.charge(140, "Anna Dev", "300.00", payout="GB33BUKB20201555555555")       # shared payout
    led.charge(142, "Boris Dev", "300.00", "card-2", payout="GB33BUKB20201555555555")
    led.charge(143, "Boris Dev", "300.00", "card-3",
               payout="gb33 bukb-2020 1555 5555 55")                    # one account
    led.series("Amazon Mktplace", "40.00", start=0, every=7, count=30, account="card-5")
    led.charge(260, "AMAZ0N MKTPLACE", "120.00", "card-5")                      # look-alike
    led.charge(262, "Amazon Mktplace Servicés", "80.00", "card-5")               # a word added
    for card in ("card-6", "card-7", "card-8"):
        led.series("Devlab Consulting", "600.00", start=0, every=30, count=6, account=card,
                   payout="GB82 WEST 1234 5698 7654 32")
    led.charge(200, "Devlab Consultlng", "1667.00", "card-9")                    # by the org
    led.charge(204, "Devlab Consultlng", "900.00", "card-7")                     # one finding
    led.charge(210, "Devlab Consulting", "1667.00", "card-6",                    # new bank
               payout="DE89370400440532013000")
    led.series("Rent", "50.00", start=0, every=7, count=20, source="bank")       # stale feed
    led.series("Ramp Co", lambda i: f"{40 * 3 ** (i / 2):.2f}", start=280, every=3, count=7,
               account="card-10")                                               # a climb
    led.charge(160, "Korea Mining Development Trading Corp", "80.00", "card-2")  # sanctioned
    led.series("Stream Co", "118.40", start=0, every=30, count=13, account="card-10")
    led.series("Stream Co", "118.40", start=370, every=3, count=12, account="card-10")  # rate
    for i, payee in enumerate(["Cafe", "Books", "Taxi"]):            # card-11's habits, then
        led.series(payee, lambda j: 20 + 10 * i + j % 4, start=i, every=10, count=30,
                   account="card-11")
    led.series("Tessaro Media", lambda i: 247 + i % 3, start=320, every=4, count=8,
               account="card-11")                                                # instalments
    for day, amount in ((300, "1.00"), (301, "2.00"), (303, "400.00")):  # tiny tests, then
        led.charge(day, "Quickpay Studio", amount, "card-12")          # the money is taken
    led.flush()
    screening.load(led.con, led.config, screening_lists.read([SANCTIONS_EXTRACT / "sdn.csv"]))
    file_id = led.con.execute(
        "INSERT INTO files (path, source, format, sha256, size_bytes, status, ingested_at) "
        "VALUES ('s.xml', 'bank', 'camt', 'x', 1, 'loaded', $at) RETURNING file_id",
        {"at": DAY0}).fetchall()[0][0]
    led.con.execute(                                                             # statements
        "INSERT INTO statements (file_id, position, kind, account, currency, from_date, "
        "to_date, closing_date, credits, debits, entries, set_aside, balance_check, "
        "check_basis, difference, problems) VALUES ($f, 1, 'camt.053', 'GB00MAIN', 'GBP', "
        "$a, $b, $b, 0, 100, 1, 0, 'mismatch', 'balances', -12.34, 'balance mismatch')",
        {"f": file_id, "a": date(2024, 2, 1), "b": date(2024, 2, 29)})
    led.con.execute(                                                  # conflicting duplicate
        "INSERT INTO rejected_rows VALUES ($f, 2, $raw, 'conflicting duplicate: amount "
        "600.00 held, 6.00 here', $at)",
        {"f": file_id, "at": DAY0, "raw": '{"txn_id": "T-1", "account": "card-1", '
                                          f'"posted_at": "{DAY0 + timedelta(days=30)}", '
                                          '"amount": "6.00", "currency": "GBP"}'})


noise = st.fixed_dictionaries({
    "day": st.integers(0, 420),
    "account": st.sampled_from(["card-1", "card-2", "card-3", "card-4", "card-9"]),
    "payee": st.sampled_from(["Devlab Consult", "Office Co", "Cloud Co", "Dup Co", "Split Co",
                              "App Charge 0042", "Round Co", "Newco Services", "Gamma Ltd", "Zed"]),
    "amount": st.one_of(st.sampled_from([Decimal("750.00"), Decimal("990.00"),
                                         Decimal("1000.00"), Decimal("4.50")]),
                        st.integers(-500, 3000).filter(bool).map(Decimal),
                        st.decimals("1.00", "2000.00", places=2)),
    "initiator": st.sampled_from([None, "mallory", "alice"]),
    "payout": st.sampled_from([None, None, "GB33BUKB20201555555555", "NL91ABNA0417164300"]),
})
approval = st.fixed_dictionaries({
    "payee": st.sampled_from(["Office Co", "cloud*", "*co", "Dup Co", "Devlab*"]),
    "cadence": st.sampled_from([None, "weekly", "monthly", "yearly"]),
})


def payroll(led: Ledger) -> None:
    """A source of domestic payout accounts (counterparty_accounts = "payout": account
    numbers, no IBAN), reaching Spark as the same bound list: a payee whose account
    changes, and one account shared by two payees however it is written."""
    led.series("Payroll Consult", "1667.00", start=0, every=30, count=8, account="staff-1",
               source="payroll", payout="12345678")
    led.charge(250, "Payroll Consult", "1667.00", "staff-1", source="payroll",
               payout="87654321")
    led.charge(10, "Carla Dev", "300.00", "staff-1", source="payroll", payout="55667788")
    led.charge(12, "Dmitri Dev", "300.00", "staff-2", source="payroll", payout="55 66 77 88")


PAYROLL = config_mod.Source(name="payroll", format="csv", path="payroll/*.csv",
                            counterparty_accounts="payout")


# Two examples, fixed by derandomize: Hypothesis tries the simplest first (no extra rows,
# no registry entries: the scaffold alone, where every detector fires), then one drawn
# from the strategies. Each costs about 15 s of Spark on two cores.
@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(extra=st.lists(noise, max_size=25), approvals=st.lists(approval, max_size=2))
def test_generated_ledgers_same_findings_on_both_engines(tmp_path, spark_settings, extra,
                                                         approvals):
    led = Ledger(tmp_path, name=f"g-{uuid.uuid4().hex[:8]}.duckdb")
    try:
        scaffold(led)
        payroll(led)
        for r in extra:
            led.charge(r["day"], r["payee"], r["amount"], r["account"],
                       initiator=r["initiator"], payout=r["payout"])
        for a in approvals:
            led.approve(a["payee"], **({"cadence": a["cadence"]} if a["cadence"] else {}))
        led.flush()
        config = dataclasses.replace(led.config, sources=(PAYROLL,))
        duck, spark = both_engines(led.con, config, export(led.con, tmp_path),
                                   DAY0, led.last_day())
        assert_same(duck, spark)
        if not extra and not approvals:                     # the scaffold alone: all fire
            assert {a["detector"] for a in duck["alerts"]} == set(catalog())
            payouts = {(a["detector"], a["account"], a["counterparty"]) for a in duck["alerts"]
                       if a["detector"].endswith("payout_account")}
            assert ("changed_payout_account", "87654321", "Payroll Consult") in payouts, payouts
            assert ("shared_payout_account", "55667788", None) in payouts, payouts
    finally:
        led.close()


# -- the verbs, end to end -------------------------------------------------------------------

def test_ingest_and_scan_verbs_on_spark(tmp_path, capsys, monkeypatch, spark_settings):
    """`monitor ingest` lands the rows in the lake; `monitor scan` on Spark reports what it
    reports on DuckDB, and the alert lifecycle records it (backtest: detect.backtest above)."""
    import json

    from helpers import config_text, run, source, write_csv
    monkeypatch.chdir(tmp_path)
    rows = [[f"2024-03-{1 + 4 * i:02d}", "1667.00", "Devlab Consult", "1111"] for i in range(5)]
    rows += [[f"2024-0{m}-15", "42.00", "Cloud Co", "2222"] for m in range(1, 5)]
    write_csv(tmp_path / "in" / "cards.csv", rows)
    conf = "".join(f'"{k}" = "{v}"\n' for k, v in TEST_CONF.items())
    engine = f'\n[engine]\nkind = "spark"\nmaster = "local[1]"\nlake = "lake/"\n[engine.conf]\n{conf}'
    outputs = {}
    for kind, extra in (("duckdb", ""), ("spark", engine)):
        (tmp_path / "config.toml").write_text(
            config_text([source()], database=f"{kind}.duckdb") + extra, encoding="utf-8")
        code, _, err = run(capsys, "ingest")
        assert code == 0 and (("appended 9 rows" in err) == (kind == "spark")), err
        code, out, err = run(capsys, "scan", "--no-notify", "--format", "json")
        assert code == 1, err                                   # alerts firing
        scan = json.loads(out)["findings"]
        outputs[kind] = ({f["fingerprint"]: (f["detector"], f["exposure"], f["evidence_txn_ids"])
                          for f in scan},)
        code, out, _ = run(capsys, "alerts", "list", "--format", "json")
        assert code in (0, 1) and "new_payee_repeat" in out
    assert outputs["spark"] == outputs["duckdb"]
    assert any(d == "new_payee_repeat" and str(e) in ("8335.0", "8335.00") and len(ids) == 5
               for d, e, ids in outputs["spark"][0].values()), outputs["spark"][0]


def test_a_lake_at_a_url_is_partitioned_as_a_folder_lake(tmp_path, spark_settings):
    """Spark writes lakes at URLs (object stores); monitor.ledger.lake writes folders. A file://
    URL stands in for a bucket: the same rows land in the same month and account-bucket
    partitions either way."""
    ledger = Ledger(tmp_path)
    for n in range(0, 90, 3):
        ledger.charge(DAY0 + timedelta(days=n), f"Payee {n % 5}", Decimal("12.34") + n,
                      account=f"acct{n % 7}")
    ledger.flush()
    con = ledger.con
    file_ids = [f for (f,) in con.execute("SELECT DISTINCT file_id FROM transactions").fetchall()]
    assert lake.append(con, str(tmp_path / "folder"), file_ids, buckets=4) == 30
    url = (tmp_path / "bucket").as_uri()
    assert lake.append_rows(con, dataclasses.replace(spark_settings(url), buckets=4),
                                    file_ids) == 30

    def parts(folder: Path) -> list:
        return sorted(con.execute(
            "SELECT posted_month, account_bucket, account, txn_id FROM read_parquet($p, "
            "hive_partitioning = true)", {"p": str(folder / "**" / "*.parquet")}).fetchall())
    assert parts(tmp_path / "bucket") == parts(tmp_path / "folder")
    assert len({row[1] for row in parts(tmp_path / "folder")}) > 1


def test_an_empty_lake_says_how_to_fill_it(tmp_path, capsys, monkeypatch, spark_settings):
    from helpers import config_text, run, source
    monkeypatch.chdir(tmp_path)
    conf = "".join(f'"{k}" = "{v}"\n' for k, v in TEST_CONF.items())
    (tmp_path / "config.toml").write_text(
        config_text([source()]) + '\n[engine]\nkind = "spark"\nmaster = "local[1]"\n'
        f'lake = "nowhere/"\n[engine.conf]\n{conf}', encoding="utf-8")
    code, out, err = run(capsys, "backtest", "--from", "2024-01-01", "--to", "2024-02-01")
    assert code == 2 and "holds no Parquet yet" in err and "monitor export-lake" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_cte_read_more_than_once_is_computed_once_under_its_detector_s_name():
    """Spark plans and runs a CTE once per place that reads it: lookalike_payee's `names`
    is read by eight unions. Each such CTE (and what it reads) becomes a view of its own,
    named after its detector, so that no detector's `counted` replaces another's or a
    table of the scan's."""
    from monitor.detection.engines.spark import statements
    *views, final = statements("detect/lookalike_payee")
    names = [v.name for v in views]
    assert {"q_detect_lookalike_payee_names", "q_detect_lookalike_payee_counted"} <= set(names)
    assert all(v.kind == "view" and v.name.startswith("q_detect_lookalike_payee_")
               for v in views)
    assert final.kind == "select" and " names AS (" not in final.sql
    assert "extra_word" in {p for v in views for p in v.params}        # bound, not pasted
    single = statements("detect/sanctioned_payee")
    assert [s.kind for s in single] == ["select"]
    # Left as they are: a recursive WITH, and one whose name a nested WITH uses again.
    import sqlglot

    from monitor.detection.engines.spark import _shared_ctes
    for sql in ("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3)"
                " SELECT * FROM r JOIN r r2 USING (n)",
                "WITH a AS (SELECT 1 AS n) SELECT * FROM a JOIN (WITH a AS (SELECT 2 AS n) "
                "SELECT * FROM a) b USING (n)"):
        tree = sqlglot.parse_one(sql, read="duckdb")
        assert _shared_ctes(tree, "x") == [] and "WITH" in tree.sql(dialect="spark")
