"""The durable outbox: a message is in the database before it is sent and marked sent
only after the server accepted it. A server that is down gets retried with backoff;
a process killed between writing and sending loses nothing and sends nothing twice."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

import duckdb

from helpers import ROOT, assert_one_line_error
from notify_helpers import (NOW, Inbox, email_toml, free_port, outbox_rows, parse, project,
                            run_cli, scan, smtp_server)

TWO_RECIPIENTS = '[[notify.routes]]\nrecipients = ["cfo@example.org"]\n'


def test_server_down_then_up_gives_one_delivery_per_message(tmp_path):
    port = free_port()
    toml = email_toml(port).replace('retry_for = "0"', 'retry_for = "20s"\nretry_initial = "1s"')
    cfg = project(tmp_path, toml + TWO_RECIPIENTS)
    inbox, servers = Inbox(), []
    down = socket.create_server(("127.0.0.1", port))

    def outage():          # hang up on the first two attempts, then a real server comes up
        for _ in range(2):
            connection, _ = down.accept()
            connection.close()
        down.close()
        servers.append(smtp_server(inbox, port))

    thread = threading.Thread(target=outage)
    thread.start()
    try:
        outcome = scan(cfg)
    finally:
        thread.join(30)
        for server in servers:
            server.stop()
    assert outcome.pending == [] and len(outcome.sent) == 2
    rows = outbox_rows(cfg)
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 3), ("sent", 3)]
    assert sorted(m["to"][0] for m in inbox.messages) == ["cfo@example.org",
                                                          "finance@example.org"]
    keys = sorted(parse(m["data"])["Message-ID"] for m in inbox.messages)
    assert keys == sorted(f"<{r['message_key']}@example.org>" for r in rows)


def test_a_run_that_gives_up_keeps_the_messages_and_the_next_run_sends_them(tmp_path):
    port = free_port()
    cfg = project(tmp_path, email_toml(port))
    proc = run_cli("--config", str(cfg), "scan")          # nothing listens on the port
    line = assert_one_line_error(proc, 3)
    assert "not delivered" in line and f"127.0.0.1:{port} cannot be reached" in line
    assert "Devlab Consult" in proc.stdout                  # the findings still printed
    (row,) = outbox_rows(cfg)
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"]
    inbox = Inbox()
    server = smtp_server(inbox, port)
    try:
        sent = run_cli("--config", str(cfg), "alerts", "send")
        again = run_cli("--config", str(cfg), "alerts", "send")
        rescan = run_cli("--config", str(cfg), "scan")
    finally:
        server.stop()
    assert sent.returncode == 0, sent.stderr
    assert again.returncode == 0 and rescan.returncode == 1, rescan.stderr
    assert len(inbox.messages) == 1
    assert parse(inbox.messages[0]["data"])["Message-ID"] == f"<{row['message_key']}@example.org>"


def test_kill_9_between_writing_and_sending_then_restart_sends_exactly_once(tmp_path):
    """A listener that accepts and never greets holds `monitor scan` right after it
    committed the outbox; kill -9 it there, bring a real server up, and restart."""
    port = free_port()
    cfg = project(tmp_path, email_toml(port).replace("timeout = 5", "timeout = 60")
                  + TWO_RECIPIENTS)
    silent = socket.create_server(("127.0.0.1", port))
    child = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "scan"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        silent.settimeout(60)
        held, _ = silent.accept()             # the child is now connecting to send
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        silent.close()
    held.close()
    assert child.returncode == -signal.SIGKILL
    rows = outbox_rows(cfg)
    assert [r["status"] for r in rows] == ["pending", "pending"]    # written, not sent
    inbox = Inbox()
    server = smtp_server(inbox, port)
    try:
        first = run_cli("--config", str(cfg), "alerts", "send")
        rescan = run_cli("--config", str(cfg), "scan")
        second = run_cli("--config", str(cfg), "alerts", "send")
    finally:
        server.stop()
    assert first.returncode == 0 and second.returncode == 0, first.stderr
    assert rescan.returncode == 1, rescan.stderr
    assert sorted(m["to"][0] for m in inbox.messages) == ["cfo@example.org",
                                                          "finance@example.org"]
    assert {r["status"] for r in outbox_rows(cfg)} == {"sent"} and len(outbox_rows(cfg)) == 2


def test_file_outbox_writes_each_message_once(tmp_path):
    cfg = project(tmp_path)                                  # no smtp_host: .eml files
    first = scan(cfg)
    scan(cfg, NOW.replace(hour=10))
    (path,) = first.files
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == [path.name]
    assert parse(path.read_bytes())["To"] == "finance@localhost"
    assert [r["sent_via"] for r in outbox_rows(cfg)] == ["file"]


def test_dry_run_writes_files_and_changes_nothing(tmp_path):
    cfg = project(tmp_path)
    proc = run_cli("--config", str(cfg), "scan", "--dry-run")
    assert proc.returncode == 1, proc.stderr
    files = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert len(files) == 1 and files[0].startswith("dry-run-") and files[0].endswith(".eml")
    con = duckdb.connect(str(tmp_path / "ledger.duckdb"), read_only=True)
    counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("alerts", "notifications", "outbox", "alert_events")]
    con.close()
    assert counts == [0, 0, 0, 0]
    real = run_cli("--config", str(cfg), "scan")            # the real run still tells it
    assert real.returncode == 1 and len(outbox_rows(cfg)) == 1


def test_no_notify_records_alerts_and_a_later_scan_tells_them(tmp_path):
    cfg = project(tmp_path)
    quiet = scan(cfg, notify=False)
    assert quiet.notifications == [] and outbox_rows(cfg) == []
    later = scan(cfg, NOW.replace(hour=10))
    assert [n["reason"] for n in later.notifications] == ["firing"]


def test_outbox_lists_pending_and_sent(tmp_path):
    cfg = project(tmp_path)
    scan(cfg)
    proc = run_cli("--config", str(cfg), "alerts", "outbox", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["status"] == "sent" and row["alerts"] == [1] and row["kind"] == "alerts"

