"""Run the web inbox with uvicorn (an ASGI server built for production: HTTP/1.1 with h11,
graceful shutdown on SIGTERM and Ctrl-C). One process, one worker: the ledger is a DuckDB
file that one process writes at a time; put a reverse proxy with TLS in front of it
(docs/web.md)."""
from __future__ import annotations

import uvicorn

from monitor.settings.config import Config
from monitor.web.app import create_app


def serve(config: Config, host: str | None = None, port: int | None = None, on_start=None) -> None:
    app = create_app(config)          # checks the secret before binding anything
    host, port = host or config.web.host, port if port is not None else config.web.port
    if on_start:
        on_start(host, port)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           access_log=False, server_header=False,
                                           proxy_headers=False, lifespan="off"))
    server.run()
