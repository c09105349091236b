"""Signed one-click answer links for the alert e-mails (issue 18).

A link names one recipient, one alert, one answer and its expiry, signed with HMAC-SHA256
under the secret named by [web] secret_env. Changing any part breaks the signature. The
link itself only opens a confirmation page: the answer is given by that page's POST button,
so a mail scanner that fetches every link changes nothing. The web server refuses a link
that is expired, altered, already used (web_links_used), or whose recipient no longer
receives the alert.

The token is `<payload>.<signature>`, both base64url without padding; the payload is the
JSON {"r": recipient, "a": alert id, "x": answer, "e": expiry as Unix seconds}.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from monitor.settings.web import WebSettings
from monitor.errors import ConfigError

ANSWERS = {"ack": "Acknowledge", "snooze": "Snooze this payee", "resolve": "Resolve",
           "expected": "Expected", "not_recognised": "Not recognised"}
PURPOSE = b"monitor action link v1\n"     # a session cookie's signature is never a link's


class LinkError(Exception):
    """A link that must not act; the message is the plain sentence the page shows."""


def digest(token: str) -> str:
    """What a used-links table keeps of a link (web_links_used, review_links_used): the
    link cannot be rebuilt from it."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    recipient: str
    alert_id: int
    answer: str
    expires: datetime
    token: str

    @property
    def digest(self) -> str:
        return digest(self.token)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, purpose + payload.encode(), hashlib.sha256).digest())


def seal(secret: bytes, purpose: bytes, fields: dict, expires: datetime) -> str:
    """A signed token `<payload>.<signature>` carrying `fields` and the expiry ("e", Unix
    seconds). `purpose` is signed too, so one kind of link is never taken for another.
    Every kind of e-mail link (alert answers, registry reviews) is sealed here."""
    stamp = int(expires.replace(tzinfo=timezone.utc).timestamp())
    payload = _b64(json.dumps(fields | {"e": stamp}, separators=(",", ":"),
                              sort_keys=True).encode())
    return f"{payload}.{_mac(secret, purpose, payload)}"


def unseal(secret: bytes, purpose: bytes, token: str, now: datetime, build,
           instead: str):
    """build(fields, expires) for a token `seal` made under `purpose`; LinkError (its
    sentence ending with `instead`, where to go rather) when the token was altered, its
    fields do not build, or it has expired."""
    payload, _, signature = token.partition(".")
    if not payload or not signature or not hmac.compare_digest(
            _mac(secret, purpose, payload).encode(), signature.encode()):
        raise LinkError(f"This link is not valid: it was changed or cut short. {instead}")
    try:
        data = json.loads(_unb64(payload))
        expires = datetime.fromtimestamp(int(data["e"]), timezone.utc).replace(tzinfo=None)
        link = build(data, expires)
    except (ValueError, KeyError, TypeError):
        raise LinkError(f"This link is not valid. {instead}") from None
    if now >= expires:
        raise LinkError(f"This link expired on {expires:%Y-%m-%d %H:%M} UTC. {instead}")
    return link


def sign(secret: bytes, recipient: str, alert_id: int, answer: str, expires: datetime) -> str:
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer!r}")
    return seal(secret, PURPOSE, {"r": recipient, "a": int(alert_id), "x": answer}, expires)


def verify(secret: bytes, token: str, now: datetime) -> Link:
    """The link a token stands for; LinkError when it was altered or has expired."""
    def build(data: dict, expires: datetime) -> Link:
        if data["x"] not in ANSWERS:
            raise ValueError("unknown answer")
        return Link(recipient=str(data["r"]), alert_id=int(data["a"]), answer=str(data["x"]),
                    expires=expires, token=token)
    return unseal(secret, PURPOSE, token, now, build,
                  "Open the alert from the inbox instead.")


def for_alert(web: WebSettings, recipient: str, alert_id: int, now: datetime) -> dict | None:
    """The links one e-mailed alert carries: {"page": url, "answers": [(label, url)],
    "off": reason or None}; None when [web] base_url is not set (no web server)."""
    if not web.base_url:
        return None
    page = f"{web.base_url}/alerts/{alert_id}"
    try:
        secret = web.secret()
    except ConfigError as e:      # a scan must still send its e-mail: without answer links
        return {"page": page, "answers": [], "off": str(e).split(": ", 1)[-1]}
    expires = now + web.link_expiry
    return {"page": page, "off": None, "expires": f"{expires:%Y-%m-%d}",
            "answers": [(label, f"{web.base_url}/a/"
                                f"{sign(secret, recipient, alert_id, key, expires)}")
                        for key, label in ANSWERS.items()]}
