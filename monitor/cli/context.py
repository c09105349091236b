"""What every verb shares: the config file named on the command line (read once, when a
verb first needs it) and how a verb opens the ledger."""
from __future__ import annotations

from pathlib import Path

import click

from monitor.settings import config as config_mod
from monitor.sql import store
from monitor.redact import redact


class Context:
    def __init__(self, config_path: Path, debug: bool):
        self.config_path, self.debug = config_path, debug
        self._config = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
        return self._config

    def connect(self, read_only: bool = False):
        """The ledger; a writer waits for a daemon's job (or another verb) holding it, as
        the daemon waits for the operator's verbs."""
        return store.connect(self.config.database, read_only=read_only,
                             memory_limit=self.config.memory_limit,
                             wait=0 if read_only else store.LOCK_WAIT,
                             on_wait=lambda line: click.echo(f"note: {line}", err=True))


pass_ctx = click.make_pass_decorator(Context)


def one_line(text: str) -> str:
    """A message as one line, with any secret masked (monitor.redact)."""
    return redact(" ".join(text.split()))
