"""Ingest of a CSV file larger than several of the reader's buffers.

The CSV reader hands rows over one buffer at a time (monitor.ledger.staging.
CSV_BUFFER_BYTES, larger than DuckDB's default for speed), on several threads; rows are
numbered by their order in the staged table. Lines set aside in a later buffer, by the
reader or by the checks, must not shift or lose any other row.
"""
from __future__ import annotations

import duckdb

from helpers import one, query, source, write_config
from monitor.ledger.staging import CSV_BUFFER_BYTES

ROW_BYTES = 122          # the generated rows below, with their line end


def test_rows_set_aside_in_later_buffers_keep_every_other_row_on_its_line(tmp_path):
    cfg = write_config(tmp_path, [source(columns=dict(source()["columns"], txn_id="ref"))])
    path = tmp_path / "in/big.csv"
    path.parent.mkdir(parents=True)
    rows = int(3.4 * CSV_BUFFER_BYTES / ROW_BYTES)     # 3.4 buffers
    duckdb.connect().execute(
        f"COPY (SELECT '2024-01-02' AS date, (i % 997)::VARCHAR || '.25' AS amount, "
        f"'Shop ' || (i % 50) AS payee, '1111' AS card, 'T' || lpad(i::VARCHAR, 8, '0') AS ref, "
        f"repeat('x', 80) AS note FROM range({rows}) r(i)) TO '{path}' (HEADER)")
    lines = path.read_bytes().split(b"\n")
    assert path.stat().st_size > 3 * CSV_BUFFER_BYTES
    # Row i is on line i + 2; set aside one row in (about) the second, third and fourth
    # buffer.
    split, short, word = int(rows * 0.45), int(rows * 0.7), int(rows * 0.95)
    lines[split + 1] += b",EXTRA,MORE"                   # the reader cannot split it
    lines[short + 1] = b"2024-01-02,9.00"                # too few fields
    lines[word + 1] = lines[word + 1].replace(b".25,", b".2x,", 1)   # not a number
    path.write_bytes(b"\n".join(lines))
    result = one(cfg, path)
    assert (result.rows_read, result.loaded, result.rejected) == (rows, rows - 3, 3)
    rejects = query(cfg, "SELECT source_row, reason FROM rejected_rows ORDER BY 1")
    assert [row for row, _ in rejects] == [split + 2, short + 2, word + 2]
    assert [reason.split(":")[0] for _, reason in rejects[:2]] == [
        "cannot split the line into columns"] * 2
    assert rejects[2][1].startswith(f"amount '{word % 997}.2x' in column 'amount'")
    assert query(cfg, "SELECT count(*), count(*) FILTER (source_row <> txn_id[2:]::BIGINT + 2) "
                      "FROM transactions") == [(rows - 3, 0)]
