"""`monitor screening`: load the sanctions lists, list versions and matches, dismiss a false
positive. A thin layer over monitor.screening; listed in monitor.cli.main's VERBS."""
from __future__ import annotations

from pathlib import Path

import click

from monitor import output
from monitor.screening import lists as list_files
from monitor.screening import store as screening

CHANGE_COLUMNS = ["change", "list", "payee", "payee_key", "entry_uid", "entry_name",
                  "programmes", "alias", "score", "dismissed"]
MATCH_COLUMNS = ["payee_key", "payee", "entry_uid", "entry_name", "programmes", "alias",
                 "score", "list", "dismissed", "dismissed_by", "why"]


@click.group("screening")
def screening_group():
    """Sanctions screening: every payee against the US Treasury's SDN list and the UN
    Security Council consolidated list, as the finance team downloads them (the monitor
    never goes online; README "Sanctions screening" says where). Matches at or above
    [screening] threshold fire the sanctioned_payee detector on the next scan.

    \b
    Examples:
      monitor screening load lists/sdn.csv lists/alt.csv lists/add.csv
      monitor screening load lists/consolidated.xml
      monitor screening matches
      monitor screening dismiss "acme trading" OFAC:12345 --why "UK bakery, Companies House 0123"
    """


@screening_group.command("load")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--published", help="The list's publication date (YYYY-MM-DD), for files that "
                                  "do not carry one (the OFAC CSV files).")
@output.format_option()
@click.pass_obj
def load(ctx, files, published, fmt):
    """Load a new version of a list, screen every payee the ledger ever paid against it,
    and report the matches it adds and removes compared with the list's previous version.
    OFAC: give sdn.csv (alt.csv, add.csv and sdn_comments.csv beside it are read with it).
    UN: the consolidated list XML. A file that is cut short, another file, or an XML with a
    DTD or entities is refused whole (exit 2) and nothing is loaded. Loading the same files
    again changes nothing.

    \b
    Examples:
      monitor screening load ~/Downloads/sdn.csv --published 2024-05-03
      monitor screening load ~/Downloads/consolidated.xml --format json
    """
    versions = list_files.read(list(files), screening.published_day(published))
    for note in (n for v in versions for n in v.notes):
        click.echo(f"note: {note}", err=True)
    con = ctx.connect()
    reports = screening.load(con, ctx.config, versions)
    con.close()
    if fmt == "json":
        click.echo(output.dumps({"versions": reports}))
    else:
        changed = [{"change": kind, "list": r["list"]} | m
                   for r in reports for kind in ("added", "removed") for m in r[kind]]
        output.emit(changed, fmt, CHANGE_COLUMNS, title="Matches changed")
    for r in reports:
        if r["status"] == "unchanged":
            click.echo(f"note: {r['list']}: these files are the current version "
                       f"{r['version_id']} already; nothing changed", err=True)
        else:
            click.echo(f"loaded {r['list']} version {r['version_id']}: {r['entries']} entries, "
                       f"{r['payees_screened']} payees screened, {r['matches']} matches "
                       f"({len(r['added'])} added, {len(r['removed'])} removed)", err=True)


@screening_group.command("matches")
@click.option("--all", "include_dismissed", is_flag=True, help="Also dismissed matches.")
@output.format_option()
@click.pass_obj
def matches(ctx, include_dismissed, fmt):
    """List the payees that match the current list versions, best first (screening any
    payee not yet screened first). Give PAYEE_KEY and ENTRY_UID to `dismiss`.

    \b
    Example:
      monitor screening matches --format csv > matches.csv
    """
    con = ctx.connect()
    screening.refresh(con, ctx.config)
    rows = screening.matches(con, include_dismissed)
    con.close()
    output.emit(rows, fmt, MATCH_COLUMNS, title="Sanctions list matches")


@screening_group.command("lists")
@output.format_option()
@click.pass_obj
def lists(ctx, fmt):
    """List every list version loaded: publisher, publication date, files and hashes, who
    loaded it and when, and whether it is current.

    \b
    Example:
      monitor screening lists --format json
    """
    con = ctx.connect()
    rows = screening.lists(con)
    con.close()
    output.emit(rows, fmt, ["version_id", "list", "published", "current", "entries", "names",
                            "matches", "loaded_at", "loaded_by", "files", "sha256"])


@screening_group.command("dismiss")
@click.argument("payee_key")
@click.argument("entry_uid")
@click.option("--why", required=True, help="Why the match is a false positive (audited).")
@click.pass_obj
def dismiss(ctx, payee_key, entry_uid, why):
    """Dismiss a match as a false positive: the payee key never fires for that list entry
    again, in this list version or a later one. Recorded in the audit log with who
    ($MONITOR_ACTOR, else the OS user) and why.

    \b
    Example:
      monitor screening dismiss "golden star" OFAC:17072 --why "local takeaway, reg. 0412"
    """
    con = ctx.connect()
    done = screening.dismiss(con, payee_key, entry_uid, why)
    con.close()
    click.echo(f"dismissed the match of payee key '{output.escape_text(done['payee_key'])}' with "
               f"{done['entry_uid']} ({done['entry_name']}) by {done['who']}", err=True)
