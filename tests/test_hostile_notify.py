"""Hostile receivers and hostile text for the notifiers (issue 14 items 4, 13, 16; issue 15's
"sent / retry later / give up"). Real HTTP servers (http.server in a thread) and real SMTP
servers (aiosmtpd) on 127.0.0.1 answer 302, 404, 429, 500, 550, 451, or hang; webhook
URLs and SMTP passwords carry secrets that must never reach stderr, the outbox or the
audit chain; payee names carry Slack markup. Nothing is mocked."""
from __future__ import annotations

import io
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import assert_one_line_error, monitor
from monitor.settings import config as config_mod
from monitor import redact
from monitor.daemon import scheduler as schedule
from monitor.sql import store
from notify_helpers import (PASSWORD, Inbox, certificate, email_toml,  # noqa: F401
                            free_port, outbox_rows, project, run_cli, scan, smtp_server)

TOKEN, QTOKEN, PATH_TOKEN = "s3cretT0ken", "qT0kenValue99", "B07PATH9TOKEN1234abcd"


class Receiver:
    """A real HTTP server on 127.0.0.1: answers each request with the next entry of
    `answers` (the last repeats): a status, (status, headers, body), or "hang"."""

    def __init__(self, answers=(200,)):
        self.requests, self.answers = [], list(answers)
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append({"method": self.command, "path": self.path,
                                          "body": body, "headers": dict(self.headers)})
                answer = receiver.answers.pop(0) if len(receiver.answers) > 1 \
                    else receiver.answers[0]
                if answer == "hang":
                    receiver.release.wait(30)
                    return
                status, headers, text = answer if isinstance(answer, tuple) else \
                    (answer, {}, b"ok")
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_POST = do_GET = handle_any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def posts(self):
        return [r for r in self.requests if r["method"] == "POST"]


def hook_toml(url: str, notify: str = "", retry_for: str = "0") -> str:
    return (f'[notify]\nretry_for = "{retry_for}"\n{notify}\n[notify.webhook]\n'
            f'url = "{url}"\ntimeout = 1\n')


def webhook_row(cfg) -> dict:
    (row,) = [r for r in outbox_rows(cfg) if r["channel"] == "webhook"]
    return row


def audit_details(cfg) -> str:
    con = store.connect(config_mod.load(cfg, warn=lambda line: None).database)
    try:
        return "\n".join(d for (d,) in con.execute("SELECT detail FROM audit_log").fetchall())
    finally:
        con.close()


# ---- item 4 / issue 15: sent, retry later, give up -------------------------------------

def test_a_302_is_not_followed_and_the_message_is_given_up_with_the_reason(tmp_path):
    with Receiver() as elsewhere, Receiver([(302, {"Location": elsewhere.url + "?x=1"},
                                             b"moved")]) as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url))
        proc = run_cli("--config", str(cfg), "scan")
        again = run_cli("--config", str(cfg), "alerts", "send")
    line = assert_one_line_error(proc, 3)
    assert "given up" in line and "302" in line and "redirects are not followed" in line
    assert len(receiver.posts) == 1                      # tried once, never again
    assert elsewhere.requests == []                      # the POST did not become a GET
    row = webhook_row(cfg)
    assert row["status"] == "failed" and row["sent_at"] is None
    assert "302" in row["last_error"] and f"127.0.0.1:{elsewhere.port}" in row["last_error"]
    assert again.returncode == 0, again.stderr           # nothing pending any more
    listed = run_cli("--config", str(cfg), "alerts", "outbox", "--status", "failed",
                     "--format", "json")
    assert [r["outbox_id"] for r in json.loads(listed.stdout)] == [row["outbox_id"]]


def test_a_given_up_message_is_sent_after_the_url_is_fixed(tmp_path):
    with Receiver([404]) as wrong, Receiver([200]) as right:
        cfg = project(tmp_path, hook_toml(wrong.url))
        run_cli("--config", str(cfg), "scan")
        cfg.write_text(cfg.read_text().replace(wrong.url, right.url))
        plain = run_cli("--config", str(cfg), "alerts", "send")
        assert plain.returncode == 0 and right.posts == []   # given up stays given up
        fixed = run_cli("--config", str(cfg), "alerts", "send", "--retry-failed")
    assert fixed.returncode == 0, fixed.stderr
    assert "1 message(s) given up before are pending again" in fixed.stderr
    (post,) = right.posts
    row = webhook_row(cfg)
    assert (row["status"], row["last_error"]) == ("sent", None)
    assert post["headers"]["Idempotency-Key"] == row["message_key"]
    assert '"outbox_ids"' in audit_details(cfg)


def test_a_404_is_given_up_at_once_with_the_receivers_words(tmp_path):
    with Receiver([(404, {}, b'{"error": "no_service"}')]) as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url, retry_for="10s"))
        outcome = scan(cfg)
    assert len(receiver.posts) == 1                      # not retried within the run
    assert outcome.failed and outcome.pending == [] and outcome.sent   # the e-mail file
    row = webhook_row(cfg)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "answered 404" in row["last_error"] and "no_service" in row["last_error"]
    assert "refuses this message for good" in row["last_error"]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_5xx_or_429_stays_pending_and_is_retried(tmp_path, status):
    with Receiver([status]) as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url))
        outcome = scan(cfg)
        proc = run_cli("--config", str(cfg), "alerts", "send")
    assert len(receiver.posts) == 2 and outcome.failed == []
    line = assert_one_line_error(proc, 3)
    assert "not delivered" in line and f"answered {status}" in line
    row = webhook_row(cfg)
    assert (row["status"], row["attempts"]) == ("pending", 2)


def test_a_5xx_gives_up_loudly_once_the_retry_limit_is_reached(tmp_path):
    limits = 'max_attempts = 3\ngive_up_after = "0s"\n'
    with Receiver([500]) as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url, limits))
        first = run_cli("--config", str(cfg), "scan")
        second = run_cli("--config", str(cfg), "alerts", "send")
        third = run_cli("--config", str(cfg), "alerts", "send")
        fourth = run_cli("--config", str(cfg), "alerts", "send")
    assert "not delivered" in assert_one_line_error(first, 3)
    assert "not delivered" in assert_one_line_error(second, 3)
    line = assert_one_line_error(third, 3)
    assert "given up" in line and "gave up after 3 attempts" in line and "answered 500" in line
    assert fourth.returncode == 0 and len(receiver.posts) == 3
    row = webhook_row(cfg)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "max_attempts" in row["last_error"]
    assert '"failed"' in audit_details(cfg)               # the give-up is in the audit log


def test_a_young_message_is_not_given_up_however_many_attempts(tmp_path):
    """Both limits must be passed: a burst of quick retries alone never gives up."""
    with Receiver([500]) as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url, 'max_attempts = 1\n'
                                          'give_up_after = "1d"\n'))
        outcome = scan(cfg, now=store.now())          # the message is written now
    assert outcome.failed == [] and outcome.pending and len(receiver.posts) == 1
    assert webhook_row(cfg)["status"] == "pending"


def test_a_hanging_receiver_times_out_retries_then_gives_up(tmp_path):
    with Receiver(["hang"]) as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url, 'max_attempts = 2\n'
                                          'give_up_after = "0s"\n'))
        started = time.monotonic()
        first = scan(cfg)
        second = run_cli("--config", str(cfg), "alerts", "send")
        took = time.monotonic() - started
    assert first.pending and first.failed == [] and "timed out" in first.error
    line = assert_one_line_error(second, 3)
    assert "given up" in line and "timed out" in line
    assert webhook_row(cfg)["status"] == "failed" and took < 20


def test_a_good_receiver_after_a_failure_still_gets_it_once(tmp_path):
    with Receiver([500, 201]) as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url))
        scan(cfg)
        proc = run_cli("--config", str(cfg), "alerts", "send")
    assert proc.returncode == 0, proc.stderr
    assert len(receiver.posts) == 2
    assert (webhook_row(cfg)["status"], webhook_row(cfg)["last_error"]) == ("sent", None)


class Refusing(Inbox):
    """An SMTP server that answers DATA with a chosen reply."""

    def __init__(self, reply: str):
        super().__init__()
        self.reply = reply

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"to": list(envelope.rcpt_tos)})
        return self.reply


class RefusingRecipient(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such mailbox"


def test_smtp_5xx_gives_up_and_4xx_retries(tmp_path):
    port = free_port()
    server = smtp_server(Refusing("554 5.7.1 message refused as spam"), port)
    try:
        cfg = project(tmp_path / "a", email_toml(port))
        proc = run_cli("--config", str(cfg), "scan")
    finally:
        server.stop()
    line = assert_one_line_error(proc, 3)
    assert "given up" in line and "554" in line and "refused as spam" in line
    (row,) = outbox_rows(cfg)
    assert row["status"] == "failed"
    port = free_port()
    server = smtp_server(Refusing("451 4.3.0 try again later"), port)
    try:
        cfg = project(tmp_path / "b", email_toml(port))
        proc = run_cli("--config", str(cfg), "scan")
    finally:
        server.stop()
    assert "not delivered" in assert_one_line_error(proc, 3)
    (row,) = outbox_rows(cfg)
    assert row["status"] == "pending" and "451" in row["last_error"]


def test_smtp_refused_recipient_is_given_up_with_its_address(tmp_path):
    port = free_port()
    server = smtp_server(RefusingRecipient(), port)
    try:
        cfg = project(tmp_path, email_toml(port))
        proc = run_cli("--config", str(cfg), "scan")
    finally:
        server.stop()
    line = assert_one_line_error(proc, 3)
    assert "finance@example.org refused" in line and "550" in line
    assert outbox_rows(cfg)[0]["status"] == "failed"


# ---- item 13: secrets never in stderr, the outbox or the audit chain -------------------

def secret_url(port: int) -> str:
    return f"http://bot:{TOKEN}@127.0.0.1:{port}/hooks/{PATH_TOKEN}?token={QTOKEN}"


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (TOKEN, QTOKEN, PATH_TOKEN):
            assert secret not in text, (secret, text)


@pytest.mark.parametrize("answer", [500, 404, "down"])
def test_webhook_credentials_never_leak(tmp_path, answer):
    with Receiver([answer if answer != "down" else 200]) as receiver:
        port = receiver.port if answer != "down" else free_port()
        cfg = project(tmp_path, hook_toml(secret_url(port)))
        proc = monitor("--config", str(cfg), "scan", cwd=tmp_path)      # a real process
        log = run_cli("--config", str(cfg), "audit", "log", "--format", "json")
    assert proc.returncode == 3, proc.stderr
    if answer != "down":                       # user:password@ went as HTTP Basic auth
        (post,) = receiver.posts
        assert post["headers"]["Authorization"].startswith("Basic ")
        assert post["path"] == f"/hooks/{PATH_TOKEN}?token={QTOKEN}"
    row = webhook_row(cfg)
    assert row["last_error"] and "127.0.0.1" in row["last_error"]
    assert_no_secret(proc.stderr, proc.stdout, row["last_error"], audit_details(cfg),
                     log.stdout)


def test_webhook_url_from_the_environment_never_leaks(tmp_path):
    with Receiver([(401, {}, f"bad token {TOKEN}".encode())]) as receiver:
        cfg = project(tmp_path, '[notify]\nretry_for = "0"\n[notify.webhook]\n'
                                'url_env = "MONITOR_HOOK_URL"\n')
        proc = run_cli("--config", str(cfg), "scan",
                       env={"MONITOR_HOOK_URL": secret_url(receiver.port)})
    line = assert_one_line_error(proc, 3)
    assert "answered 401" in line                      # the receiver's echo of it masked too
    assert_no_secret(proc.stderr, webhook_row(cfg)["last_error"], audit_details(cfg))


def test_a_bad_webhook_url_in_the_config_is_named_without_its_secret(tmp_path):
    cfg = project(tmp_path, "")
    cfg.write_text(cfg.read_text() + f'[notify.webhook]\nurl = "ftp://bot:{TOKEN}@h/x"\n')
    proc = run_cli("--config", str(cfg), "scan")
    line = assert_one_line_error(proc, 2)
    assert "notify.webhook.url" in line and "ftp://***@h/x" in line
    assert_no_secret(proc.stderr)


def test_an_smtp_server_echoing_the_password_is_masked(tmp_path, certificate, monkeypatch):
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", PASSWORD)
    port = free_port()
    server = smtp_server(Refusing(f"554 5.7.1 refused for {PASSWORD}"), port, "starttls",
                         certificate)
    try:
        cfg = project(tmp_path, email_toml(port, "starttls", certificate))
        proc = run_cli("--config", str(cfg), "scan")
    finally:
        server.stop()
    line = assert_one_line_error(proc, 3)
    assert "554" in line and "refused for ***" in line
    for text in (proc.stderr, outbox_rows(cfg)[0]["last_error"], audit_details(cfg)):
        assert PASSWORD not in text


def test_daemon_log_lines_are_redacted():
    redact.remember(secret_url(9))
    stream = io.StringIO()
    saved = logging.getLogger().handlers[:]
    try:
        schedule.setup_logging("json", "test", stream=stream)
        logging.getLogger("monitor.daemon").error("outbox failed: %s", secret_url(9),
                                                  extra={"summary": {"e": secret_url(9)}})
    finally:
        logging.getLogger().handlers[:] = saved
    assert "outbox failed: http://127.0.0.1:9/***" in stream.getvalue()
    assert_no_secret(stream.getvalue())


def test_redaction_masks_url_credentials_never_seen_before():
    text = redact.redact("at https://u:pw12@h.example/a/T0A1B2C3D4E5F6G7H8?sig=zz&x=1 "
                         "and /tmp/a_file.csv")
    assert text == "at https://***@h.example/a/***?sig=***&x=*** and /tmp/a_file.csv"


# ---- item 16: Slack markup in payee names does not render -----------------------------

MARKUP = ["*bold* _it_ ~strike~ `code`", "@here @channel pay", "<!channel> & <@U123>",
          "Acme <http://evil.example|click here>"]


@pytest.mark.parametrize("payee", MARKUP)
def test_slack_markup_and_mentions_in_payees_are_neutralised(tmp_path, payee):
    rows = [[f"2024-01-{d:02d}", "1667.00", payee, "1111"] for d in (2, 16, 30)]
    with Receiver() as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url), rows=rows)
        scan(cfg)
    (post,) = receiver.posts
    document = json.loads(post["body"])
    text = document["text"]
    body = text.split("\n", 1)[1]                 # past the subject line, bold on purpose
    for raw in ("*bold*", "_it_", "~strike~", "`code`", "@here", "@channel", "<!", "<@",
                "<http"):
        assert raw not in text
    assert body.count("*") == 4                   # only the template's own bold: 2 pairs
    assert body.count("`") == 2                   # only the command's code span
    assert document["alerts"][0]["payee"] == payee  # the data itself stays exact
    assert "alerts show 1`" in text


@pytest.mark.parametrize("line,key", [("max_attempts = 0", "notify.max_attempts"),
                                      ("max_attempts = 2.5", "notify.max_attempts"),
                                      ('give_up_after = "soon"', "notify.give_up_after")])
def test_bad_retry_limits_are_refused_with_the_key(tmp_path, line, key):
    cfg = project(tmp_path)
    cfg.write_text(cfg.read_text() + f"[notify]\n{line}\n")
    line = assert_one_line_error(run_cli("--config", str(cfg), "alerts", "send"), 2)
    assert key in line
