"""Who is who in the web inbox: local users with roles, their sessions, CSRF tokens and
login throttling.

Passwords are argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended
profile). A session is a random token in an HttpOnly, SameSite=Lax cookie (Secure when
[web] base_url is https); the database keeps only its SHA-256, so a copied database signs
no one in, and signing out deletes the row. Each session has its own CSRF token, which
every form carries and every POST must return.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from monitor.alerting.links import LinkError
from monitor.errors import InputError, MonitorError
from monitor.sql.store import now

ROLES = ("finance", "auditor", "admin")
ANSWER_ROLES = ("finance", "admin")     # auditors read and query; they do not answer
SESSION_LIFE = timedelta(hours=12)
COOKIE = "monitor_session"
MIN_PASSWORD = 10
_HASHER = PasswordHasher()
# a hash to check a wrong name's password against, so a missing user takes as long as a
# wrong password (the time does not tell which names exist). Written out, not hashed at
# import: hashing costs ~0.1 s, paid by every `monitor` command; verifying against it costs
# what verifying a user's hash costs, as its parameters are _HASHER's (tests/test_web.py).
_DUMMY = ("$argon2id$v=19$m=65536,t=3,p=4$69MGROSf0sRvZdxhGkuvdA$"
          "gP2+YJxA+IeGNSCtzCYJq+5YdOT3a28PhNRspUM7iHk")    # "not a password of anyone"


class Refused(Exception):
    """A request answered with a plain page and an HTTP status (no traceback, no detail):
    raised by the pages of monitor.web.app and monitor.web.reviews alike."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# -- e-mail links work once (alert answers: web_links_used; reviews: review_links_used) -----

USED_TABLES = ("web_links_used", "review_links_used")


def open_link(con, verify, secret: bytes, token: str, table: str, then: str):
    """An e-mail link, checked: `verify` (links.verify for alert answers, reviews.verify
    for registry reviews) refuses a forged, altered or expired one (403), and a link its
    table holds has acted already (410, saying `then`: where to look instead)."""
    try:
        link = verify(secret, token, now())
    except LinkError as e:
        raise Refused(403, str(e)) from None
    refuse_if_used(con, table, link.digest, then)
    return link


def refuse_if_used(con, table: str, link_digest: str, then: str) -> None:
    """A link its table holds has acted already: refused (410), saying where to look."""
    assert table in USED_TABLES
    if con.execute(f"SELECT 1 FROM {table} WHERE link_hash = ?", [link_digest]).fetchall():
        raise Refused(410, f"This link has already been used: each e-mail link works once. "
                           f"{then}")


def use_once(con, table: str, row: list, act):
    """Record a link as used (`row`, its digest first), then act(): a second click racing
    the first finds the row taken (410); an answer refused frees the link again."""
    assert table in USED_TABLES
    try:
        con.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})", row)
    except duckdb.ConstraintException:
        raise Refused(410, "This link has already been used.") from None
    try:
        return act()
    except MonitorError:
        con.execute(f"DELETE FROM {table} WHERE link_hash = ?", [row[0]])
        raise


@dataclass(frozen=True)
class User:
    name: str
    role: str
    csrf: str = ""

    @property
    def can_answer(self) -> bool:
        return self.role in ANSWER_ROLES


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80 or not name.isprintable():
        raise InputError(f"user name {name!r} is not usable; give 1 to 80 printable characters")
    return name


def add_user(con: duckdb.DuckDBPyConnection, name: str, role: str, password: str,
             created_by: str) -> None:
    name = check_name(name)
    if role not in ROLES:
        raise InputError(f"role '{role}' is not known; use one of " + ", ".join(ROLES))
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is shorter than {MIN_PASSWORD} characters; "
                         "choose a longer one")
    if con.execute("SELECT 1 FROM web_users WHERE name = ?", [name]).fetchall():
        raise InputError(f"user '{name}' already exists; choose another name")
    con.execute("INSERT INTO web_users VALUES (?, ?, ?, ?, ?)",
                [name, role, _HASHER.hash(password), now(), created_by])


def remove_user(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Remove a user and end their sessions at once."""
    if not con.execute("DELETE FROM web_users WHERE name = ? RETURNING name", [name]).fetchall():
        raise InputError(f"no user '{name}'; `monitor users list` shows them")
    con.execute("DELETE FROM web_sessions WHERE name = ?", [name])


def set_password(con: duckdb.DuckDBPyConnection, name: str, password: str) -> None:
    """A new password; every session of the user ends (a stolen one among them)."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is shorter than {MIN_PASSWORD} characters; "
                         "choose a longer one")
    if not con.execute("UPDATE web_users SET password_hash = ? WHERE name = ? RETURNING name",
                       [_HASHER.hash(password), name]).fetchall():
        raise InputError(f"no user '{name}'; `monitor users list` shows them")
    con.execute("DELETE FROM web_sessions WHERE name = ?", [name])


def users(con: duckdb.DuckDBPyConnection) -> list[dict]:
    cursor = con.execute("SELECT name, role, created_at, created_by FROM web_users ORDER BY name")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def check_password(con: duckdb.DuckDBPyConnection, name: str, password: str) -> User | None:
    found = con.execute("SELECT role, password_hash FROM web_users WHERE name = ?",
                        [name]).fetchall()
    stored = found[0][1] if found else _DUMMY
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(name, found[0][0]) if found else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(con: duckdb.DuckDBPyConnection, user: User) -> str:
    """A new session for a signed-in user; returns the cookie's token."""
    token, at = secrets.token_urlsafe(32), now()
    con.execute("DELETE FROM web_sessions WHERE expires_at <= ?", [at])
    con.execute("INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?)",
                [_digest(token), user.name, secrets.token_urlsafe(24), at, at + SESSION_LIFE])
    return token


def session_user(con: duckdb.DuckDBPyConnection, token: str | None) -> User | None:
    if not token:
        return None
    found = con.execute(
        "SELECT s.name, u.role, s.csrf FROM web_sessions s JOIN web_users u USING (name) "
        "WHERE s.token_hash = ? AND s.expires_at > ?", [_digest(token), now()]).fetchall()
    return User(*found[0]) if found else None


def proxy_user(con: duckdb.DuckDBPyConnection, name: str, secret: bytes) -> User | None:
    """A user named by a trusted proxy's header. There is no session row: the CSRF token is
    an HMAC of the name, so it is the same on every page and no other site can make it."""
    found = con.execute("SELECT role FROM web_users WHERE name = ?", [name]).fetchall()
    if not found:
        return None
    csrf = hmac.new(secret, b"proxy csrf\n" + name.encode(), hashlib.sha256).hexdigest()
    return User(name, found[0][0], csrf)


def end_session(con: duckdb.DuckDBPyConnection, token: str | None) -> None:
    if token:
        con.execute("DELETE FROM web_sessions WHERE token_hash = ?", [_digest(token)])


def same(expected: str, given: str | None) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), (given or "").encode())


def login_csrf(secret: bytes, nonce: str) -> str:
    """The sign-in form has no session yet: its CSRF token is the HMAC of a random nonce
    kept in a short-lived cookie (double submit, signed)."""
    return hmac.new(secret, b"login\n" + nonce.encode(), hashlib.sha256).hexdigest()


class Throttle:
    """At most `limit` failed sign-ins per name and per client address in `window`
    seconds; then that name or address waits until the window has passed. Kept in the
    server's memory: a restart forgets it, which an attacker cannot cause from outside."""

    def __init__(self, limit: int = 5, window: float = 900.0):
        self.limit, self.window = limit, window
        self.failures: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def _recent(self, key: str, at: float) -> list[float]:
        kept = [t for t in self.failures.get(key, []) if at - t < self.window]
        self.failures[key] = kept
        return kept

    def wait(self, *keys: str) -> int:
        """Seconds to wait before another try (0: go ahead)."""
        at = time.monotonic()
        with self.lock:
            waits = [int(self.window - (at - recent[0])) + 1
                     for recent in (self._recent(k, at) for k in keys)
                     if len(recent) >= self.limit]
        return max(waits, default=0)

    def failed(self, *keys: str) -> None:
        at = time.monotonic()
        with self.lock:
            for key in keys:
                self._recent(key, at).append(at)

    def succeeded(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.failures.pop(key, None)
