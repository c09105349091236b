"""Payee names come from outside and are hostile until shown otherwise: CR/LF must not
inject mail headers, HTML must be escaped, formulas must not reach the CSV as formulas,
and names in any script must arrive intact in the subject and the body."""
from __future__ import annotations

import csv
import io

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from markupsafe import escape

from monitor.alerting import notify
from monitor.settings.config import Config
from notify_helpers import Inbox, email_toml, free_port, parse, project, scan, smtp_server

HOSTILE = {
    "1001": "Evil Ltd\r\nBcc: victim@example.org\r\nX-Injected: yes",
    "1002": "<script>alert(1)</script><b>Bold</b> & Co",
    "1003": '=HYPERLINK("http://evil.example","click")',
    "1004": "+cmd|' /C calc'!A0",
    "1005": "ООО Рога и Копыта",
    "1006": "北京咨询有限公司",
    "1007": "Devlab 🦊 Consult 👩‍💻",
    "1008": "$\\frac{1}{0}$ @SUM(A1)",
}


def test_hostile_payees_arrive_harmless_and_intact(tmp_path):
    rows = [[f"2024-01-{d:02d}", "1667.00", payee, card]
            for card, payee in HOSTILE.items() for d in (2, 16, 30)]
    # One route per card: each recipient gets one message about one payee.
    routes = "".join(f'[[notify.routes]]\nrecipients = ["r{card}@example.org"]\n'
                     f'accounts = ["{card}"]\n\n' for card in HOSTILE)
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port)
    try:
        cfg = project(tmp_path, email_toml(port).replace(
            'recipients = ["finance@example.org"]', "recipients = []") + routes, rows=rows)
        outcome = scan(cfg)
    finally:
        server.stop()
    assert outcome.pending == [] and len(inbox.messages) == len(HOSTILE)
    by_card = {m["to"][0][1:5]: m for m in inbox.messages}
    for card, payee in HOSTILE.items():
        raw = by_card[card]["data"]
        message = parse(raw)
        shown = notify.clean(payee)
        # No header was injected, and every header is one logical line.
        assert message["Bcc"] is None and message["X-Injected"] is None
        assert message.keys() == ["Subject", "From", "To", "Date", "Message-ID",
                                  "Auto-Submitted", "X-Monitor-Alerts", "MIME-Version",
                                  "Content-Type"]
        assert raw.isascii()                  # non-ASCII only inside encoded words/parts
        assert f"[HIGH] {shown} | account {card}" in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        assert shown in text
        html = message.get_body(("html",)).get_content()
        assert "<script>" not in html and "<b>Bold</b>" not in html
        if card == "1002":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in html
        (attachment,) = [p for p in message.iter_attachments()
                         if p.get_content_type() == "text/csv"]
        table = list(csv.reader(io.StringIO(attachment.get_payload(decode=True)
                                            .decode("utf-8-sig"))))
        payees = {row[3] for row in table[1:]}
        if payee[0] in "=+-@":
            assert payees == {"'" + payee}    # shown as text, never run as a formula
        else:
            assert payees == {payee}          # the exact name, in any script
    assert "🦊" in parse(by_card["1007"]["data"])["Subject"]
    assert "ООО Рога и Копыта" in parse(by_card["1005"]["data"]).get_body(("html",)).get_content()


def view(payee: str) -> dict:
    """One alert as the templates see it, its outside text cleaned as render_view does."""
    shown = notify.clean(payee)
    return {"alert_id": 1, "reason": "firing", "reason_text": "new alert", "severity": "high",
            "severity_upper": "HIGH", "detector": "new_payee_repeat", "payee": shown,
            "why": notify.why("new_payee_repeat"),
            "where": "account 1", "account": "1", "initiator": "", "state": "firing",
            "exposure_value": Decimal("1667.00"), "money": "1,667.00 GBP", "sentence": shown,
            "acked_by": "", "ack_note": "", "since": "2024-01-02", "charges": 1,
            "evidence": [{"posted_at": "2024-01-02", "amount": "1,667.00", "currency": "GBP",
                          "counterparty": shown, "account": "1", "description": shown,
                          "source": "s", "txn_id": "t1"}],
            "evidence_count": 1, "evidence_more": 0, "evidence_total": "1,667.00 GBP",
            "chart": None, "cid": "chart-1@monitor", "csv": b"x", "csv_name": "a.csv",
            "command": "monitor alerts show 1"}


CONFIG = Config(path=Path("config.toml"), database=Path("unused.duckdb"),
                outbox=Path("outbox"), sources=())


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=120))
def test_any_payee_renders_a_message_that_parses_back_intact(payee):
    subject, raw = notify.render_email(CONFIG, "finance@example.org", [view(payee)], key="k1",
                                       now=datetime(2024, 3, 1, 9))
    assert raw.isascii() and "\r" not in subject and "\n" not in subject
    message = parse(raw)
    assert message.keys() == ["Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted",
                              "X-Monitor-Alerts", "MIME-Version", "Content-Type"]
    assert message["Subject"] == subject
    assert notify.clean(payee)[:60] in subject
    assert notify.clean(payee) in message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert str(escape(notify.clean(payee))) in html       # escaped, never live markup
