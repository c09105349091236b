"""`monitor report`: the demo ledger (plus two thefts to hostile payee names) ingested and
scanned, one alert acknowledged and one silenced, then the report written. The page is
self-contained (no script, no external reference, a CSP that forbids both), its numbers are
in the account currency, hostile names are escaped in the HTML and in the SVG charts, and
in headless Chromium every chart draws, nothing is fetched and no script runs.

Chromium is Debian's `chromium` package (.ci/run installs it when it can), driven by
playwright's Python package with the system browser (no browser download); the browser
test skips, saying why, where either is missing."""
from __future__ import annotations

import base64
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import ROOT, csv_bytes, query, run, write_config
from monitor.cli import main as cli_mod
from monitor.sql import store

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
DEMO_HEADER = ["trans_date", "merchant_name", "card_number_masked", "card_last4", "amount_gbp",
               "trans_cac_desc_1", "directorate"]
SVG_NS = "{http://www.w3.org/2000/svg}"


def _main(*args: str) -> int:
    try:
        cli_mod.main(list(args))
    except SystemExit as e:
        return e.code or 0
    return 0


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The `make demo` project in a temp folder, with two more thefts whose payee names
    are HTML; one alert acknowledged, one silenced; then `monitor report`."""
    folder = tmp_path_factory.mktemp("demo")
    ledgers = folder / "demo" / "ledgers"
    shutil.copytree(ROOT / "demo" / "ledgers", ledgers)
    rows = [[f"2017-11-{day:02d}", payee, "************" + card, card, amount, "Consultants",
             "Corporate Resources"]
            for payee, card in zip(HOSTILE, ("4242", "4343"))
            for day, amount in ((6, "1667.00"), (13, "1666.50"), (20, "1667.25"))]
    (ledgers / "hostile.csv").write_bytes(csv_bytes(rows, header=DEMO_HEADER))
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    config = str(folder / "config.toml")
    assert _main("--config", config, "ingest") == 0
    assert _main("--config", config, "scan", "--no-notify") == 1
    ids = {payee: alert_id for alert_id, payee in query(
        Path(config), "SELECT alert_id, counterparty FROM alerts ORDER BY alert_id")}
    assert set(HOSTILE) <= set(ids), ids
    assert _main("--config", config, "alerts", "ack", str(ids["devlab consult ltd"]),
                 "--by", "J. Smith", "--note", "card cancelled") == 0
    assert _main("--config", config, "alerts", "silence", "--counterparty", HOSTILE[1],
                 "--until", "2099-01-31", "--reason", "test", "--by", "J. Smith") == 0
    assert _main("--config", config, "scan", "--no-notify") == 1     # the silence applies
    out = folder / "report.html"
    assert _main("--config", config, "report", "--out", str(out)) == 0
    return {"folder": folder, "config": config, "out": out, "html": out.read_text("utf-8"),
            "ids": ids}


def charts_of(html: str) -> dict[str, bytes]:
    """Each chart image's SVG, by its data-chart name."""
    found = re.findall(r'<img class="chart" data-chart="([^"]+)" src="data:image/svg\+xml;'
                       r'base64,([A-Za-z0-9+/=]+)"', html)
    return {name: base64.b64decode(data) for name, data in found}


# -- the page --------------------------------------------------------------------------------

def test_report_prints_its_path_and_records_itself(demo, capsys, tmp_path):
    out = tmp_path / "sub" / "r.html"
    code, stdout, stderr = run(capsys, "--config", demo["config"], "report", "--out", str(out))
    assert code == 0, stderr
    assert stdout.strip() == str(out.resolve()) and out.exists()
    assert "open alerts" in stderr and "GBP at risk" in stderr
    (entry,) = query(Path(demo["config"]), "SELECT detail FROM audit_log WHERE action = 'report' "
                     "ORDER BY seq DESC LIMIT 1")
    assert str(out) in entry[0]


def test_report_is_self_contained(demo):
    html = demo["html"]
    assert "<script" not in html.lower()
    assert "<link" not in html.lower() and "@import" not in html
    assert re.search(r"url\(", html) is None
    assert "default-src 'none'" in html             # CSP: no script, no fetch, even if injected
    sources = re.findall(r'\bsrc="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/svg+xml;base64,") for s in sources)
    assert "http://" not in html and "https://" not in html
    assert "@media print" in html


def test_report_has_every_section_in_the_account_currency(demo):
    html = demo["html"]
    for section in ("open-alerts", "alert-charts", "drift", "new-payees", "sources", "outcomes"):
        assert f'<section id="{section}">' in html
    cards = re.findall(r'<div class="card (\w+)">.*?<div class="count">(\d+)</div>'
                       r'<div class="money">([^<]*)</div>', html)
    assert [c[0] for c in cards] == ["total", "critical", "high", "warning"]
    # (8 since payee keys: 'travelodge gb0553' is the 'travelodge gb0000' card 6308 had
    # paid, so its rotation through "several new payees" is one new payee, no alert)
    assert int(cards[0][1]) == sum(int(c[1]) for c in cards[1:]) >= 8
    assert all(re.fullmatch(r"[\d,]+\.\d\d GBP( at risk)?", c[2]) for c in cards), cards
    assert "13,335.90 GBP" in html                  # the injected devlab consult ltd theft
    names = set(charts_of(html))
    assert {"drift-payees", "drift-initiators", "new-payees"} <= names
    assert {f"alert-{i}" for i in demo["ids"].values()} <= names
    assert "birmingham_pcards" in html and "no bank statements" in html
    outcomes = dict(re.findall(r"<th>([^<]+)</th><td class=\"num\">(\d+)</td>", html))
    assert outcomes["Acknowledged (someone is on it)"] == "1"
    assert outcomes["Silenced"] == "1" and outcomes["Silenced now"] == "1"


def test_hostile_payee_names_are_escaped_in_the_page(demo):
    html = demo["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "onerror" not in re.sub(r"&lt;img src=x onerror=alert\(1\)&gt;", "", html)


def test_hostile_payee_names_are_escaped_in_the_charts(demo):
    """Text is <text> in the SVG (svg.fonttype none), written as escaped character data: the
    parsed SVG holds the name as text and has no script or event attribute."""
    for alert_id in (demo["ids"][payee] for payee in HOSTILE):
        svg = charts_of(demo["html"])[f"alert-{alert_id}"]
        tree = ET.fromstring(svg)
        assert not [e for e in tree.iter() if e.tag in (f"{SVG_NS}script", "script")]
        assert not [a for e in tree.iter() for a in e.attrib if a.lower().startswith("on")]
        texts = "".join("".join(e.itertext()) for e in tree.iter(f"{SVG_NS}text"))
        assert any(payee in texts for payee in HOSTILE), texts[:300]


def test_charts_are_reproducible(demo, tmp_path):
    again = tmp_path / "again.html"
    assert _main("--config", demo["config"], "report", "--out", str(again)) == 0
    assert charts_of(again.read_text("utf-8")) == charts_of(demo["html"])


def test_period_limits_what_is_shown(demo, tmp_path):
    out = tmp_path / "h1.html"
    assert _main("--config", demo["config"], "report", "--out", str(out),
                 "--from", "2017-01-01", "--to", "2017-06-30") == 0
    html = out.read_text("utf-8")
    assert "Period 01 Jan 2017 to 30 Jun 2017" in html
    assert "devlab consult ltd" not in html and "alert(1)" not in html   # the thefts are later
    months = re.findall(r'<td class="date">(\w+ 2017)</td><td class="num">', html)
    assert months == ["Jan 2017", "Feb 2017", "Mar 2017", "Apr 2017", "May 2017", "Jun 2017"]


def test_a_capped_alert_list_still_counts_and_sums_every_open_alert(demo, tmp_path, monkeypatch):
    from monitor.report import report
    full = _cards(demo["html"])
    monkeypatch.setattr(report, "OPEN_LIMIT", 2)
    out = tmp_path / "capped.html"
    assert _main("--config", demo["config"], "report", "--out", str(out)) == 0
    html = out.read_text("utf-8")
    assert _cards(html) == full and int(full["all open"][0]) > 2
    assert f"The 2 most severe of {full['all open'][0]} are listed." in html
    assert len(re.findall(r'<tr><td>\d+</td><td class="sev ', html)) == 2


def _cards(html: str) -> dict[str, tuple[str, str]]:
    """The open-alert cards: severity -> (count, money)."""
    return {sev: (count, money) for sev, count, money in re.findall(
        r'<div class="sev[^"]*">([^<]+)</div><div class="count">(\d+)</div>'
        r'<div class="money">([^<]+)</div>', html)}


def test_an_empty_ledger_gives_a_report_that_says_so(tmp_path, capsys):
    config = write_config(tmp_path)
    code, out, err = run(capsys, "--config", str(config), "report", "--out",
                         str(tmp_path / "r.html"))
    assert code == 0, err
    html = (tmp_path / "r.html").read_text("utf-8")
    assert "No alert is open in this period." in html and "No payees in this period." in html
    assert charts_of(html) == {}


def test_to_before_from_is_a_usage_error(demo, capsys):
    code, _, err = run(capsys, "--config", demo["config"], "report", "--from", "2017-06-30",
                       "--to", "2017-01-01")
    assert code == 2 and "swap them" in err


def test_help_has_an_example(capsys):
    code, out, _ = run(capsys, "report", "--help")
    assert code == 0 and "Example" in out and "monitor report --out" in out


def test_report_changes_nothing_but_the_audit_log(demo):
    tables = ("transactions", "alerts", "alert_events", "silences", "notifications", "outbox")
    count = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
    before = query(Path(demo["config"]), count)
    assert _main("--config", demo["config"], "report", "--out",
                 str(demo["folder"] / "again.html")) == 0
    assert query(Path(demo["config"]), count) == before


@pytest.mark.parametrize("path", sorted((store.QUERIES / "report").glob("*.sql")),
                         ids=lambda p: p.stem)
def test_report_queries_follow_the_header_convention(path):
    lines = path.read_text("utf-8").splitlines()
    header = lines[:next(i for i, line in enumerate(lines) if not line.startswith("--"))]
    assert header[0] == f"-- name: {path.stem}"
    fields = [m[1] for line in header if (m := re.match(r"^-- (\w+):", line))]
    assert fields == ["name", "finds", "params", "returns"], fields
    declared = set(store.query_header(f"report/{path.stem}")["params"])
    assert declared == set(store.query_params(f"report/{path.stem}"))


# -- in a real browser -----------------------------------------------------------------------

def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run "
                    "installs it when it runs as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    return chromium, sync_playwright


def _open(browser, url: str) -> tuple:
    """A page with every request and dialog recorded; anything but the file itself and
    data: URIs is aborted, so a failure here never reaches the network."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests, dialogs = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.route("**/*", lambda route: route.continue_()
               if route.request.url.startswith(("file:", "data:")) else route.abort())
    page.goto(url)
    page.wait_for_load_state("load")
    return page, requests, dialogs


@pytest.mark.browser
def test_in_chromium_the_charts_draw_nothing_is_fetched_and_no_script_runs(demo, tmp_path):
    chromium, sync_playwright = _browser()
    import numpy
    from PIL import Image

    url = demo["out"].resolve().as_uri()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page, requests, dialogs = _open(browser, url)
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            boxes = page.eval_on_selector_all("img.chart", """imgs => imgs.map(i => {
                const r = i.getBoundingClientRect();
                return {name: i.dataset.chart, x: r.left + window.scrollX,
                        y: r.top + window.scrollY, w: r.width, h: r.height,
                        loaded: i.complete && i.naturalWidth > 0};
            })""")
            title = page.title()
            injected = page.evaluate("document.querySelectorAll('script, img[src=x]').length")
            text = page.inner_text("body")

            # The check is live: an external image is seen (and aborted).
            control = tmp_path / "control.html"
            control.write_text('<img src="http://192.0.2.1/x.png">', encoding="utf-8")
            _, control_requests, _ = _open(browser, control.resolve().as_uri())
        finally:
            browser.close()
    assert "http://192.0.2.1/x.png" in control_requests

    assert requests == [url], requests                  # the page itself, nothing else
    assert dialogs == [] and injected == 0
    assert title.startswith("Payment monitor report, ")
    assert HOSTILE[0] in text and HOSTILE[1] in text    # shown as text, not run
    names = {b["name"] for b in boxes}
    assert {"drift-payees", "drift-initiators", "new-payees"} <= names and len(boxes) >= 11
    image = Image.open(shot).convert("RGB")
    for box in boxes:
        assert box["loaded"] and box["w"] > 300 and box["h"] > 100, box
        region = image.crop((int(box["x"]), int(box["y"]),
                             int(box["x"] + box["w"]), int(box["y"] + box["h"])))
        pixels = numpy.asarray(region, dtype=int).reshape(-1, 3)
        r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
        inked = int((pixels.min(axis=1) < 200).sum())
        colours = len(numpy.unique(pixels, axis=0))
        assert inked / len(pixels) > 0.01 and colours > 20, (box, inked, colours)
        # the spend line's red or the bars' blue, not only axes and text
        drawn = int((((r > 150) & (g < 90) & (b < 90)) | ((b > 120) & (r < 90))).sum())
        assert drawn > 50, (box["name"], drawn)
