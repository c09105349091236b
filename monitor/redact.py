"""One redaction for every place text leaves the process: error lines, the outbox's
last_error, log lines and the hash-chained audit log.

Two layers, because neither alone is enough:
- the secrets this process has read (a webhook URL and its token, an SMTP password)
  are remembered when they are read and replaced wherever they appear, in any form a
  library may echo them (the URL, its user:password, its path, the base64 of an
  SMTP login);
- any URL in the text loses what commonly carries a credential even when it was
  never remembered: its user:password@, its query values and long token-like path
  segments (Slack, Teams and Discord put the token in the path).
The audit chain hashes the redacted text, so a secret never enters it.
"""
from __future__ import annotations

import base64
import logging
import re
import threading
import urllib.parse

MASK = "***"
URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}]+")
USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@")
QUERY_VALUE = re.compile(r"([?&;][^=&;#]*=)[^&;#]*")
# A path segment that looks like a token: long, letters and digits mixed.
TOKEN_SEGMENT = re.compile(r"(?<=/)(?=[A-Za-z0-9_~%.-]*[0-9])(?=[A-Za-z0-9_~%.-]*[A-Za-z])"
                           r"[A-Za-z0-9_~%.-]{16,}")
MIN_SECRET = 4          # shorter values would mask ordinary words

_secrets: dict[str, str] = {}          # secret -> what replaces it
_lock = threading.Lock()


def remember(*values: str | None) -> None:
    """Secrets read from the config or the environment: masked from now on."""
    found = {}
    for value in values:
        if not value:
            continue
        if "://" in value:
            found |= dict.fromkeys(_url_parts(value), MASK)
            scheme = value.split("://", 1)[0]
            found[value] = f"{scheme}://{url_host(value)}/{MASK}"   # still says where
        else:
            found[value] = MASK
    with _lock:
        _secrets.update((k, v) for k, v in found.items() if len(k) >= MIN_SECRET)


def remember_login(username: str, password: str) -> None:
    """An SMTP login: the password, and the base64 forms AUTH LOGIN and PLAIN send."""
    remember(password,
             base64.b64encode(password.encode()).decode("ascii"),
             base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii"))


def _url_parts(url: str) -> set[str]:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return set()
    found = {p for p in (parts.password, parts.query, parts.fragment) if p}
    if parts.username and parts.password is None:     # https://TOKEN@host/
        found.add(parts.username)
    found |= {urllib.parse.unquote(p) for p in found}
    found.update(v for _, v in urllib.parse.parse_qsl(parts.query))
    if len(parts.path) >= 12:           # "/hook" carries no token; masking it would garble
        found.add(parts.path)
    found.update(s for s in parts.path.split("/") if len(s) >= 8 and re.search(r"[0-9]", s))
    return found


def redact(text) -> str:
    """`text` with every remembered secret and every URL credential masked."""
    if text is None:
        return text
    text = str(text)
    with _lock:
        known = sorted(_secrets.items(), key=lambda item: len(item[0]), reverse=True)
    for secret, mask in known:
        if secret in text:
            text = text.replace(secret, mask)
    return URL.sub(_mask_url, text)


def _mask_url(match: re.Match) -> str:
    url = USERINFO.sub(lambda m: m[1] + MASK + "@", match[0])
    url = QUERY_VALUE.sub(lambda m: m[1] + MASK, url)
    return TOKEN_SEGMENT.sub(MASK, url)


def url_host(url: str) -> str:
    """Where a URL points, for a message: host and port only, never user, path or query."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "(an unreadable URL)"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


class LogFilter(logging.Filter):
    """Redacts each record's final message (and its summary) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        summary = getattr(record, "summary", None)
        if isinstance(summary, dict):
            record.summary = {k: redact(v) if isinstance(v, str) else v
                              for k, v in summary.items()}
        return True
