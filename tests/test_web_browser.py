"""The web inbox in a real browser (Debian's chromium driven by playwright, as the report's
browser test does) against a real `monitor serve` and a real SMTP server: a person signs in,
reads the inbox (a payee named like HTML runs no script), opens an alert and acknowledges
it; then the recipient of the e-mail follows its Resolve link, confirms, and the alert is
resolved with the outcome, the audit entry naming them. With UPDATE_SCREENSHOTS=1 the
screenshots are written to docs/ (docs/web-inbox.png, docs/web-alert.png, docs/web-email.png)."""
from __future__ import annotations

import os
import shutil

import pytest

from helpers import ROOT, query
from web_helpers import FINANCE, HOSTILE, email_links, site  # noqa: F401
from notify_helpers import parse


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    return chromium, sync_playwright


def _shot(page, name: str, tmp_path) -> None:
    folder = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / name), full_page=name != "web-email.png")


@pytest.mark.browser
def test_sign_in_read_answer_and_answer_from_the_email_in_chromium(site, tmp_path):
    chromium, sync_playwright = _browser()
    base = site["server"].url
    devlab = site["ids"]["Devlab Consult"]
    delta = site["ids"]["Delta Works"]
    resolve_link = email_links(site)[delta]["Resolve"]
    email_html = tmp_path / "email.html"
    email_html.write_text(parse(site["inbox"].messages[0]["data"]).get_body(("html",))
                          .get_content(), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            dialogs, elsewhere = [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: None if r.url.startswith((base, "file:", "data:"))
                    else elsewhere.append(r.url))
            page.goto(base + "/")
            assert page.url.startswith(base + "/login")
            page.fill("input[name=name]", FINANCE[0])
            page.fill("input[name=password]", FINANCE[1])
            page.click("button:has-text('Sign in')")
            page.wait_for_url(base + "/")
            inbox_text = page.inner_text("main")
            assert HOSTILE in inbox_text          # shown as text, not run
            assert page.evaluate("document.querySelectorAll('script').length") == 0
            _shot(page, "web-inbox.png", tmp_path)

            page.click(f"a[href='/alerts/{devlab}']")
            page.wait_for_url(f"{base}/alerts/{devlab}")
            assert page.evaluate("document.querySelector('img').naturalWidth") == 640
            _shot(page, "web-alert.png", tmp_path)
            page.fill("form:has(input[value=ack]) input[name=note]", "card blocked by phone")
            page.click("button:has-text('Acknowledge')")
            page.wait_for_url(f"{base}/alerts/{devlab}?done=ack")
            assert "Done: the alert was acknowledged" in page.inner_text("main")

            mail = browser.new_page(viewport={"width": 1000, "height": 1000})
            mail.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith("file:") else route.abort())
            mail.goto(email_html.resolve().as_uri())
            _shot(mail, "web-email.png", tmp_path)
            mail.close()

            person = browser.new_context().new_page()      # the recipient, not signed in
            person.goto(resolve_link)
            assert "Confirm: Resolve" in person.inner_text("main")
            person.select_option("select[name=outcome]", "theft")
            person.fill("input[name=note]", "reported to the bank")
            person.click("button:has-text('Resolve')")
            person.wait_for_load_state("load")
            assert "recorded as finance@example.org" in person.inner_text("main")
        finally:
            browser.close()
    assert dialogs == [] and elsewhere == []
    states = dict(query(site["config"], "SELECT alert_id, state FROM alerts"))
    assert states[devlab] == "acknowledged" and states[delta] == "resolved"
    assert query(site["config"], "SELECT actor FROM audit_log WHERE action = 'resolve'") == [
        ("finance@example.org",)]
    assert query(site["config"], "SELECT outcome, decided_by, note FROM alert_outcomes") == [
        ("theft", "finance@example.org", "reported to the bank")]
