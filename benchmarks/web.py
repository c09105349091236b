"""Web inbox benchmark (issue 18), run by hand:
    .venv/bin/python benchmarks/web.py [--rows 10000000] [--alerts 1000] [--rounds 7]

Builds a ledger of --rows transactions (the real schema) with --alerts open alerts of 20
evidence charges each (some shared between alerts) under benchmarks/out/web/, starts a real
`monitor serve`, signs in, and times whole page loads of the inbox (every open alert listed,
the distinct money at risk computed) and of one alert page, from the client: median and
worst of --rounds after the first load (which, for the inbox, also finds the distinct
money at risk in the ledger; it is kept until the open alerts change). Target: the inbox
under 1 s.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from web_helpers import SECRET, Client, Server, free_port  # noqa: E402
from query_export import FILL  # noqa: E402

ALERTS = """
INSERT INTO alerts (fingerprint, detector, account, counterparty, initiator, sources, currency,
    state, severity, exposure, charges, since, first_alert_at, last_charge_at,
    evidence_txn_ids, sentence, opened_at, last_seen_at, last_scan_id)
SELECT 'fp' || a, 'new_payee_repeat', '************' || lpad((1000 + a)::VARCHAR, 4, '0'),
       'MERCHANT ' || a || ' TRADING LIMITED', NULL, ['cards'], 'GBP', 'firing',
       CASE WHEN a % 10 = 0 THEN 'critical' WHEN a % 3 = 0 THEN 'high' ELSE 'warning' END,
       (1000 + a)::DECIMAL(38,2), 20, DATE '2023-01-01', DATE '2023-02-01', DATE '2023-03-01',
       [ 'T' || lpad(((a * 17 + k) % {rows})::VARCHAR, 10, '0') FOR k IN range(20) ],
       '20 charges of similar size to ''MERCHANT ' || a || ' TRADING LIMITED''',
       TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01', NULL
FROM range({alerts}) r(a);
"""
# each alert's evidence amounts, as a scan records them (alerts.evidence_money)
EVIDENCE = (ROOT / "queries/schema/013_reviews.sql").read_text().split("UPDATE alerts", 1)[1]
EVIDENCE = "UPDATE alerts" + EVIDENCE.split(";", 1)[0]


def build(folder: Path, rows: int, alerts: int) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = folder / "config.toml"
    port = free_port()
    config.write_text(f'[database]\npath = "ledger.duckdb"\n\n[web]\nlisten = "127.0.0.1:{port}"\n'
                      f'base_url = "http://127.0.0.1:{port}"\n', encoding="utf-8")
    env = os.environ | {"MONITOR_WEB_SECRET": SECRET, "MONITOR_ACTOR": "bench"}
    subprocess.run([str(ROOT / ".venv/bin/monitor"), "--config", str(config), "users", "add",
                    "alice", "--role", "finance"], input="bench-password-1\n", text=True,
                   env=env, check=True, capture_output=True)
    con = duckdb.connect(str(folder / "ledger.duckdb"))
    started = time.monotonic()
    con.execute(FILL.format(n=rows))
    con.execute(ALERTS.format(rows=rows, alerts=alerts))
    con.execute(EVIDENCE)
    con.close()
    print(f"built {rows:,} transactions and {alerts:,} open alerts in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    return config, port


def timed(client: Client, path: str, rounds: int) -> tuple[float, float, float, int]:
    started = time.perf_counter()
    status, _, page = client.get(path)         # the first load after a change of the alerts
    first = time.perf_counter() - started
    assert status == 200, (status, page[:300])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        status, _, page = client.get(path)
        times.append(time.perf_counter() - started)
        assert status == 200
    return first, statistics.median(times), max(times), len(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    config, port = build(HERE / "out" / "web", args.rows, args.alerts)
    server = Server(config, port)
    try:
        client = Client(port)
        client.login("alice", "bench-password-1")
        for path in ("/", "/alerts/1"):
            first, median, worst, size = timed(client, path, args.rounds)
            print(f"GET {path}: first {first * 1000:.0f} ms, then median {median * 1000:.0f} ms, "
                  f"worst {worst * 1000:.0f} ms ({args.rounds} loads), {size:,} bytes")
        con = duckdb.connect(str(config.parent / "ledger.duckdb"))   # as a scan would
        con.execute("UPDATE alerts SET last_seen_at = last_seen_at + INTERVAL 1 DAY")
        con.close()
        first, median, _, _ = timed(client, "/", args.rounds)
        print(f"GET / after a scan changed the alerts: first {first * 1000:.0f} ms, "
              f"then median {median * 1000:.0f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
