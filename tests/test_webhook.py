"""The webhook channel: one JSON POST per scan with a Slack-compatible `text`, retried
when the receiver fails, carrying a stable Idempotency-Key."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from notify_helpers import NOW, check_golden, outbox_rows, project, scan


class Receiver:
    """A real HTTP server on 127.0.0.1 that answers with the next status in `statuses`."""

    def __init__(self, statuses=(200,)):
        self.posts, self.statuses = [], list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 \
                    else receiver.statuses[0]
                if status == 200:
                    receiver.posts.append({"headers": dict(self.headers),
                                           "json": json.loads(body)})
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def hook_toml(url: str, extra: str = "") -> str:
    return (f'[notify]\nretry_for = "10s"\nretry_initial = "1s"\n\n[notify.webhook]\n'
            f'url = "{url}"\n{extra}')


def test_one_post_with_slack_text_and_the_alerts(tmp_path):
    with Receiver() as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url))
        outcome = scan(cfg)
        scan(cfg, NOW.replace(hour=10))                  # nothing new: no second post
    (post,) = receiver.posts
    document = post["json"]
    assert document["text"].startswith("*[monitor] [HIGH] Devlab Consult | account 1111 | "
                                       "5,001.00 GBP at risk*")
    assert "`monitor --config " in document["text"] and "alerts show 1`" in document["text"]
    (item,) = document["alerts"]
    assert (item["alert_id"], item["severity"], item["payee"], item["exposure"]) == (
        1, "high", "Devlab Consult", "5001.00")
    webhook_rows = [r for r in outbox_rows(cfg) if r["channel"] == "webhook"]
    assert post["headers"]["Idempotency-Key"] == document["message_id"] == \
        webhook_rows[0]["message_key"]
    assert post["headers"]["Content-Type"].startswith("application/json")
    assert len(outcome.sent) == 2                         # the e-mail file and the post


def test_a_failing_receiver_is_retried_and_gets_it_once(tmp_path):
    with Receiver(statuses=(503, 500, 200)) as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url))
        outcome = scan(cfg)
    assert len(receiver.posts) == 1 and outcome.pending == []
    (row,) = [r for r in outbox_rows(cfg) if r["channel"] == "webhook"]
    assert (row["status"], row["attempts"]) == ("sent", 3)


def test_min_severity_filters_and_url_env_keeps_the_token_out_of_the_file(tmp_path,
                                                                          monkeypatch):
    with Receiver() as receiver:
        monkeypatch.setenv("MONITOR_HOOK_URL", receiver.url)
        toml = ('[notify.webhook]\nurl_env = "MONITOR_HOOK_URL"\nmin_severity = "critical"\n')
        cfg = project(tmp_path, toml)
        scan(cfg)
        assert receiver.posts == []                       # a high alert is below critical
    assert "127.0.0.1" not in (tmp_path / "config.toml").read_text()


@pytest.mark.parametrize("payee", ["<!channel> pay & go", "Acme <https://evil.example|click>"])
def test_slack_control_sequences_in_payees_are_escaped(tmp_path, payee):
    rows = [[f"2024-01-{d:02d}", "1667.00", payee, "1111"] for d in (2, 16, 30)]
    with Receiver() as receiver:
        cfg = project(tmp_path, hook_toml(receiver.url), rows=rows)
        scan(cfg)
    (post,) = receiver.posts
    text = post["json"]["text"]
    assert "<!channel>" not in text and "<https://" not in text
    assert "&lt;" in text and "&amp;" in text or "&gt;" in text
    assert post["json"]["alerts"][0]["payee"] == payee    # the data itself stays exact


def test_golden_webhook_body(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Receiver() as receiver:
        project(tmp_path, hook_toml(receiver.url))
        scan(Path("config.toml"))
    (post,) = receiver.posts
    check_golden("webhook.json", json.dumps(post["json"], ensure_ascii=False, indent=1) + "\n")
