"""Expected-spend review (issue 18): before a registry entry's review date (valid_to) its
owner gets an e-mail with two one-click answers, *Still expected* (the review date moves a
year on) and *No longer expected* (the entry ends today). An entry nobody re-confirms lapses
by itself: queries/scan/explain.sql explains no charge posted after valid_to, so its payee's
charges are judged like any other's. A registry that would quietly go on approving spending
nobody remembers is how small thefts hide in "expected" payees.

Who is asked. The owner is the entry's approver. When the approver is an e-mail address
(an entry made from an e-mail link has the recipient's address as its approver) the review
goes there; otherwise (a local user's name, a name typed at `monitor authorize add`) it goes
to `[registry] review_to`, else to the `[notify.email] recipients`, who receive every alert;
the e-mail names the owner. `[registry] review_before` (default "14d") says how long before
the review date it is sent; one e-mail per entry and review date (registry_reviews).

The links work exactly like the alert action links (monitor.alerting.links): HMAC-SHA256
under the [web] secret, with their own purpose so an alert link is never a review link;
bound to the recipient, the entry, the answer and the review date asked about (once the
entry was answered or edited, the other link of that e-mail is stale); they expire after
[web] link_expiry and work once (review_links_used). Opening one shows a confirmation page;
only its POST button acts (monitor/web/reviews.py).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from monitor.alerting import links, notify
from monitor.alerting.notify import clean, money
from monitor.errors import ConfigError
from monitor.ledger import registry
from monitor.settings.config import Config
from monitor.settings.validator import ADDRESS
from monitor.sql.store import rows, run

ANSWERS = {"still": "Still expected", "ended": "No longer expected"}
PURPOSE = b"monitor review link v1\n"
DEFAULT_BEFORE = timedelta(days=14)
EXTEND = timedelta(days=365)     # Still expected: the next review a year after this one


@dataclass(frozen=True)
class ReviewLink:
    recipient: str
    auth_id: int
    answer: str
    review_date: date          # the entry's valid_to when the e-mail was sent
    expires: datetime
    token: str

    @property
    def digest(self) -> str:
        return links.digest(self.token)


def sign(secret: bytes, recipient: str, auth_id: int, answer: str, review_date: date,
         expires: datetime) -> str:
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer!r}")
    return links.seal(secret, PURPOSE, {"r": recipient, "g": int(auth_id), "x": answer,
                                        "v": review_date.isoformat()}, expires)


def verify(secret: bytes, token: str, now: datetime) -> ReviewLink:
    """The review link a token stands for; links.LinkError when altered or expired."""
    def build(data: dict, expires: datetime) -> ReviewLink:
        if data["x"] not in ANSWERS:
            raise ValueError("unknown answer")
        return ReviewLink(recipient=str(data["r"]), auth_id=int(data["g"]),
                          answer=str(data["x"]), review_date=date.fromisoformat(data["v"]),
                          expires=expires, token=token)
    return links.unseal(secret, PURPOSE, token, now, build, "Open the registry instead.")


# -- who, when ------------------------------------------------------------------------------

def before(config: Config) -> timedelta:
    return config.sections.get("registry", {}).get("review_before", DEFAULT_BEFORE)


def owner_addresses(config: Config, entry: dict) -> list[str]:
    """Where an entry's review goes: its approver when that is an e-mail address, else
    [registry] review_to, else the recipients of every alert."""
    approver = (entry.get("approver") or "").strip()
    if ADDRESS.match(approver):
        return [approver]
    named = config.sections.get("registry", {}).get("review_to")
    if named:
        return list(named)
    return list(config.notify.email.recipients)


def due(con, config: Config, today: date) -> list[dict]:
    """Entries whose review date falls within [registry] review_before of today and whose
    owner was not yet asked about that date (queries/registry/reviews_due.sql)."""
    return rows(con, "registry/reviews_due", {"today": today, "until": today + before(config)})


def new_review_date(entry: dict, answer: str, today: date) -> date:
    """Still expected: a year after the later of the review date and today; No longer
    expected: today (or the review date, when that is already past)."""
    current = entry["valid_to"]
    if answer == "still":
        return max(current or today, today) + EXTEND
    return min(current, today) if current else today


# -- the e-mail -----------------------------------------------------------------------------

def queue(con, config: Config, today: date, now: datetime) -> list[dict]:
    """Render and queue one review e-mail per due entry and owner address, and record each
    in registry_reviews; runs inside the caller's transaction. Nothing is queued while a
    file manages the registry (`[registry] path`): a link could not change it. Returns
    [{auth_id, recipient, outbox_id}]."""
    if registry.managed_by(config) is not None:
        return []
    done = []
    for entry in due(con, config, today):
        for recipient in owner_addresses(config, entry):
            key = "review-" + hashlib.sha256(
                f"{recipient}|{entry['auth_id']}|{entry['valid_to']}".encode()).hexdigest()[:24]
            subject, body = render(config, recipient, entry, key=key, now=now)
            (outbox_id,), = run(con, "notify/insert_outbox", {
                "message_key": key, "channel": "email", "recipient": recipient,
                "kind": "review", "digest_day": None, "subject": subject, "body": body,
                "now": now}).fetchall()
            con.execute("INSERT INTO registry_reviews VALUES (?, ?, ?, ?, ?)",
                        [entry["auth_id"], entry["valid_to"], recipient, outbox_id, now])
            done.append({"auth_id": entry["auth_id"], "recipient": recipient,
                         "valid_to": entry["valid_to"], "outbox_id": outbox_id})
    return done


def answer_links(config: Config, recipient: str, entry: dict, now: datetime) -> dict:
    """{"answers": [(label, url)], "off": reason or None} for one review e-mail."""
    web = config.web
    if not web.base_url:
        return {"answers": [], "off": "no [web] base_url is set"}
    try:
        secret = web.secret()
    except ConfigError as e:
        return {"answers": [], "off": str(e).split(": ", 1)[-1]}
    expires = now + web.link_expiry
    return {"off": None, "expires": f"{expires:%Y-%m-%d}", "answers": [
        (label, f"{web.base_url}/r/"
                f"{sign(secret, recipient, entry['auth_id'], key, entry['valid_to'], expires)}")
        for key, label in ANSWERS.items()]}


def render(config: Config, recipient: str, entry: dict, *, key: str, now: datetime
           ) -> tuple[str, bytes]:
    """A plain-text message (no HTML: nothing to escape, nothing a client renders); the
    payee is outside text and is cleaned of control characters here and in the subject."""
    payee = clean(entry["payee"])
    subject = clean(f"Review: is '{payee[:80]}' still expected? (registry entry "
                    f"{entry['auth_id']}, review by {entry['valid_to']})")
    answers = answer_links(config, recipient, entry, now)
    amount = (f"{money(entry['expected_amount'])} (give or take {money(entry['tolerance'])})"
              if entry["expected_amount"] is not None else "any amount")
    lines = [
        f"The registry says charges to {payee!r} are expected, so the monitor does not alert",
        f"on them. That approval lapses after {entry['valid_to']} unless you confirm it:",
        "after that day its charges are judged like any other payee's.", "",
        f"  payee:      {payee}",
        f"  account:    {clean(entry['account']) or 'any'}",
        f"  amount:     {amount}",
        f"  cadence:    {clean(entry['cadence']) or 'any'}",
        f"  owner:      {clean(entry['approver'])}",
        f"  reference:  {clean(entry['reference'])}",
        f"  review by:  {entry['valid_to']}", ""]
    if answers["answers"]:
        lines += ["Answer with one click (each link opens a page with a button; it works once, "
                  f"until {answers['expires']}):"]
        lines += [f"  {label}: {url}" for label, url in answers["answers"]]
        lines += ["", f"Still expected moves the review date to "
                      f"{new_review_date(entry, 'still', now.date())}; No longer expected "
                      "ends the entry today."]
    else:
        lines += [f"Answer links are off ({answers['off']}). Ask whoever runs the monitor "
                  f"to extend or end registry entry {entry['auth_id']}."]
    message = notify.new_message(config, recipient, key=key, now=now,
                                 mark=("X-Monitor-Review", str(entry["auth_id"])))
    message.set_content("\n".join(lines) + "\n", cte="quoted-printable")
    return subject, notify.message_bytes(message, subject)
