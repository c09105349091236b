"""Load and validate config.toml.

Unknown keys are warned about (a typo must not silently drop a setting), except where a
typo would silently change what is read: an unknown field under [sources.columns] and a
missing `charges` are errors. Invalid values raise ConfigError naming the file, line,
key and the fix.
Secrets never live here: the config names environment variables instead.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from monitor.errors import ConfigError
from monitor.redact import redact, remember
from monitor.settings.audit import AuditSettings, audit_settings
from monitor.settings.web import WebSettings, web_settings
from monitor.settings.detectors import check_detectors
from monitor.settings.engine import EngineSettings, engine_settings
from monitor.settings.ingest import INGEST_LIMITS, ingest_limits
from monitor.settings.payees import PayeeSettings, payee_settings
from monitor.settings.schedule import ScheduleSettings, schedule_settings
from monitor.settings.screening import ScreeningSettings, screening_settings
from monitor.settings.validator import (ADDRESS, SIZE, Validator, addresses, boolean, duration,
                                        env_name, file_path, key_lines, seconds, strings,
                                        subtable)
from monitor.sql.store import DEFAULT_MEMORY_LIMIT

CANONICAL_COLUMNS = (
    "txn_id", "posted_at", "amount", "debit", "credit", "currency", "account",
    "counterparty", "counterparty_account", "initiator", "mcc", "description", "reference",
)
TABULAR_FORMATS = ("csv", "parquet", "xlsx")
# Bank formats come from monitor.ledger.formats.detect; "auto" detects from content.
BANK_FORMATS = ("camt", "mt940", "bai2", "ofx")
FORMATS = TABULAR_FORMATS + BANK_FORMATS + ("auto",)

# Sections later stages read; listed so they are not reported as typos.
RESERVED_SECTIONS = ("detectors", "registry", "schedule", "engine", "audit", "payees",
                     "screening", "web")


@dataclass(frozen=True)
class Source:
    name: str
    format: str
    path: str                      # absolute glob
    currency: str | None = None
    charges: str = "positive"      # sign of money LEAVING the account in an `amount` column
    date_format: str | None = None
    account: str | None = None     # constant account when the file has no account column
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    # Rows the ingest refuses (see [ingest] in docs/configuration.md): a posting date more
    # than future_days after the day of ingest or before earliest_date (one such row makes
    # scans judge as of a day that never came), an amount of max_amount or more.
    future_days: int = 3
    earliest_date: str = "1970-01-01"
    max_amount: int = 10 ** 12
    follow_symlinks: bool = False  # read symlinks that lead out of the source's folder
    # What the counterparty_account column holds (queries/scan/payouts.sql): "auto" judges
    # only values that are surely payout accounts (a valid IBAN, an e-mail wallet, any
    # bank-format account), as a CSV column often holds merchant or tax numbers that name
    # the payee instead; "payout" says every value is the account the money went to
    # (domestic account numbers), so the payout detectors judge them all.
    counterparty_accounts: str = "auto"


COUNTERPARTY_ACCOUNTS = ("auto", "payout")      # [[sources]] counterparty_accounts (see Source)
SEVERITIES = ("warning", "high", "critical")        # the money tiers, lowest first
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES, 1)}
SECURITY = ("none", "starttls", "tls")


@dataclass(frozen=True)
class AlertSettings:
    """[alerts]: the lifecycle rules."""
    repeat_interval: timedelta | None = timedelta(hours=24)   # None: no reminders
    send_resolved: bool = False


@dataclass(frozen=True)
class EmailSettings:
    """[notify.email]. With no smtp_host, messages are written as .eml files to [outbox]."""
    smtp_host: str | None = None
    smtp_port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None        # the password is read from this variable
    sender: str = "monitor@localhost"
    recipients: tuple[str, ...] = ("finance@localhost",)
    digest: bool = False                    # the recipients above get one daily digest
    timeout: float = 30.0
    ca_file: Path | None = None             # extra CA certificate(s) to trust (PEM)

    @property
    def port(self) -> int:
        return self.smtp_port or {"none": 25, "starttls": 587, "tls": 465}[self.security]


@dataclass(frozen=True)
class WebhookSettings:
    """[notify.webhook]: a JSON POST with Slack-compatible `text`."""
    url: str | None = None
    url_env: str | None = None              # for URLs that carry a secret token
    min_severity: str = "warning"
    timeout: float = 10.0


@dataclass(frozen=True)
class Route:
    """[[notify.routes]]: extra recipients for alerts that match every filter given."""
    recipients: tuple[str, ...]
    min_severity: str = "warning"
    accounts: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    detectors: tuple[str, ...] = ()
    digest: bool = False


@dataclass(frozen=True)
class NotifySettings:
    email: EmailSettings = EmailSettings()
    webhook: WebhookSettings | None = None
    routes: tuple[Route, ...] = ()
    digest_hour: int = 8                    # UTC hour from which the day's digest goes out
    retry_for: timedelta = timedelta(seconds=10)       # keep retrying this long per run
    retry_initial: timedelta = timedelta(seconds=1)    # first retry delay, then doubled
    retry_max: timedelta = timedelta(minutes=5)
    # A message still refused (5xx, timeout, server down) is given up (status 'failed')
    # once it failed max_attempts times AND is older than give_up_after: neither a burst
    # of quick retries nor a daemon that was down for a week gives up too early.
    max_attempts: int = 10
    give_up_after: timedelta = timedelta(days=3)


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path
    outbox: Path
    sources: tuple[Source, ...]
    sections: dict = field(default_factory=dict)   # raw tables for later stages
    memory_limit: str = DEFAULT_MEMORY_LIMIT        # DuckDB spills to disk beyond this
    alerts: AlertSettings = AlertSettings()
    notify: NotifySettings = NotifySettings()
    schedule: ScheduleSettings = None       # [schedule]: see monitor/settings/schedule.py
    engine: EngineSettings = None           # [engine]: see monitor/settings/engine.py
    audit: AuditSettings = None             # [audit]: see monitor/settings/audit.py
    payees: PayeeSettings = PayeeSettings()  # [payees]: see monitor/settings/payees.py
    screening: ScreeningSettings = None     # [screening]: see monitor/settings/screening.py
    web: WebSettings = WebSettings()        # [web]: see monitor/settings/web.py

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"{self.path}: no source named '{name}' (known: {known})")

    def payout_sources(self) -> list[str]:
        """Sources whose counterparty_account column holds payout accounts, every value
        (queries/scan/payouts.sql's $payout_sources, on both engines)."""
        return [s.name for s in self.sources if s.counterparty_accounts == "payout"]


def where(path: Path, key: str) -> str:
    """'file:line' of `key` in the config file at `path`, for errors found after loading."""
    try:
        lines = key_lines(Path(path).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return str(path)
    return f"{path}:{lines[key]}" if key in lines else str(path)


def check_outbox(config: Config) -> Path:
    """Create the outbox folder and prove it takes a file, before a message is written to
    it: a folder that cannot be written is a config mistake to fix, not a delivery to
    retry forever (nor an internal error)."""
    try:
        config.outbox.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.outbox, prefix=".monitor-probe-"):
            pass
    except OSError as e:
        raise ConfigError(
            f"{where(config.path, 'outbox.path')}: outbox.path: {config.outbox} cannot be "
            f"written ({e.strerror or e}); name a folder this user can write (relative to "
            "the config file) under [outbox]") from None
    return config.outbox


def default_path() -> Path:
    return Path(os.environ.get("MONITOR_CONFIG", "config.toml"))


def load(path: Path | str | None = None, warn=None) -> Config:
    """Read and validate a config file. `warn` receives one line per unknown key."""
    path = Path(path) if path is not None else default_path()
    warn = warn or (lambda line: print(f"warning: {line}", file=sys.stderr))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; run `monitor init` to write a starter one, "
            f"or pass --config PATH") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e}); fix the syntax at that line") from None
    return ConfigValidator(path, text, warn).config(data)


class ConfigValidator(Validator):
    """Validates a whole config.toml into a Config."""

    def config(self, data: dict) -> Config:
        self.unknown(data, ("database", "sources", "outbox", "alerts", "notify", "ingest")
                     + RESERVED_SECTIONS, "")
        self.ingest = ingest_limits(self, subtable(self, data, "ingest"), "ingest.", {})
        database = data.get("database", {})
        if not isinstance(database, dict):
            raise self.error("database", "must be a table", "write it as [database]")
        self.unknown(database, ("path", "memory_limit"), "database.")
        db_path = self.string(database, "path", "database.path", default="monitor.duckdb")
        memory_limit = self.string(database, "memory_limit", "database.memory_limit",
                                   default=DEFAULT_MEMORY_LIMIT)
        if not SIZE.fullmatch(memory_limit):
            raise self.error("database.memory_limit", f"= '{memory_limit}' is not a size",
                             "write it like \"4GB\" or \"512MB\"")
        outbox = data.get("outbox", {})
        if not isinstance(outbox, dict):
            raise self.error("outbox", "must be a table", "write it as [outbox]")
        self.unknown(outbox, ("path",), "outbox.")
        outbox_path = self.string(outbox, "path", "outbox.path", default="outbox")
        if (self.base / outbox_path).exists() and not (self.base / outbox_path).is_dir():
            raise self.error("outbox.path", f"= '{outbox_path}' is a file, not a folder",
                             "name a folder for the message files, like \"outbox\"")
        raw_sources = data.get("sources", [])
        if not isinstance(raw_sources, list):
            raise self.error("sources", "must be an array of tables", "write each as [[sources]]")
        sources = tuple(self.source(i, s) for i, s in enumerate(raw_sources))
        names = [s.name for s in sources]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise self.error("sources.name", f"'{name}' is used twice",
                                 "give every [[sources]] a unique name",
                                 at=f"sources[{index}].name")
        sections = {k: data[k] for k in RESERVED_SECTIONS if k in data}
        check_detectors(self, data.get("detectors", {}))
        registry = subtable(self, data, "registry")
        self.unknown(registry, ("path", "review_before", "review_to"), "registry.")
        self.string(registry, "path", "registry.path")
        if registry:     # the expected-spend review (monitor.alerting.reviews), typed
            sections["registry"] = registry | {
                "review_before": duration(self, registry, "review_before", "registry.",
                                          timedelta(days=14)),
                "review_to": addresses(self, registry, "review_to", "registry.", ())}
        alerts, notify = notify_settings(self, data)
        schedule = schedule_settings(self, data, names)
        engine = engine_settings(self, data)
        audit = audit_settings(self, data)
        payees = payee_settings(self, data)
        return Config(path=self.path, database=self.base / db_path, memory_limit=memory_limit,
                      outbox=self.base / outbox_path, sources=sources, sections=sections,
                      alerts=alerts, notify=notify, schedule=schedule, engine=engine,
                      audit=audit, payees=payees, screening=screening_settings(self, data),
                      web=web_settings(self, data))

    def source(self, index: int, table) -> Source:
        prefix = f"sources[{index}]."
        if not isinstance(table, dict):
            raise self.error("sources", "entries must be tables", "write each as [[sources]]")
        allowed = ("name", "format", "path", "currency", "charges", "date_format", "account",
                   "delimiter", "encoding", "sheet", "columns", "follow_symlinks",
                   "counterparty_accounts") + INGEST_LIMITS
        self.unknown(table, allowed, prefix)
        name = self.string(table, "name", prefix + "name")
        if name is None:
            raise self.error(prefix + "name", "is missing", "add name = \"...\" to the [[sources]]")
        prefix = f"sources.{name}."
        self.aliases[prefix] = f"sources[{index}]."
        fmt = self.string(table, "format", prefix + "format", default="auto", choices=FORMATS)
        path = self.string(table, "path", prefix + "path")
        if path is None:
            raise self.error(prefix + "path", "is missing",
                             "add path = \"folder/*.csv\" (a glob relative to the config file)")
        currency = self.string(table, "currency", prefix + "currency")
        if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
            raise self.error(prefix + "currency", f"= '{currency}' is not an ISO 4217 code",
                             "use three capital letters such as GBP, EUR or USD")
        charges = self.string(table, "charges", prefix + "charges",
                              choices=("positive", "negative"))
        date_format = self.string(table, "date_format", prefix + "date_format")
        if date_format is not None and "%" not in date_format:
            raise self.error(prefix + "date_format", f"= '{date_format}' has no % directives",
                             "write it like \"%Y-%m-%d\" or \"%d/%m/%Y\"")
        columns = table.get("columns", {})
        if not isinstance(columns, dict):
            raise self.error(prefix + "columns", "must be a table",
                             f"write it as [sources.columns] under the source '{name}'")
        for key in columns:         # an unmapped field is a silent miss, not a typo to warn of
            if key not in CANONICAL_COLUMNS:
                hint = difflib.get_close_matches(key, CANONICAL_COLUMNS, n=1)
                raise self.error(f"{prefix}columns.{key}", "is not a canonical field",
                                 (f"did you mean '{hint[0]}'? " if hint else "")
                                 + "use one of: " + ", ".join(CANONICAL_COLUMNS))
        columns = {k: self.string(columns, k, f"{prefix}columns.{k}")
                   for k in CANONICAL_COLUMNS if k in columns}
        if fmt in TABULAR_FORMATS:
            self.require_columns(prefix, columns, currency)
        if charges is None and "amount" in columns and fmt not in BANK_FORMATS:
            # The sign of a signed amount column cannot be guessed: a wrong default turns
            # every charge into a refund. (Debit/credit columns and bank formats say it.)
            raise self.error(prefix + "charges", "is missing",
                             "add charges = \"positive\" (money leaving the account is "
                             "positive in the file) or charges = \"negative\"")
        delimiter = self.string(table, "delimiter", prefix + "delimiter")
        if delimiter is not None and len(delimiter) != 1:
            raise self.error(prefix + "delimiter", f"= {delimiter!r} is not one character",
                             "use \",\", \";\", \"|\" or \"\\t\"")
        encoding = self.string(table, "encoding", prefix + "encoding",
                               choices=("utf-8", "cp1252", "latin-1", "utf-16"))
        sheet = table.get("sheet")
        if sheet is not None and not isinstance(sheet, (str, int)):
            raise self.error(prefix + "sheet", "must be a sheet name or number",
                             "write sheet = \"Sheet1\" or sheet = 0")
        return Source(
            name=name, format=fmt, path=str(self.base / path), currency=currency,
            charges=charges or "positive", date_format=date_format,
            account=self.string(table, "account", prefix + "account"),
            delimiter=delimiter, encoding=encoding,
            sheet=None if sheet is None else str(sheet), columns=columns,
            follow_symlinks=boolean(self, table, "follow_symlinks", prefix, False),
            counterparty_accounts=self.string(table, "counterparty_accounts",
                                              prefix + "counterparty_accounts", default="auto",
                                              choices=COUNTERPARTY_ACCOUNTS),
            **ingest_limits(self, table, prefix, self.ingest))

    def require_columns(self, prefix: str, columns: dict, currency) -> None:
        if "posted_at" not in columns:
            raise self.error(prefix + "columns", "does not map posted_at",
                             "add posted_at = \"<date column>\" under [sources.columns]")
        if "amount" not in columns and not ("debit" in columns or "credit" in columns):
            raise self.error(prefix + "columns", "maps neither amount nor debit/credit",
                             "add amount = \"<amount column>\" under [sources.columns]")
        if "amount" in columns and ("debit" in columns or "credit" in columns):
            raise self.error(prefix + "columns", "maps both amount and debit/credit",
                             "map either amount or debit and credit, not both")
        if currency is None and "currency" not in columns:
            raise self.error(prefix + "currency", "is missing",
                             "add currency = \"GBP\" (or map a currency column)")


# ---- [alerts] and [notify] ----------------------------------------------------------

def notify_settings(v: Validator, data: dict) -> tuple[AlertSettings, NotifySettings]:
    """Validate [alerts], [notify], [notify.email], [notify.webhook], [[notify.routes]]."""
    alerts = subtable(v, data, "alerts")
    v.unknown(alerts, ("repeat_interval", "send_resolved"), "alerts.")
    repeat = duration(v, alerts, "repeat_interval", "alerts.", timedelta(hours=24))
    alert_settings = AlertSettings(repeat_interval=repeat or None,
                                   send_resolved=boolean(v, alerts, "send_resolved", "alerts.", False))
    notify = subtable(v, data, "notify")
    v.unknown(notify, ("email", "webhook", "routes", "digest_hour", "retry_for",
                       "retry_initial", "retry_max", "max_attempts", "give_up_after"), "notify.")
    attempts = notify.get("max_attempts", NotifySettings.max_attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise v.error("notify.max_attempts", f"= {attempts!r} is not a number of attempts",
                      "write a whole number of at least 1, such as 10")
    hour = notify.get("digest_hour", 8)
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise v.error("notify.digest_hour", f"= {hour!r} is not an hour",
                      "write a whole number from 0 to 23 (UTC)")
    routes = notify.get("routes", [])
    if not isinstance(routes, list):
        raise v.error("notify.routes", "must be an array of tables",
                      "write each as [[notify.routes]]")
    return alert_settings, NotifySettings(
        email=_email(v, subtable(v, notify, "email", "notify.")),
        webhook=_webhook(v, notify["webhook"]) if "webhook" in notify else None,
        routes=tuple(_route(v, i, r) for i, r in enumerate(routes)),
        digest_hour=hour,
        retry_for=duration(v, notify, "retry_for", "notify.", timedelta(seconds=10)),
        retry_initial=duration(v, notify, "retry_initial", "notify.", timedelta(seconds=1))
        or timedelta(seconds=1),
        retry_max=duration(v, notify, "retry_max", "notify.", timedelta(minutes=5))
        or timedelta(minutes=5),
        max_attempts=attempts,
        give_up_after=duration(v, notify, "give_up_after", "notify.",
                                NotifySettings.give_up_after))


def _email(v: Validator, table: dict) -> EmailSettings:
    p = "notify.email."
    v.unknown(table, ("smtp_host", "smtp_port", "security", "username", "password_env",
                      "sender", "recipients", "digest", "timeout", "ca_file"), p)
    port = table.get("smtp_port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                             or not 0 < port < 65536):
        raise v.error(p + "smtp_port", f"= {port!r} is not a port number",
                      "write a whole number such as 587 (starttls), 465 (tls) or 25")
    username = v.string(table, "username", p + "username")
    password_env = env_name(v, table, "password_env", p)
    if username and not password_env:
        raise v.error(p + "password_env", "is missing while username is set",
                      "add password_env = \"MONITOR_SMTP_PASSWORD\" and set that variable")
    recipients = addresses(v, table, "recipients", p, EmailSettings.recipients)
    sender = v.string(table, "sender", p + "sender", default=EmailSettings.sender)
    if not ADDRESS.match(sender):
        raise v.error(p + "sender", f"= '{sender}' is not an e-mail address",
                      "write it like \"monitor@example.org\"")
    return EmailSettings(
        smtp_host=v.string(table, "smtp_host", p + "smtp_host"), smtp_port=port,
        security=v.string(table, "security", p + "security", default="starttls",
                          choices=SECURITY),
        username=username, password_env=password_env, sender=sender, recipients=recipients,
        digest=boolean(v, table, "digest", p, False),
        timeout=seconds(v, table, "timeout", p, 30.0), ca_file=file_path(v, table, "ca_file", p))


def _webhook(v: Validator, table) -> WebhookSettings:
    p = "notify.webhook."
    if not isinstance(table, dict):
        raise v.error("notify.webhook", "must be a table", "write it as [notify.webhook]")
    v.unknown(table, ("url", "url_env", "min_severity", "timeout"), p)
    url = v.string(table, "url", p + "url")
    url_env = env_name(v, table, "url_env", p)
    if (url is None) == (url_env is None):
        raise v.error(p + "url", "and url_env: exactly one must be set",
                      "write url = \"https://...\", or url_env = \"VAR\" when the URL holds a token")
    if url is not None and not re.match(r"^https?://", url):
        raise v.error(p + "url", f"= '{redact(url)}' is not an http(s) URL",
                      "start it with https://")
    if url is not None:
        remember(url)                   # a token in the URL never reaches a message
    return WebhookSettings(url=url, url_env=url_env,
                           min_severity=v.string(table, "min_severity", p + "min_severity",
                                                 default="warning", choices=SEVERITIES),
                           timeout=seconds(v, table, "timeout", p, 10.0))


def _route(v: Validator, index: int, table) -> Route:
    p = f"notify.routes[{index}]."
    if not isinstance(table, dict):
        raise v.error("notify.routes", "entries must be tables", "write each as [[notify.routes]]")
    v.unknown(table, ("recipients", "min_severity", "accounts", "sources", "detectors",
                      "digest"), p)
    recipients = addresses(v, table, "recipients", p, ())
    if not recipients:
        raise v.error(p + "recipients", "is missing or empty",
                      "add recipients = [\"someone@example.org\"]")
    return Route(recipients=recipients,
                 min_severity=v.string(table, "min_severity", p + "min_severity",
                                       default="warning", choices=SEVERITIES),
                 accounts=strings(v, table, "accounts", p), sources=strings(v, table, "sources", p),
                 detectors=strings(v, table, "detectors", p),
                 digest=boolean(v, table, "digest", p, False))
