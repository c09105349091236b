"""E-mail through a real SMTP server (aiosmtpd on 127.0.0.1) with STARTTLS or implicit
TLS and AUTH: the received message parses and has the text, the HTML, the inline chart,
the evidence CSV and the command that shows the alert again. Golden files pin the
rendered message; regenerate them on purpose with UPDATE_GOLDEN=1."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from helpers import assert_one_line_error
from notify_helpers import (NOW, PASSWORD, Inbox, certificate, check_golden,  # noqa: F401
                            email_toml, free_port, outbox_rows, parse, project, run_cli,
                            scan, smtp_server)

@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", PASSWORD)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_message_arrives_over_tls_with_auth_and_has_every_part(tmp_path, certificate, password,
                                                               security):
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port, security, certificate)
    try:
        cfg = project(tmp_path, email_toml(port, security, certificate))
        outcome = scan(cfg)
    finally:
        server.stop()
    assert outcome.error is None and len(outcome.sent) == 1 and outcome.pending == []
    assert inbox.logins == ["monitor"]
    (received,) = inbox.messages
    assert received["from"] == "monitor@example.org" and received["to"] == ["finance@example.org"]
    assert received["tls"]
    message = parse(received["data"])
    assert message["Subject"] == ("[monitor] [HIGH] Devlab Consult | account 1111 | "
                                  "5,001.00 GBP at risk")
    (row,) = outbox_rows(cfg)
    assert message["Message-ID"] == f"<{row['message_key']}@example.org>"
    assert row["status"] == "sent" and row["sent_via"] == "smtp"

    text = message.get_body(("plain",)).get_content()
    assert "3 charges of similar size to 'Devlab Consult' from account 1111" in text
    assert "Money at risk: 5,001.00 GBP" in text
    assert text.count("1,667.00 GBP  Devlab Consult") == 3
    assert f"monitor --config {cfg} alerts show 1" in text

    html = message.get_body(("html",)).get_content()
    assert "<table" in html and html.count("<td style=\"padding: 2px 8px;\">Devlab Consult") == 3
    (chart,) = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert f'src="cid:{chart["Content-ID"].strip("<>")}"' in html
    png = chart.get_payload(decode=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image
    assert Image.open(io.BytesIO(png)).size == (640, 260)

    (attachment,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/csv"]
    assert attachment.get_filename() == "alert-1-evidence.csv"
    table = list(csv.DictReader(io.StringIO(attachment.get_payload(decode=True)
                                            .decode("utf-8-sig"))))
    assert [(r["posted_at"], r["amount"], r["counterparty"]) for r in table] == [
        ("2024-01-02", "1667.00", "Devlab Consult"), ("2024-01-16", "1667.00", "Devlab Consult"),
        ("2024-01-30", "1667.00", "Devlab Consult")]


def test_a_second_scan_sends_nothing_new(tmp_path):
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port)
    try:
        cfg = project(tmp_path, email_toml(port))
        scan(cfg)
        again = scan(cfg, NOW.replace(hour=10))
    finally:
        server.stop()
    assert again.sent == [] and len(inbox.messages) == 1


def test_wrong_password_is_one_line_and_exit_code_3(tmp_path, certificate):
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port, "starttls", certificate)
    try:
        cfg = project(tmp_path, email_toml(port, "starttls", certificate))
        proc = run_cli("--config", str(cfg), "scan", env={"MONITOR_SMTP_PASSWORD": "wrong"})
    finally:
        server.stop()
    line = assert_one_line_error(proc, 3)
    assert "refused the login for 'monitor'" in line and "MONITOR_SMTP_PASSWORD" in line
    assert "wrong" not in proc.stderr and inbox.messages == []
    assert [r["status"] for r in outbox_rows(cfg)] == ["pending"]


def test_unset_password_variable_names_it(tmp_path, certificate, monkeypatch):
    monkeypatch.delenv("MONITOR_SMTP_PASSWORD", raising=False)
    port = free_port()
    server = smtp_server(Inbox(), port, "starttls", certificate)
    try:
        cfg = project(tmp_path, email_toml(port, "starttls", certificate))
        proc = run_cli("--config", str(cfg), "scan")
    finally:
        server.stop()
    line = assert_one_line_error(proc, 2)
    assert "MONITOR_SMTP_PASSWORD is not set" in line


def test_one_scan_sends_one_message_per_recipient(tmp_path):
    rows = [[f"2024-01-{d:02d}", "1667.00", payee, card]
            for card, payee in (("1111", "Devlab Consult"), ("2222", "Quiet Freelance"),
                                ("3333", "North Star Dev"))
            for d in (2, 16, 30)]
    routes = ('[[notify.routes]]\nrecipients = ["cfo@example.org"]\naccounts = ["2222"]\n\n'
              '[[notify.routes]]\nrecipients = ["audit@example.org", "cfo@example.org"]\n'
              'min_severity = "high"\n')
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port)
    try:
        cfg = project(tmp_path, email_toml(port) + "\n" + routes, rows=rows)
        scan(cfg)
    finally:
        server.stop()
    got = {m["to"][0]: parse(m["data"]) for m in inbox.messages}
    assert sorted(got) == ["audit@example.org", "cfo@example.org", "finance@example.org"]
    assert len(inbox.messages) == 3                       # not one per alert
    assert got["finance@example.org"]["X-Monitor-Alerts"] == "1, 2, 3"
    assert got["cfo@example.org"]["X-Monitor-Alerts"] == "1, 2, 3"
    assert "(+2 more)" in got["finance@example.org"]["Subject"]


def test_digest_recipients_get_one_daily_message_with_new_and_open_alerts(tmp_path):
    toml = ('[notify]\ndigest_hour = 8\n\n[notify.email]\nrecipients = ["team@example.org"]\n'
            'digest = true\n\n[[notify.routes]]\nrecipients = ["fraud@example.org"]\n')
    cfg = project(tmp_path, toml)
    first = scan(cfg, NOW.replace(hour=7))                 # before the digest hour
    assert [r["recipient"] for r in outbox_rows(cfg)] == ["fraud@example.org"]
    scan(cfg, NOW.replace(hour=9))
    scan(cfg, NOW.replace(hour=15))                        # the day's digest went out already
    digests = [r for r in outbox_rows(cfg) if r["kind"] == "digest"]
    assert len(first.sent) == 1 and len(digests) == 1
    assert digests[0]["recipient"] == "team@example.org" and digests[0]["alerts"] == [1]
    assert digests[0]["subject"].startswith("[monitor digest 2024-03-01] 1 alerts, 1 new")
    scan(cfg, NOW.replace(day=2, hour=9))                  # next day: still open, reminded
    digests = [r for r in outbox_rows(cfg) if r["kind"] == "digest"]
    assert len(digests) == 2 and digests[0]["alerts"] == [1]


def _golden_view(raw: bytes) -> str:
    """The message as reviewable text: headers, structure, decoded text parts, CSVs.
    PNG bytes are left out (fonts differ); their presence and size class are kept."""
    message = parse(raw)
    lines = [f"{k}: {message[k]}" for k in ("Subject", "From", "To", "Date", "Message-ID",
                                             "X-Monitor-Alerts")]
    raw_subject = re.search(rb"^Subject: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", raw, re.M)[1]
    raw_subject = raw_subject.decode().replace("\r\n", "\\r\\n")
    lines += [f"raw Subject: {raw_subject}", ""]
    for part in message.walk():
        lines.append(f"part {part.get_content_type()} filename={part.get_filename()} "
                     f"cid={part['Content-ID']}")
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html"):
            lines += ["", f"==== {kind}", part.get_content()]
        elif kind == "text/csv":
            lines += ["", f"==== {part.get_filename()}",
                      part.get_payload(decode=True).decode("utf-8-sig")]
    return "\n".join(lines).replace("\r\n", "\n")


def test_golden_alert_email(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project(tmp_path)
    outcome = scan(Path("config.toml"))
    (path,) = outcome.files
    check_golden("alert_email.txt", _golden_view(path.read_bytes()))


def test_golden_digest_email(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project(tmp_path, '[notify.email]\nrecipients = ["team@example.org"]\ndigest = true\n')
    outcome = scan(Path("config.toml"))
    (path,) = outcome.files
    check_golden("digest_email.txt", _golden_view(path.read_bytes()))
