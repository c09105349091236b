"""Shared pieces for the web inbox tests: a project whose ledger holds several thefts (one
payee named like HTML), a real `monitor serve` process on a free port, stopped with a real
SIGTERM, and a small HTTP client that keeps cookies and does not follow redirects, so each
test sees exactly what the server answered. Nothing is mocked."""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

import helpers
from helpers import ROOT, query
from notify_helpers import Inbox, email_toml, free_port, parse, project, scan, smtp_server
from monitor.sql import store

SECRET = "test-secret-0123456789abcdef-0123456789"
HOSTILE = "<script>alert(1)</script>"
FINANCE, AUDITOR = ("alice", "finance-password-1"), ("bob", "auditor-password-1")
PAYEES = {"Devlab Consult": "1111", HOSTILE: "2222", "Acme Advisory": "3333",
          "Beta Services": "4444", "Gamma Partners": "5555", "Delta Works": "6666"}


def theft_rows() -> list[list]:
    """Three charges of about 1,667 to a payee new to each card: new_payee_repeat, high."""
    rows = []
    for payee, card in PAYEES.items():
        rows += [["2024-01-02", "1667.00", payee, card], ["2024-01-16", "1667.50", payee, card],
                 ["2024-01-30", "1666.75", payee, card], ["2023-12-05", "12.50", "Coffee", card]]
    return rows


def web_toml(port: int, base_url: str | None = None) -> str:
    base = base_url or f"http://127.0.0.1:{port}"
    return (f'\n[web]\nlisten = "127.0.0.1:{port}"\nbase_url = "{base}"\n'
            'secret_env = "MONITOR_WEB_SECRET"\n')


def env(**extra) -> dict:
    found = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    return found | {"MONITOR_WEB_SECRET": SECRET, "MONITOR_ACTOR": "operator"} | extra


def monitor(config: Path, *args: str, stdin: str | None = None, extra_env=None):
    return helpers.monitor("--config", str(config), *args, stdin=stdin,
                           env=env(**(extra_env or {})), cwd=ROOT)


def add_users(config: Path) -> None:
    for (name, password), role in ((FINANCE, "finance"), (AUDITOR, "auditor")):
        done = monitor(config, "users", "add", name, "--role", role, stdin=password + "\n")
        assert done.returncode == 0, done.stderr


class Server:
    """`monitor serve` in a child process."""

    def __init__(self, config: Path, port: int, extra_env=None, extra_args=()):
        self.port, self.log = port, config.parent / f"serve-{port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "serve", *extra_args],
            env=env(**(extra_env or {})), cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=open(self.log, "w"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"monitor serve exited: {self.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError("monitor serve did not start listening in 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        """A real SIGTERM, as systemd sends: uvicorn finishes and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Client:
    """HTTP/1.1 to the server: keeps cookies, never follows a redirect."""

    def __init__(self, port: int, headers: dict | None = None):
        self.port, self.cookies, self.headers = port, {}, headers or {}
        self.csrf = None

    def request(self, method: str, path: str, form: dict | None = None):
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} | self.headers
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        con.request(method, path, body=body, headers=headers)
        response = con.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            for key, morsel in cookie.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value
        con.close()
        text = data.decode("utf-8", "replace") if "text" in response.headers.get(
            "Content-Type", "") else data
        found = re.search(r'name="csrf" value="([^"]+)"', text) if isinstance(text, str) else None
        if found:
            self.csrf = found[1]
        return response.status, response.headers, text

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, form: dict, csrf: bool = True):
        return self.request("POST", path, ({"csrf": self.csrf} if csrf else {}) | form)

    def login(self, name: str, password: str):
        self.get("/login")
        return self.post("/login", {"name": name, "password": password})


def signed_in(port: int, user=FINANCE) -> Client:
    client = Client(port)
    status, headers, _ = client.login(*user)
    assert status == 303 and headers["Location"] == "/", (status, headers)
    client.get("/")            # the session's CSRF token, from the page's forms
    return client


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A project with six thefts, scanned once with the alert e-mail received by a real
    SMTP server, two users (alice, finance; bob, auditor) and `monitor serve` running."""
    folder = tmp_path_factory.mktemp("web")
    inbox, smtp_port, web_port = Inbox(), free_port(), free_port()
    smtp = smtp_server(inbox, smtp_port)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MONITOR_WEB_SECRET", SECRET)
        config = project(folder, email_toml(smtp_port) + web_toml(web_port), rows=theft_rows())
        outcome = scan(config, store.now())
    assert outcome.error is None and len(outcome.sent) == 1, outcome
    add_users(config)
    server = Server(config, web_port)
    ids = {payee: alert_id for alert_id, payee in
           query(config, "SELECT alert_id, counterparty FROM alerts ORDER BY alert_id")}
    try:
        yield {"config": config, "server": server, "port": web_port, "inbox": inbox, "ids": ids,
               "smtp": smtp}
    finally:
        server.stop()
        smtp.stop()


def email_links(site) -> dict[int, dict[str, str]]:
    """{alert id: {answer label: url}} from the plain-text part of the e-mail received."""
    (message,) = [parse(m["data"]) for m in site["inbox"].messages[:1]]
    text = message.get_body(("plain",)).get_content()
    found, current = {}, None
    for line in text.splitlines():
        head = re.search(r"\| alert (\d+)$", line)
        if head:
            current = found.setdefault(int(head[1]), {})
        answer = re.match(r"\s+([A-Za-z ]+):\s+(http\S+)$", line)
        if answer and current is not None:
            current[answer[1]] = answer[2]
        page = re.match(r"Open it in the inbox: (http\S+)$", line)
        if page and current is not None:
            current["page"] = page[1]
    return found


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]
