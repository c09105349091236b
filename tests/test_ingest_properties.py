"""Hypothesis properties of ingest, each example on a fresh real DuckDB file.

1. Any ledger split into overlapping chunks, ingested in any order, gives exactly the
   deduplicated union: with mapped txn_ids, the ledger itself; with derived ids, for each
   row content, as many transactions as the chunk holding the most copies of it
   (identical rows are told apart only by their order inside one file).
2. Any generated garbage row is rejected with a reason and its row number, the valid
   rows load, and rows_read = loaded + duplicates + rejected for every file.
"""
from __future__ import annotations

import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import HEADER, assert_identity, ingest, query, source, write_config, write_csv

SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

TEXT = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABC XYZ&'.,-\"é€"),
               min_size=1, max_size=12).map(str.strip).filter(bool)
DAYS = st.integers(min_value=1, max_value=28).map(lambda d: f"2024-03-{d:02d}")
AMOUNTS = st.integers(min_value=-50_000, max_value=500_000).map(lambda c: f"{Decimal(c) / 100}")


@st.composite
def ledgers(draw, distinct_ids: bool):
    """Rows [date, amount, payee, card(, ref)]; small value pools make repeats likely."""
    size = draw(st.integers(min_value=1, max_value=40))
    payees = draw(st.lists(TEXT, min_size=1, max_size=4))
    rows = [[draw(DAYS if distinct_ids else st.sampled_from(["2024-03-01", "2024-03-02"])),
             draw(AMOUNTS if distinct_ids else st.sampled_from(["1.00", "9.99"])),
             draw(st.sampled_from(payees)), draw(st.sampled_from(["1111", "2222"]))]
            for _ in range(size)]
    if distinct_ids:
        # Ids in any order: sorted ids take a shortcut that tests in test_ingest cover.
        order = draw(st.permutations(range(size)))
        rows = [row + [f"T{i:05d}"] for i, row in zip(order, rows)]
    return rows


@st.composite
def overlapping_chunks(draw, size: int):
    """Contiguous slices [start, end) covering 0..size, neighbours overlapping, shuffled."""
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=max(1, size - 1)),
                               max_size=min(6, size - 1))) if size > 1 else set())
    bounds = [0, *cuts, size]
    chunks = []
    for start, end in zip(bounds, bounds[1:]):
        back = draw(st.integers(min_value=0, max_value=start))     # overlap with earlier rows
        chunks.append((start - back, end))
    return draw(st.permutations(chunks))


def ingest_chunks(folder: Path, rows, chunks, columns: dict, header: list[str]):
    cfg = write_config(folder, [source(columns=columns, delimiter=",")])
    results = []
    for n, (start, end) in enumerate(chunks):
        path = write_csv(folder / f"in/chunk{n:02d}.csv", rows[start:end], header=header)
        (result,) = ingest(cfg, [path])
        assert result.status in ("loaded", "unchanged"), result.message
        assert_identity(result)
        assert result.rejected == 0
        results.append(result)
    return cfg, results


@SETTINGS
@given(data=st.data(), rows=ledgers(distinct_ids=True))
def test_overlapping_chunks_with_txn_ids_give_the_ledger(data, rows):
    chunks = data.draw(overlapping_chunks(len(rows)))
    columns = {"posted_at": "date", "amount": "amount", "counterparty": "payee",
               "account": "card", "txn_id": "ref"}
    with tempfile.TemporaryDirectory() as folder:
        cfg, results = ingest_chunks(Path(folder), rows, chunks, columns, HEADER + ["ref"])
        got = query(cfg, "SELECT txn_id, posted_at::VARCHAR, amount::VARCHAR, counterparty, "
                         "account FROM transactions ORDER BY txn_id")
    assert got == sorted((r[4], r[0], f"{Decimal(r[1]):.2f}", r[2], r[3]) for r in rows)
    assert sum(r.loaded for r in results) == len(rows)


@SETTINGS
@given(data=st.data(), rows=ledgers(distinct_ids=False))
def test_overlapping_chunks_with_derived_ids_give_the_union(data, rows):
    chunks = data.draw(overlapping_chunks(len(rows)))
    columns = {"posted_at": "date", "amount": "amount", "counterparty": "payee", "account": "card"}
    shown = "SELECT posted_at::VARCHAR, amount::VARCHAR, counterparty, account FROM transactions"
    with tempfile.TemporaryDirectory() as folder:
        cfg, results = ingest_chunks(Path(folder), rows, chunks, columns, HEADER)
        got = Counter(query(cfg, shown))
        # The whole export afterwards adds exactly the copies no chunk held.
        (whole,) = ingest(cfg, [write_csv(Path(folder) / "in/whole.csv", rows)])
        assert_identity(whole)
        after = Counter(query(cfg, shown))
    expected = Counter()
    for start, end in chunks:
        expected |= Counter(tuple(r) for r in rows[start:end])      # max copies per content
    assert got == expected
    assert sum(r.loaded for r in results) == sum(expected.values())
    assert after == Counter(tuple(r) for r in rows)
    assert whole.loaded == len(rows) - sum(expected.values())


GARBAGE_KINDS = ["bad_date", "bad_amount", "no_amount", "no_date", "no_account",
                 "no_id", "too_many_fields", "too_few_fields"]


@st.composite
def garbage_row(draw, valid: list[str]):
    kind = draw(st.sampled_from(GARBAGE_KINDS))
    letters = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8))
    row = list(valid)
    if kind == "bad_date":
        row[0] = "x" + letters
    elif kind == "bad_amount":
        row[1] = letters
    elif kind == "no_amount":
        row[1] = ""
    elif kind == "no_date":
        row[0] = ""
    elif kind == "no_account":
        row[3] = ""
    elif kind == "no_id":
        row[4] = ""
    elif kind == "too_many_fields":
        row.append(letters)
    else:
        row = [letters]
    return kind, row


@SETTINGS
@given(data=st.data(), rows=ledgers(distinct_ids=True))
def test_garbage_rows_are_rejected_with_a_reason(data, rows):
    garbage = data.draw(st.lists(garbage_row(rows[0]), min_size=1, max_size=8))
    mixed = list(rows)
    for kind, row in garbage:
        mixed.insert(data.draw(st.integers(min_value=0, max_value=len(mixed))), row)
    bad_rows = {i + 2 for i, row in enumerate(mixed) if not any(row is r for r in rows)}
    columns = {"posted_at": "date", "amount": "amount", "counterparty": "payee",
               "account": "card", "txn_id": "ref"}
    with tempfile.TemporaryDirectory() as folder:
        cfg = write_config(Path(folder), [source(columns=columns, delimiter=",")])
        path = write_csv(Path(folder) / "in/a.csv", mixed, header=HEADER + ["ref"])
        (result,) = ingest(cfg, [path])
        rejected = query(cfg, "SELECT source_row, reason, raw FROM rejected_rows ORDER BY 1")
        loaded = query(cfg, "SELECT source_row FROM transactions ORDER BY 1")
    assert_identity(result)
    assert (result.rows_read, result.rejected, result.loaded) == (
        len(mixed), len(garbage), len(rows))
    assert {r[0] for r in rejected} == bad_rows
    assert all(reason and raw for _, reason, raw in rejected)
    assert [r[0] for r in loaded] == sorted(set(range(2, len(mixed) + 2)) - bad_rows)
