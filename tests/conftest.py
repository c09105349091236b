"""Fixtures more than one test file uses. A file that needs more of the same builds on them
(a fixture of the same name that asks for this one), so each file still reads on its own.

Markers (registered in pyproject.toml): `spark` (needs Java and pyspark), `browser` (needs
Debian's chromium), `slow` (builds or installs something). `pytest -m "not slow"` for a quick run.
"""
from __future__ import annotations

import pytest

from helpers import write_config
from ledger_factory import Ledger


@pytest.fixture
def led(tmp_path):
    """A real ledger (a DuckDB file with the real schema) in tmp_path, closed afterwards."""
    ledger = Ledger(tmp_path)
    yield ledger
    ledger.close()


@pytest.fixture
def cfg(tmp_path):
    """tmp_path/config.toml with the default test source (helpers.write_config)."""
    return write_config(tmp_path)


def pytest_collection_modifyitems(config, items):
    """The Spark tests first: they are the longest (a JVM and the demo ledger on two
    engines) and one worker runs them one after another, so started last they left the
    other worker idle at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("spark") is None)
