"""Sanctions screening (issue 16): the publishers' files load as released, payees written
the way exports write them are caught and fire sanctioned_payee, a list update re-screens
and reports what changed, a dismissal holds across versions, and hostile or broken files are
refused whole with one line.

The real lists are in ../shared/data/sanctions (skipped, with the reason, when absent);
tests/fixtures/sanctions holds a four-entry extract of the 2021 SDN files for the rest.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import ROOT, SHARED, assert_one_line_error, monitor, write_config, write_csv
from monitor.ledger.payees import payee_key
from ledger_factory import Ledger
from monitor.errors import ConfigError, InputError
from monitor.screening import lists, names, store as screening
from monitor.settings import config as config_mod
from screening_variants import WAYS, dprk_variants

SANCTIONS = SHARED / "data" / "sanctions"
SDN_2021 = SANCTIONS / "ofac_2021-07" / "sdn.csv"
SDN_2024 = SANCTIONS / "ofac_2024-05-03" / "sdn.csv"
UN_XML = SANCTIONS / "un" / "UN_consolidated_2026-02-27.xml.gz"
EXTRACT = ROOT / "tests" / "fixtures" / "sanctions"


def needs(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            pytest.skip(f"{path} is absent (the shared sanctions lists: ../shared/data/SOURCES.md)")


def findings(led: Ledger, as_of) -> list[dict]:
    return [f for f in led.scan(as_of=as_of) if f["detector"] == "sanctioned_payee"]


# -- names --------------------------------------------------------------------------------

@pytest.mark.parametrize("payee, listed, least", [
    ("Korea Mining Development Trading Corp.", "KOREA MINING DEVELOPMENT TRADING CORPORATION", 100),
    ("KOREA-MINING. DEVELOPMENT, TRADING LTD", "KOREA MINING DEVELOPMENT TRADING CORPORATION", 100),
    ("Jong Un Kim", "KIM, Jong Un", 100),
    ("KIM JONGUN", "KIM, Jong Un", 90),
    ("KOREA MINING TRADING", "KOREA MINING DEVELOPMENT TRADING CORPORATION", 94),
    ("Kim Jong", "KIM, Jong Un", 0),          # two of three words of a person: scored, see below
])
def test_scores_of_written_variants(payee, listed, least):
    assert names.score(names.normal(payee), names.normal(listed)) >= least


@pytest.mark.parametrize("payee, listed", [
    ("Office Supplies", "OFFICE 39"),              # one common word is never a match
    ("KOREA", "KOREA TANGUN TRADING CORPORATION"),
    ("PH INTERNATIONAL LTD", "I.P.C. INTERNATIONAL LIMITED"),   # generic words are no evidence
    ("DMI", "DMI TRADING INC."),
    ("OLD JOINT STOCK", "JOINT STOCK COMPANY SHVABE"),          # a legal form written out
    ("HONG KONG DISNEYLAND", "HONG KONG ELECTRONICS"),
    ("TARGET 00000532", "TARGET ELECTRONICS"),
    ("E.S.S. /IPM", "E. S. Co."),                                # initials
])
def test_common_words_do_not_match(payee, listed):
    assert names.score(names.normal(payee), names.normal(listed)) < 90


# A word that is itself a legal form ("CO") is dropped beside another form, as it should be.
WORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=9).filter(
    lambda w: w.lower() not in names.LEGAL_FORMS)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(WORD, min_size=1, max_size=5),
       seps=st.lists(st.sampled_from([" ", "  ", "-", ". ", ", ", "/", " & "]), min_size=4,
                     max_size=4),
       form=st.sampled_from(["", " LTD", " Limited", " LLC", " Inc.", " GmbH", " S.A."]))
def test_a_name_matches_itself_however_it_is_written(words, seps, form):
    """Invariants: the normal form is idempotent, and case, punctuation, spacing and legal
    form never lower the score of a name against itself."""
    listed = " ".join(words)
    written = "".join(w.lower() if i % 2 else w.title()
                      for i, w in enumerate(words) for w in (w + seps[i % 4],))[:-1] + form
    assert names.normal(names.normal(written)) == names.normal(written)
    assert names.score(names.normal(written), names.normal(listed)) == 100
    assert names.score(names.normal(listed), names.normal(listed)) == 100


# -- the real lists ---------------------------------------------------------------------------

def test_every_dprk_entry_written_five_ways_fires_sanctioned_payee(tmp_path):
    """Every DPRK-programme entry of the 2021 SDN list, written as a payee in five ways, is
    matched by screening and fires the detector on its first charge."""
    needs(SDN_2021)
    (version,) = lists.read([SDN_2021])
    cases = dprk_variants(version)
    entries = {uid for uid, _, _ in cases}
    assert len(entries) == 414 and {w for _, w, _ in cases} == set(WAYS)
    led = Ledger(tmp_path)
    payees = sorted({payee for _, _, payee in cases})
    for n, payee in enumerate(payees):
        led.charge(n % 300, payee, "120.00", account=f"card-{n % 7}")
    led.flush()
    (report,) = screening.load(led.con, led.config, [version])
    hits = set(led.con.execute("SELECT payee, entry_uid FROM screening_hits").fetchall())
    missed = [c for c in cases if (c[2], c[0]) not in hits]
    assert not missed, missed[:20]
    # Grouped by payee key: spellings of one entry that share a key (case, punctuation)
    # on one account are one finding, on its first charge.
    found = findings(led, 300)
    fired = {f["payee_key"]: f for f in found}
    assert {payee_key(p) for p in payees} <= set(fired)
    assert all(f["severity"] == "critical" for f in found)
    one = fired[payee_key(next(p for uid, way, p in cases
                               if uid == "OFAC:9345" and way == "legal_form"))]
    assert "OFAC:9345" in one["sentence"] and "DPRK2" in one["sentence"] \
        and "score 100" in one["sentence"], one["sentence"]
    alias = next(p for uid, way, p in cases if uid == "OFAC:9345" and way == "alias")
    assert "alias" in fired[payee_key(alias)]["sentence"], fired[payee_key(alias)]["sentence"]
    assert report["matches"] >= len(cases)
    led.close()


def test_a_list_update_rescreens_reports_changes_and_keeps_dismissals(tmp_path):
    needs(SDN_2021, SDN_2024)
    (old,), (new,) = lists.read([SDN_2021]), lists.read([SDN_2024])
    old_names = {e.uid: e.name for e in old.entries}
    new_names = {e.uid: e.name for e in new.entries}
    gone = next(uid for uid in sorted(old_names) if uid not in new_names
                and len(names.content(names.normal(old_names[uid]))) >= 3)
    came = next(uid for uid in sorted(new_names) if uid not in old_names
                and len(names.content(names.normal(new_names[uid]))) >= 3)
    kept = "OFAC:9345"
    led = Ledger(tmp_path)
    led.charge(1, old_names[gone], "10.00")
    led.charge(2, new_names[kept], "10.00")
    led.charge(3, "Tesco Stores", "10.00")
    led.flush()
    screening.load(led.con, led.config, [old])
    key = next(m["payee_key"] for m in screening.matches(led.con) if m["entry_uid"] == kept)
    done = screening.dismiss(led.con, key, kept, "test: a namesake bakery")
    assert done["entry_uid"] == kept
    led.charge(20, new_names[came], "10.00")     # paid later: screened against 2021 at scan
    led.flush()
    (report,) = screening.load(led.con, led.config, [new])
    added = {(m["payee"], m["entry_uid"]) for m in report["added"]}
    removed = {(m["payee"], m["entry_uid"]) for m in report["removed"]}
    assert (new_names[came], came) in added
    assert (old_names[gone], gone) in removed
    assert all(m["entry_uid"] != kept for m in report["added"] + report["removed"])
    hits = {uid for (uid,) in led.con.execute("SELECT entry_uid FROM screening_hits").fetchall()}
    assert came in hits and kept not in hits and gone not in hits      # dismissed stays so
    everything = screening.matches(led.con, include_dismissed=True)
    assert any(m["entry_uid"] == kept and m["dismissed"] for m in everything)
    fired = {f["counterparty"] for f in findings(led, 30)}
    assert fired == {new_names[came]}
    actions = [a for (a,) in led.con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]
    assert actions.count("screening_load") == 2 and "screening_dismiss" in actions
    # the same files again: nothing changes
    (again,) = screening.load(led.con, led.config, [new])
    assert again["status"] == "unchanged"
    led.close()


def test_the_un_list_loads_with_its_date(tmp_path):
    needs(UN_XML)
    (version,) = lists.read([UN_XML])
    assert version.list == lists.UN and str(version.published) == "2026-02-27"
    assert len(version.entries) == 1003
    dprk = [e for e in version.entries if e.programmes == ("DPRK",)]
    assert len(dprk) >= 100
    led = Ledger(tmp_path)
    entity = next(e for e in dprk if e.kind == "entity")
    led.charge(1, entity.name.title() + " Ltd", "10.00")
    led.flush()
    (report,) = screening.load(led.con, led.config, [version])
    assert report["matches"] >= 1 and report["added"][0]["entry_uid"] == entity.uid
    led.close()


# -- the command line, end to end ---------------------------------------------------------------

def project(tmp_path: Path, extra: str = "") -> Path:
    path = write_config(tmp_path)
    if extra:
        path.write_text(path.read_text() + "\n" + extra, encoding="utf-8")
    return path


def test_ingest_then_scan_fires_on_a_new_sanctioned_payee(tmp_path):
    """Through the real commands: the list is loaded before the payee appears; the payee
    arrives by ingest and the next scan screens it and fires, critical, on the first charge."""
    project(tmp_path)
    env = {"MONITOR_ACTOR": "reviewer@example.org"}
    write_csv(tmp_path / "in" / "a.csv", [["2024-03-01", "12.00", "Tesco Stores", "1111"]])
    assert monitor("ingest", cwd=tmp_path).returncode == 0
    done = monitor("screening", "load", str(EXTRACT / "sdn.csv"), "--published", "2021-07-07",
                   "--format", "json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    (version,) = json.loads(done.stdout)["versions"]
    assert version["matches"] == 0 and version["entries"] == 4
    payee = "PAYPAL *CHANGGWANG SINYONG CORP"           # an alias, behind a processor prefix
    write_csv(tmp_path / "in" / "b.csv", [["2024-03-05", "1667.00", payee, "1111"],
                                          ["2024-03-09", "1667.00", payee, "1111"]])
    assert monitor("ingest", cwd=tmp_path).returncode == 0
    scan = monitor("scan", "--no-notify", "--format", "json", cwd=tmp_path)
    assert scan.returncode == 1, scan.stderr
    (finding,) = [f for f in json.loads(scan.stdout)["findings"]
                  if f["detector"] == "sanctioned_payee"]
    assert finding["severity"] == "critical" and finding["first_alert_at"] == "2024-03-05"
    sentence = finding["sentence"]
    assert "alias 'CHANGGWANG SINYONG CORPORATION' matched" in sentence, sentence
    assert "OFAC:9345" in sentence and "DPRK2" in sentence and "score 100" in sentence
    listed = monitor("screening", "matches", "--format", "json", cwd=tmp_path)
    (match,) = json.loads(listed.stdout)
    assert match["payee_key"] == "changgwang sinyong" and match["entry_uid"] == "OFAC:9345"
    gone = monitor("screening", "dismiss", "changgwang sinyong", "OFAC:9345", "--why", "test: not them",
                   cwd=tmp_path, env=env)
    assert gone.returncode == 0, gone.stderr
    scan = monitor("scan", "--no-notify", "--format", "json", cwd=tmp_path)
    assert not [f for f in json.loads(scan.stdout)["findings"]
                if f["detector"] == "sanctioned_payee"]
    con = duckdb.connect(str(tmp_path / "ledger.duckdb"), read_only=True)
    who, detail = con.execute("SELECT actor, detail FROM audit_log "
                              "WHERE action = 'screening_dismiss'").fetchone()
    con.close()
    assert who == "reviewer@example.org" and "test: not them" in detail
    lists_out = monitor("screening", "lists", "--format", "json", cwd=tmp_path)
    (row,) = json.loads(lists_out.stdout)
    assert row["published"] == "2021-07-07" and len(row["sha256"]) == 3


def test_a_scan_with_nothing_new_screens_nothing(tmp_path):
    led = Ledger(tmp_path)
    led.charge(1, "Tesco Stores", "10.00")
    led.flush()
    screening.load(led.con, led.config, lists.read([EXTRACT / "sdn.csv"]))
    state = led.con.execute("SELECT screened_file_id FROM screening_lists").fetchall()
    assert screening.refresh(led.con, led.config) == 0
    assert led.con.execute("SELECT count(*) FROM screening_screened").fetchall() == [(1,)]
    led.charge(2, "Office No. 39", "10.00")
    led.flush()
    assert screening.refresh(led.con, led.config) == 1
    assert led.con.execute("SELECT count(*) FROM screening_screened").fetchall() == [(2,)]
    assert led.con.execute("SELECT screened_file_id FROM screening_lists").fetchall() != state
    led.close()


HOSTILE = {
    "billion_laughs.xml": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                          '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                          '<CONSOLIDATED_LIST><INDIVIDUALS>&lol2;</INDIVIDUALS></CONSOLIDATED_LIST>',
    "external.xml": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                    '<CONSOLIDATED_LIST>&e;</CONSOLIDATED_LIST>',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_xml_is_refused_in_one_line(tmp_path, name):
    project(tmp_path)
    path = tmp_path / name
    path.write_text(HOSTILE[name], encoding="utf-8")
    proc = monitor("screening", "load", str(path), cwd=tmp_path)
    line = assert_one_line_error(proc, 2)
    assert name in line and "refused" in line and "root:" not in proc.stderr + proc.stdout


def broken_files(tmp_path: Path) -> dict[str, Path]:
    sdn = (EXTRACT / "sdn.csv").read_bytes()
    cut = tmp_path / "cut" / "sdn.csv"
    cut.parent.mkdir()
    cut.write_bytes(sdn[: len(sdn) // 2])             # cut inside a quoted field
    ledger = write_csv(tmp_path / "ledger.csv", [["2024-01-01", "1.00", "x", "1"]])
    xml = tmp_path / "un.xml"
    xml.write_bytes(b'<?xml version="1.0"?><CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>'
                    b"<FIRST_NAME>A</FIRST_NAME>")
    other = tmp_path / "other.xml"
    other.write_bytes(b"<Document><Stmt/></Document>")
    gz = tmp_path / "un.xml.gz"
    gz.write_bytes(gzip.compress(b"<CONSOLIDATED_LIST>" * 50)[:40])
    return {"cut": cut, "ledger": ledger, "xml": xml, "other": other, "gz": gz}


@pytest.mark.parametrize("which", ["cut", "ledger", "xml", "other", "gz"])
def test_a_broken_or_wrong_file_loads_nothing(tmp_path, which):
    project(tmp_path)
    path = broken_files(tmp_path)[which]
    proc = monitor("screening", "load", str(EXTRACT / "sdn.csv"), str(path), cwd=tmp_path) \
        if which in ("xml", "other", "gz") else monitor("screening", "load", str(path),
                                                        cwd=tmp_path)
    line = assert_one_line_error(proc, 2)
    assert str(path) in line, line
    listed = monitor("screening", "lists", "--format", "json", cwd=tmp_path)
    assert json.loads(listed.stdout) == []            # not even the good file beside it


def test_threshold_is_validated_and_a_change_rescreens(tmp_path):
    path = project(tmp_path, "[screening]\nthreshold = 101\n")
    with pytest.raises(ConfigError, match="screening.threshold"):
        config_mod.load(path)
    path.write_text(path.read_text().replace("101", "99.5"), encoding="utf-8")
    assert config_mod.load(path).screening.threshold == 99.5
    led = Ledger(tmp_path / "l")
    led.charge(1, "Jong Un", "10.00")            # a dropped word: 94
    led.flush()
    screening.load(led.con, led.config, lists.read([EXTRACT / "sdn.csv"]))
    assert screening.matches(led.con)              # at the default threshold (90)
    strict = config_mod.load(path)
    screening.refresh(led.con, strict)
    assert not screening.matches(led.con)
    led.close()


def test_dismissing_an_unknown_match_is_a_one_line_error(tmp_path):
    led = Ledger(tmp_path)
    with pytest.raises(InputError, match="screening matches"):
        screening.dismiss(led.con, "nobody", "OFAC:1", "why")
    with pytest.raises(InputError, match="--why"):
        screening.dismiss(led.con, "nobody", "OFAC:1", " ")
    led.close()


def test_the_database_itself_or_a_link_to_it_is_no_list_and_a_quote_is_no_sql(tmp_path):
    """Hostile ways in: the ledger database given as a list (directly or by a symlink) is
    refused in one line and loads nothing; a payee key with SQL in it is only a value."""
    cfg = project(tmp_path)
    assert monitor("--config", str(cfg), "ingest", cwd=tmp_path).returncode in (0, 1)
    database = tmp_path / "ledger.duckdb"
    link = tmp_path / "sdn.csv"
    link.symlink_to(database)
    for path in (database, link):
        line = assert_one_line_error(monitor("screening", "load", str(path), cwd=tmp_path), 2)
        assert str(path) in line, line
    hostile = "x'); DROP TABLE transactions; --"
    line = assert_one_line_error(monitor("screening", "dismiss", hostile, "OFAC:1", "--why",
                                         "<b>no</b>", cwd=tmp_path), 2)
    assert "screening matches" in line
    assert json.loads(monitor("screening", "lists", "--format", "json",
                              cwd=tmp_path).stdout) == []
    con = duckdb.connect(str(database), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM transactions").fetchone()[0] >= 0
    finally:
        con.close()
