"""The launcher that most CLI tests run through (tests/cli_launcher.py) gives what a new
interpreter gives: output, exit code, working directory, environment and stdin."""
from __future__ import annotations

import subprocess

import pytest

from cli_launcher import Launcher, needs_fresh_interpreter
from helpers import monitor


@pytest.fixture
def launcher():
    started = Launcher()
    yield started
    started.close()


def test_help_and_a_refusal_are_what_a_new_interpreter_prints(tmp_path, monkeypatch):
    for args in (["--help"], ["status"], ["ingest", "--help"]):
        monkeypatch.setenv("MONITOR_TEST_EXEC", "1")
        fresh = monitor(*args, cwd=tmp_path)
        monkeypatch.setenv("MONITOR_TEST_EXEC", "0")
        launched = monitor(*args, cwd=tmp_path)
        assert (launched.returncode, launched.stdout, launched.stderr) == \
            (fresh.returncode, fresh.stdout, fresh.stderr)
    assert fresh.returncode == 0 and "Usage:" in fresh.stdout


def test_each_call_has_its_own_folder_environment_and_stdin(tmp_path, launcher):
    import os
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = dict(os.environ, MONITOR_ACTOR="first")
    first = launcher.run(["init"], tmp_path / "a", env, 60)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "a" / "config.toml").exists() and not (tmp_path / "b" / "config.toml").exists()
    missing = launcher.run(["status"], tmp_path / "b", env, 60)
    assert missing.returncode == 2 and "config.toml" in missing.stderr
    # The environment is the call's, not the launcher's: MONITOR_CONFIG points elsewhere.
    pointed = launcher.run(["status"], tmp_path / "b", env | {"MONITOR_CONFIG": "../a/config.toml"}, 60)
    assert "config file not found" not in pointed.stderr
    # stdin: a password read from it (users add), not the launcher's own requests.
    added = launcher.run(["users", "add", "ann", "--role", "finance"], tmp_path / "a", env, 60,
                         stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr


def test_a_call_past_its_timeout_is_killed_and_the_launcher_goes_on(tmp_path, launcher):
    import os
    env = dict(os.environ)
    with pytest.raises(subprocess.TimeoutExpired):
        launcher.run(["query", "SELECT 1"], tmp_path, env, 0.0)
    assert launcher.run(["--help"], tmp_path, env, 60).returncode == 0


def test_variables_read_at_start_up_get_a_new_interpreter():
    assert needs_fresh_interpreter({"PYTHONUTF8": "1"}, {})
    assert needs_fresh_interpreter({"LANG": "C"}, {"LANG": "C.UTF-8"})
    assert not needs_fresh_interpreter({"LANG": "C.UTF-8", "MONITOR_ACTOR": "x"}, {"LANG": "C.UTF-8"})
