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


# The tests that start a JVM: one worker runs them all, one after another, in one JVM.
SPARK_MODULES = ("tests/test_spark_engine.py::",)
# Modules whose module-scoped fixture takes seconds to build (a demo project, a web server,
# a real ledger): each runs on one worker, which builds the fixture once. Dealt out test by
# test, test_report.py built its demo project four times (5.6 s each), test_calibrate.py
# its calibrated organisation three times (10 s each).
FIXTURE_MODULES = ("tests/test_report.py::", "tests/test_web.py::", "tests/test_payee_key.py::",
                   "tests/test_registry_review.py::", "tests/test_precision.py::",
                   "tests/test_calibrate.py::")


def pytest_collection_modifyitems(config, items):
    """The Spark tests first, then the browser and slow tests: the longest ones, which,
    started last, left the other workers idle at the end of the run."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("spark") else
               1 if item.get_closest_marker("slow") or item.get_closest_marker("browser") else 2)


@pytest.hookimpl(optionalhook=True)     # xdist's hook: `-p no:xdist` runs without it
def pytest_xdist_make_scheduler(config, log):
    """`make test` runs `-n 3 --dist loadgroup`: xdist's own loadgroup scheduling finds its
    groups in node ids it renames through a pytest attribute pytest 9 no longer has, so
    it ran like `--dist load` and dealt the Spark tests out to every worker, each starting
    and warming its own JVM (141 s of JVM CPU in a fresh clone, against 75 s on one JVM).
    This scheduler is xdist's loadscope (one unit per group, otherwise per test) with
    the Spark module as one group and each of FIXTURE_MODULES as another."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerPerGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(SPARK_MODULES):
                return "spark"
            return nodeid.split("::")[0] if nodeid.startswith(FIXTURE_MODULES) else nodeid

    return OneWorkerPerGroup(config, log)
