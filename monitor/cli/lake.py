"""`monitor export-lake`, and the lake side of `monitor ingest` with [engine] kind = "spark".
A thin layer over monitor.ledger.lake; listed in monitor.cli.main's VERBS.
"""
from __future__ import annotations

from pathlib import Path

import click

from monitor import output, outpath
from monitor.audit import log as audit
from monitor.ledger import lake
from monitor.settings.engine import engine_of


@click.command("export-lake")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write the lake to (created; must be empty unless --force; never "
                   "one that holds the database or the config).")
@click.option("--buckets", type=click.IntRange(0, 4096), default=None,
              help="Also partition by an account hash bucket (default: [engine] buckets).")
@click.option("--force", is_flag=True, help="Replace what the folder holds.")
@output.format_option()
@click.pass_obj
def export_lake(ctx, out, buckets, force, fmt):
    """Write the ledger as a Parquet lake partitioned by posting month
    (DIR/posted_month=2017-04/...), the layout the Spark engine reads. Then set
    [engine] kind = "spark" and lake = DIR: later ingests append to it.

    \b
    Examples:
      monitor export-lake --out lake/
      monitor export-lake --out /data/ledger-lake --buckets 64 --force
    """
    outpath.check_folder(out, ctx.config)      # --force empties the folder
    engine = engine_of(ctx.config)
    buckets = engine.buckets if buckets is None else buckets
    con = ctx.connect()
    facts = lake.export(con, out, buckets=buckets, overwrite=force)
    facts["buckets"] = buckets
    audit.record(con, "export-lake", {"out": str(out), "buckets": buckets, "force": force},
                 audit.digest(facts))
    con.close()
    output.emit([facts], fmt, ["path", "rows", "amount", "months", "buckets"])
