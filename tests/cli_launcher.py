"""Run `python -m monitor ARGS` in a new process without paying Python's and the monitor's
start-up each time: the suite's ~300 CLI calls spent ~0.3 s of CPU each importing
duckdb, click and the monitor (about 90 s of the suite's CPU on a 2-core machine).

This file is two things:
- run as a script (`python tests/cli_launcher.py`), it is the launcher: it imports the
  monitor's CLI once, then for each request on its stdin forks a child that becomes
  `python -m monitor ARGS` (its own process, working directory, environment, stdin from
  /dev/null, stdout and stderr to files, exit code or signal), waits for it, and answers
  with the child's pid and then its exit status;
- imported (helpers.monitor does), `Launcher.run` sends one request and returns what
  subprocess.run would have: a CompletedProcess with text output, or TimeoutExpired.

What differs from a fresh interpreter: modules are already imported (nothing of the
monitor reads the environment at import), and the hash seed is the launcher's. Calls
that change how Python itself starts (PYTHON*, locale variables) get a fresh interpreter.
"""
from __future__ import annotations

import json
import locale
import os
import random
import runpy
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

# Variables read when an interpreter starts, not later: a call that sets one must get a
# real new interpreter for the setting to mean anything.
STARTUP_VARIABLES = ("PYTHON", "LC_", "LANG")


def needs_fresh_interpreter(env: dict, parent_env: dict) -> bool:
    return any(key.startswith(STARTUP_VARIABLES) and parent_env.get(key) != value
               for key, value in env.items())


# -- the launcher process -------------------------------------------------------------------

def _become_monitor(request: dict) -> None:
    """In the forked child: take the request's place, then run the monitor as `python -m`
    would; never returns (SystemExit ends the child, atexit handlers and all)."""
    null = os.open(request["stdin"] or os.devnull, os.O_RDONLY)
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for fd, target in ((null, 0), (out, 1), (err, 2)):
        os.dup2(fd, target)
        os.close(fd)
    if request["cwd"]:
        os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    random.seed()                     # a real new process would not share the launcher's
    sys.argv = ["-m", *request["args"]]
    runpy.run_module("monitor", run_name="__main__", alter_sys=True)
    raise SystemExit(0)


def serve() -> None:
    import importlib
    from monitor.cli import main as cli_main
    for module in sorted({target.split(":")[0] for target in cli_main.VERBS.values()}):
        importlib.import_module(f"monitor.cli.{module}")
    requests, answers = sys.stdin, sys.stdout
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_monitor(request)
        answers.write(f"{pid}\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(f"{os.waitstatus_to_exitcode(status)}\n")
        answers.flush()


# -- the test side ----------------------------------------------------------------------------

def _text(path: Path) -> str:
    """As subprocess.run(text=True) decodes: the locale's encoding, universal newlines. A
    child killed before it opened its output wrote nothing."""
    data = path.read_bytes() if path.exists() else b""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


class Launcher:
    """One launcher process per test process, started on first use."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="cli-launcher-"))

    def _start(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                bufsize=0)     # unbuffered: select() must see what readline has not read
        return self.process

    def _answer(self, process: subprocess.Popen, timeout: float | None) -> bytes | None:
        if timeout is not None:
            ready, _, _ = select.select([process.stdout], [], [], timeout)
            if not ready:
                return None
        return process.stdout.readline()

    def run(self, args: list[str], cwd, env: dict, timeout: float,
            stdin: str | None = None) -> subprocess.CompletedProcess:
        process = self._start()
        out, err, given = self.folder / "out", self.folder / "err", None
        if stdin is not None:
            given = self.folder / "in"
            given.write_bytes(stdin.encode(locale.getpreferredencoding(False)))
        request = {"args": args, "cwd": str(cwd) if cwd else None, "env": env,
                   "out": str(out), "err": str(err), "stdin": str(given) if given else None}
        for stale in (out, err):         # the last call's, which a killed child may leave
            stale.unlink(missing_ok=True)
        process.stdin.write(json.dumps(request).encode() + b"\n")
        pid = int(process.stdout.readline())
        status = self._answer(process, timeout)
        argv = [sys.executable, "-m", "monitor", *args]
        if status is None:
            os.kill(pid, signal.SIGKILL)
            process.stdout.readline()
            raise subprocess.TimeoutExpired(argv, timeout, _text(out), _text(err))
        return subprocess.CompletedProcess(argv, int(status), _text(out), _text(err))

    def close(self) -> None:
        """End the launcher (it stops at the end of its stdin) and wait for it, so its CPU
        time is counted with the tests' and no process outlives the run."""
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=10)
            self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":
    serve()
