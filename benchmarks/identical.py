"""Identical-rows benchmark: a full scan over N copies of one charge (same account, payee,
amount and day; only the ids differ), for each N given. The scan should cost about
linear time in N (issue 14, item 12: a RANGE window over one day's many charges was
quadratic).

Run by hand:  .venv/bin/python benchmarks/identical.py 40000 200000 800000

CPU is the process's user + system time over all its threads (DuckDB's too), the steadier
figure on a shared machine.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.settings import config as config_mod  # noqa: E402
from monitor.detection import scan as detect  # noqa: E402
from monitor.sql import store  # noqa: E402

SAME = """INSERT INTO transactions SELECT 'id' || i, 'cards', 'card-1', DATE '2024-01-01',
    600.00, 'GBP', 'Same Payee', NULL, NULL, NULL, NULL, NULL, 0, i, TIMESTAMP '2024-01-02'
    FROM range($rows) r(i)"""


def main() -> None:
    for rows in [int(a) for a in sys.argv[1:]] or [40_000, 200_000, 800_000]:
        work = Path(tempfile.mkdtemp(prefix="monitor-identical-"))
        (work / "config.toml").write_text('[database]\npath = "same.duckdb"\n')
        cfg = config_mod.load(work / "config.toml")
        con = store.connect(cfg.database)
        con.execute(SAME, {"rows": rows})
        began, cpu = time.perf_counter(), time.process_time()
        found = detect.scan(con, cfg, date(2024, 1, 1))
        print(f"{rows:>9,} identical rows: full scan {time.perf_counter() - began:6.2f} s "
              f"(CPU {time.process_time() - cpu:6.2f} s), {len(found)} findings", flush=True)
        con.close()
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
