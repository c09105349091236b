"""Spark engine benchmark: the detectors over a generated ledger lake, on Spark local[1]
and local[2] and on DuckDB, with the same data and the same findings.

Run by hand:  .venv/bin/python benchmarks/spark.py [--rows 20000000] [--keep DIR]
                                                    [--masters local[1] local[2]]
                                                    [--shape birmingham|dense]

The ledger comes from benchmarks/scan.py's generator (by default the Birmingham card
ledger's shape scaled up: 84,000 accounts, 200,000 payees, four years; `--shape dense`:
2,000 cards paying 50,000 payees). It is written to DuckDB, then to
the Parquet lake with `monitor.ledger.lake.export` (what `monitor export-lake` runs). Each
engine (Spark first, then DuckDB with --duckdb-memory) runs the full detection
(detect.evaluate: explain, features, every detector, episodes and evidence) as of the last
posting day; the episodes are compared row for row. Times are wall clock; each line is also
appended to DIR/results.jsonl as soon as it is measured, so a run
cut short keeps what it had.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scan import SHAPES, open_ledger, peak_mb  # noqa: E402

from monitor.detection import scan as detect  # noqa: E402
from monitor.detection.engines import spark as spark_engine  # noqa: E402
from monitor.ledger import spark as spark_runtime  # noqa: E402
from monitor.ledger import lake  # noqa: E402
from monitor.settings.engine import EngineSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="birmingham",
                        help="the generator of benchmarks/scan.py (birmingham: 84,000 accounts)")
    parser.add_argument("--accounts", type=int, help="accounts (default: the shape's)")
    parser.add_argument("--masters", nargs="*", default=["local[1]", "local[2]"])
    parser.add_argument("--driver-memory", default="12g")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--duckdb-memory", default="16GB")
    parser.add_argument("--keep", type=Path, help="keep the ledger and lake in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="monitor-spark-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "results.jsonl"

    def record(**fields) -> None:
        fields = {"rows": args.rows, **fields}
        print(json.dumps(fields, default=str), flush=True)
        with log.open("a") as f:
            f.write(json.dumps(fields, default=str) + "\n")

    cfg, con, _, generating = open_ledger(work, args.rows, args.shape, args.accounts)
    if generating is not None:
        record(step="generate", seconds=round(generating, 1))
    folder = work / "lake"
    if not folder.exists():
        began = time.perf_counter()
        facts = lake.export(con, folder)
        size = sum(p.stat().st_size for p in folder.rglob("*.parquet"))
        record(step="export-lake", seconds=round(time.perf_counter() - began, 1),
               months=facts["months"], parquet_mb=round(size / 2**20))
    as_of = con.execute("SELECT max(posted_at) FROM transactions").fetchone()[0]

    found = {}
    for master in args.masters:
        settings = EngineSettings(kind="spark", master=master, lake=str(folder),
                                  conf={"spark.driver.memory": args.driver_memory})
        spark_cfg = dataclasses.replace(cfg, engine=settings)
        began = time.perf_counter()
        spark_runtime.session(settings)
        startup = time.perf_counter() - began
        began = time.perf_counter()
        detect.evaluate(con, spark_cfg, as_of)
        seconds = time.perf_counter() - began
        found[master] = con.execute("SELECT * FROM episodes ORDER BY ALL").fetchall()
        cores = int(master.split("[")[1].rstrip("]")) if "[" in master else 1
        record(step="evaluate", engine="spark", master=master, seconds=round(seconds, 1),
               startup_s=round(startup, 1), rows_per_s=round(args.rows / seconds),
               rows_per_core_s=round(args.rows / seconds / cores), episodes=len(found[master]),
               steps={k: round(v, 1) for k, v in spark_engine.timings.items()})
        spark_runtime.stop()
    if not args.skip_duckdb:
        con.execute("SET memory_limit = $limit", {"limit": args.duckdb_memory})
        began = time.perf_counter()
        detect.evaluate(con, cfg, as_of)
        seconds = time.perf_counter() - began
        reference = con.execute("SELECT * FROM episodes ORDER BY ALL").fetchall()
        record(step="evaluate", engine="duckdb", threads=2, memory_limit=args.duckdb_memory,
               seconds=round(seconds, 1), rows_per_s=round(args.rows / seconds),
               episodes=len(reference),
               events=con.execute("SELECT count(*) FROM events").fetchall()[0][0],
               peak_rss_mb=round(peak_mb()),
               spark_same_as_duckdb={m: e == reference for m, e in found.items()})
    con.close()


if __name__ == "__main__":
    main()
