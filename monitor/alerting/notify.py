"""Tell people: route, group, render and deliver what the alert lifecycle calls for.

The path is durable. In one database transaction the lifecycle records its
notifications and this module renders them into messages in the `outbox` table
(one message per recipient per run, however many alerts); only then is anything
sent, and a message is marked sent only after its server accepted it. A server
that is down gets retried with backoff; the next run retries what is still
pending; a permanent refusal is given up with its reason (monitor.alerting.channels, which
delivers). The body is stored whole, so a retry after a crash sends the same bytes
with the same Message-ID.

Channels: e-mail (SMTP with STARTTLS or implicit TLS and AUTH, or, with no
smtp_host, .eml files in the [outbox] folder) and a webhook (JSON POST with a
Slack-compatible `text`). Payee names come from outside and are hostile: they
are stripped of control characters everywhere, escaped in HTML and Slack text,
and defused in the evidence CSV.
"""
from __future__ import annotations

import csv
import email.policy
import email.utils
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from email.header import Header
from email.message import EmailMessage
from functools import cache, lru_cache
from pathlib import Path

import duckdb

from monitor.alerting import lifecycle as alert, charts, links
from monitor.alerting.channels import deliver, write_file
from monitor.settings.config import Config, Route, check_outbox
from monitor.output import money, safe_cell
from monitor.sql.store import query_header, rows, run, transaction


@dataclass
class Outcome:
    """What a run told and delivered."""
    notifications: list[dict] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)        # outbox ids written
    sent: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)       # still not accepted
    files: list[Path] = field(default_factory=list)        # .eml/.json written
    failed: list[int] = field(default_factory=list)        # given up for good
    error: str | None = None
    gave_up: str | None = None


def handle_scan(con: duckdb.DuckDBPyConnection, config: Config, findings: list[dict], *,
                now: datetime, scan_id: int | None = None, notify: bool = True,
                dry_run: bool = False) -> Outcome:
    """After a scan: update the alerts, queue the messages (one transaction), deliver.
    A dry run renders the messages to the outbox folder and changes nothing."""
    outcome = Outcome()
    with transaction(con) as tx:
        outcome.notifications = alert.apply(con, config.alerts, findings, now=now,
                                            scan_id=scan_id, notify=notify)
        if notify:
            outcome.queued = enqueue(con, config, outcome.notifications, now=now)
            outcome.queued += enqueue_digests(con, config, now=now)
        if dry_run:
            check_outbox(config)
            for message in _pending(con, outcome.queued):
                outcome.files.append(write_file(config.outbox, message, prefix="dry-run-"))
            tx.rollback()
            return outcome
    if notify:
        delivered = deliver(con, config, wait=config.notify.retry_for)
        outcome.sent, outcome.pending = delivered.sent, delivered.pending
        outcome.files, outcome.error = delivered.files, delivered.error
        outcome.failed, outcome.gave_up = delivered.failed, delivered.gave_up
    return outcome


# ---- routing and queueing ------------------------------------------------------------

def routes(config: Config) -> list[Route]:
    """The e-mail routes: [notify.email] recipients take every alert; each
    [[notify.routes]] adds its recipients for the alerts it matches."""
    email = config.notify.email
    base = [Route(recipients=email.recipients, digest=email.digest)] if email.recipients else []
    return base + list(config.notify.routes)


def matches(route: Route, row: dict) -> bool:
    if alert.SEVERITY_RANK[row["severity"]] < alert.SEVERITY_RANK[route.min_severity]:
        return False
    if route.accounts and row["account"] not in route.accounts:
        return False
    if route.detectors and row["detector"] not in route.detectors:
        return False
    return not route.sources or bool(set(route.sources) & set(row["sources"] or []))


def destinations(config: Config, row: dict, digest: bool = False) -> list[tuple[str, str]]:
    """(channel, recipient) pairs an alert goes to, immediately or (digest=True) daily."""
    found = []
    for route in routes(config):
        if route.digest == digest and matches(route, row):
            found += [("email", r) for r in route.recipients if ("email", r) not in found]
    hook = config.notify.webhook
    if hook and not digest and (alert.SEVERITY_RANK[row["severity"]]
                                >= alert.SEVERITY_RANK[hook.min_severity]):
        found.append(("webhook", "webhook"))
    return found


def enqueue(con, config: Config, told: list[dict], *, now: datetime) -> list[int]:
    """Render the notifications into one message per (channel, recipient); returns the
    outbox ids written. Runs inside the caller's transaction."""
    if not told:
        return []
    items = rows(con, "notify/notification_alerts",
                 {"ids": [t["notification_id"] for t in told]})
    groups: dict[tuple[str, str], list[dict]] = {}
    for item in items:
        for destination in destinations(config, item):
            groups.setdefault(destination, []).append(item)
    return [_queue(con, config, channel, recipient, group, now=now)
            for (channel, recipient), group in sorted(groups.items())]


def enqueue_digests(con, config: Config, *, now: datetime) -> list[int]:
    """The day's digest for each digest recipient, once a day from digest_hour (UTC):
    every alert still open for them, the new ones and changes first."""
    if now.hour < config.notify.digest_hour:
        return []
    recipients = {r for route in routes(config) if route.digest for r in route.recipients}
    queued = []
    for recipient in sorted(recipients):
        if run(con, "notify/digest_exists", {"channel": "email", "recipient": recipient,
                                             "day": now.date()}).fetchone()[0]:
            continue
        mine = lambda row: ("email", recipient) in destinations(config, row, digest=True)  # noqa: E731
        news = [n for n in rows(con, "notify/digest_notifications",
                                {"recipient": recipient, "now": now}) if mine(n)]
        told = {n["alert_id"] for n in news if n["reason"] != "resolved"}
        still = [a | {"reason": "open", "notification_id": None}
                 for a in alert.open_alerts(con, now)
                 if a["alert_id"] not in told and a["state"] != "silenced" and mine(a)]
        if news or still:
            queued.append(_queue(con, config, "email", recipient, news + still, now=now,
                                 digest_day=now.date()))
    return queued


def _queue(con, config: Config, channel: str, recipient: str, items: list[dict], *,
           now: datetime, digest_day=None) -> int:
    items = sorted(items, key=alert.suspicion)
    ids = sorted(i["notification_id"] for i in items if i["notification_id"] is not None)
    seed = f"{channel}|{recipient}|{digest_day or ''}|{','.join(map(str, ids))}"
    key = f"{'digest' if digest_day else 'alert'}-{hashlib.sha256(seed.encode()).hexdigest()[:24]}"
    views = [render_view(con, config, item) for item in items]
    if channel == "webhook":
        subject, body = render_webhook(config, views, key=key)
    else:
        subject, body = render_email(config, recipient, views, key=key, now=now,
                                     digest_day=digest_day,
                                     summary=summary(con, items, views))
    (outbox_id,), = run(con, "notify/insert_outbox", {
        "message_key": key, "channel": channel, "recipient": recipient,
        "kind": "digest" if digest_day else "alerts", "digest_day": digest_day,
        "subject": subject, "body": body, "now": now}).fetchall()
    for notification_id in ids:
        run(con, "notify/insert_outbox_item", {"outbox_id": outbox_id,
                                               "notification_id": notification_id})
    return outbox_id


# ---- delivery: monitor.alerting.channels ----------------------------------------------------

def _pending(con, only: list[int] | None = None) -> list[dict]:
    found = rows(con, "notify/pending")
    return found if only is None else [m for m in found if m["outbox_id"] in only]


# ---- rendering -----------------------------------------------------------------------

REASONS = {"firing": "new alert", "escalation": "escalated", "resolved": "resolved",
           "reminder": "reminder: still firing, not acknowledged", "open": "still open"}
EVIDENCE_COLUMNS = ("posted_at", "amount", "currency", "counterparty", "account", "initiator",
                    "description", "source", "txn_id")
SUBJECT_SLOT = "monitor-subject-slot"      # replaced by the encoded subject
TABLE_ROWS = 40             # evidence rows shown in the body; the CSV has them all


def clean(value) -> str:
    """Outside text made safe for a header or a line: control characters (CR, LF, tabs,
    bidi overrides, ...) become spaces; letters of any script and emoji stay."""
    if value is None:
        return ""
    return "".join(ch if ch.isprintable() or ch == "\u200d" else " " for ch in str(value))


def render_view(con, config: Config, item: dict) -> dict:
    """Everything a template shows about one alert, outside text already cleaned."""
    evidence = alert.evidence(con, item)
    alert_id = item["alert_id"]
    currency = clean(item["currency"])
    where = (f"account {clean(item['account'])}" if item["account"]
             else f"initiator {clean(item['initiator'])}" if item["initiator"] else "all accounts")
    payee = clean(item["counterparty"]) or ("several payees" if item["initiator"] else "(no payee)")
    shown = [{k: clean(r[k]) for k in ("currency", "counterparty", "account", "description",
                                       "source", "txn_id")}
             | {"posted_at": r["posted_at"].isoformat(), "amount": money(r["amount"])}
             for r in evidence[:TABLE_ROWS]]
    points = tuple((r["posted_at"], r["amount"]) for r in evidence)
    return {
        "alert_id": alert_id, "reason": item["reason"],
        "reason_text": REASONS.get(item["reason"], item["reason"]),
        "severity": item["severity"], "severity_upper": item["severity"].upper(),
        "why": why(item["detector"]),
        "detector": item["detector"], "payee": payee, "where": where,
        "account": clean(item["account"]), "initiator": clean(item["initiator"]),
        "exposure_value": item["exposure"], "money": money(item['exposure'], currency),
        "sentence": clean(item["sentence"]), "state": item["state"],
        "other_reasons": [clean(r) for r in item.get("other_reasons") or []],
        "acked_by": clean(item["acked_by"]), "ack_note": clean(item["ack_note"]),
        "since": item["since"].isoformat() if item["since"] else "",
        "charges": item["charges"], "evidence": shown, "evidence_count": len(evidence),
        "evidence_more": max(0, len(evidence) - TABLE_ROWS),
        "evidence_total": f"{money(sum((r['amount'] for r in evidence), Decimal(0)))} {currency}",
        "chart": chart_png(payee[:60], where, points, charts.tiers(config, item["detector"]))
        if points else None,
        "cid": f"chart-{alert_id}@monitor", "csv": evidence_csv(evidence),
        "csv_name": f"alert-{alert_id}-evidence.csv", "command": show_command(config, alert_id),
    }


@cache
def why(detector: str) -> str:
    """What a detector finds, in the plain words of its SQL header's first clause
    ("A payee new to an account that ... receives several sizeable charges of similar
    amounts"): the summary's one line says why an alert is unusual without its id."""
    try:
        finds = query_header(f"detect/{detector}")["finds"]
    except (OSError, KeyError):
        return detector.replace("_", " ")
    text = re.split(r"[:;.](?:\s|$)", re.sub(r"\s*\([^)]*\)", "", finds), maxsplit=1)[0]
    return text if len(text) <= 110 else text[:107].rsplit(" ", 1)[0] + " ..."


def summary(con, items: list[dict], views: list[dict]) -> dict:
    """The e-mail's first lines: how many alerts are new, the money at risk with each
    charge counted once (two alerts often cite the same charges), and the top three."""
    new = sum(1 for i in items if i["reason"] in ("firing", "escalation"))
    at_risk = alert.money_at_risk(con, [i["alert_id"] for i in items])
    return {"new": new, "count": len(items), "top": views[:3],
            "money": " + ".join(money(r["money"], clean(r["currency"])) for r in at_risk)
            or money(0)}


def show_command(config: Config, alert_id: int) -> str:
    """The exact command that shows the alert again."""
    import shlex
    path = str(config.path)
    option = "" if path == "config.toml" else f"--config {shlex.quote(path)} "
    return f"monitor {option}alerts show {alert_id}"


def evidence_csv(evidence: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EVIDENCE_COLUMNS)
    for row in evidence:
        writer.writerow([safe_cell(row[c]) if c != "posted_at" else row[c].isoformat()
                         for c in EVIDENCE_COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")     # the BOM: spreadsheets read UTF-8 right


@lru_cache(maxsize=64)
def chart_png(payee: str, where: str, points: tuple, tiers: tuple) -> bytes:
    """Cumulative unexplained spend (the evidence charges) over time, with the tier lines
    up to the first one above it, as a PNG."""
    return charts.png(charts.spend_figure(payee=payee, where=where, points=points, tiers=tiers))


# Slack escapes only &, < and >; its formatting markers and mentions have no escape
# (api.slack.com/reference/surfaces/formatting), so in outside text they become
# look-alikes that neither format nor notify anyone. The `alerts` array keeps the
# exact text.
SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
SLACK_LOOKALIKES = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb",
                    "@": "\uff20"}
_SLACK_TEXT = str.maketrans(SLACK_ESCAPES | SLACK_LOOKALIKES)
_SLACK_CODE = str.maketrans(SLACK_ESCAPES | {"`": SLACK_LOOKALIKES["`"]})


def slack_text(value) -> str:
    """Outside text for a Slack mrkdwn line: no link, mention, bold, italic, strike or code."""
    return str(value).translate(_SLACK_TEXT)


def slack_code(value) -> str:
    """Text inside a `code` span, where Slack formats nothing: only a backtick ends it."""
    return str(value).translate(_SLACK_CODE)


@cache
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined
    env = Environment(loader=PackageLoader("monitor", "templates"), undefined=StrictUndefined,
                      autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["slack"] = slack_text
    env.filters["slack_code"] = slack_code
    return env


def subject_line(views: list[dict], digest_day=None) -> str:
    top = views[0]
    headline = f"[{top['severity_upper']}] {top['payee'][:60]} | {top['where']} | {top['money']} at risk"
    if digest_day:
        new = sum(1 for v in views if v["reason"] != "open")
        return f"[monitor digest {digest_day}] {len(views)} alerts, {new} new or changed; {headline}"
    label = {"firing": "", "escalation": " escalated", "reminder": " reminder",
             "resolved": " resolved"}.get(top["reason"], "")
    more = f" (+{len(views) - 1} more)" if len(views) > 1 else ""
    return clean(f"[monitor{label}] {headline}{more}")


def render_email(config: Config, recipient: str, views: list[dict], *, key: str,
                 now: datetime, digest_day=None, summary: dict | None = None
                 ) -> tuple[str, bytes]:
    """A multipart message: plain text and HTML (with the charts inline), one evidence
    CSV per alert attached. Boundaries derive from the key, so it renders the same twice."""
    subject = clean(subject_line(views, digest_day))
    views = [v | {"links": links.for_alert(config.web, recipient, v["alert_id"], now)}
             for v in views]          # [web] base_url: the alert's page and signed answers
    context = {"items": views, "subject": subject, "digest_day": digest_day,
               "summary": summary,
               "generated": now.strftime("%Y-%m-%d %H:%M UTC")}
    env = _templates()
    message = new_message(config, recipient, key=key, now=now,
                          mark=("X-Monitor-Alerts", ", ".join(str(v["alert_id"]) for v in views)))
    message.set_content(env.get_template("email.txt.j2").render(context), cte="quoted-printable")
    message.add_alternative(env.get_template("email.html.j2").render(context), subtype="html",
                            cte="quoted-printable")
    html_part = message.get_payload()[1]
    for view in views:
        if view["chart"]:
            html_part.add_related(view["chart"], "image", "png", cid=f"<{view['cid']}>",
                                  filename=f"alert-{view['alert_id']}-chart.png",
                                  disposition="inline")
    for view in views:
        message.add_attachment(view["csv"], maintype="text", subtype="csv",
                               filename=view["csv_name"])
    for number, part in enumerate(message.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_monitor_{key}_{number}")
    return subject, message_bytes(message, subject)


def new_message(config: Config, recipient: str, *, key: str, now: datetime,
                mark: tuple[str, str]) -> EmailMessage:
    """The headers every message of the monitor carries (alerts, digests, registry reviews):
    From, To, Date, a Message-ID from the key, Auto-Submitted, and `mark`, the header that
    says what it is about. The subject is a slot `message_bytes` fills."""
    sender = config.notify.email.sender
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = SUBJECT_SLOT
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = email.utils.format_datetime(now.replace(tzinfo=timezone.utc))
    message["Message-ID"] = f"<{key}@{re.sub(r'[^A-Za-z0-9.-]', '', sender.split('@')[-1])}>"
    message["Auto-Submitted"] = "auto-generated"
    message[mark[0]] = mark[1]
    return message


def message_bytes(message: EmailMessage, subject: str) -> bytes:
    """The message as sent, with its subject folded exactly: the email package's folding of
    a long subject can drop a space between encoded words or add one in front; email.header
    folds it exactly (RFC 2047 when not ASCII)."""
    charset = "us-ascii" if subject.isascii() else "utf-8"
    encoded = Header(subject, charset, header_name="Subject").encode(linesep="\r\n")
    return message.as_bytes().replace(f"Subject: {SUBJECT_SLOT}".encode(),
                                      f"Subject: {encoded}".encode(), 1)


def render_webhook(config: Config, views: list[dict], *, key: str) -> tuple[str, bytes]:
    """JSON with a Slack-compatible `text` (mrkdwn, outside text escaped) and the alerts."""
    subject = clean(subject_line(views))
    text = _templates().get_template("webhook.txt.j2").render({"items": views, "subject": subject})
    keys = ("alert_id", "reason", "severity", "detector", "payee", "account", "initiator",
            "money", "sentence", "command", "evidence_count")
    document = {"text": text, "message_id": key, "subject": subject,
                "alerts": [{k: v[k] for k in keys} | {"exposure": str(v["exposure_value"])}
                           for v in views]}
    return subject, json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
