"""store.transaction: the one BEGIN/COMMIT/ROLLBACK every writer uses."""
from __future__ import annotations

import duckdb
import pytest

from monitor.sql.store import transaction


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER)")
    yield con
    con.close()


def count(con) -> int:
    return con.execute("SELECT count(*) FROM t").fetchone()[0]


def test_commits_when_the_block_ends(con):
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
    assert count(con) == 1


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_rolls_back_and_reraises_when_the_block_raises(con, error):
    with pytest.raises(error), transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
        raise error()
    assert count(con) == 0
    con.execute("INSERT INTO t VALUES (2)")      # and the connection is usable again
    assert count(con) == 1


def test_a_dry_run_rolls_back_without_an_error(con):
    with transaction(con) as tx:
        con.execute("INSERT INTO t VALUES (1)")
        assert count(con) == 1
        tx.rollback()
    assert count(con) == 0
