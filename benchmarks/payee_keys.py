"""Payee keys on real ledgers (issue 16), run by hand:

    .venv/bin/python benchmarks/payee_keys.py [--sample 30] [--seed 16]

For every real ledger in ../shared/data/ledgers and ledgers-shared-only: how many
distinct payee names (as written) collapse into how many payee keys, how many names
share a key with another, the largest groups, and a random sample of merges (groups of
two or more names) to check by eye for wrong merges (two businesses made one).

The Brazilian card ledger gives each payee's tax number (CNPJ; its first 8 digits name
the company, the rest a branch): a key whose names carry different company numbers is
counted as a suspect merge (the same key for two companies), and a company whose
names split over several keys as a missed merge. Nothing of the ledgers is written
into the repository: the output goes to stdout only.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from monitor.ledger.payees import payee_key  # noqa: E402

SHARED = HERE.parent.parent / "shared" / "data"

# ledger -> (path glob under SHARED, payee column, extra column for ground truth or None)
LEDGERS = {
    "birmingham": ("ledgers/birmingham_cc_purchase_cards_2014-04_2018-01.csv.gz",
                   "merchant_name", None),
    "calderdale": ("ledgers/calderdale_card_2014-10_2022-08.csv.gz", "Supplier Name", None),
    "oxford_gpc": ("ledgers/oxford_city_council_gpc/*.csv", "MCH.MERCHANT NAME", None),
    "oxford_over_500": ("ledgers/oxford_city_council_spend_over_500/*.csv", "Supplier Name",
                        None),
    "uk_home_office": ("ledgers/uk_home_office_gpc_over_500_2020_cleaned.csv", "Supplier",
                       None),
    "toronto": ("ledgers/toronto_pcard_expenses_2017-11.xlsx", "Merchant Name", None),
    "brazil_cpgf": ("ledgers-shared-only/cpgf_brazil_2022-2026_partial.csv.gz",
                    "NOME FAVORECIDO", "CNPJ OU CPF FAVORECIDO"),
    "us_cards_2010": ("ledgers-shared-only/nigrini_purchasing_cards_2010.csv.gz",
                      "MERCHDESCRIPTION", None),
}


def names_of(path: str, column: str, extra: str | None) -> list[tuple]:
    """(name, charges[, extra]) for every distinct name as written."""
    con = duckdb.connect()
    if path.endswith(".xlsx"):
        import polars as pl
        frame = pl.read_excel(SHARED / path)
        con.register("ledger", frame.to_arrow())
        source = "ledger"
    else:
        source = (f"read_csv('{SHARED / path}', all_varchar=true, header=true, "
                  "union_by_name=true, ignore_errors=true)")
    pick = f', min("{extra}")' if extra else ""
    group = f', "{extra}"' if extra else ""
    rows = con.execute(f'SELECT "{column}", count(*){pick} FROM {source} '
                       f'WHERE "{column}" IS NOT NULL GROUP BY "{column}"{group}').fetchall()
    con.close()
    return rows


def measure(name: str, path: str, column: str, extra: str | None, sample: int,
            rng: random.Random) -> dict:
    rows = names_of(path, column, extra)
    charges = defaultdict(int)
    company = defaultdict(set)
    for row in rows:
        charges[row[0]] += row[1]
        if extra and row[2]:
            digits = "".join(c for c in row[2] if c.isdigit())
            if len(digits) == 14:            # a CNPJ (a person's CPF is masked: skipped)
                company[row[0]].add(digits[:8])
    started = time.process_time()
    keys = {n: payee_key(n) for n in charges}
    seconds = time.process_time() - started
    groups = defaultdict(list)
    for n, k in keys.items():
        groups[k].append(n)
    merged = {k: sorted(v, key=lambda n: -charges[n]) for k, v in groups.items() if len(v) > 1}
    result = {
        "ledger": name, "charges": sum(charges.values()), "names": len(keys),
        "keys": len(groups), "merged_keys": len(merged),
        "names_in_merges": sum(len(v) for v in merged.values()),
        "charges_regrouped": sum(charges[n] for v in merged.values() for n in v),
        "us_per_name": round(seconds / max(len(keys), 1) * 1e6, 1),
        "largest": sorted(merged.items(), key=lambda kv: -len(kv[1]))[:3],
        "sample": rng.sample(sorted(merged.items()), min(sample, len(merged))),
    }
    if extra:
        suspect = [k for k, v in merged.items()
                   if len(set().union(*(company[n] for n in v))) > 1]
        by_company = defaultdict(set)
        for n, k in keys.items():
            for c in company[n]:
                by_company[c].add(k)
        result["cnpj_keys_checked"] = sum(1 for v in merged.values()
                                          if any(company[n] for n in v))
        result["cnpj_suspect_merges"] = len(suspect)
        # names that differ only in case, punctuation and spacing: two companies of one
        # name (in different towns); no key made from the name alone can part them
        plain = {k: {"".join(ch for ch in n.casefold() if ch.isalnum()) for n in merged[k]}
                 for k in suspect}
        result["cnpj_suspect_same_name"] = sum(1 for k in suspect if len(plain[k]) == 1)
        result["cnpj_suspect_sample"] = [(k, merged[k][:4]) for k in suspect]
        result["companies_split_over_keys"] = sum(1 for ks in by_company.values()
                                                  if len(ks) > 1)
        result["companies"] = len(by_company)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=30, help="merges sampled over all ledgers")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    found = [(n, spec) for n, spec in LEDGERS.items()
             if list(SHARED.glob(spec[0])) or (SHARED / spec[0]).exists()]
    if not found:
        sys.exit(f"no ledgers under {SHARED}")
    per = max(1, args.sample // len(found) + 1)
    results = [measure(n, *spec, per, rng) for n, spec in found]
    print("| ledger | charges | names as written | payee keys | keys with 2+ names | "
          "names in them | charges regrouped | us/name |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['ledger']} | {r['charges']:,} | {r['names']:,} | {r['keys']:,} | "
              f"{r['merged_keys']:,} | {r['names_in_merges']:,} | {r['charges_regrouped']:,} | "
              f"{r['us_per_name']} |")
    for r in results:
        if "cnpj_suspect_merges" in r:
            print(f"\n{r['ledger']}: merged keys whose names carry a company number: "
                  f"{r['cnpj_keys_checked']:,}; of them with two or more companies "
                  f"(suspect): {r['cnpj_suspect_merges']:,}, of which "
                  f"{r['cnpj_suspect_same_name']:,} are one name written alike (case, "
                  f"punctuation); companies whose names split "
                  f"over several keys: {r['companies_split_over_keys']:,} of "
                  f"{r['companies']:,}")
            for k, v in r["cnpj_suspect_sample"]:
                print(f"  suspect {k!r}: {v}")
    print("\nLargest merges:")
    for r in results:
        for k, v in r["largest"]:
            print(f"  {r['ledger']}: {k!r} <- {len(v)} names: {v[:6]}")
    print("\nSample of merges (check by eye):")
    for r in results:
        for k, v in r["sample"]:
            print(f"  {r['ledger']}: {k!r} <- {v[:6]}")


if __name__ == "__main__":
    main()
