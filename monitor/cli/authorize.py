"""`monitor authorize`: the expected-charges registry. A thin layer over
monitor.ledger.registry (and monitor.pipeline for the owners' review e-mails)."""
from __future__ import annotations

from pathlib import Path

import click

from monitor import output, pipeline
from monitor.audit import log as audit
from monitor.cli.context import Context, pass_ctx
from monitor.errors import NotifyError
from monitor.ledger import registry


@click.group()
def authorize():
    """The expected-charges registry: approved payees, contracts, subscriptions.
    Every change is in the audit log with who made it ($MONITOR_ACTOR, else the OS
    user). When the config names a file ([registry] path), edit that file instead.

    \b
    Examples:
      monitor authorize add --payee "Acme Hosting" --amount 49.00 --tolerance 5 \\
          --cadence monthly --by "J. Smith" --reference PO-1042
      monitor authorize load approvals.csv
    """


@authorize.command("add")
@click.option("--payee", required=True, help="Payee name; * matches any text.")
@click.option("--account", help="Only this account (default: any).")
@click.option("--amount", "expected_amount", help="Expected amount (default: any).")
@click.option("--tolerance", default="0", show_default=True, help="Allowed difference.")
@click.option("--cadence", type=click.Choice(registry.CADENCES), help="At most one charge per.")
@click.option("--from", "valid_from", help="Valid from (YYYY-MM-DD).")
@click.option("--to", "valid_to", help="Valid to (YYYY-MM-DD).")
@click.option("--by", "--approver", "approver", default=None,
              help="Who approved it (default: $MONITOR_ACTOR, else the OS user).")
@click.option("--reference", required=True, help="Contract, PO or ticket reference.")
@pass_ctx
def authorize_add(ctx: Context, **entry):
    """Approve a payee, contract or recurring charge.

    \b
    Example:
      monitor authorize add --payee "zoom.us*" --amount 14.39 --cadence monthly \\
          --by "Finance lead" --reference SUB-7
    """
    registry.refuse_if_managed(ctx.config, "add")
    entry["approver"] = entry["approver"] or audit.actor()
    con = ctx.connect()
    auth_id = registry.approve(con, registry.validate(entry, "authorize add"))
    con.close()
    click.echo(f"added authorization {auth_id}", err=True)


@authorize.command("list")
@output.format_option()
@pass_ctx
def authorize_list(ctx: Context, fmt):
    """List the registry.

    \b
    Example:
      monitor authorize list --format csv > approvals.csv
    """
    con = ctx.connect()
    rows = registry.entries(con)
    con.close()
    output.emit(rows, fmt, ["auth_id", *registry.COLUMNS])


@authorize.command("show")
@click.argument("auth_id", type=int)
@output.format_option()
@pass_ctx
def authorize_show(ctx: Context, auth_id, fmt):
    """The payee names as written that one entry covers. An approval matches by payee
    key, so "Acme Hosting" covers "ACME HOSTING LTD" and "PAYPAL *ACME HOSTING";
    a payee with * covers the names or keys the pattern matches.

    \b
    Example:
      monitor authorize show 3 --format csv
    """
    con = ctx.connect()
    rows = registry.covers(con, auth_id)
    con.close()
    output.emit(rows, fmt, ["name", "payee_key", "charges", "first_posted", "last_posted"])


@authorize.command("remove")
@click.argument("auth_id", type=int)
@pass_ctx
def authorize_remove(ctx: Context, auth_id):
    """Remove one entry by its id.

    \b
    Example:
      monitor authorize remove 3
    """
    registry.refuse_if_managed(ctx.config, "remove")
    con = ctx.connect()
    registry.withdraw(con, auth_id)
    con.close()
    click.echo(f"removed authorization {auth_id}", err=True)


@authorize.command("load")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@pass_ctx
def authorize_load(ctx: Context, path):
    """Replace the registry with a CSV (columns: payee, account, expected_amount,
    tolerance, cadence, valid_from, valid_to, approver, reference).

    \b
    Example:
      monitor authorize load finance/approvals.csv
    """
    registry.refuse_if_managed(ctx.config, "load", path)
    entries = registry.read_csv(path)
    con = ctx.connect()
    count = registry.load(con, entries, str(path.resolve()))
    con.close()
    click.echo(f"loaded {count} authorizations from {path}", err=True)


@authorize.command("review")
@click.option("--send", is_flag=True, help="E-mail the owners now (else only list them).")
@pass_ctx
def authorize_review(ctx: Context, send):
    """The entries whose review date ([registry] review_before ahead, default 14 days) is
    near and whose owner was not yet asked; with --send, e-mail each owner Still expected /
    No longer expected links (the daemon does it on its digest job). An entry not confirmed
    stops explaining charges after its review date (valid_to).

    \b
    Example:
      monitor authorize review --send
    """
    con = ctx.connect()
    queued, result = pipeline.send_reviews(con, ctx.config, wait=ctx.config.notify.retry_for,
                                           dry_run=not send)
    con.close()
    output.emit(queued, "table", ["auth_id", "valid_to", "recipient"])
    click.echo(f"sent {len(queued)} review e-mail(s)" if send else
               f"would send {len(queued)} review e-mail(s); --send sends them", err=True)
    if result is not None and (result.pending or result.failed):
        raise NotifyError(f"review e-mail(s) not delivered: {result.error or result.gave_up}; "
                          "they stay in the outbox (`monitor alerts send` retries)")

