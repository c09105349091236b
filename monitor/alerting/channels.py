"""Deliver what the outbox holds: e-mail over SMTP (or .eml files) and the webhook.

Every attempt ends in one of three answers, each recorded on the outbox row:
- sent: the server accepted it (SMTP 250, an HTTP 2xx, the file written);
- retry later (`Retry`): the server is down, slow, or answered "try again" (HTTP 5xx,
  408, 425, 429; SMTP 4xx; a refused connection, a timeout, a refused login). The
  row stays pending with the error; the next run tries again, until it has failed
  [notify] max_attempts times and is older than give_up_after;
- give up (`GiveUp`): the server refused it for good (an HTTP 4xx, any redirect,
  an SMTP 5xx for the message), or the retry limit is reached. The row becomes
  'failed' with the reason; retrying would only send the same refusal.

A redirect is never followed: urllib would turn the POST into a GET without its
body, to whatever host the answer names, and count that as delivered.

Every error text goes through monitor.redact before it is stored, shown or logged:
the webhook URL and the SMTP password never reach the outbox, stderr or the audit log.
"""
from __future__ import annotations

import base64
import logging
import os
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from monitor.settings.config import Config, check_outbox
from monitor.errors import ConfigError, NotifyError
from monitor.redact import redact, remember, remember_login, url_host
from monitor.sql.store import rows, run
from monitor.sql.store import now as utc_now

log = logging.getLogger("monitor.alerting.notify")
RETRY_STATUSES = {408, 425, 429}        # 4xx answers that mean "not now", not "never"
ERROR_CHARS = 500                        # of an error kept on the outbox row


class Retry(NotifyError):
    """Not accepted now; a later attempt may succeed. The text is redacted."""

    def __init__(self, message: str):
        super().__init__(redact(" ".join(str(message).split())))


class GiveUp(Retry):
    """Refused for good: sending the same bytes again gets the same refusal."""


@dataclass
class Delivery:
    sent: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)      # given up in this run
    files: list[Path] = field(default_factory=list)
    error: str | None = None                             # why some are still pending
    gave_up: str | None = None                           # why the last one was given up


def deliver(con, config: Config, *, wait: timedelta = timedelta(0), dry_run: bool = False,
            clock=utc_now, sleep=time.sleep) -> Delivery:
    """Send every pending message; retry failures with doubling delays for up to `wait`.
    A dry run writes them to the outbox folder and leaves them pending."""
    result = Delivery()
    deadline = time.monotonic() + wait.total_seconds()
    delay = config.notify.retry_initial.total_seconds()
    todo = rows(con, "notify/pending")
    if dry_run or not config.notify.email.smtp_host and any(m["channel"] == "email" for m in todo):
        check_outbox(config)       # files go there: a folder that cannot take them stops here
    while todo:
        if dry_run:
            result.files += [write_file(config.outbox, m, prefix="dry-run-") for m in todo]
            result.pending = [m["outbox_id"] for m in todo]
            return result
        again = []
        for message, outcome in _send_all(config, todo):
            if isinstance(outcome, Exception):
                if _failed(con, config, message, outcome, clock(), delay, result):
                    again.append(message | {"attempts": message["attempts"] + 1})
                continue
            via, path = outcome
            run(con, "notify/mark_sent", {"outbox_id": message["outbox_id"], "now": clock(),
                                          "sent_via": via})
            result.sent.append(message["outbox_id"])
            if path:
                result.files.append(path)
        todo = again
        if not todo or time.monotonic() + delay > deadline:
            break
        sleep(delay)
        delay = min(delay * 2, config.notify.retry_max.total_seconds())
    result.pending = [m["outbox_id"] for m in todo]
    if not result.pending:
        result.error = None
    return result


def _failed(con, config: Config, message: dict, error: Exception, now: datetime,
            delay: float, result: Delivery) -> bool:
    """Record a failed attempt; True when the message stays pending for a retry."""
    text = redact(" ".join(str(error).split()))
    attempts = message["attempts"] + 1
    limits = config.notify
    exhausted = attempts >= limits.max_attempts and \
        now - message["created_at"] >= limits.give_up_after
    if not isinstance(error, GiveUp) and not exhausted:
        result.error = text
        run(con, "notify/mark_failed", {"outbox_id": message["outbox_id"],
                                        "error": text[:ERROR_CHARS],
                                        "next_attempt_at": now + timedelta(seconds=delay)})
        return True
    if not isinstance(error, GiveUp):
        since = f"{message['created_at']:%Y-%m-%d %H:%M} UTC"
        text = (f"gave up after {attempts} attempt{'s' if attempts > 1 else ''} since {since} "
                f"([notify] max_attempts, give_up_after); the last: {text}")
    run(con, "notify/mark_given_up", {"outbox_id": message["outbox_id"],
                                      "error": text[:ERROR_CHARS]})
    if log.hasHandlers():        # the daemon's log; a command says it in its error line
        log.error("outbox message %d (%s to %s) given up: %s", message["outbox_id"],
                  message["channel"], message["recipient"], text)
    result.failed.append(message["outbox_id"])
    result.gave_up = text
    return False


def _send_all(config: Config, messages: list[dict]):
    """(message, ("smtp" | "file" | "webhook", path or None) or the exception)."""
    email = [m for m in messages if m["channel"] == "email"]
    if email and config.notify.email.smtp_host:
        yield from _send_smtp(config, email)
    else:
        for message in email:
            yield message, _try(lambda m=message: ("file", write_file(config.outbox, m)))
    for message in (m for m in messages if m["channel"] == "webhook"):
        yield message, _try(lambda m=message: ("webhook", post_webhook(config, m)))


def _try(step):
    try:
        return step()
    except Retry as e:
        return e
    except (OSError, NotifyError) as e:
        return Retry(str(e))


# ---- e-mail --------------------------------------------------------------------------

def _send_smtp(config: Config, messages: list[dict]):
    settings = config.notify.email
    try:
        session = _smtp_session(settings)
    except (OSError, smtplib.SMTPException) as e:
        # Connection, TLS and login problems: the messages are fine, the setup is not;
        # they stay pending so that fixing it sends them.
        for message in messages:
            yield message, Retry(_smtp_problem(settings, e))
        return
    try:
        for message in messages:
            try:
                refused = session.sendmail(settings.sender, [message["recipient"]],
                                           bytes(message["body"]))
            except smtplib.SMTPServerDisconnected as e:
                yield message, Retry(_smtp_problem(settings, e))
                return
            except smtplib.SMTPRecipientsRefused as e:
                refused = e.recipients
            except (OSError, smtplib.SMTPException) as e:
                yield message, _smtp_refusal(settings, e)
                continue
            if refused:
                code, reply = next(iter(refused.values()))
                yield message, _smtp_refusal(settings, smtplib.SMTPResponseException(
                    code, reply), f"recipient {message['recipient']} refused")
            else:
                yield message, ("smtp", None)
    finally:
        try:
            session.quit()
        except (OSError, smtplib.SMTPException):
            session.close()


def _smtp_refusal(settings, error: Exception, what: str = "") -> Retry:
    """An SMTP 5xx reply to a message is permanent (RFC 5321 4.2.1); 4xx and the rest
    are worth another try."""
    text = _smtp_problem(settings, error)
    if what:
        text = text.replace(": answered", f": {what}: answered", 1)
    code = getattr(error, "smtp_code", None)
    if isinstance(code, int) and 500 <= code < 600:
        return GiveUp(text)
    return Retry(text)


def _smtp_session(settings) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    if settings.security == "tls":
        session = smtplib.SMTP_SSL(settings.smtp_host, settings.port, timeout=settings.timeout,
                                   context=context)
    else:
        session = smtplib.SMTP(settings.smtp_host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            session.starttls(context=context)
    session.ehlo_or_helo_if_needed()
    if settings.username:
        password = os.environ.get(settings.password_env or "")
        if password is None:
            session.close()
            raise ConfigError(f"[notify.email] password_env: the environment variable "
                              f"{settings.password_env} is not set; export it with the SMTP "
                              "password")
        remember_login(settings.username, password)
        try:
            _login(session, settings.username, password)
        except smtplib.SMTPException:
            session.close()
            raise
    return session


def _login(session: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH; smtplib only sends ASCII, so other passwords go as AUTH PLAIN in UTF-8 (RFC 4616)."""
    if (username + password).isascii():
        session.login(username, password)
        return
    if "plain" not in session.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPAuthenticationError(504, b"server offers no AUTH PLAIN for a "
                                                   b"non-ASCII password")
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = session.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _smtp_problem(settings, error: Exception) -> str:
    where = f"mail server {settings.smtp_host}:{settings.port}"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return (f"{where} refused the login for '{settings.username}' ({error.smtp_code}); "
                f"check the password in {settings.password_env}")
    if isinstance(error, ssl.SSLError):
        return f"{where}: TLS failed ({error.reason or error}); check security and ca_file"
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return f"{where} does not offer STARTTLS; set security = \"tls\" or \"none\""
    if isinstance(error, (ConnectionError, TimeoutError, OSError)) and \
            not isinstance(error, smtplib.SMTPException):
        return f"{where} cannot be reached ({error})"
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        reply = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return f"{where}: answered {error.smtp_code} {' '.join(reply.split())[:200]}"
    return f"{where}: {' '.join(str(error).split())}"


# ---- webhook -------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse to follow: the 3xx then surfaces as an HTTPError, judged below."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def post_webhook(config: Config, message: dict) -> None:
    hook = config.notify.webhook
    if hook is None:
        raise Retry("a webhook message is pending but [notify.webhook] is not configured")
    url = hook.url or os.environ.get(hook.url_env or "")
    if not url:
        raise ConfigError(f"[notify.webhook] url_env: the environment variable {hook.url_env} "
                          "is not set; export it with the webhook URL")
    remember(url)
    host = url_host(url)
    if not re.match(r"^https?://", url, re.I):
        raise ConfigError(f"[notify.webhook] url_env: the URL in {hook.url_env} is not an "
                          "http(s) URL; export it as https://...")
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "payment-monitor", "Idempotency-Key": message["message_key"]}
    try:
        url, authorization = _credentials(url)
        if authorization:
            headers["Authorization"] = authorization
        request = urllib.request.Request(url, data=bytes(message["body"]), method="POST",
                                         headers=headers)
        with _OPENER.open(request, timeout=hook.timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        raise _http_refusal(host, e) from None
    except (urllib.error.URLError, OSError) as e:
        raise Retry(f"webhook {host} cannot be reached ({getattr(e, 'reason', e)})") from None
    except ValueError as e:          # http.client.InvalidURL and friends: a bad URL
        raise GiveUp(f"webhook URL is not usable ({e})") from None
    if not 200 <= status < 300:
        raise Retry(f"webhook {host} answered {status}, not a 2xx")


def _credentials(url: str) -> tuple[str, str | None]:
    """user:password@ in the URL becomes HTTP Basic auth, as curl does; urllib would
    take it for part of the host name."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    pair = f"{urllib.parse.unquote(parts.username or '')}:" \
           f"{urllib.parse.unquote(parts.password or '')}"
    token = base64.b64encode(pair.encode()).decode("ascii")
    remember(token)
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), f"Basic {token}"


def _http_refusal(host: str, error: urllib.error.HTTPError) -> Retry:
    code = error.code
    try:
        body = " ".join(error.read(300).decode("utf-8", "replace").split())
    except (OSError, ValueError):
        body = ""
    said = f"webhook {host} answered {code} {' '.join(str(error.reason).split())[:80]}".rstrip()
    said += f" ({body[:200]})" if body else ""
    if 300 <= code < 400:
        where = url_host(error.headers.get("Location") or "") if error.headers else "?"
        return GiveUp(f"{said}, a redirect to {where}; redirects are not followed (the POST "
                      "would arrive as a GET without its body): set [notify.webhook] url to "
                      "the address it points to")
    if 400 <= code < 500 and code not in RETRY_STATUSES:
        return GiveUp(f"{said}; it refuses this message for good: check [notify.webhook] "
                      "url and the receiver's settings")
    return Retry(said)


# ---- files ---------------------------------------------------------------------------

def write_file(folder: Path, message: dict, prefix: str = "") -> Path:
    """The message as a file in the outbox folder, named by its outbox id: writing it
    again replaces it, never adds a second copy."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".json" if message["channel"] == "webhook" else ".eml"
    slug = re.sub(r"[^A-Za-z0-9.@-]+", "_", message["recipient"])[:60]
    path = folder / f"{prefix}{message['outbox_id']:06d}-{message['kind']}-{slug}{suffix}"
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(bytes(message["body"]))
    os.replace(temp, path)
    return path
