"""The expected-spend review (issue 18): `monitor authorize review --send` e-mails each
registry entry's owner, through a real SMTP server (aiosmtpd), before the entry's review
date; the e-mail's Still expected / No longer expected links open a confirmation page of a
real `monitor serve` (a GET changes nothing) whose POST button extends or ends the entry,
with its audit entry. A reused, stale, expired, altered or other-recipient link is refused
with a plain page. And an entry not re-confirmed explains no charge after its review date."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from helpers import query, write_config
from notify_helpers import Inbox, email_toml, free_port, parse, project, smtp_server
from web_helpers import HOSTILE, SECRET, Client, Server, monitor, path_of, theft_rows, web_toml
from monitor.alerting import reviews
from monitor.daemon import scheduler
from monitor.errors import ConfigError
from monitor.ledger import registry
from monitor.settings import config as config_mod
from monitor.sql import store

OWNER = "owner@example.org"
TODAY = store.now().date()


def add(con, payee, account, valid_to, approver):
    return registry.approve(con, registry.validate(
        {"payee": payee, "account": account, "valid_to": valid_to.isoformat(),
         "approver": approver, "reference": "PO-1"}, "test"), who="setup")


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    """Four entries: two owned by an address (due in 10 and 5 days), one by a plain name (due
    in 3 days: its review goes to [notify.email] recipients), one not due (60 days); the
    reviews sent by the real CLI; `monitor serve` running."""
    folder = tmp_path_factory.mktemp("review")
    inbox, smtp_port, web_port = Inbox(), free_port(), free_port()
    smtp = smtp_server(inbox, smtp_port)
    config = project(folder, email_toml(smtp_port) + web_toml(web_port), rows=theft_rows())
    con = store.connect(config_mod.load(config, warn=lambda line: None).database)
    ids = {"devlab": add(con, "Devlab Consult", "1111", TODAY + timedelta(days=10), OWNER),
           "hostile": add(con, HOSTILE, "2222", TODAY + timedelta(days=5), OWNER),
           "named": add(con, "Beta Services", "4444", TODAY + timedelta(days=3), "Jane Smith"),
           "later": add(con, "Gamma Partners", "5555", TODAY + timedelta(days=60), OWNER)}
    con.close()
    listed = monitor(config, "authorize", "review")          # without --send: a list only
    assert listed.returncode == 0 and not inbox.messages, listed.stderr
    assert "would send 3 review e-mail(s)" in listed.stderr
    sent = monitor(config, "authorize", "review", "--send")
    assert sent.returncode == 0, sent.stderr
    server = Server(config, web_port)
    try:
        yield {"config": config, "inbox": inbox, "ids": ids, "port": web_port}
    finally:
        server.stop()
        smtp.stop()


def review_links(inbox: Inbox, auth_id: int) -> dict[str, str]:
    """{answer label: url} from the review e-mail about one entry."""
    (message,) = [parse(m["data"]) for m in inbox.messages
                  if parse(m["data"])["X-Monitor-Review"] == str(auth_id)]
    text = message.get_body(("plain",)).get_content()
    return {m[1]: m[2] for m in re.finditer(r"^\s+(Still expected|No longer expected): "
                                           r"(http\S+)\s*?$", text, re.M)}


def valid_to(review, auth_id: int) -> date:
    return query(review["config"], "SELECT valid_to FROM authorizations WHERE auth_id = ?",
                 [auth_id])[0][0]


def test_each_owner_gets_one_review_before_the_date(review):
    inbox, ids = review["inbox"], review["ids"]
    to = sorted((m["to"][0], parse(m["data"])["X-Monitor-Review"]) for m in inbox.messages)
    assert to == sorted([(OWNER, str(ids["devlab"])), (OWNER, str(ids["hostile"])),
                         ("finance@example.org", str(ids["named"]))])
    hostile = [parse(m["data"]) for m in inbox.messages
               if parse(m["data"])["X-Monitor-Review"] == str(ids["hostile"])][0]
    assert "\n" not in hostile["Subject"] and HOSTILE in hostile["Subject"]
    assert set(review_links(inbox, ids["named"])) == {"Still expected", "No longer expected"}
    again = monitor(review["config"], "authorize", "review", "--send")   # once per review date
    assert again.returncode == 0 and "sent 0 review" in again.stderr
    assert len(inbox.messages) == 3
    (detail,) = [json.loads(d) for (d,) in query(review["config"], "SELECT detail FROM "
                                                 "audit_log WHERE action = 'registry review'")
                 if json.loads(d)["sent"]]
    assert len(detail["sent"]) == 3


def test_still_expected_extends_only_when_the_button_is_posted(review):
    ids, client = review["ids"], Client(review["port"])
    urls = review_links(review["inbox"], ids["devlab"])
    before = valid_to(review, ids["devlab"])
    status, _, page = client.get(path_of(urls["Still expected"]))
    assert status == 200 and "Confirm: Still expected" in page
    assert str(before + timedelta(days=365)) in page
    assert valid_to(review, ids["devlab"]) == before            # a GET changes nothing
    status, _, page = client.post(path_of(urls["Still expected"]), {}, csrf=False)
    assert status == 200 and "Done: registry entry" in page, page
    assert valid_to(review, ids["devlab"]) == before + timedelta(days=365)
    (actor, detail), = query(review["config"], "SELECT actor, detail FROM audit_log WHERE "
                             "action = 'authorize review'")
    detail = json.loads(detail)
    assert actor == OWNER and detail["answer"] == "still" and detail["auth_id"] == ids["devlab"]
    assert detail["before"]["valid_to"] == str(before)
    # used once; the e-mail's other answer is stale now (the date it asked about moved)
    for url in (urls["Still expected"], urls["No longer expected"]):
        status, _, page = client.post(path_of(url), {}, csrf=False)
        assert status == 410, page
    assert valid_to(review, ids["devlab"]) == before + timedelta(days=365)


def test_no_longer_expected_ends_the_entry_today(review):
    ids, client = review["ids"], Client(review["port"])
    url = path_of(review_links(review["inbox"], ids["hostile"])["No longer expected"])
    status, _, page = client.get(url)
    assert status == 200 and "&lt;script&gt;" in page and "<script>" not in page
    status, _, page = client.post(url, {}, csrf=False)
    assert status == 200 and valid_to(review, ids["hostile"]) == TODAY
    assert client.post(url, {}, csrf=False)[0] == 410
    assert client.get(url)[0] == 410


def test_altered_expired_and_other_recipient_links_are_refused(review):
    ids, client = review["ids"], Client(review["port"])
    url = path_of(review_links(review["inbox"], ids["named"])["No longer expected"])
    token = url.rsplit("/", 1)[1]
    altered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    entry_date = valid_to(review, ids["named"])
    now = store.now()
    expired = reviews.sign(SECRET.encode(), "finance@example.org", ids["named"], "ended",
                           entry_date, now - timedelta(minutes=1))
    stranger = reviews.sign(SECRET.encode(), "mallory@example.org", ids["named"], "ended",
                            entry_date, now + timedelta(days=1))
    other_entry = reviews.sign(SECRET.encode(), "finance@example.org", ids["later"], "ended",
                               entry_date, now + timedelta(days=1))
    for path, status, words in ((altered, 403, "not valid"), (f"/r/{expired}", 403, "expired"),
                                (f"/r/{stranger}", 403, "no longer receives"),
                                (f"/r/{other_entry}", 410, "changed since")):
        for method in ("GET", "POST"):
            found, _, page = client.request(method, path, {} if method == "POST" else None)
            assert found == status and words in page, (path, method, found, page[-400:])
    assert valid_to(review, ids["named"]) == entry_date and token


def test_an_entry_explains_no_charge_after_its_review_date(review):
    """queries/scan/explain.sql: Acme Advisory's three charges (2 Jan, 16 Jan, 30 Jan 2024)
    under an entry whose review date is 20 Jan: the third is not explained."""
    cfg = config_mod.load(review["config"], warn=lambda line: None)
    con = store.connect(cfg.database)
    try:
        auth_id = add(con, "Acme Advisory", "3333", date(2024, 1, 20), OWNER)
        store.run(con, "scan/explain", {"as_of": date(2024, 2, 1)})
        days = [d for (d,) in con.execute(
            "SELECT t.posted_at FROM explained e JOIN transactions t USING (source, txn_id) "
            "WHERE t.counterparty = 'Acme Advisory' ORDER BY 1").fetchall()]
        registry.withdraw(con, auth_id, who="setup")
    finally:
        con.close()
    assert days == [date(2024, 1, 2), date(2024, 1, 16)]


def test_the_daemons_digest_job_sends_the_reviews_due(review, monkeypatch):
    """monitor run's digest job (hourly or daily) sends what is due, once per review date."""
    monkeypatch.setenv("MONITOR_WEB_SECRET", SECRET)
    cfg = config_mod.load(review["config"], warn=lambda line: None)
    con = store.connect(cfg.database)
    try:
        auth_id = add(con, "Delta Works", "6666", TODAY + timedelta(days=2), "Jane Smith")
    finally:
        con.close()
    count = len(review["inbox"].messages)
    assert scheduler.run_digest(cfg)["reviews"] == 1
    assert scheduler.run_digest(cfg)["reviews"] == 0
    assert len(review["inbox"].messages) == count + 1
    assert set(review_links(review["inbox"], auth_id)) == {"Still expected", "No longer expected"}


def test_registry_review_keys_read_as_written(tmp_path):
    path = write_config(tmp_path)
    path.write_text(path.read_text() + '\n[registry]\nreview_before = "30d"\n'
                    'review_to = ["controller@example.org"]\n')
    cfg = config_mod.load(path, warn=pytest.fail)
    assert reviews.before(cfg) == timedelta(days=30)
    assert reviews.owner_addresses(cfg, {"approver": "Jane Smith"}) == ["controller@example.org"]
    assert reviews.owner_addresses(cfg, {"approver": OWNER}) == [OWNER]
    path.write_text(path.read_text().replace('"controller@example.org"', '"not an address"'))
    with pytest.raises(ConfigError, match="review_to"):
        config_mod.load(path, warn=lambda line: None)
