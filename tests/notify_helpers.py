"""Shared pieces for the alerting tests: a small project whose ledger holds a theft,
a real SMTP server (aiosmtpd on 127.0.0.1, STARTTLS or implicit TLS, AUTH) and a
self-signed certificate made with the openssl command. Nothing is mocked."""
from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import ssl
import subprocess
import threading
from datetime import datetime
from pathlib import Path

import pytest

from helpers import config_text, ingest, source, write_csv
from monitor.settings import config as config_mod
from monitor.alerting import notify
from monitor.detection import scan as detect
from monitor.sql import store

NOW = datetime(2024, 3, 1, 9, 0, 0)
GOLDEN = Path(__file__).parent / "golden"
USER, PASSWORD = "monitor", "s3cret-Pässword"
# Three charges of about 1,667 to a payee new to card 1111: new_payee_repeat, severity high.
THEFT = [["2024-01-02", "1667.00", "Devlab Consult", "1111"],
         ["2024-01-16", "1667.00", "Devlab Consult", "1111"],
         ["2024-01-30", "1667.00", "Devlab Consult", "1111"],
         ["2024-01-05", "12.50", "Coffee", "1111"]]


def project(folder: Path, notify_toml: str = "", rows=None) -> Path:
    """A config.toml with one CSV source and the given [notify...] text; the ledger ingested."""
    write_csv(folder / "in" / "ledger.csv", rows if rows is not None else THEFT)
    path = folder / "config.toml"
    path.write_text(config_text([source()]) + '\n[outbox]\npath = "outbox"\n\n' + notify_toml,
                    encoding="utf-8")
    ingest(path)
    return path


def load(path: Path):
    return config_mod.load(path, warn=lambda line: None)


def scan(path: Path, now: datetime = NOW, **options) -> notify.Outcome:
    """What `monitor scan` does, through the library, at a chosen time."""
    cfg = load(path)
    con = store.connect(cfg.database)
    try:
        day = con.execute("SELECT max(posted_at) FROM transactions").fetchone()[0]
        findings = detect.scan(con, cfg, day)
        return notify.handle_scan(con, cfg, findings, now=now,
                                  scan_id=findings[0]["scan_id"] if findings else None,
                                  **options)
    finally:
        con.close()


def outbox_rows(path: Path) -> list[dict]:
    cfg = load(path)
    con = store.connect(cfg.database)
    try:
        return store.rows(con, "notify/list_outbox", {"status": "all", "limit": 1000})
    finally:
        con.close()


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert.pem, key.pem)."""
    if not shutil.which("openssl"):
        pytest.fail("the openssl command is needed to make the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class Inbox:
    """An aiosmtpd handler that keeps what it accepted."""

    def __init__(self):
        self.messages: list[dict] = []
        self.logins: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "data": envelope.original_content or envelope.content,
                                  "tls": server.transport.get_extra_info("ssl_object")
                                  is not None})
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False)

    def parsed(self) -> list[email.message.EmailMessage]:
        return [parse(m["data"]) for m in self.messages]


def smtp_server(inbox: Inbox, port: int, security: str = "none", certificate=None):
    """Start a real SMTP server on 127.0.0.1:port; call .stop() on what it returns."""
    from aiosmtpd.controller import Controller
    options = {}
    if security != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, certificate))
        if security == "starttls":
            options = {"tls_context": context, "require_starttls": True,
                       "auth_require_tls": True}
        else:
            options = {"ssl_context": context, "auth_require_tls": False}
        options |= {"authenticator": inbox.authenticate, "auth_required": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller


def email_toml(port: int, security: str = "none", certificate=None, extra: str = "") -> str:
    lines = ["[notify]", "retry_for = \"0\"", "", "[notify.email]", 'smtp_host = "127.0.0.1"',
             f"smtp_port = {port}", f'security = "{security}"', 'sender = "monitor@example.org"',
             'recipients = ["finance@example.org"]', "timeout = 5"]
    if security != "none":
        lines += [f'username = "{USER}"', 'password_env = "MONITOR_SMTP_PASSWORD"',
                  f'ca_file = "{certificate[0]}"']
    return "\n".join(lines) + "\n" + extra


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"{path} missing; run with UPDATE_GOLDEN=1 once and review it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file; if the change is intended, rerun with "
        "UPDATE_GOLDEN=1 and review the diff")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`monitor ARGS` in this process (main(), its error handling and exit codes included):
    a child process costs a second of imports per call."""
    import contextlib
    import io
    from monitor.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exit_:
                code = int(exit_.code or 0)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
