"""Detection benchmark: thefts drawn from distributions, injected into every real ledger.

Run by hand. Small (about a minute on 2 busy cores):
    .venv/bin/python benchmarks/detection.py --ledgers oxford us2010 --seeds 1001
Full run, as in benchmarks/RESULTS.md (1,080 thefts, 11 minutes at load 9-14):
    .venv/bin/python benchmarks/detection.py --seeds 1001 1002 1003 1004 --instances 2
Calibrated as the product runs (the daemon calibrates again every 30 days), with the
trade-off curve of several budgets (benchmarks/recalibrated.py):
    .venv/bin/python benchmarks/detection.py --calibrate --every 90 --budgets 2 1 4 8
--keep-calibrations DIR keeps each ledger's calibrations (most of a long ledger's time) and
reuses them on a later run of the same code (a digest of monitor/, queries/ and the ledgers'
specs names the file). --kinds picks kinds, --json FILE writes every theft's parameters and
outcome, --config appends TOML (other settings) to each ledger's config, --tuned-on names
the ledgers those settings were tuned on (their rows are labelled, the others are held out).

For each ledger (benchmarks/ledgers.py) it ingests the real exports into a DuckDB file
with the library's ingest, replays the honest ledger with `monitor backtest`'s code
(detect.backtest) to count honest alerts a month after a warm-up, then per seed writes
the thefts of every kind (benchmarks/thefts.py) as one more export of the same source,
ingests it, replays again and measures per theft: caught or not, the money and the
charges posted before the first alert on the theft's charges or on its account and
payee, and which detector raised it. A plain rule, "an account-payee pair passes 5,000
in 90 days", is measured in the same run as a reference.

Seeds: 1-999 are for tuning, 1000 and up for reporting (the default). Figures are
labelled by what the configuration measured was tuned on (--tuned-on): the defaults
were tuned on Birmingham's honest ledger and the v1_* recipes (seeds 1-8), so those
figures are "tuned-on", Birmingham's figures for the new kinds are "ledger tuned-on",
and every other ledger is held out.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import pickle
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ledgers as ledger_specs  # noqa: E402
import recalibrated  # noqa: E402
import thefts as gen  # noqa: E402
from monitor import pipeline  # noqa: E402
from monitor.detection import fold, scan as detect  # noqa: E402
from monitor.ledger import ingest  # noqa: E402
from monitor.settings import config as config_mod  # noqa: E402
from monitor.sql import store  # noqa: E402

REPORT_SEEDS = (1001, 1002)
TUNING_SEEDS = range(1, 1000)
LIMIT = Decimal(5000)          # "caught within 5,000": loss at the first alert at most this
# What the current defaults were tuned on (issue 4): Birmingham's honest ledger and the
# v1 recipes, seeds 1-8.
DEFAULT_TUNED_ON = ("birmingham",)

BASELINE_RULE = """
    WITH c AS (
        SELECT txn_id, account, counterparty, posted_at, amount,
               sum(amount) OVER w AS total, list(txn_id) OVER w AS ids
        FROM transactions WHERE amount > 0
        WINDOW w AS (PARTITION BY account, counterparty ORDER BY posted_at
                     RANGE BETWEEN INTERVAL 90 DAYS PRECEDING AND CURRENT ROW)),
    crossings AS (
        SELECT *, row_number() OVER (PARTITION BY account, counterparty ORDER BY posted_at) AS k
        FROM c WHERE total >= 5000 AND posted_at BETWEEN $start AND $end)
    SELECT 'pair_5000_90d' AS detector, account, counterparty, posted_at AS first_alert_at,
           ids AS evidence_txn_ids FROM crossings WHERE k = 1"""


def toml(value) -> str:
    return json.dumps(value)        # a JSON string is a valid TOML basic string


def config_text(ledger, database: Path, extra: str = "") -> str:
    lines = ["[database]", f"path = {toml(str(database))}", ""]
    for source in ledger.sources:
        lines.append("[[sources]]")
        lines += [f"{k} = {toml(v)}" for k, v in source.items() if k != "columns"]
        lines.append("[sources.columns]")
        lines += [f"{toml(k)} = {toml(v)}" for k, v in source["columns"].items()]
        lines.append("")
    return "\n".join(lines) + "\n" + extra


def load_config(folder: Path):
    return config_mod.load(folder / "config.toml", warn=lambda line: None)


def prepare(ledger, folder: Path, extra: str) -> dict:
    """The honest ledger ingested into folder/ledger.duckdb through the library."""
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(config_text(ledger, folder / "ledger.duckdb", extra),
                                        encoding="utf-8")
    cfg = load_config(folder)
    con = store.connect(cfg.database)
    rows = Counter()
    try:
        for path in ledger.files:
            planned = ingest.plan(cfg, [str(path)], ledger_specs.source_for(ledger, path))
            for result in ingest.ingest_all(con, planned, complete=True):
                if result.status not in ("loaded", "unchanged"):
                    raise SystemExit(f"{ledger.name}: {path.name} did not load: {result.message}")
                rows.update(read=result.rows_read, loaded=result.loaded,
                            rejected=result.rejected, duplicates=result.duplicates)
        facts = con.execute("SELECT count(DISTINCT account), count(DISTINCT counterparty) "
                            "FROM transactions").fetchone()
    finally:
        con.close()
    return {**rows, "accounts": facts[0], "payees": facts[1]}


def profile(con, ledger) -> gen.Profile:
    start, end = ledger.replay
    accounts = [r[0] for r in con.execute(
        "SELECT account FROM transactions WHERE posted_at BETWEEN ? AND ? AND amount > 0 "
        "GROUP BY account HAVING count(*) >= 10 ORDER BY account", [start, end]).fetchall()]
    pairs = [gen.Pair(*r) for r in con.execute(
        "SELECT account, counterparty, count(*), median(amount)::DECIMAL(18,2), "
        "min(posted_at), max(posted_at) FROM transactions "
        "WHERE amount > 0 AND counterparty IS NOT NULL AND account IS NOT NULL "
        "AND posted_at <= ? GROUP BY ALL HAVING count(*) >= 6 ORDER BY 1, 2", [end]).fetchall()]
    payees = {r[0] for r in con.execute(
        "SELECT DISTINCT lower(counterparty) FROM transactions "
        "WHERE counterparty IS NOT NULL").fetchall()}
    return gen.Profile(tuple(accounts), tuple(pairs), frozenset(payees), start, end)


def inject(ledger, folder: Path, seed: int, kinds, instances: int):
    """Write the seed's thefts as one more export, ingest it; every row must load."""
    cfg = load_config(folder)
    con = store.connect(cfg.database)
    instances_ = gen.generate(profile(con, ledger), seed, kinds, instances)
    charges = [c for t in instances_ for c in t.charges]
    path = folder / f"thefts-{seed}.csv"
    ledger.write(path, charges)
    [result] = ingest.ingest_all(con, ingest.plan(cfg, [str(path)], ledger.sources[0]["name"]),
                                 complete=True)
    if result.loaded != len(charges) or result.rejected:
        raise SystemExit(f"{ledger.name} seed {seed}: {len(charges)} stolen rows written, "
                         f"{result.loaded} loaded, {result.rejected} rejected, "
                         f"{result.duplicates} duplicates: {result.message}")
    ids = dict(con.execute("SELECT source_row, txn_id FROM transactions WHERE file_id = ?",
                           [result.file_id]).fetchall())
    txn_of = {ids[i + 2]: c for i, c in enumerate(charges)}
    return cfg, con, instances_, txn_of


def outcome(theft: gen.Theft, alert: dict | None) -> dict:
    """Money and charges posted up to the alert's day (the whole theft when missed)."""
    until = alert["first_alert_at"] if alert else dt.date.max
    before = [c for c in theft.charges if c.day <= until]
    return {"kind": theft.kind, "theft": theft.id, "caught": alert is not None,
            "loss": sum((c.amount for c in before), Decimal("0.00")),
            "charges": sum(1 for c in before if c.amount > 0),
            "total": theft.total, "detector": alert["detector"] if alert else None,
            "params": theft.params}


def evaluate(alerts: list[dict], thefts: list[gen.Theft], txn_of: dict) -> list[dict]:
    """Per theft, its first alert: one whose evidence holds its charges, or one on its
    account and payee raised on or after its first charge."""
    first: dict[str, dict] = {}
    by_pair = defaultdict(list)
    for theft in thefts:
        for account in theft.accounts:
            for payee in theft.payees:
                by_pair[(account, payee)].append(theft)
    for alert in alerts:
        hit = {txn_of[t].theft for t in alert["evidence_txn_ids"] if t in txn_of}
        hit |= {t.id for t in by_pair.get((alert["account"], alert["counterparty"]), ())
                if alert["first_alert_at"] >= t.start}
        for theft_id in hit:
            if theft_id not in first or alert["first_alert_at"] < first[theft_id]["first_alert_at"]:
                first[theft_id] = alert
    return [outcome(t, first.get(t.id)) for t in thefts]


def rule_alerts(con, ledger) -> list[dict]:
    start, end = ledger.replay
    cursor = con.execute(BASELINE_RULE, {"start": start, "end": end})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def honest_rates(alerts: list[dict], ledger) -> dict:
    months = ledger.months()
    per = Counter(a["detector"] for a in alerts)
    return {"per_month": len(alerts) / months, "alerts": len(alerts), "months": months,
            "by_detector": {k: v / months for k, v in per.most_common()}}


# --calibrate --every 0: the monitor calibrates on the history BEFORE the replay only (at least this
# much of it: the replay starts later where a ledger has less, but leaves at least
# SHORTEST_REPLAY), so every honest alert and theft it is judged on lies in its future, as
# in use. (The daemon recalibrates monthly, which --every N models; one calibration for the
# whole replay is the harder test.) Both modes start the replay at the same day.
CALIBRATION_HISTORY = dt.timedelta(days=540)
SHORTEST_REPLAY = dt.timedelta(days=92)


def calibrate_before_replay(con, cfg, ledger):
    """Calibrate on the history before the replay (moving the replay's start so that there
    are CALIBRATION_HISTORY days of it); returns (the ledger with that replay, what the
    defaults raise on it, the calibration)."""
    first = con.execute("SELECT min(posted_at) FROM transactions WHERE amount > 0").fetchone()[0]
    start, end = ledger.replay
    cutoff = min(max(start, first + CALIBRATION_HISTORY), max(start, end - SHORTEST_REPLAY))
    ledger = dataclasses.replace(ledger, replay=(cutoff, end))
    defaults = fold.over_time(detect.backtest(con, cfg, *ledger.replay))
    t0 = time.perf_counter()
    found = pipeline.calibrate(con, cfg, by="benchmark",
                               until=ledger.replay[0] - dt.timedelta(days=1))
    return ledger, defaults, found, time.perf_counter() - t0


def code_key(*parts) -> str:
    """A digest of the code a calibration depends on (monitor/, queries/, the ledgers'
    specs) and of `parts`: a kept calibration is reused only by the same code."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("monitor/**/*.py"), *ROOT.glob("queries/**/*.sql"),
                        ROOT / "benchmarks" / "ledgers.py"]):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(repr(parts).encode())
    return digest.hexdigest()[:16]


def scheduled(con, cfg, ledger, start: dt.date, end: dt.date, every: int, extra: str,
              keep: Path | None) -> tuple[list, float]:
    """recalibrated.schedule, or what an earlier run of the same code kept in `keep` (the
    calibrations are most of a long ledger's time: Brazil's take over an hour)."""
    kept = keep / f"{ledger.name}-{code_key(ledger.name, start, end, every, extra)}.pickle" \
        if keep else None
    if kept and kept.exists():
        print(f"  calibrations reused from {kept}", file=sys.stderr, flush=True)
        return pickle.loads(kept.read_bytes())
    found = recalibrated.schedule(con, cfg, start, end, every)
    if kept:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(pickle.dumps(found))
    return found


def run_ledger(ledger, tmp: Path, seeds, kinds, instances: int, extra: str,
               calibrate: bool = False, budgets=(2.0,), every: int | None = None,
               keep: Path | None = None) -> dict:
    """With `every` (days): recalibrated on that schedule (benchmarks/recalibrated.py), for
    each of `budgets`; the first budget's figures are the main ones."""
    began = time.perf_counter()
    base = tmp / ledger.name / "base"
    facts = prepare(ledger, base, extra)
    cfg = load_config(base)
    con = store.connect(cfg.database)
    calibration, periods = None, None
    budgets = list(budgets) if every else [None]
    by_budget = {}
    try:
        if every:
            start, end = ledger.replay
            first = con.execute("SELECT min(posted_at) FROM transactions "
                                "WHERE amount > 0").fetchone()[0]
            cutoff = min(max(start, first + CALIBRATION_HISTORY),
                         max(start, end - SHORTEST_REPLAY))
            ledger = dataclasses.replace(ledger, replay=(cutoff, end))
            defaults = fold.over_time(detect.backtest(con, cfg, *ledger.replay))
            periods, seconds = scheduled(con, cfg, ledger, cutoff, end, every, extra, keep)
            calibration = {"seconds": seconds, "every": every, "periods": len(periods),
                           "defaults_honest": honest_rates(defaults, ledger),
                           "per_budget": {b: recalibrated.described(periods, cfg, b)
                                          for b in budgets}}
        elif calibrate:
            ledger, defaults, found, seconds = calibrate_before_replay(con, cfg, ledger)
            calibration = {"seconds": seconds, "note": found.note, "per_month": found.per_month,
                           "defaults_honest": honest_rates(defaults, ledger),
                           "choices": [dataclasses.asdict(c) for c in found.choices]}
        t0, runs = time.perf_counter(), {}
        for b in budgets:
            honest = (recalibrated.replay(con, cfg, periods, b, runs) if every else
                      fold.over_time(detect.backtest(con, cfg, *ledger.replay)))
            by_budget[b] = {"honest": honest_rates(honest, ledger), "outcomes": []}
        backtest_s = (time.perf_counter() - t0) / len(budgets)
        honest_rule = rule_alerts(con, ledger)
    finally:
        con.close()
    result = {"ledger": ledger.name, "facts": facts, "replay": [str(d) for d in ledger.replay],
              "honest_rule": honest_rates(honest_rule, ledger),
              "backtest_seconds": backtest_s, "rule_outcomes": [],
              "calibration": calibration}
    groups = [[k] for k in kinds] if ledger.separate else [list(kinds)]
    for seed, group in ((s, g) for s in seeds for g in groups):
        work = tmp / ledger.name / f"seed{seed}"
        shutil.copytree(base, work)
        (work / "config.toml").write_text(config_text(ledger, work / "ledger.duckdb", extra),
                                          encoding="utf-8")
        cfg, con, instances_, txn_of = inject(ledger, work, seed, group, instances)
        try:
            runs = {}
            for b in budgets:
                alerts = (recalibrated.replay(con, cfg, periods, b, runs) if every else
                          fold.over_time(detect.backtest(con, cfg, *ledger.replay)))
                by_budget[b]["outcomes"] += [dict(o, seed=seed)
                                             for o in evaluate(alerts, instances_, txn_of)]
            result["rule_outcomes"] += [dict(o, seed=seed) for o in
                                        evaluate(rule_alerts(con, ledger), instances_, txn_of)]
        finally:
            con.close()
        shutil.rmtree(work)
    shutil.rmtree(base)
    result.update(by_budget[budgets[0]], by_budget=by_budget)
    result["seconds"] = time.perf_counter() - began
    return result


# ---- report ---------------------------------------------------------------------------

def label(ledger: str, kind: str | None, tuned_on: tuple[str, ...], seeds) -> str:
    if ledger not in tuned_on:
        return "held out"
    if kind is None:
        return "tuned-on"             # the honest ledger itself was tuned on
    if kind.startswith("v1_"):
        return "tuned-on" if any(s <= 8 for s in seeds) else "tuned-on generator"
    return "ledger tuned-on"


def summary(outcomes: list[dict]) -> dict:
    if not outcomes:
        return {}
    within = [o for o in outcomes if o["caught"] and o["loss"] <= LIMIT]
    caught = [o for o in outcomes if o["caught"]]
    return {"n": len(outcomes), "caught": len(caught), "within": len(within),
            "over": sum(1 for o in outcomes if o["loss"] > LIMIT),
            "median_loss": statistics.median(o["loss"] for o in outcomes),
            "median_charges": statistics.median(o["charges"] for o in outcomes),
            "median_loss_caught": (statistics.median(o["loss"] for o in caught)
                                   if caught else None),
            "detectors": Counter(o["detector"] for o in caught).most_common()}


def fmt(x) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if isinstance(x, (Decimal, float, int)) else str(x)


def print_report(results: list[dict], args, tuned_on) -> None:
    print(f"# Detection benchmark, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.machine()}, seeds {list(args.seeds)}, {args.instances} instance(s) "
          f"per kind and seed")
    print("\ncommand: " + " ".join(["benchmarks/detection.py", *sys.argv[1:]]))
    print("\nmedian loss counts a missed theft at its whole posted amount; 'within' = caught "
          "with loss <= 5,000; 'lost > 5,000' = more than 5,000 posted before the first "
          "alert (caught late or never)")
    print("\n## Per ledger, all kinds (monitor default config vs the pair-5,000 rule)\n")
    print("| ledger | thefts | label | caught within 5,000 | caught at all | lost > 5,000 "
          "| median loss | median charges | rule: within 5,000 | rule: lost > 5,000 "
          "| rule: median loss |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    groups = (("new kinds", lambda k: not k.startswith("v1_")),
              ("v1 recipes", lambda k: k.startswith("v1_")))
    for r in [*results, None]:
        for group, keep in groups:
            if r is None:     # every held-out ledger together
                mine = [o for x in results if x["ledger"] not in tuned_on
                        for o in x["outcomes"] if keep(o["kind"])]
                rule = [o for x in results if x["ledger"] not in tuned_on
                        for o in x["rule_outcomes"] if keep(o["kind"])]
                name, tag = "**all held-out ledgers**", "held out"
            else:
                mine = [o for o in r["outcomes"] if keep(o["kind"])]
                rule = [o for o in r["rule_outcomes"] if keep(o["kind"])]
                name = r["ledger"]
                tag = label(r["ledger"], mine[0]["kind"], tuned_on, args.seeds) if mine else ""
            if not mine:
                continue
            s, q = summary(mine), summary(rule)
            print(f"| {name} | {s['n']} {group} | {tag} | {s['within']}/{s['n']} | "
                  f"{s['caught']}/{s['n']} | {s['over']}/{s['n']} | {fmt(s['median_loss'])} | "
                  f"{fmt(s['median_charges'])} | {q['within']}/{q['n']} | {q['over']}/{q['n']} | "
                  f"{fmt(q['median_loss'])} |")
    print("\n## Honest alerts a month, ledger with no theft, after the warm-up\n")
    print("| ledger | account is | replay | months | label | monitor | pair-5,000 rule |")
    print("|---|---|---|---|---|---|---|")
    specs = ledger_specs.ledgers()
    for r in results:
        print(f"| {r['ledger']} | {specs[r['ledger']].account_meaning} | {r['replay'][0]} to "
              f"{r['replay'][1]} | {r['honest']['months']:.1f} | "
              f"{label(r['ledger'], None, tuned_on, args.seeds)} | "
              f"**{r['honest']['per_month']:.2f}** | {r['honest_rule']['per_month']:.2f} |")
    kinds = [k for k in gen.ALL_KINDS if any(o["kind"] == k for r in results
                                             for o in r["outcomes"])]
    names = [r["ledger"] for r in results]
    print("\n## Caught within 5,000, per kind and ledger (median loss; median charges)\n")
    print("| kind | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for kind in kinds:
        cells = []
        for r in results:
            s = summary([o for o in r["outcomes"] if o["kind"] == kind])
            cells.append(f"{s['within']}/{s['n']} ({fmt(s['median_loss'])}; "
                         f"{fmt(s['median_charges'])})" if s else "-")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print("\n## First detectors, per kind (all ledgers)\n")
    for kind in kinds:
        s = summary([o for r in results for o in r["outcomes"] if o["kind"] == kind])
        print(f"- {kind}: " + (", ".join(f"{d} {n}" for d, n in s["detectors"]) or "none"))
    print("\n## Honest alerts a month per detector, ledger with no theft\n")
    for r in results:
        by = ", ".join(f"{d} {v:.2f}" for d, v in r["honest"]["by_detector"].items())
        print(f"- {r['ledger']}: {r['honest']['per_month']:.2f} = {by or 'none'}")
    calibrated = [r for r in results if r.get("calibration")]
    once = [r for r in calibrated if "every" not in r["calibration"]]
    if once:
        print("\n## Calibration (on the history before the replay only)\n")
        print("| ledger | replay | honest a month, defaults | calibrated: on its history "
              "(in-sample) | calibrated: on the replay (out-of-sample) | seconds |")
        print("|---|---|---|---|---|---|")
        for r in once:
            c = r["calibration"]
            print(f"| {r['ledger']} | {r['replay'][0]} to {r['replay'][1]} | "
                  f"{c['defaults_honest']['per_month']:.2f} | {c['per_month']:.2f} | "
                  f"**{r['honest']['per_month']:.2f}** | {c['seconds']:.0f} |")
        for r in once:
            c = r["calibration"]
            chosen = ", ".join(f"{x['detector']} {x['param']}={x['value']} (rung {x['rung']})"
                               for x in c["choices"] if x["rung"] is not None)
            print(f"- {r['ledger']}: {c['note']} Chosen: {chosen}")
    again = [r for r in calibrated if "every" in r["calibration"]]
    if again:
        print_recalibrated(again)
    print("\n## Run\n")
    for r in results:
        f = r["facts"]
        print(f"- {r['ledger']}: {f['loaded']:,} rows loaded ({f['rejected']:,} rejected by the "
              f"source itself), {f['accounts']:,} accounts; honest backtest "
              f"{r['backtest_seconds']:.1f} s; ledger total {r['seconds']:.0f} s")


def print_recalibrated(results: list[dict]) -> None:
    """Recalibrated on a schedule: honest alerts and thefts per budget (the trade-off)."""
    print("\n## Recalibrated as the daemon does (on the theft-free history known on the day)\n")
    print("| ledger | replay | calibrations | honest a month, defaults | in-sample, mean of "
          "calibrations (first budget) | out-of-sample (first budget) | calibration seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        c = r["calibration"]
        first = next(iter(c["per_budget"].values()))
        done = [p["in_sample"] for p in first if p["calibrated"]]
        print(f"| {r['ledger']} | {r['replay'][0]} to {r['replay'][1]} | {c['periods']} every "
              f"{c['every']} days ({len(done)} calibrated) | "
              f"{c['defaults_honest']['per_month']:.2f} | "
              f"{statistics.mean(done) if done else float('nan'):.2f} | "
              f"**{r['honest']['per_month']:.2f}** | {c['seconds']:.0f} |")
    print("\n## Trade-off: per budget, honest alerts a month out-of-sample and thefts\n")
    print("median loss counts a missed theft at its whole posted amount; 'caught: median "
          "loss' is over the thefts caught at all\n")
    print("| ledger | alert_budget | honest a month | new kinds within 5,000 | v1 within 5,000 "
          "| all within 5,000 | median loss | median charges | caught: median loss | "
          "honest per detector |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for budget, got in r["by_budget"].items():
            new = summary([o for o in got["outcomes"] if not o["kind"].startswith("v1_")])
            old = summary([o for o in got["outcomes"] if o["kind"].startswith("v1_")])
            every = summary(got["outcomes"])
            top = ", ".join(f"{d} {v:.2f}" for d, v in
                            list(got["honest"]["by_detector"].items())[:3])
            print(f"| {r['ledger']} | {budget:g} | **{got['honest']['per_month']:.2f}** | "
                  f"{new.get('within', 0)}/{new.get('n', 0)} | "
                  f"{old.get('within', 0)}/{old.get('n', 0)} | "
                  f"{every.get('within', 0)}/{every.get('n', 0)} | "
                  f"{fmt(every.get('median_loss'))} | {fmt(every.get('median_charges'))} | "
                  f"{fmt(every.get('median_loss_caught'))} | {top} |")
    if any(len(r["by_budget"]) > 1 for r in results):
        print_kinds_per_budget(results)
    for r in results:
        for budget, periods in r["calibration"]["per_budget"].items():
            last = periods[-1]
            chosen = ", ".join(f"{d} {p}={v}" + "".join(f" {a}={b}" for a, b in also.items())
                               + f" (rung {k})"
                               for d, (p, v, k, also) in sorted(last["chosen"].items()))
            print(f"- {r['ledger']}, budget {budget:g}, last calibration ({last['start']}): "
                  f"{last['note']} Chosen: {chosen or 'defaults'}")


def print_kinds_per_budget(results: list[dict]) -> None:
    """The trade-off for each kind of theft, per ledger: how many of its instances each
    budget catches within 5,000, and their median loss (a miss counts its whole amount).
    A kind that no budget catches within 5,000 is one the detectors miss, not one a
    larger budget would buy back."""
    print("\n## Trade-off per kind: caught within 5,000 (median loss) at each alert_budget")
    for r in results:
        budgets = list(r["by_budget"])
        print(f"\n{r['ledger']}:\n")
        print("| kind | " + " | ".join(f"budget {b:g}" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        print("| honest alerts a month | " + " | ".join(
            f"{got['honest']['per_month']:.2f}" for got in r["by_budget"].values()) + " |")
        for kind in sorted({o["kind"] for o in r["outcomes"]}):
            cells = []
            for got in r["by_budget"].values():
                s = summary([o for o in got["outcomes"] if o["kind"] == kind])
                cells.append(f"{s['within']}/{s['n']} ({fmt(s['median_loss'])})")
            print(f"| {kind} | " + " | ".join(cells) + " |")


def main(argv=None) -> None:
    specs = ledger_specs.ledgers()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledgers", nargs="+", choices=sorted(specs), default=sorted(specs))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(REPORT_SEEDS),
                        help="1-999 are tuning seeds, 1000 and up report seeds")
    parser.add_argument("--kinds", nargs="+", choices=gen.ALL_KINDS, default=list(gen.ALL_KINDS))
    parser.add_argument("--instances", type=int, default=1, help="instances per kind and seed")
    parser.add_argument("--config", type=Path, help="TOML appended to each ledger's config "
                        "(e.g. [detectors.x] tuning)")
    parser.add_argument("--tuned-on", nargs="*", default=None,
                        help="ledgers the measured config was tuned on (default: birmingham, "
                        "what the defaults were tuned on; give none with --config if held out)")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument("--calibrate", action="store_true",
                        help="calibrate each ledger on its history before the replay "
                        "(monitor calibrate, [detectors] alert_budget) and measure after it")
    parser.add_argument("--every", type=int, default=30,
                        help="with --calibrate: calibrate again every DAYS of the replay on the "
                        "history known then, as the daemon does (default 30); 0: once, "
                        "before the replay")
    parser.add_argument("--budgets", type=float, nargs="+", default=[2.0],
                        help="with --calibrate and --every: alert budgets to measure (the "
                        "trade-off curve); the first gives the main tables")
    parser.add_argument("--keep-calibrations", type=Path, metavar="DIR",
                        help="with --every: keep each ledger's calibrations in DIR and reuse "
                        "those an earlier run of the same code kept (same monitor/, queries/, "
                        "ledgers, schedule and --config); they are pickles, loaded as code "
                        "is: a DIR only you can write")
    args = parser.parse_args(argv)
    tuned_on = tuple(args.tuned_on) if args.tuned_on is not None else DEFAULT_TUNED_ON
    extra = args.config.read_text() if args.config else ""
    if any(s in TUNING_SEEDS for s in args.seeds):
        print("note: tuning seeds (1-999) in use; these figures are not for reporting",
              file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="monitor-detection-"))
    results = []
    try:
        for name in args.ledgers:
            ledger = specs[name]
            if not ledger.available():
                print(f"skipped {name}: {ledger.files[0]} is not there", file=sys.stderr)
                continue
            print(f"{name}...", file=sys.stderr, flush=True)
            results.append(run_ledger(ledger, tmp, args.seeds, args.kinds, args.instances, extra,
                                      args.calibrate, args.budgets,
                                      args.every if args.calibrate else None,
                                      args.keep_calibrations))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_report(results, args, tuned_on)
    if args.json:
        args.json.write_text(json.dumps(results, default=str, indent=1))


if __name__ == "__main__":
    main()
