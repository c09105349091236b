"""`monitor report`: one self-contained HTML page for a finance lead or an auditor.

What it shows, each from its own query: open alerts by severity with the money at risk
(queries/report/open_alerts.sql), for each the cumulative
unexplained spend with its tier lines and first-alert day (the evidence charges, drawn
like the e-mail chart), the payees and initiators whose unexplained spend drifted most
(queries/audit/top_drift_payees.sql, queries/report/top_drift_initiators.sql), new payees
per month (queries/audit/new_payees_by_month.sql), feed freshness and bank-statement
checks per source, and what became of the alerts (queries/report/alert_outcomes.sql).

The page fetches nothing: styles are inline, each chart is an SVG inside the file as a
data: URI (an image, so nothing in it can run), and a Content-Security-Policy forbids
scripts and every network load. Outside text (payee names above all) is escaped by Jinja
autoescape in the page and by matplotlib in the charts. The database is only read.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import duckdb

from monitor import outpath
from monitor.alerting import lifecycle as alert, charts
from monitor.ledger.feeds import feed_freshness
from monitor.settings.config import SEVERITIES, Config
from monitor.alerting.notify import clean
from monitor.output import money
from monitor.sql.store import rows

DRIFT_WINDOW_DAYS = 90       # drift: the last 90 days up to the period's end ...
DRIFT_BASELINE_DAYS = 365    # ... against the year before them
TOP = 10                     # payees and initiators shown by drift
MAX_CHARTS = 25              # alerts drawn; the table lists every open alert
OPEN_LIMIT = 500             # alerts listed; the counts and money cover all


@dataclass(frozen=True)
class Period:
    """The days the report covers; None: from the start, to the latest posting."""
    start: date | None = None
    end: date | None = None

    def params(self) -> dict:
        return {"date_from": self.start, "date_to": self.end}


@dataclass(frozen=True)
class Written:
    """What `write` produced, for the command's one-line summary."""
    open_alerts: int
    at_risk: str
    charts: int


def write(con: duckdb.DuckDBPyConnection, config: Config, out: Path, *,
          period: Period = Period(), now: datetime | None = None) -> Written:
    """Render the report and write it to `out` atomically (a temporary file, then rename);
    `out` was checked by monitor.outpath (never the database, its snapshot or the config)."""
    page = build(con, config, period=period, now=now)
    html = render(page)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with outpath.replacing(out) as temp:
        temp.write_text(html, encoding="utf-8")
    drawn = sum(1 for a in page["alerts"] if a["chart"]) + sum(
        1 for key in ("drift_payees_chart", "drift_initiators_chart", "new_payees_chart")
        if page[key])
    return Written(page["open_count"], page["at_risk"], drawn)


# ---- gathering ------------------------------------------------------------------------

def build(con: duckdb.DuckDBPyConnection, config: Config, *, period: Period = Period(),
          now: datetime | None = None) -> dict:
    """Everything the template shows, outside text cleaned and money formatted."""
    span = rows(con, "report/period", period.params())[0]
    currencies = [clean(c) for c in span["currencies"]]
    currency = currencies[0] if len(currencies) == 1 else ""
    as_of = period.end or span["last_posted"]
    open_rows = rows(con, "report/open_alerts", period.params())
    return {
        "title": "Payment monitor report",
        "generated": (now or datetime.now()).strftime("%Y-%m-%d %H:%M"),
        "database": str(config.database),
        "period_from": _day(period.start or span["first_posted"]),
        "period_to": _day(as_of),
        "transactions": span["transactions"],
        "currency": currency,
        "currencies": ", ".join(currencies),
        "open_count": len(open_rows),
        "severity": _by_severity(con, open_rows, currency),
        "at_risk": _at_risk(con, open_rows, currency),
        "alerts": [_alert_view(con, config, a, currency, drawn=i < MAX_CHARTS)
                   for i, a in enumerate(open_rows[:OPEN_LIMIT])],
        "max_charts": MAX_CHARTS, "open_limit": OPEN_LIMIT,
        "drift_window": DRIFT_WINDOW_DAYS, "drift_baseline": DRIFT_BASELINE_DAYS,
        "drift_as_of": _day(as_of),
        **_drift(con, as_of, currency),
        **_new_payees(con, period, currency),
        "sources": _sources(con, config),
        "outcomes": rows(con, "report/alert_outcomes", period.params())[0],
        "precision": precision(con),
    }


def precision(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Each detector's precision from the outcomes people gave (queries/web/precision.sql:
    theft confirmed or not recognised, against honest, expected or error; an alert counts
    once, by its latest outcome), with the line the report and `monitor backtest` print:
    the number that says which detectors earn the attention they ask for."""
    found = rows(con, "web/precision")
    for row in found:
        row["line"] = (f"{row['detector']}: {row['theft']} theft of {row['judged']} judged "
                       f"({round(100 * row['theft'] / row['judged'])}%; {row['honest']} honest)")
    return found


def _by_severity(con, open_rows: list[dict], currency: str) -> list[dict]:
    """One card per severity (zero when none), its money per currency."""
    cards = []
    for name in reversed(SEVERITIES):
        mine = [a for a in open_rows if a["severity"] == name]
        cards.append({"severity": name, "alerts": len(mine),
                      "money": _at_risk(con, mine, currency)})
    return cards


def _at_risk(con, alerts: list[dict], currency: str) -> str:
    """The money at risk in these alerts, each charge counted once however many of them
    cite it (their exposures added up counted the same charges twice)."""
    found = alert.money_at_risk(con, [a["alert_id"] for a in alerts])
    return _sum_money([(r["money"], r["currency"]) for r in found], currency)


def _alert_view(con, config: Config, item: dict, currency: str, *, drawn: bool) -> dict:
    cur = clean(item["currency"]) or currency
    payee = clean(item["counterparty"]) or ("several payees" if item["initiator"]
                                            else "(no payee)")
    where = (f"account {clean(item['account'])}" if item["account"]
             else f"initiator {clean(item['initiator'])}" if item["initiator"]
             else "all accounts")
    chart = None
    if drawn and item["evidence_txn_ids"]:
        points = [(r["posted_at"], r["amount"]) for r in alert.evidence(con, item)]
        if points:
            chart = _data_uri(charts.spend_figure(
                payee=payee[:60], where=where, points=points,
                tiers=charts.tiers(config, item["detector"]),
                first_alert=item["first_alert_at"], currency=cur))
    return {"alert_id": item["alert_id"], "severity": item["severity"],
            "state": item["state"], "detector": item["detector"], "payee": payee,
            "where": where, "money": money(item["exposure"], cur),
            "charges": item["charges"], "since": _day(item["since"]),
            "first_alert": _day(item["first_alert_at"]),
            "last_charge": _day(item["last_charge_at"]),
            "sentence": clean(item["sentence"]), "acked_by": clean(item["acked_by"]),
            "ack_note": clean(item["ack_note"]), "chart": chart}


def _drift(con, as_of: date | None, currency: str) -> dict:
    params = {"as_of": as_of, "window_days": DRIFT_WINDOW_DAYS,
              "baseline_days": DRIFT_BASELINE_DAYS, "limit": TOP}
    found = {}
    for key, query, name_column, spread in (
            ("payees", "audit/top_drift_payees", "counterparty", "accounts"),
            ("initiators", "report/top_drift_initiators", "initiator", "payees")):
        top = [r for r in rows(con, query, params) if r["drift"] > 0]
        found[f"drift_{key}"] = [
            {"name": clean(r[name_column]), "charges": r["recent_charges"],
             "recent": money(r["recent_spend"], currency),
             "expected": money(r["expected_spend"], currency),
             "drift": money(r["drift"], currency),
             "ratio": f"{r['ratio']:,.1f}x" if r["ratio"] is not None else "new",
             "spread": r[spread]} for r in top]
        what = "payees" if key == "payees" else "initiators (cards, users)"
        found[f"drift_{key}_chart"] = _data_uri(charts.bar_figure(
            labels=[clean(r[name_column]) for r in top], values=[r["drift"] for r in top],
            title=f"Top {what} by unexplained drift, last {DRIFT_WINDOW_DAYS} days",
            currency=currency)) if top else None
    return found


def _new_payees(con, period: Period, currency: str) -> dict:
    months = rows(con, "audit/new_payees_by_month", period.params())
    shown = [{"month": m["month"].strftime("%b %Y"), "new_payees": m["new_payees"],
              "first_month": money(m["first_month_spend"], currency),
              "since": money(m["spend_since"], currency),
              "examples": clean(m["examples"])} for m in months]
    chart = _data_uri(charts.bar_figure(
        labels=[m["month"] for m in shown], values=[m["new_payees"] for m in months],
        title="New payees per month (first charge in that month)",
        horizontal=False)) if months else None
    return {"new_payees": shown, "new_payees_chart": chart}


def _sources(con, config: Config) -> list[dict]:
    """Per source: what the ledger holds, feed freshness, bank-statement checks."""
    held = {r["source"]: r for r in rows(con, "status/sources")}
    feeds = {f["source"]: f for f in feed_freshness(con, config)}
    checks = {r["source"]: r for r in rows(con, "report/balance_checks_by_source")}
    names = list(feeds) + sorted(set(held) - set(feeds))
    found = []
    for name in names:
        h, f, c = held.get(name, {}), feeds.get(name), checks.get(name)
        if f is None:
            feed, feed_class = "not in the config", ""
        elif f["stale"]:
            feed, feed_class = (f"LATE: quiet for {f['quiet_for']} (expected every "
                                f"{f['cadence']})", "bad")
        elif f["cadence"]:
            feed, feed_class = f"on time (expected every {f['cadence']})", "good"
        else:
            feed, feed_class = "no cadence set ([schedule.feeds])", ""
        if not c:
            balance, balance_class = "no bank statements", ""
        else:
            balance = (f"{c['statements']} statements: {c['balance_ok']} balanced, "
                       f"{c['balance_mismatch']} mismatched, {c['unchecked']} unchecked")
            balance_class = "bad" if c["with_problems"] else "good"
            if c["latest_problem"]:
                balance += f"; latest problem: {clean(c['latest_problem'])}"
        found.append({"source": clean(name), "transactions": h.get("transactions", 0),
                      "last_posted": _day(h.get("last_posted")),
                      "last_file": _stamp(f["last_file_at"] if f else h.get("last_ingested_at")),
                      "feed": feed, "feed_class": feed_class, "balance": balance,
                      "balance_class": balance_class, "rejected": h.get("rejected_rows", 0),
                      "failed_files": h.get("failed_files") or 0})
    return found


# ---- formatting -----------------------------------------------------------------------

def _sum_money(parts: list[tuple[Decimal, str | None]], currency: str) -> str:
    """Amounts summed per currency, e.g. '1,200.00 GBP + 30.00 EUR'."""
    totals: dict[str, Decimal] = {}
    for value, cur in parts:
        key = clean(cur) or currency
        totals[key] = totals.get(key, Decimal(0)) + Decimal(value or 0)
    if not totals:
        return money(0, currency)
    return " + ".join(money(v, k) for k, v in sorted(totals.items()))


def _day(value) -> str:
    return value.strftime("%d %b %Y") if value else ""


def _stamp(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def _data_uri(figure) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(charts.svg(figure)).decode("ascii")


@cache
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined
    return Environment(loader=PackageLoader("monitor", "templates"), undefined=StrictUndefined,
                       autoescape=True, trim_blocks=True, lstrip_blocks=True)


def render(page: dict) -> str:
    return _templates().get_template("report.html.j2").render(page)
