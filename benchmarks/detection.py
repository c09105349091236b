"""Detection benchmark: inject thefts into the real Birmingham ledger and backtest.

Run by hand:  .venv/bin/python benchmarks/detection.py [--seeds 1 2 3] [--rules]

For each seed it ingests the real ledger (../shared/data/ledgers/), writes the
thefts of every kind as one more export of the same source, ingests that too,
replays every day from 2015-01-01 with `monitor backtest`'s code, and prints per
kind the money lost before the first alert, and the honest (false) alerts per
month. --rules also measures the three simple rules from NOTES.md the same way.
--combine measures each detector alone against the combinations: any detector (what
the monitor does) and two detectors agreeing (a risk score of 2 or more).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.settings import config as config_mod  # noqa: E402
from monitor.detection import scan as detect  # noqa: E402
from monitor.detection.catalog import catalog  # noqa: E402
from monitor.ledger import ingest  # noqa: E402
from monitor.sql import store  # noqa: E402

LEDGER = ROOT.parent / "shared" / "data" / "ledgers" / "birmingham_cc_purchase_cards_2014-04_2018-01.csv.gz"
START, END = dt.date(2015, 1, 1), dt.date(2018, 2, 28)
KINDS = ("advisory", "existing_merchant", "tiny", "below_limit", "rotation",
         "across_cards", "weekly", "round_amounts")

CONFIG = """
[database]
path = "bench.duckdb"
[[sources]]
name = "birmingham"
format = "csv"
path = "ledgers/*.csv*"
currency = "GBP"
charges = "positive"
[sources.columns]
posted_at = "trans_date"
amount = "amount_gbp"
counterparty = "merchant_name"
account = "card_last4"
"""


def money(x: float) -> Decimal:
    return Decimal(str(round(x, 2)))


def thefts(con, seed: int) -> list[dict]:
    """Charges of every kind, each theft on its own randomly chosen active card(s)."""
    rnd = random.Random(seed)
    cards = [r[0] for r in con.execute(
        "SELECT account FROM transactions WHERE posted_at BETWEEN '2015-01-01' AND '2017-12-31' "
        "GROUP BY account HAVING count(*) >= 40 ORDER BY account").fetchall()]
    rnd.shuffle(cards)
    rows = []

    def begin() -> dt.date:
        return dt.date(2015, 2, 1) + dt.timedelta(days=rnd.randrange(760))

    def payee(stem: str) -> str:
        return f"{stem} {rnd.randrange(10 ** 5):05d}"

    def add(kind, card, name, day, amount):
        rows.append({"kind": kind, "theft": f"{kind}-{seed}", "card": card, "payee": name,
                     "date": day, "amount": amount})

    for kind in KINDS:
        card, start = cards.pop(), begin()
        if kind == "advisory":            # ~30 x ~1,667 over 4 months to a new payee
            name = payee("devlab consult")
            for i in range(30):
                add(kind, card, name, start + dt.timedelta(days=4 * i + rnd.randrange(3)),
                    money(rnd.gauss(1667, 40)))
        elif kind == "existing_merchant":  # the same inside the card's busiest merchant
            busiest = None
            while busiest is None:     # a card that already uses some merchant often
                busiest = con.execute(
                    "SELECT counterparty FROM transactions WHERE account = ? AND posted_at < ? "
                    "GROUP BY 1 HAVING count(*) >= 5 ORDER BY count(*) DESC, 1 LIMIT 1",
                    [card, start]).fetchone()
                card = card if busiest else cards.pop()
            name = busiest[0]
            for i in range(30):
                add(kind, card, name, start + dt.timedelta(days=4 * i + rnd.randrange(3)),
                    money(rnd.gauss(1667, 40)))
        elif kind == "tiny":              # a couple of hundred tiny charges
            name = payee("app charge")
            for i in range(200):
                add(kind, card, name, start + dt.timedelta(days=i // 2), money(rnd.uniform(2, 25)))
        elif kind == "below_limit":       # just below a round 1,000 approval limit
            name = payee("office supplies")
            for i in range(12):
                add(kind, card, name, start + dt.timedelta(days=8 * i + rnd.randrange(4)),
                    money(rnd.uniform(950, 999.99)))
        elif kind == "rotation":          # one card rotating across 3 new payees
            names = [payee("consult"), payee("design studio"), payee("it services")]
            for i in range(24):
                add(kind, card, names[i % 3], start + dt.timedelta(days=5 * i + rnd.randrange(3)),
                    money(rnd.uniform(700, 1000)))
        elif kind == "across_cards":      # one new payee charged from 5 cards
            name = payee("freelance hub")
            five = [card] + [cards.pop() for _ in range(4)]
            for i in range(25):
                add(kind, five[i % 5], name, start + dt.timedelta(days=3 * i + rnd.randrange(3)),
                    money(rnd.uniform(600, 900)))
        elif kind == "weekly":            # weekly ~950 for a year
            name = payee("remote dev")
            for i in range(52):
                add(kind, card, name, start + dt.timedelta(days=7 * i), money(rnd.gauss(950, 15)))
        elif kind == "round_amounts":
            name = payee("advisory svcs")
            for i in range(15):
                add(kind, card, name, start + dt.timedelta(days=6 * i + rnd.randrange(3)),
                    Decimal(rnd.choice([250, 500, 750, 1000])))
    return rows


def prepare(base: Path, extra_config: str = "") -> None:
    """Ingest the real ledger once into a base database the seeds copy."""
    (base / "ledgers").mkdir(parents=True)
    shutil.copy(LEDGER, base / "ledgers" / LEDGER.name)
    (base / "config.toml").write_text(CONFIG + extra_config)
    cfg = config_mod.load(base / "config.toml")
    con = store.connect(cfg.database)
    [result] = ingest.ingest_all(con, ingest.plan(cfg))
    assert result.status == "loaded", result
    con.close()


def inject(work: Path, seed: int):
    cfg = config_mod.load(work / "config.toml")
    con = store.connect(cfg.database)
    rows = thefts(con, seed)
    path = work / "ledgers" / f"thefts-{seed}.csv"
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["trans_date", "merchant_name", "card_last4", "amount_gbp"])
        for r in rows:
            out.writerow([r["date"].isoformat(), r["payee"], r["card"], str(r["amount"])])
    [result] = ingest.ingest_all(con, [(path, cfg.source("birmingham"))])
    assert result.loaded == len(rows), result
    # Map each theft row to its txn id through the file's row numbers.
    ids = dict(con.execute("SELECT source_row, txn_id FROM transactions WHERE file_id = ?",
                           [result.file_id]).fetchall())
    for i, r in enumerate(rows):
        r["txn_id"] = ids[i + 2]
    return cfg, con, rows


def evaluate(alerts: list[dict], rows: list[dict]) -> tuple[dict, list[dict]]:
    """Per theft: loss before the first alert whose evidence holds its charges."""
    by_txn = {r["txn_id"]: r for r in rows}
    first = {}
    false_alerts = []
    for alert in alerts:
        hit = {by_txn[t]["theft"] for t in alert["evidence_txn_ids"] if t in by_txn}
        if not hit:
            false_alerts.append(alert)
        for theft in hit:
            if theft not in first or alert["first_alert_at"] < first[theft]["first_alert_at"]:
                first[theft] = alert
    outcome = {}
    for theft in {r["theft"] for r in rows}:
        charges = [r for r in rows if r["theft"] == theft]
        alert = first.get(theft)
        loss = (sum(r["amount"] for r in charges if r["date"] <= alert["first_alert_at"])
                if alert else None)
        outcome[theft] = {"kind": charges[0]["kind"], "loss": loss,
                          "total": sum(r["amount"] for r in charges),
                          "detector": alert["detector"] if alert else None}
    return outcome, false_alerts


def months(start: dt.date, end: dt.date) -> float:
    return (end - start).days / 30.44


def report(name: str, outcomes: list[dict], false_count: int, seeds: int) -> dict:
    losses = [o["loss"] for o in outcomes if o["loss"] is not None]
    missed = [o for o in outcomes if o["loss"] is None]
    per_month = false_count / seeds / months(START, END)
    print(f"\n== {name}: {len(outcomes) - len(missed)}/{len(outcomes)} thefts detected; "
          f"false alerts {per_month:.2f}/month")
    kinds = defaultdict(list)
    for o in outcomes:
        kinds[o["kind"]].append(o)
    print(f"{'kind':18} {'detected':>8} {'median loss':>12} {'worst loss':>11}  first detectors")
    for kind in KINDS:
        group = kinds[kind]
        found = [o["loss"] for o in group if o["loss"] is not None]
        detectors = sorted({o["detector"] for o in group if o["detector"]})
        print(f"{kind:18} {len(found):>4}/{len(group):<3} "
              f"{(statistics.median(found) if found else float('nan')):>12,.0f} "
              f"{(max(found) if found else float('nan')):>11,.0f}  {', '.join(detectors)}")
    summary = {"detected": len(losses), "thefts": len(outcomes), "false_per_month": per_month,
               "median_loss": statistics.median(losses) if losses else None,
               "worst_loss": max(losses) if losses else None}
    print(f"all kinds: median loss {summary['median_loss']:,.0f}, worst "
          f"{summary['worst_loss']:,.0f}" if losses else "all kinds: nothing detected")
    return summary


SIMPLE_RULES = {
    "any charge over 2,000": """
        SELECT 'over_2000' AS detector, account, counterparty, posted_at AS first_alert_at,
               [txn_id] AS evidence_txn_ids
        FROM transactions WHERE amount > 2000 AND posted_at BETWEEN $start AND $end""",
    "new payee reaches 3 charges in 90 days": """
        WITH c AS (
            SELECT *, min(posted_at) OVER (PARTITION BY account, counterparty) AS first_seen,
                   row_number() OVER (PARTITION BY account, counterparty ORDER BY posted_at, txn_id) AS n,
                   list(txn_id) OVER (PARTITION BY account, counterparty ORDER BY posted_at, txn_id
                                      ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS ids
            FROM transactions WHERE amount > 0)
        SELECT 'new_payee_3' AS detector, account, counterparty, posted_at AS first_alert_at,
               ids AS evidence_txn_ids
        FROM c WHERE n = 3 AND posted_at <= first_seen + 90 AND posted_at BETWEEN $start AND $end""",
    "card-payee pair passes 5,000 in 90 days": """
        WITH c AS (
            SELECT *, sum(amount) OVER w AS total, list(txn_id) OVER w AS ids,
                   sum(amount) OVER (PARTITION BY account, counterparty ORDER BY posted_at
                       RANGE BETWEEN INTERVAL 90 DAYS PRECEDING AND CURRENT ROW) - amount AS before
            FROM transactions WHERE amount > 0
            WINDOW w AS (PARTITION BY account, counterparty ORDER BY posted_at
                         RANGE BETWEEN INTERVAL 90 DAYS PRECEDING AND CURRENT ROW)),
        crossings AS (
            SELECT *, row_number() OVER (PARTITION BY account, counterparty ORDER BY posted_at) AS k
            FROM c WHERE total >= 5000 AND posted_at BETWEEN $start AND $end)
        SELECT 'pair_5000' AS detector, account, counterparty, posted_at AS first_alert_at,
               ids AS evidence_txn_ids FROM crossings WHERE k = 1""",
}


def agreeing(alerts: list[dict], needed: int = 2) -> list[dict]:
    """Alerts of a risk score >= needed: the score of an alert on its first day is the
    number of detectors that have alerted by then on any of its evidence charges."""
    by_txn = defaultdict(list)
    for alert in alerts:
        for txn in alert["evidence_txn_ids"]:
            by_txn[txn].append(alert)
    kept = []
    for alert in alerts:
        detectors = {other["detector"] for txn in alert["evidence_txn_ids"]
                     for other in by_txn[txn] if other["first_alert_at"] <= alert["first_alert_at"]}
        if len(detectors) >= needed:
            kept.append(alert)
    return kept


def rule_alerts(con, sql: str) -> list[dict]:
    cursor = con.execute(sql, {"start": START, "end": END})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rules", action="store_true", help="also measure the simple rules")
    parser.add_argument("--combine", action="store_true",
                        help="also measure each detector alone and a risk score")
    parser.add_argument("--show-false", type=int, default=0, help="print N false alerts")
    parser.add_argument("--config", type=Path, help="TOML appended to the default config "
                        "(e.g. [detectors.x] tuning); the targets are for the default config")
    args = parser.parse_args()
    if not LEDGER.exists():
        sys.exit(f"skipped: {LEDGER} is not there (needs ../shared/data/ledgers/)")
    tmp = Path(tempfile.mkdtemp(prefix="monitor-detection-"))
    prepare(tmp / "base", args.config.read_text() if args.config else "")
    product, rules = [], defaultdict(list)
    false_total, rule_false = 0, defaultdict(int)
    combos, combo_false = defaultdict(list), defaultdict(int)
    elapsed = []
    shown = []
    for seed in args.seeds:
        work = tmp / f"seed{seed}"
        shutil.copytree(tmp / "base", work)
        cfg, con, rows = inject(work, seed)
        began = time.perf_counter()
        alerts = detect.backtest(con, cfg, START, END)
        elapsed.append(time.perf_counter() - began)
        outcome, false_alerts = evaluate(alerts, rows)
        product += outcome.values()
        false_total += len(false_alerts)
        shown += false_alerts
        if args.combine:
            for d in [*catalog(), "score >= 2"]:
                chosen = (agreeing(alerts) if d == "score >= 2"
                          else [a for a in alerts if a["detector"] == d])
                outcome, false_alerts = evaluate(chosen, rows)
                combos[d] += outcome.values()
                combo_false[d] += len(false_alerts)
        if args.rules:
            for name, sql in SIMPLE_RULES.items():
                outcome, false_alerts = evaluate(rule_alerts(con, sql), rows)
                rules[name] += outcome.values()
                rule_false[name] += len(false_alerts)
        con.close()
    print(f"backtest {START}..{END}: {statistics.mean(elapsed):.1f} s per seed "
          f"({len(args.seeds)} seeds)")
    report("monitor (default config)", product, false_total, len(args.seeds))
    by_detector = defaultdict(int)
    for alert in shown:
        by_detector[alert["detector"]] += 1
    print("false alerts by detector per month:",
          {k: round(v / len(args.seeds) / months(START, END), 2) for k, v in by_detector.items()})
    for alert in shown[:args.show_false]:
        print("  false:", alert["detector"], alert["first_alert_at"], alert["sentence"])
    for name in rules:
        report(f"simple rule: {name}", rules[name], rule_false[name], len(args.seeds))
    if args.combine:
        summary = {name: report(f"combination: {name}" if name == "score >= 2"
                                else f"one detector alone: {name}",
                                outcomes, combo_false[name], len(args.seeds))
                   for name, outcomes in sorted(combos.items())}
        print("\n| rule | detected | median loss | worst loss | false alerts / month |")
        print("|---|---|---|---|---|")
        for name, r in summary.items():
            print(f"| {name} | {r['detected']}/{r['thefts']} | "
                  f"{r['median_loss'] or float('nan'):,.0f} | {r['worst_loss'] or float('nan'):,.0f} | "
                  f"{r['false_per_month']:.2f} |")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
