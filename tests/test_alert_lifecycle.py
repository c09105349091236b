"""The alert lifecycle: firing, acknowledged, silenced, resolved; a notification on first
firing and on each escalation, a reminder after the repeat interval while firing and
unacknowledged, an optional resolved notice; every change recorded with time and actor.
A Hypothesis state machine checks that any sequence of scans, acks, silences and
expiries sends exactly the notifications the rules call for."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from helpers import assert_one_line_error
from monitor.alerting import lifecycle as alert, notify
from monitor.detection import scan as detect
from monitor.ledger import payees
from monitor.sql import store
from monitor.settings.config import AlertSettings, Config
from notify_helpers import NOW, project, run_cli

RULES = AlertSettings(repeat_interval=timedelta(hours=4), send_resolved=True)
GROUPS = [("new_payee_repeat", "a1", "Devlab"), ("new_payee_repeat", "a2", "Acme"),
          ("unexplained_drift", "a1", "Zeta")]


def finding(group, severity: str, exposure: str = "1667.00") -> dict:
    detector, account, payee = group
    row = {"detector": detector, "account": account, "counterparty": payee, "initiator": None,
           "severity": severity, "currency": "GBP", "exposure": Decimal(exposure), "charges": 3,
           "since": NOW.date(), "first_alert_at": NOW.date(), "last_charge_at": NOW.date(),
           "evidence_txn_ids": [], "sentence": f"charges to '{payee}'"}
    return row | {"fingerprint": detect.fingerprint(row)}


@pytest.fixture
def con():
    connection = duckdb.connect()
    store.migrate(connection)
    yield connection
    connection.close()


def told(con, findings, when, rules=RULES, **kw):
    return [n["reason"] for n in alert.apply(con, rules, findings, now=when, **kw)]


def test_first_firing_escalation_reminder_and_resolved(con):
    g = GROUPS[0]
    assert told(con, [finding(g, "warning")], NOW) == ["firing"]
    assert told(con, [finding(g, "warning")], NOW + timedelta(hours=1)) == []
    assert told(con, [finding(g, "high")], NOW + timedelta(hours=2)) == ["escalation"]
    assert told(con, [finding(g, "warning")], NOW + timedelta(hours=3)) == []   # tier stays
    assert told(con, [finding(g, "high")], NOW + timedelta(hours=6)) == ["reminder"]
    assert told(con, [], NOW + timedelta(hours=7)) == ["resolved"]
    assert told(con, [finding(g, "warning")], NOW + timedelta(hours=8)) == ["firing"]
    a1, a2 = alert.listing(con, "all")[::-1]
    assert (a1["state"], a1["severity"], a2["state"]) == ("resolved", "high", "firing")
    actions = [e["action"] for e in alert.history(con, a1["alert_id"])]
    assert actions == ["fired", "escalated", "resolved"]


def test_acknowledged_alerts_get_no_reminder_but_escalations(con):
    g = GROUPS[0]
    told(con, [finding(g, "warning")], NOW)
    acked = alert.acknowledge(con, 1, by="J. Smith", note="card cancelled", now=NOW)
    assert (acked["state"], acked["acked_by"], acked["ack_note"]) == (
        "acknowledged", "J. Smith", "card cancelled")
    assert told(con, [finding(g, "warning")], NOW + timedelta(days=2)) == []
    assert told(con, [finding(g, "critical")], NOW + timedelta(days=3)) == ["escalation"]
    (event,) = [e for e in alert.history(con, 1) if e["action"] == "acknowledged"]
    assert (event["actor"], event["note"], event["changed_at"]) == ("J. Smith", "card cancelled",
                                                                    NOW)


def test_silence_holds_back_everything_until_it_expires(con):
    g = GROUPS[1]
    until = NOW + timedelta(days=1)
    alert.silence(con, alert.Matcher(counterparty="ac*"), until=until, reason="contract",
                  by="J. Smith", now=NOW)
    assert told(con, [finding(g, "critical")], NOW) == []
    assert alert.get(con, 1)["state"] == "silenced"
    assert told(con, [finding(g, "critical")], until + timedelta(minutes=1)) == ["firing"]
    history = alert.history(con, 1)
    assert [(e["action"], e["actor"]) for e in history] == [
        ("fired", "monitor"), ("silenced", "monitor"), ("unsilenced", "monitor")]


def test_a_reader_sees_a_silence_end_without_writing_it(con):
    """`alerts list` and `show` read only: the state a scan will record is shown, and
    the change itself (with its event) waits for the scan."""
    until = NOW + timedelta(days=1)
    alert.silence(con, alert.Matcher(counterparty="ac*"), until=until, reason="contract",
                  by="J. Smith", now=NOW)
    told(con, [finding(GROUPS[1], "critical")], NOW)
    later = until + timedelta(minutes=1)
    assert alert.get(con, 1, now=later)["state"] == "firing"
    assert [a["alert_id"] for a in alert.listing(con, "firing", now=later)] == [1]
    assert alert.listing(con, "silenced", now=later) == []
    assert alert.get(con, 1)["state"] == "silenced"            # nothing was written
    assert [e["action"] for e in alert.history(con, 1)] == ["fired", "silenced"]


def test_silence_matchers(con):
    told(con, [finding(g, "warning") for g in GROUPS], NOW)
    alert.silence(con, alert.Matcher(detector="new_payee_repeat", account="A1"),
                  until=NOW + timedelta(days=1), reason="r", by="me", now=NOW)
    states = {a["counterparty"]: a["state"] for a in alert.listing(con, "all")}
    assert states == {"Devlab": "silenced", "Acme": "firing", "Zeta": "firing"}
    alert.expire_silence(con, 1, by="me", now=NOW + timedelta(hours=1))
    assert {a["state"] for a in alert.listing(con, "all")} == {"firing"}


def test_a_silence_holds_the_payee_however_it_is_written(con):
    """The payee matcher compares payee keys: a silence for 'ACME HOSTING' holds alerts
    whose payee the scan names 'Acme Hosting Ltd' or 'PAYPAL *ACME HOSTING' (one key),
    not another payee. A pattern (with *) matches the name as written or the key: '*hosting'
    holds 'ACME HOSTING LTD', whose key ('acme hosting') ends so though its name does not.
    The silence's name is keyed when it is made, and again when the keys are rebuilt."""
    written = ["Acme Hosting Ltd", "PAYPAL *ACME HOSTING", "Acme Hosts", "ACME HOSTING LTD"]
    payees.add_names(con, written)          # as ingest keys the ledger's names
    groups = [("new_payee_repeat", f"a{i}", name) for i, name in enumerate(written)]
    told(con, [finding(g, "warning") for g in groups[:3]], NOW)
    alert.silence(con, alert.Matcher(counterparty="ACME HOSTING"), until=NOW + timedelta(days=1),
                  reason="hosting contract", by="me", now=NOW)
    states = {a["counterparty"]: a["state"] for a in alert.listing(con, "all")}
    assert states == {"Acme Hosting Ltd": "silenced", "PAYPAL *ACME HOSTING": "silenced",
                      "Acme Hosts": "firing"}
    con.execute("DELETE FROM payee_keys")     # keys rebuilt (other [payees] settings):
    payees.add_new(con)                       # the ledger's names (here none) and the silence's
    payees.add_names(con, written)            # (this ledger's names were never ingested)
    assert ("ACME HOSTING", "acme hosting") in con.execute("SELECT * FROM payee_keys").fetchall()
    assert told(con, [finding(g, "critical") for g in groups[:3]], NOW + timedelta(hours=1)) == [
        "escalation"]                          # only 'Acme Hosts' is told
    alert.silence(con, alert.Matcher(counterparty="*hosting"), until=NOW + timedelta(days=1),
                  reason="r", by="me", now=NOW)
    told(con, [finding(g, "warning") for g in groups], NOW + timedelta(hours=2))
    held = {a["counterparty"]: a["matching_silence"] for a in alert.open_alerts(con, NOW)}
    assert held == {"Acme Hosting Ltd": 1, "PAYPAL *ACME HOSTING": 1, "ACME HOSTING LTD": 1,
                    "Acme Hosts": None}   # the older silence first; 'acme hosts' isn't 'hosting'
    alert.expire_silence(con, 1, by="me", now=NOW + timedelta(hours=3))
    held = {a["counterparty"]: a["matching_silence"] for a in
            alert.open_alerts(con, NOW + timedelta(hours=3))}
    assert held == {"Acme Hosting Ltd": 2, "PAYPAL *ACME HOSTING": 2, "ACME HOSTING LTD": 2,
                    "Acme Hosts": None}   # the pattern: by name ('*hosting') or by key


def test_bad_requests_are_input_errors(con):
    told(con, [finding(GROUPS[0], "warning")], NOW)
    from monitor.errors import InputError
    with pytest.raises(InputError, match="no alert 9"):
        alert.acknowledge(con, 9, by="me", note=None, now=NOW)
    with pytest.raises(InputError, match="at least one of"):
        alert.silence(con, alert.Matcher(), until=NOW + timedelta(1), reason="r", by="me", now=NOW)
    with pytest.raises(InputError, match="already past"):
        alert.silence(con, alert.Matcher(account="a1"), until=NOW, reason="r", by="me", now=NOW)
    told(con, [], NOW)
    with pytest.raises(InputError, match="already resolved"):
        alert.acknowledge(con, 1, by="me", note=None, now=NOW)


def test_cli_list_show_ack_silence(tmp_path):
    cfg = project(tmp_path)
    assert run_cli("--config", str(cfg), "scan").returncode == 1
    ack = run_cli("--config", str(cfg), "alerts", "ack", "1", "--by", "J. Smith", "--note",
                  "bank informed")
    assert ack.returncode == 0, ack.stderr
    silence = run_cli("--config", str(cfg), "alerts", "silence", "--counterparty", "devlab*",
                      "--until", "2999-01-31", "--reason", "under review", "--by", "Audit")
    assert silence.returncode == 0 and "silence 1 in force until 2999-02-01" in silence.stderr
    listed = run_cli("--config", str(cfg), "alerts", "list", "--format", "json")
    (row,) = json.loads(listed.stdout)
    assert (row["alert_id"], row["state"], row["acked_by"]) == (1, "silenced", "J. Smith")
    shown = json.loads(run_cli("--config", str(cfg), "alerts", "show", "1", "--format",
                               "json").stdout)
    assert [e["action"] for e in shown["history"]] == ["fired", "acknowledged", "silenced"]
    assert [e["actor"] for e in shown["history"]] == ["monitor", "J. Smith", "Audit"]
    assert len(shown["evidence"]) == 3 and shown["notifications"][0]["status"] == "sent"
    silences = json.loads(run_cli("--config", str(cfg), "alerts", "silences", "--format",
                                  "json").stdout)
    assert silences[0]["reason"] == "under review" and silences[0]["active"] is True
    missing = run_cli("--config", str(cfg), "alerts", "ack", "7", "--by", "me")
    assert "no alert 7" in assert_one_line_error(missing, 2)
    empty = run_cli("--config", str(cfg), "alerts", "silence", "--until", "2999-01-01",
                    "--reason", "x")
    assert "at least one of" in assert_one_line_error(empty, 2)


def test_list_and_show_open_the_ledger_read_only(tmp_path):
    cfg = project(tmp_path)
    assert run_cli("--config", str(cfg), "scan").returncode == 1
    database = tmp_path / "ledger.duckdb"
    before = database.read_bytes()
    for verb in (("alerts", "list"), ("alerts", "show", "1")):
        shown = run_cli("--config", str(cfg), *verb, "--format", "json")
        assert shown.returncode == 0, shown.stderr
    assert database.read_bytes() == before


def test_every_answer_records_the_acting_person_by_one_rule(tmp_path):
    """--by when given, else $MONITOR_ACTOR (else the OS user): ack, silence, unsilence
    and authorize add all follow it."""
    cfg = project(tmp_path)
    env = {"MONITOR_ACTOR": "J. Smith"}
    assert run_cli("--config", str(cfg), "scan").returncode == 1
    for verb in (("alerts", "ack", "1"),
                 ("alerts", "silence", "--account", "x", "--until", "2999-01-01", "--reason", "r"),
                 ("alerts", "unsilence", "1"),
                 ("authorize", "add", "--payee", "Acme", "--reference", "PO-1")):
        done = run_cli("--config", str(cfg), *verb, env=env)
        assert done.returncode == 0, (verb, done.stderr)
    shown = json.loads(run_cli("--config", str(cfg), "alerts", "show", "1", "--format",
                               "json").stdout)
    assert [e["actor"] for e in shown["history"] if e["action"] == "acknowledged"] == ["J. Smith"]
    with duckdb.connect(str(tmp_path / "ledger.duckdb"), read_only=True) as con:
        assert con.execute("SELECT approver FROM authorizations").fetchall() == [("J. Smith",)]
        actors = {a for (a,) in con.execute("SELECT DISTINCT actor FROM audit_log "
                                            "WHERE action IN ('ack', 'silence', 'unsilence')").fetchall()}
    assert actors == {"J. Smith"}


def test_every_alerts_verb_has_help_with_an_example():
    from monitor.cli.alerts import alerts
    for name in alerts.commands:
        proc = run_cli("alerts", name, "--help")
        assert proc.returncode == 0 and "Example" in proc.stdout, name


# ---- the property: notifications sent == notifications the rules call for ------------

@dataclass
class Model:
    """The lifecycle rules, written out plainly over the same inputs."""
    alerts: dict = field(default_factory=dict)      # group -> open alert
    silences: list = field(default_factory=list)    # (detector, account, payee, start, end)
    calls_for: int = 0

    def silenced(self, group, now) -> bool:
        return any(s <= now < e and all(m is None or m.lower() == v.lower()
                                        for m, v in zip(matcher, group))
                   for (*matcher, s, e) in self.silences)

    def scan(self, present: dict, now) -> None:
        rank = alert.SEVERITY_RANK
        for group, severity in present.items():
            a = self.alerts.setdefault(group, {"severity": severity, "told": None,
                                               "last": None, "acked": False})
            if rank[severity] > rank[a["severity"]]:
                a["severity"] = severity
        for group in [g for g in self.alerts if g not in present]:
            a = self.alerts.pop(group)
            if a["told"] and not self.silenced(group, now):
                self.calls_for += 1                             # resolved notice
        for group, a in self.alerts.items():
            if self.silenced(group, now):
                continue
            if a["told"] is None or rank[a["severity"]] > rank[a["told"]] or (
                    not a["acked"] and now - a["last"] >= RULES.repeat_interval):
                self.calls_for += 1
                a["told"], a["last"] = a["severity"], now


class Lifecycle(RuleBasedStateMachine):
    root: Path = Path(".")          # set by the test: a temp folder for the .eml files

    def __init__(self):
        super().__init__()
        self.con = duckdb.connect()
        store.migrate(self.con)
        self.folder = Path(tempfile.mkdtemp(dir=self.root))
        self.config = Config(path=Path("config.toml"), database=self.folder / "unused.duckdb",
                             outbox=self.folder, sources=(), alerts=RULES)
        self.model, self.now = Model(), NOW

    @rule(present=st.dictionaries(st.sampled_from(GROUPS),
                                  st.sampled_from(["warning", "high", "critical"]), max_size=3))
    def scan(self, present):
        found = [finding(g, s) for g, s in present.items()]
        notify.handle_scan(self.con, self.config, found, now=self.now)
        self.model.scan(present, self.now)

    @rule(hours=st.sampled_from([1, 3, 4, 5, 30]))
    def wait(self, hours):
        self.now += timedelta(hours=hours)

    @rule(index=st.integers(0, 2))
    def ack(self, index):
        group = GROUPS[index]
        open_ids = {(a["detector"], a["account"], a["counterparty"]): a["alert_id"]
                    for a in alert.listing(self.con, "open")}
        if group in open_ids:
            alert.acknowledge(self.con, open_ids[group], by="tester", note=None, now=self.now)
            self.model.alerts[group]["acked"] = True

    @rule(index=st.integers(0, 2), key=st.sampled_from([0, 1, 2]),
          hours=st.sampled_from([2, 6, 48]))
    def silence(self, index, key, hours):
        matcher = [None, None, None]
        matcher[key] = GROUPS[index][key].upper() if key else GROUPS[index][key]
        until = self.now + timedelta(hours=hours)
        alert.silence(self.con, alert.Matcher(*matcher), until=until, reason="r", by="tester",
                      now=self.now)
        self.model.silences.append((*matcher, self.now, until))

    @rule()
    def expire_newest_silence(self):
        live = [i for i, s in enumerate(self.model.silences) if s[3] <= self.now < s[4]]
        if live:
            i = live[-1]
            alert.expire_silence(self.con, i + 1, by="tester", now=self.now)
            *matcher, start, _ = self.model.silences[i]
            self.model.silences[i] = (*matcher, start, self.now)

    @invariant()
    def notifications_match_the_rules(self):
        (made,) = self.con.execute("SELECT count(*) FROM notifications").fetchone()
        (carried,) = self.con.execute("SELECT count(*) FROM outbox_items").fetchone()
        (unsent,) = self.con.execute(
            "SELECT count(*) FROM outbox WHERE status <> 'sent'").fetchone()
        assert made == self.model.calls_for
        assert carried == made and unsent == 0          # each carried once, and delivered
        (dupes,) = self.con.execute(
            "SELECT count(*) FROM (SELECT alert_id, severity FROM notifications "
            "WHERE reason IN ('firing', 'escalation') GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
        assert dupes == 0

    def teardown(self):
        files = list(self.folder.glob("*.eml"))
        (messages,) = self.con.execute("SELECT count(*) FROM outbox").fetchone()
        assert len(files) == messages                    # one file per message, no copies
        self.con.close()


def test_any_sequence_sends_what_the_rules_call_for(tmp_path):
    Lifecycle.root = tmp_path
    Lifecycle.TestCase.settings = settings(max_examples=30, stateful_step_count=20,
                                           deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
    Lifecycle.TestCase().runTest()
