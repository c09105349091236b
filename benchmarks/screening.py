"""Sanctions screening benchmark: how well the real lists catch sanctioned names written the
way a payee export writes them, how many honest payees they wrongly match, and how fast.

Run by hand:  .venv/bin/python benchmarks/screening.py [--thresholds 85 88 90 92 95]
              [--payees 200000] [--skip-speed]

1. Catch rate: every DPRK-programme entry of the 2021 SDN list (../shared/data/sanctions)
   written as a payee in five ways (case, punctuation, another legal form, a dropped word,
   an alias: tests/test_screening.py writes them the same way), screened against the full
   2021 SDN list with monitor.screening.
2. False matches: the distinct payee names of every shared real ledger (../shared/data/
   ledgers and ledgers-shared-only when present: honest public-sector spending) screened
   against the 2024 SDN list and the UN list; every match is a false one (the ledgers pay
   no sanctioned party), listed for reading by eye with --show.
3. Speed: the distinct payees of a 10M-row ledger of benchmarks/scan.py's shape (200,000
   payees) as realistic names (words of the real ledgers' payee names, 1-4 words, some with
   a legal form), screened against the full 2024 SDN list: the work `monitor screening load`
   does for a new list version on such a ledger.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import duckdb  # noqa: E402
import polars as pl  # noqa: E402

from monitor.screening import lists, store as screening  # noqa: E402
from monitor.sql import store  # noqa: E402
from screening_variants import dprk_variants  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SANCTIONS = DATA / "sanctions"
PAYEE_COLUMNS = ("merchant_name", "Supplier Name", "Supplier", "MCH.MERCHANT NAME",
                 "Merchant Name", "NOME FAVORECIDO", "MERCHDESCRIPTION")


class Settings:            # what screening reads of a Config
    def __init__(self, threshold: float):
        from monitor.settings.screening import ScreeningSettings
        self.screening = ScreeningSettings(threshold)


def fresh(folder: Path, name: str, payees: list[str]) -> duckdb.DuckDBPyConnection:
    """A real ledger whose transactions hold one charge to each payee."""
    con = store.connect(folder / f"{name}.duckdb")
    con.register("names", pl.DataFrame({"p": payees}).to_arrow())
    con.execute("INSERT INTO transactions (txn_id, source, account, posted_at, amount, currency, "
                "counterparty, file_id, source_row, ingested_at) SELECT 't' || row_number() "
                "OVER (), 'b', 'a', DATE '2024-01-01', 1, 'GBP', p, 1, 1, now() FROM names")
    con.unregister("names")
    return con


def ledger_payees() -> dict[str, list[str]]:
    found = {}
    for folder in ("ledgers", "ledgers-shared-only"):
        for path in sorted((DATA / folder).rglob("*")):
            if path.suffix not in (".csv", ".gz", ".xlsx") or "original" in str(path):
                continue
            try:
                frame = (pl.read_excel(path) if path.suffix == ".xlsx" else
                         pl.read_csv(path, infer_schema=False, encoding="utf8-lossy",
                                     truncate_ragged_lines=True))
            except Exception as e:      # a file this benchmark cannot read: say so, go on
                print(f"skip {path.name}: {e}", file=sys.stderr)
                continue
            column = next((c for c in PAYEE_COLUMNS if c in frame.columns), None)
            if column is None:
                continue
            key = path.parent.name if path.parent.name.startswith("oxford") else path.name
            names = frame[column].drop_nulls().unique().to_list()
            found.setdefault(key, set()).update(n for n in names if n and n.strip())
    return {k: sorted(v) for k, v in found.items()}


def catch_rate(folder: Path, thresholds: list[float]) -> None:
    sdn = lists.read([SANCTIONS / "ofac_2021-07" / "sdn.csv"])
    cases = dprk_variants(sdn[0])
    payees = sorted({c[2] for c in cases})
    print(f"\n## catch rate: {len({c[0] for c in cases})} DPRK entries, {len(cases)} "
          f"variant payees ({len(payees)} distinct)")
    for threshold in thresholds:
        con = fresh(folder, f"catch{threshold}", payees)
        screening.load(con, Settings(threshold), sdn)
        hit = set(con.execute("SELECT payee, entry_uid FROM screening_matches").fetchall())
        by_way = {}
        for uid, way, payee in cases:
            by_way.setdefault(way, [0, 0])
            by_way[way][0] += (payee, uid) in hit
            by_way[way][1] += 1
        missed = [(uid, way, payee) for uid, way, payee in cases if (payee, uid) not in hit]
        print(f"threshold {threshold:g}: " + ", ".join(
            f"{w} {a}/{b}" for w, (a, b) in by_way.items()) + f"; missed {len(missed)}")
        for item in missed[:10]:
            print("   missed", item)
        con.close()


def false_matches(folder: Path, thresholds: list[float], show: bool) -> None:
    payees = ledger_payees()
    versions = (lists.read([SANCTIONS / "ofac_2024-05-03" / "sdn.csv"])
                + lists.read([SANCTIONS / "un" / "UN_consolidated_2026-02-27.xml.gz"]))
    print(f"\n## false matches: {sum(map(len, payees.values())):,} distinct payee names in "
          f"{len(payees)} real ledgers, against the 2024 SDN list and the UN list")
    for threshold in thresholds:
        total, shown = 0, []
        for name, names in payees.items():
            con = fresh(folder, f"fp{threshold}-{len(shown)}-{abs(hash(name))}", names)
            screening.load(con, Settings(threshold), versions)
            found = con.execute(
                "SELECT DISTINCT m.payee, e.name, m.listed, m.score, e.kind FROM screening_matches m "
                "JOIN screening_entries e USING (version_id, entry_uid)").fetchall()
            payees_hit = len({f[0] for f in found})
            total += payees_hit
            print(f"threshold {threshold:g}: {name}: {len(names):,} payees, {payees_hit} "
                  f"matched ({len(found)} matches)")
            shown += [(name, *f) for f in found]
            con.close()
        print(f"threshold {threshold:g}: all ledgers: {total} payees falsely matched")
        if show:
            for row in sorted(shown, key=lambda r: -r[4]):
                print("   ", row)


def synthetic_payees(count: int, seed: int = 7) -> list[str]:
    """Realistic distinct payee names: words of the real ledgers' payee names."""
    words = set()
    for names in ledger_payees().values():
        for name in names:
            words.update(w for w in name.upper().replace("*", " ").split() if w.isalpha())
    vocabulary = sorted(words)
    rng = random.Random(seed)
    forms = ["", "", "", " LTD", " LIMITED", " PLC", " INC", " LLC"]
    found = set()
    while len(found) < count:
        n = rng.choice((1, 2, 2, 2, 3, 3, 4))
        found.add(" ".join(rng.choice(vocabulary) for _ in range(n)) + rng.choice(forms))
    return sorted(found)


def speed(folder: Path, count: int, threshold: float) -> None:
    names = synthetic_payees(count)
    for label, path in (("2024 SDN (sdn.csv alone)", SANCTIONS / "ofac_2024-05-03" / "sdn.csv"),
                        ("2021 SDN with alt.csv", SANCTIONS / "ofac_2021-07" / "sdn.csv")):
        con = fresh(folder, f"speed{len(label)}", names)
        sdn = lists.read([path])
        began = time.perf_counter()
        (report,) = screening.load(con, Settings(threshold), sdn)
        seconds = time.perf_counter() - began
        listed = con.execute("SELECT names FROM screening_lists").fetchall()[0][0]
        print(f"\n## speed: {len(names):,} distinct payees against the {label} list "
              f"({report['entries']:,} entries, {listed:,} names and aliases screened): "
              f"{seconds:.1f} s at threshold {threshold:g}, {report['matches']} matches")
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[85, 88, 90, 92, 95])
    parser.add_argument("--payees", type=int, default=200_000)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--only-speed", action="store_true")
    parser.add_argument("--show", action="store_true", help="list every false match")
    args = parser.parse_args()
    if not (SANCTIONS / "ofac_2021-07" / "sdn.csv").exists():
        sys.exit(f"no sanctions lists in {SANCTIONS}")
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        if not args.only_speed:
            catch_rate(folder, args.thresholds)
            false_matches(folder, args.thresholds, args.show)
        if not args.skip_speed:
            speed(folder, args.payees, 90.0)


if __name__ == "__main__":
    main()
