"""Honest alerts of the issue-16 detectors (look-alike payees, changed and shared payout
accounts) on the real ledgers whose exports carry a payee identity that can stand in for a
payout account: US 2010 cards (MERCHNUM, a card merchant number) and Brazil CPGF (the
payee's CNPJ/CPF). Each ledger is loaded once into WORK/<name>/ledger.duckdb (kept between
runs: `--reuse`), then replayed with the real `monitor backtest` command, and the alerts are
counted per detector. No ledger is tampered with, so every alert is an honest one.

    python benchmarks/payout_noise.py WORK [--reuse] [--ledgers us2010 brazil]

The files are read from ../shared/data and never copied into the repository."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detection  # noqa: E402
import ledgers as ledger_specs  # noqa: E402

PAYOUT_COLUMN = {"us2010": "MERCHNUM", "brazil": "CNPJ OU CPF FAVORECIDO"}
REPLAY = {"us2010": ("2010-07-01", "2010-12-31"), "brazil": ("2022-06-01", "2026-01-29")}
MINE = ("lookalike_payee", "changed_payout_account", "shared_payout_account")


def with_payout(ledger):
    """The ledger's source with the payee identity mapped to `counterparty_account`."""
    source = dict(ledger.sources[0])
    source["columns"] = {**source["columns"], "counterparty_account": PAYOUT_COLUMN[ledger.name]}
    return ledger_specs.Ledger(**{**ledger.__dict__, "sources": (source,)})


def run(name: str, work: Path, reuse: bool) -> dict:
    ledger = with_payout(ledger_specs.ledgers()[name])
    folder = work / name
    if not (reuse and (folder / "ledger.duckdb").exists()):
        if folder.exists():
            raise SystemExit(f"{folder} exists: remove it or pass --reuse")
        detection.prepare(ledger, folder, "")
    start, end = REPLAY[name]
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config",
                           str(folder / "config.toml"), "backtest", "--from", start,
                           "--to", end, "--format", "json"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{name}: backtest failed: {proc.stderr.strip()}")
    alerts = json.loads(proc.stdout)["alerts"]
    counts = Counter(a["detector"] for a in alerts)
    return {"ledger": name, "replay": f"{start}..{end}", "wall_s": round(time.monotonic() - began, 1),
            "all": len(alerts), **{d: counts.get(d, 0) for d in MINE}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--ledgers", nargs="+", default=list(PAYOUT_COLUMN))
    args = parser.parse_args(argv)
    for name in args.ledgers:
        print(json.dumps(run(name, args.work, args.reuse)), flush=True)


if __name__ == "__main__":
    main()
