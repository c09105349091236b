"""The package as a user gets it: a wheel (not the source tree) carries its SQL and templates.

The slow test builds a wheel from a copy of the sources, installs it into a fresh virtual
environment (no system site-packages, no editable link back to this repo; the dependencies
are borrowed from the test's own environment, at the pinned versions) and runs
`monitor init`, `monitor ingest` and `monitor scan` there from a folder outside the repo.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LEDGER = """txn_ref,trans_date,amount_gbp,merchant_name,card_number_masked
{rows}
"""


def test_pyproject_names_every_package():
    """pyproject lists the packages by name (it also maps queries/ in); a new folder must be
    added there, or a wheel would ship without it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
                 ["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts)
               for p in (ROOT / "monitor").rglob("__init__.py")}
    assert listed - {"monitor.queries"} == on_disk


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), f"{cmd}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_init_ingest_scan(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("monitor", "queries"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
         str(tmp_path / "dist"), str(src)], cwd=tmp_path)
    wheel, = (tmp_path / "dist").glob("payment_monitor-*.whl")

    venv = tmp_path / "venv"
    # No pip of its own (ensurepip took a few seconds): this environment's pip installs into
    # it (--python), from the wheel file only.
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)],
        cwd=tmp_path)
    # The dependencies, at the pinned versions, are the ones this test runs with: a line
    # in a .pth file puts their folder on the new venv's path after its own, without
    # running that folder's .pth files, so the editable link to this checkout stays out.
    # (Installing them again from the index took most of this test's 36 s.)
    deps = sysconfig.get_paths()["purelib"]
    own = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    Path(own, "test-dependencies.pth").write_text(deps + "\n", "utf-8")

    work = tmp_path / "elsewhere"
    (work / "ledgers").mkdir(parents=True)
    # one card charged the same small amount by the same payee every week, and noise
    rows = [f"T{i},2024-{1 + i // 4:02d}-{1 + (i % 4) * 7:02d},9.99,Quiet Subscriptions Ltd,"
            f"****1111" for i in range(24)]
    rows += [f"N{i},2024-03-{1 + i:02d},{10 + i}.50,Shop {i},****2222" for i in range(20)]
    (work / "ledgers" / "cards.csv").write_text(LEDGER.format(rows="\n".join(rows)), "utf-8")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    monitor = str(venv / "bin" / "monitor")
    run([monitor, "init"], cwd=work, env=env)
    ingest = run([monitor, "ingest", "--format", "json"], cwd=work, env=env)
    assert [f["loaded"] for f in json.loads(ingest.stdout)["files"]] == [44], ingest.stdout
    scan = run([monitor, "scan"], cwd=work, env=env)    # runs every detector's SQL
    assert "severity" in scan.stdout, scan.stdout + scan.stderr
    # the installed package, not this checkout, answered; and its queries came with it
    where = run([str(venv / "bin" / "python"), "-c",
                 "import monitor.sql.store as s; print(s.__file__); print(s.QUERIES)"],
                cwd=work, env=env).stdout.split()
    assert where[0].startswith(str(venv)) and where[1].startswith(str(venv)), where
    assert (Path(where[1]) / "detect").is_dir()
