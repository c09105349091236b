"""Hand-made ledgers for the detector tests.

Rows go straight into `transactions` of a real DuckDB file (monitor.sql.store.connect, so
the schema is the real one); the config is a real monitor.settings.config.Config built in code;
scan and backtest are the library's own. Nothing is mocked.

    led = Ledger(tmp_path)
    led.series("Devlab Consult", "1667.00", start=0, every=4, count=3)
    (finding,) = led.scan(as_of=10, detector="new_payee_repeat")

Days are given as ints (days after DAY0) or dates.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from monitor.detection import scan as detect
from monitor.ledger import payees, registry
from monitor.sql import store
from monitor.sql.audit_head import start_head
from monitor.settings.config import SEVERITIES, Config

DAY0 = date(2024, 1, 1)
FINDING_KEYS = ("detector", "severity", "account", "counterparty", "initiator", "exposure",
                "evidence_txn_ids", "sentence")
_COLUMNS = ("txn_id", "source", "account", "posted_at", "amount", "currency", "counterparty",
            "counterparty_account", "initiator", "mcc", "source_row")
# Rows are buffered and inserted in one Arrow batch: row-at-a-time INSERTs cost ~3 ms each.
_INSERT = ("INSERT INTO transactions (txn_id, source, account, posted_at, amount, currency, "
           "counterparty, counterparty_account, initiator, mcc, description, reference, "
           "file_id, source_row, ingested_at) "
           "SELECT txn_id, source, account, CAST(posted_at AS DATE), "
           "CAST(amount AS DECIMAL(18,2)), currency, counterparty, counterparty_account, "
           "initiator, mcc, NULL, NULL, $file_id, source_row, TIMESTAMP '2024-01-01' FROM pending_rows")


def day(when) -> date:
    if isinstance(when, date):
        return when
    if isinstance(when, str):
        return date.fromisoformat(when)
    return DAY0 + timedelta(days=when)


def make_config(folder: Path, database: Path | None = None, detectors: dict | None = None,
                registry_path: str | None = None) -> Config:
    """A Config with no sources: the ledger is filled by hand. `detectors` is the
    [detectors] table (shared values and [detectors.<name>] sub-tables)."""
    sections = {"detectors": detectors or {}}
    if registry_path:
        sections["registry"] = {"path": registry_path}
    return Config(path=folder / "config.toml", database=database or folder / "t.duckdb",
                  outbox=folder / "outbox", sources=(), sections=sections)


_TEMPLATE: list[Path] = []


def new_database(path: Path) -> None:
    """A new ledger at `path`, as store.connect makes one (every migration applied, the audit
    head file started), copied from one such file this process made first: applying the
    migrations costs ~0.1 s a ledger, copying the file a few ms."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="ledger-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        store.connect(folder / "template.duckdb").close()
        _TEMPLATE.append(folder / "template.duckdb")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE[0], path)
    start_head(path)


class Ledger:
    def __init__(self, folder: Path, detectors: dict | None = None, name: str = "t.duckdb"):
        self.path = folder / name
        if not self.path.exists():
            new_database(self.path)
        self.con = store.connect(self.path)
        self.config = make_config(folder, self.path, detectors)
        self.rows = 0
        self.pending: list[tuple] = []
        self.batches = 0        # each flush is one "file": later rows have a larger file_id

    # -- building -------------------------------------------------------------------
    def charge(self, when, payee: str | None, amount, account: str = "card-1", *,
               initiator: str | None = None, payout: str | None = None, mcc: str | None = None,
               source: str = "cards", currency: str = "GBP", txn_id: str | None = None) -> str:
        """One transaction; amount positive for money out, negative for a refund."""
        self.rows += 1
        txn_id = txn_id or f"t{self.rows:05d}"
        self.pending.append((txn_id, source, account, day(when).isoformat(),
                             str(Decimal(str(amount))), currency, payee, payout, initiator, mcc,
                             self.rows))
        return txn_id

    def flush(self) -> None:
        """Write the buffered rows (every scan, backtest and query helper does this first)."""
        if not self.pending:
            return
        import pyarrow as pa
        batch = pa.table({name: list(values) for name, values in zip(_COLUMNS, zip(*self.pending))},
                         schema=pa.schema([(n, pa.int64() if n == "source_row" else pa.string())
                                           for n in _COLUMNS]))
        self.batches += 1
        self.con.register("pending_rows", batch)
        try:
            self.con.execute(_INSERT, {"file_id": self.batches})
        finally:
            self.con.unregister("pending_rows")
        payees.add_new(self.con, self.batches)      # as ingest keys a file's new names
        self.pending = []

    def refund(self, when, payee: str, amount, account: str = "card-1", **kw) -> str:
        return self.charge(when, payee, -Decimal(str(amount)), account, **kw)

    def series(self, payee: str, amount, start, every: int, count: int, **kw) -> list[str]:
        """`count` charges every `every` days from `start`; amount may be a function of i."""
        first = day(start)
        return [self.charge(first + timedelta(days=every * i), payee,
                            amount(i) if callable(amount) else amount, **kw)
                for i in range(count)]

    def monthly(self, payee: str, amount, start, count: int, dom: int = 5, **kw) -> list[str]:
        """`count` charges on day `dom` of consecutive months from `start`'s month."""
        first = day(start)
        ids = []
        for i in range(count):
            y, m = divmod(first.month - 1 + i, 12)
            when = date(first.year + y, m + 1, dom)
            ids.append(self.charge(when, payee, amount(i) if callable(amount) else amount, **kw))
        return ids

    def approve(self, payee: str, **entry) -> int:
        """Add a registry entry (validated like the CLI does)."""
        entry = {"payee": payee, "approver": "Finance lead", "reference": "PO-1", **entry}
        return registry.add(self.con, registry.validate(entry, "test"))

    # -- running --------------------------------------------------------------------
    def scan(self, as_of, detector: str | None = None) -> list[dict]:
        self.flush()
        found = detect.scan(self.con, self.config, day(as_of))
        return [f for f in found if detector is None or f["detector"] == detector]

    def backtest(self, start, end, detector: str | None = None) -> list[dict]:
        self.flush()
        found = detect.backtest(self.con, self.config, day(start), day(end))
        return [f for f in found if detector is None or f["detector"] == detector]

    def last_day(self) -> date:
        self.flush()
        return self.con.execute("SELECT max(posted_at) FROM transactions").fetchone()[0]

    def close(self) -> None:
        self.flush()
        self.con.close()


def brief(findings: list[dict]) -> list[tuple]:
    """(detector, account, counterparty, initiator) of each finding, for short asserts."""
    return sorted((f["detector"], f["account"], f["counterparty"], f["initiator"])
                  for f in findings)


def assert_complete(finding: dict) -> None:
    """A finding carries everything the alert needs, with a filled-in sentence."""
    for key in FINDING_KEYS:
        assert key in finding, key
    assert finding["severity"] in SEVERITIES
    assert isinstance(finding["exposure"], Decimal)
    if finding["detector"] == "stale_feed":            # a quiet feed has no charge to show
        assert finding["evidence_txn_ids"] == [], finding
    else:
        assert finding["evidence_txn_ids"] and None not in finding["evidence_txn_ids"], finding
    assert "{" not in finding["sentence"] and "}" not in finding["sentence"], finding["sentence"]
