"""Calibration time on a whole real ledger (issue 17: four years of Birmingham in under 5
minutes). Run by hand:  .venv/bin/python benchmarks/calibrate.py [--ledger birmingham]

Ingests the ledger's exports through the library (as benchmarks/detection.py does), then
times `monitor calibrate`'s use case (pipeline.calibrate) over all its history: wall and
CPU time, peak RSS, and what it chose.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import detection as bench  # noqa: E402
import ledgers as specs  # noqa: E402
from monitor import pipeline  # noqa: E402
from monitor.sql import store  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", default="birmingham", choices=sorted(specs.ledgers()))
    args = parser.parse_args(argv)
    ledger = specs.ledgers()[args.ledger]
    tmp = Path(tempfile.mkdtemp(prefix="monitor-calibrate-"))
    try:
        facts = bench.prepare(ledger, tmp / "ledger", "")
        cfg = bench.load_config(tmp / "ledger")
        con = store.connect(cfg.database)
        wall, cpu = time.perf_counter(), time.process_time()
        found = pipeline.calibrate(con, cfg, by="benchmark")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"{args.ledger}: {facts['loaded']:,} rows; calibrate {wall:.1f} s wall, {cpu:.1f} s "
          f"CPU, peak RSS {rss:.2f} GB")
    print(found.note)
    for c in found.choices:
        if c.rung is not None:
            also = "".join(f", {k} = {v}" for k, v in c.also.items())
            print(f"  {c.detector} {c.param} = {c.value}{also} (rung {c.rung}), "
                  f"{c.per_month} a month")


if __name__ == "__main__":
    main()
