"""Properties of the pieces under the web inbox, without a server: a signed answer link
verifies to exactly what was signed and any change to it is refused; the Expected answer's
proposed registry entry explains every charge it was proposed from; the [web] section
reads as the issue writes it."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from helpers import write_config
from monitor.alerting import links
from monitor.errors import ConfigError
from monitor.ledger import registry
from monitor.settings import config as config_mod

SECRET = b"a-secret-long-enough-for-tests"
NOW = datetime(2025, 5, 1, 12, 0)
recipients = st.emails() | st.text(min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(recipients, st.integers(1, 2**40), st.sampled_from(sorted(links.ANSWERS)),
       st.integers(1, 60 * 24 * 30))
def test_a_link_verifies_to_what_was_signed(recipient, alert_id, answer, minutes):
    expires = NOW + timedelta(minutes=minutes)
    token = links.sign(SECRET, recipient, alert_id, answer, expires)
    link = links.verify(SECRET, token, NOW)
    assert (link.recipient, link.alert_id, link.answer) == (recipient, alert_id, answer)
    assert expires - timedelta(seconds=1) < link.expires <= expires     # whole seconds
    with pytest.raises(links.LinkError, match="expired"):
        links.verify(SECRET, token, expires + timedelta(seconds=1))


@settings(max_examples=200, deadline=None)
@given(recipients, st.integers(1, 10**6), st.data())
def test_any_change_to_a_link_is_refused(recipient, alert_id, data):
    token = links.sign(SECRET, recipient, alert_id, "ack", NOW + timedelta(days=7))
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCxyz019-_.=").filter(lambda c: c != token[position]))
    altered = token[:position] + replacement + token[position + 1:]
    try:
        link = links.verify(SECRET, altered, NOW)
    except links.LinkError:
        return
    # base64's last character may carry unused bits: then the very same link decodes
    assert (link.recipient, link.alert_id, link.answer) == (recipient, alert_id, "ack")


def test_another_secret_refuses_the_link():
    token = links.sign(SECRET, "a@example.org", 3, "resolve", NOW + timedelta(days=1))
    with pytest.raises(links.LinkError, match="not valid"):
        links.verify(b"another-secret-of-some-length", token, NOW)


charges = st.lists(st.tuples(st.dates(date(2020, 1, 1), date(2024, 12, 31)),
                             st.decimals(Decimal("0.01"), Decimal("99999.99"), places=2)),
                   min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(charges)
def test_the_proposed_entry_explains_every_charge_it_came_from(found):
    rows = [{"posted_at": day, "amount": amount} for day, amount in found]
    proposal = registry.propose(rows)
    for row in rows:
        assert abs(row["amount"] - proposal["expected_amount"]) <= proposal["tolerance"]
    period = {"weekly": lambda d: d.isocalendar()[:2], "monthly": lambda d: (d.year, d.month),
              "quarterly": lambda d: (d.year, (d.month - 1) // 3),
              "yearly": lambda d: d.year}.get(proposal["cadence"])
    if period:          # at most one charge per period: every charge in a period of its own
        days = [r["posted_at"] for r in rows]
        assert len({period(d) for d in days}) == len(days)


def test_web_section_reads_as_written(tmp_path):
    path = write_config(tmp_path)
    path.write_text(path.read_text() + '\n[web]\nlisten = "127.0.0.1:8080"\n'
                    'base_url = "https://monitor.example.org"\nsecret_env = "MONITOR_WEB_SECRET"\n')
    web = config_mod.load(path, warn=pytest.fail).web
    assert (web.host, web.port, web.base_url, web.secret_env) == (
        "127.0.0.1", 8080, "https://monitor.example.org", "MONITOR_WEB_SECRET")
    assert web.secure and web.link_expiry == timedelta(days=7)
    assert config_mod.load(write_config(tmp_path / "plain"), warn=pytest.fail).web.base_url is None


@pytest.mark.parametrize("line, problem", [
    ('listen = "8080"', "is not host:port"), ('listen = "127.0.0.1:99999"', "is not host:port"),
    ('base_url = "monitor.example.org"', "is not a web address"),
    ('secret_env = "not a name"', "is not an environment variable name"),
    ('link_expiry = "0"', "expire at once"),
    ('user_header = "X-Remote-User"', "trusted_proxies is missing"),
    ('user_header = "X-Remote-User"\ntrusted_proxies = ["proxy.local"]', "not an IP address"),
    ('user_header = "X Remote"\ntrusted_proxies = ["127.0.0.1"]', "not a header name")])
def test_bad_web_keys_name_the_line_and_the_fix(tmp_path, line, problem):
    path = write_config(tmp_path)
    path.write_text(path.read_text() + f"\n[web]\n{line}\n")
    with pytest.raises(ConfigError, match=problem) as error:
        config_mod.load(path, warn=lambda line: None)
    assert f"{path}:" in str(error.value)
