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


@pytest.hookimpl(tryfirst=True)      # before xdist reads the groups from the markers
def pytest_collection_modifyitems(config, items):
    """The Spark tests first, all on one worker (`make test` runs `--dist loadgroup`): they
    are the longest, and each worker that runs one starts its own JVM and warms its compiler
    again (about 100 s of the JVM's CPU for the module on one JVM). Then the browser and
    slow tests, the next longest: started last, they left the other workers idle at the end."""
    for item in items:
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.xdist_group("spark"))
    items.sort(key=lambda item: 0 if item.get_closest_marker("spark") else
               1 if item.get_closest_marker("slow") or item.get_closest_marker("browser") else 2)
