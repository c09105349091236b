"""The `monitor` command line: the verbs' registration list, and one mapping from errors to
exit codes and one-line messages.

Exit codes: 0 ok, 1 alerts firing, 2 usage/config/input error, 3 runtime failure.
Errors are one plain line on stderr; --debug shows the traceback.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click
import duckdb

from monitor.cli.context import Context, one_line as _one_line
from monitor.errors import ExitCode, MonitorError
from monitor.sql import store

EPILOG_WIDTH = 100

# Every verb, and the module (in monitor/cli/) and name that define it: the one place a
# verb is registered. A verb's module is imported only when that verb runs (or when
# `monitor --help` lists them all): `monitor status` does not load the detectors, the web
# server or the scheduler, which start-up would otherwise pay on every call.
VERBS = {
    "alerts": "alerts:alerts",
    "audit": "audit:audit_group",
    "authorize": "authorize:authorize",
    "backtest": "scan:backtest",
    "calibrate": "calibrate:calibrate",
    "evidence": "audit:evidence",
    "export-lake": "lake:export_lake",
    "ingest": "ledger:ingest",
    "init": "ledger:init",
    "queries": "audit:queries",
    "query": "audit:query",
    "rejects": "ledger:rejects",
    "report": "report:report_command",
    "run": "run:run",
    "scan": "scan:scan",
    "screening": "screening:screening_group",
    "serve": "web:serve",
    "status": "ledger:status",
    "users": "web:users",
}


class ClosedPipe(Exception):
    """Standard output was closed by its reader (`monitor query ... | head`). Not an
    OSError, so click does not turn it into its exit code 1; `main` exits 0."""


class MonitorGroup(click.Group):
    """The top-level group: verbs from VERBS, loaded when asked for."""

    def list_commands(self, ctx):
        return sorted(VERBS)

    def get_command(self, ctx, name):
        if name not in VERBS:
            return None
        module, attribute = VERBS[name].split(":")
        return getattr(importlib.import_module(f"monitor.cli.{module}"), attribute)

    def invoke(self, ctx):     # every verb runs inside this call
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise ClosedPipe() from None


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"],
                               "max_content_width": EPILOG_WIDTH})
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              envvar="MONITOR_CONFIG", default="config.toml", show_default=True,
              help="Config file (env MONITOR_CONFIG).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="payment-monitor")
@click.pass_context
def cli(click_ctx, config_path, debug):
    """Watch payment-account ledgers for repeated small unauthorised charges.

    \b
    Example:
      monitor init && monitor ingest && monitor status
    """
    click_ctx.obj = Context(config_path, debug)


def _quiet_stdout() -> None:
    """After the reader closed the pipe: point stdout at /dev/null so Python's final
    flush does not fail again (the recipe in the signal module's documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # not a real file (tests' capture)
        pass


def main(argv=None) -> None:
    """`monitor ... | head`: a reader that closes the pipe early is not a failure of the
    verb, so every verb then exits 0 (click's own handling would exit 1, the code for
    "alerts firing"); the flush is done here so that a late EPIPE is caught too."""
    try:
        _main(argv)
        sys.stdout.flush()
    except SystemExit:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
        raise
    except (ClosedPipe, BrokenPipeError):
        _quiet_stdout()
        sys.exit(ExitCode.OK)


def _main(argv=None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        cli.main(args=argv, prog_name="monitor", standalone_mode=False)
    except click.exceptions.Abort:     # Ctrl-C: click turns KeyboardInterrupt into Abort
        click.echo("error: interrupted; work in progress was rolled back", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(ExitCode.USAGE)
    except MonitorError as e:
        if debug:
            raise
        click.echo(f"error: {_one_line(str(e))}", err=True)
        sys.exit(e.exit_code)
    except duckdb.InterruptException:  # Ctrl-C while DuckDB works comes back as this
        click.echo("error: interrupted; work in progress was rolled back", err=True)
        sys.exit(130)
    except duckdb.Error as e:
        if debug:
            raise
        damage = store.damaged(None, e)      # a truncated or overwritten file: the way back
        click.echo(f"error: {_one_line(str(damage))}" if damage
                   else f"error: database: {_one_line(str(e))}", err=True)
        sys.exit(ExitCode.RUNTIME)
    except KeyboardInterrupt:
        sys.exit(130)
    except ClosedPipe:
        raise
    except Exception as e:  # a bug: still one line, unless --debug
        if isinstance(e, RuntimeError) and str(e) == "Query interrupted":   # DuckDB's Ctrl-C
            click.echo("error: interrupted; work in progress was rolled back", err=True)
            sys.exit(130)
        if debug:
            raise
        click.echo(f"error: internal: {type(e).__name__}: {_one_line(str(e))} "
                   "(rerun with --debug for the traceback)", err=True)
        sys.exit(ExitCode.RUNTIME)
