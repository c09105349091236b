"""Sanctions screening in the ledger: list versions loaded, payees screened, matches kept,
dismissed and described.

- load: a new list version is kept (files, hashes, publication date, who, when), every payee
  the ledger ever paid is screened against it, and the change from the list's previous
  version is reported: matches added and removed (audit action `screening_load`).
- refresh: what a scan calls first. Payee names that arrived since the last screening (files
  beyond `screened_file_id`) are screened against the current versions; nothing is read when
  no file arrived. A changed [screening] threshold screens every payee again.
- dismiss: a reviewer marks a match a false positive (audit action `screening_dismiss`, who
  and why); it is keyed by payee key and entry uid, so it holds in later list versions.
- describe: the words the sanctioned_payee detector's sentence gives (entry, programmes,
  alias matched, score).

Screening finds candidate pairs in DuckDB (names that share a word, or two words written
together, queries/screening/candidates.sql) and scores them with rapidfuzz
(monitor.screening.names): comparing every payee with every listed name would cost hours
at 200,000 payees.
"""
from __future__ import annotations

import hashlib
from datetime import date

import duckdb

from monitor.audit import chain as audit
from monitor.errors import InputError
from monitor.ledger.payees import payee_key
from monitor.screening import names
from monitor.screening.lists import ListVersion
from monitor.settings.screening import screening_of
from monitor.sql.store import drop_temp, load_query, now, rows, run, transaction, writable

SHOWN_CHANGES = 200          # matches listed in an audit entry (all are counted)


def load(con: duckdb.DuckDBPyConnection, config, versions: list[ListVersion]) -> list[dict]:
    """Keep each list version, screen every payee against it, report what changed."""
    threshold = screening_of(config).threshold
    reports = []
    for version in versions:
        same = _same_as_current(con, version)
        if same is not None:
            reports.append({"list": version.list, "version_id": same, "status": "unchanged",
                            "entries": len(version.entries), "added": [], "removed": []})
            continue
        previous = _current_id(con, version.list)
        high = _high_file(con)
        with transaction(con):
            version_id = _insert_version(con, version, threshold, high)
            payees = [p for (p,) in con.execute(
                "SELECT DISTINCT counterparty FROM transactions "
                "WHERE counterparty IS NOT NULL AND counterparty <> ''").fetchall()]
            found = screen(con, version_id, payees, threshold, config.payees.processor_prefixes)
        added, removed = changes(con, previous, version_id)
        report = {"list": version.list, "version_id": version_id, "status": "loaded",
                  "published": version.published, "entries": len(version.entries),
                  "payees_screened": len(payees), "matches": found,
                  "previous_version_id": previous, "added": added, "removed": removed}
        audit.record(con, "screening_load", {
            "list": version.list, "version_id": version_id, "published": version.published,
            "files": [f.path for f in version.files], "sha256": [f.sha256 for f in version.files],
            "entries": len(version.entries), "threshold": threshold, "matches": found,
            "previous_version_id": previous, "added": len(added), "removed": len(removed),
            "added_matches": added[:SHOWN_CHANGES], "removed_matches": removed[:SHOWN_CHANGES]},
            audit.digest([added, removed]))
        reports.append(report)
    return reports


def _same_as_current(con, version: ListVersion) -> int | None:
    """The current version's id when it was loaded from files with these very hashes."""
    found = con.execute("SELECT version_id, list_sort(sha256) FROM screening_current "
                        "WHERE list = ?", [version.list]).fetchall()
    if found and found[0][1] == sorted(f.sha256 for f in version.files):
        return found[0][0]
    return None


def _current_id(con, list_name: str) -> int | None:
    found = con.execute("SELECT version_id FROM screening_current WHERE list = ?",
                        [list_name]).fetchall()
    return found[0][0] if found else None


def _high_file(con) -> int:
    return con.execute("SELECT coalesce(max(file_id), -1) FROM transactions").fetchall()[0][0]


def _insert_version(con, version: ListVersion, threshold: float, high: int) -> int:
    version_id = con.execute(
        "INSERT INTO screening_lists (list, publisher, published, files, roles, sha256, "
        "entries, names, loaded_at, loaded_by, threshold, screened_file_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) RETURNING version_id",
        [version.list, version.publisher, version.published, [f.path for f in version.files],
         [f.role for f in version.files], [f.sha256 for f in version.files],
         len(version.entries), now(), audit.actor(), threshold, high]).fetchall()[0][0]
    entries = {"version_id": [], "entry_uid": [], "name": [], "kind": [], "programmes": []}
    listed = {"version_id": [], "name_id": [], "entry_uid": [], "listed": [], "is_alias": [],
              "form": [], "words": []}
    for entry in version.entries:
        for column, value in zip(entries, (version_id, entry.uid, entry.name, entry.kind,
                                           ", ".join(entry.programmes))):
            entries[column].append(value)
        seen = set()
        for text, is_alias in [(entry.name, False)] + [(a, True) for a in entry.aliases]:
            form = names.normal(text)
            if not form or form in seen or not names.screened(form, entry.kind):
                continue
            seen.add(form)
            for column, value in zip(listed, (version_id, len(listed["name_id"]), entry.uid,
                                              text, is_alias, form, len(form.split()))):
                listed[column].append(value)
    _insert(con, "screening_entries", entries)
    _insert(con, "screening_names", listed)
    run(con, "screening/list_tokens", {"version_id": version_id})
    con.execute("UPDATE screening_lists SET names = ? WHERE version_id = ?",
                [len(listed["name_id"]), version_id])
    return version_id


def _insert(con, table: str, columns: dict) -> None:
    import pyarrow as pa    # late: only loading a list needs it (CLI start-up)
    batch = pa.table(columns)
    con.register("screening_batch", batch)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM screening_batch")  # our name
    finally:
        con.unregister("screening_batch")


def screen(con, version_id: int, payees: list[str], threshold: float, prefixes) -> int:
    """Screen these payee names against one list version; keep the matches at or above
    the threshold (the best name of each entry per payee). Returns how many were kept."""
    if not payees:
        return 0
    forms = {"payee": [], "payee_key": [], "form": []}
    for payee in payees:
        key = payee_key(payee, prefixes)
        for form in names.payee_forms(payee):
            forms["payee"].append(payee)
            forms["payee_key"].append(key)
            forms["form"].append(form)
    drop_temp(con, "screening_payees")
    con.execute("CREATE TEMP TABLE screening_payees (payee VARCHAR, payee_key VARCHAR, "
                "form VARCHAR)")
    _insert(con, "screening_payees", forms)
    _insert(con, "screening_screened", {"version_id": [version_id] * len(payees),
                                        "payee": list(payees)})
    pairs = con.execute(load_query("screening/candidates"), {"version_id": version_id}).fetchall()
    scored = {"form": [], "name_id": [], "score": []}
    for form, name_id, listed_form in pairs:
        value = names.score(form, listed_form)
        if value >= threshold:
            scored["form"].append(form)
            scored["name_id"].append(name_id)
            scored["score"].append(value)
    drop_temp(con, "screening_scored")
    con.execute("CREATE TEMP TABLE screening_scored (form VARCHAR, name_id INTEGER, "
                "score DOUBLE)")
    _insert(con, "screening_scored", scored)
    before = con.execute("SELECT count(*) FROM screening_matches WHERE version_id = ?",
                         [version_id]).fetchall()[0][0]
    run(con, "screening/keep_matches", {"version_id": version_id, "at": now()})
    drop_temp(con, "screening_payees", "screening_scored")
    return con.execute("SELECT count(*) FROM screening_matches WHERE version_id = ?",
                       [version_id]).fetchall()[0][0] - before


def refresh(con: duckdb.DuckDBPyConnection, config) -> int:
    """Screen the payee names no current list version has seen (new files since the last
    screening), or every name again when the threshold changed. Returns new matches.
    A read-only connection, or a ledger with no list loaded, screens nothing."""
    if not writable(con):
        return 0
    threshold = screening_of(config).threshold
    current = con.execute("SELECT version_id, threshold, screened_file_id FROM screening_current"
                          ).fetchall()
    high, found = None, 0
    for version_id, was, screened in current:
        high = _high_file(con) if high is None else high
        if was == threshold and screened == high:
            continue                            # nothing arrived: no read of the ledger
        with transaction(con):
            if was != threshold or screened is None or screened > high:
                con.execute("DELETE FROM screening_matches WHERE version_id = ?", [version_id])
                con.execute("DELETE FROM screening_screened WHERE version_id = ?", [version_id])
                screened = -1
            payees = [p for (p,) in con.execute(
                "SELECT DISTINCT counterparty FROM transactions t WHERE file_id > ? "
                "AND counterparty IS NOT NULL AND counterparty <> '' AND NOT EXISTS ("
                "  SELECT 1 FROM screening_screened s "
                "  WHERE s.version_id = ? AND s.payee = t.counterparty)",
                [screened, version_id]).fetchall()]
            found += screen(con, version_id, payees, threshold,
                            config.payees.processor_prefixes)
            con.execute("UPDATE screening_lists SET threshold = ?, screened_file_id = ? "
                        "WHERE version_id = ?", [threshold, high, version_id])
    return found


def changes(con, before: int | None, after: int) -> tuple[list[dict], list[dict]]:
    """Matches of version `after` that `before` did not have, and those it loses; each
    says whether a reviewer dismissed it (a dismissed match stays dismissed)."""
    found = rows(con, "screening/changes", {"before": before, "after": after})
    added = [r for r in found if r.pop("change") == "added"]
    removed = [r for r in found if r not in added]
    return added, removed


def matches(con, include_dismissed: bool = False) -> list[dict]:
    """The current versions' matches, best first; dismissed ones only when asked."""
    return rows(con, "screening/matches", {"include_dismissed": include_dismissed})


def lists(con) -> list[dict]:
    return rows(con, "screening/lists")


def dismiss(con, key: str, entry_uid: str, why: str) -> dict:
    """Record a match as a false positive: that payee key never fires for that entry again,
    in this list version or a later one. `key` may be the payee key or a name as written."""
    if not why or not why.strip():
        raise InputError("--why is empty; say why the match is a false positive "
                         "(it goes into the audit log)")
    found = con.execute(
        "SELECT payee_key, entry_uid, entry_name, list, max(score) FROM screening_hits "
        "WHERE entry_uid = ? AND (payee_key = ? OR payee_key = ? OR payee = ?) GROUP BY ALL",
        [entry_uid, key, payee_key(key), key]).fetchall()
    if not found:
        raise InputError(f"no current, undismissed match of payee key '{key}' with entry "
                         f"'{entry_uid}'; see `monitor screening matches` for both values")
    payee, uid, entry_name, list_name, best = found[0]
    who = audit.actor()
    with transaction(con):
        con.execute("INSERT INTO screening_dismissals VALUES (?, ?, ?, ?, ?)",
                    [payee, uid, why.strip(), who, now()])
        audit.record(con, "screening_dismiss", {"payee_key": payee, "entry_uid": uid,
                                                "entry_name": entry_name, "list": list_name,
                                                "score": best, "why": why.strip()})
    return {"payee_key": payee, "entry_uid": uid, "entry_name": entry_name, "who": who}


def describe(con, rows_: list[dict], detector: str = "sanctioned_payee") -> None:
    """Give each finding of the detector its `match`: the entry, programmes, alias
    matched and score, for its sentence (the best current match of its payee)."""
    wanted = [r for r in rows_ if r.get("detector") == detector and r.get("counterparty")]
    if not wanted:
        return
    for row in wanted:
        found = con.execute(
            "SELECT entry_name, entry_uid, list, programmes, alias, score FROM screening_hits "
            "WHERE payee = $p OR payee_key = $p ORDER BY score DESC, entry_uid LIMIT 1",
            {"p": row["counterparty"]}).fetchall()
        if not found:
            continue
        name, uid, list_name, programmes, alias, value = found[0]
        programme = f"programme {programmes}" if "," not in programmes \
            else f"programmes {programmes}"
        row["match"] = (f"'{name}' ({list_name} entry {uid}, {programme}), "
                        + (f"alias '{alias}' matched" if alias else "name matched")
                        + f", score {value:g}")


def state(con) -> str:
    """What the sanctioned_payee findings depend on besides the ledger (for a scan's
    settings hash): the current undismissed matches."""
    found = con.execute("SELECT payee, entry_uid, version_id, score FROM screening_hits "
                        "ORDER BY ALL").fetchall()
    return hashlib.sha256(repr(found).encode()).hexdigest()[:16]


def published_day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--published {text!r} is not a date; write it like 2024-05-03"
                         ) from None
