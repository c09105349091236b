"""`monitor serve` and `monitor users ...`: the web inbox and its users (docs/web.md).
A thin layer over monitor.web; listed in monitor.cli.main's VERBS."""
from __future__ import annotations

import sys

import click

from monitor import output
from monitor.audit import log as audit
from monitor.errors import InputError
from monitor.web import auth, server


@click.command("serve")
@click.option("--listen", help="host:port to bind (default: [web] listen, 127.0.0.1:8080).")
@click.pass_obj
def serve(ctx, listen):
    """Serve the web inbox: open alerts most suspicious first, each alert with its evidence
    and history, one-click answers, the registry and read-only queries. Needs the secret
    named by [web] secret_env in the environment. Stops on Ctrl-C or SIGTERM.

    \b
    Example:
      export MONITOR_WEB_SECRET=$(openssl rand -hex 32)
      monitor serve --listen 127.0.0.1:8080
    """
    config = ctx.config
    host = port = None
    if listen:
        host, _, port_text = listen.rpartition(":")
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InputError(f"--listen '{listen}' is not host:port; write it like "
                             "127.0.0.1:8080")
        host, port = host.strip("[]"), int(port_text)
    con = ctx.connect()               # brings the schema up to date before serving
    con.close()
    server.serve(config, host, port, on_start=lambda h, p: click.echo(
        f"serving the inbox on http://{h}:{p}/ (public address: "
        f"{config.web.base_url or 'not set, [web] base_url'}); Ctrl-C stops it", err=True))


@click.group("users")
def users():
    """The web inbox's users: finance (answers alerts), auditor (reads and queries),
    admin (all of it).

    \b
    Examples:
      monitor users add jsmith --role finance
      echo "$PASSWORD" | monitor users add auditor1 --role auditor
      monitor users list
    """


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(auth.ROLES), required=True, help="What they may do.")
@click.pass_obj
def users_add(ctx, name, role):
    """Add a user. The password is read from standard input when it is not a terminal
    (one line), else asked for twice.

    \b
    Example:
      monitor users add jsmith --role finance
    """
    password = _password()
    con = ctx.connect()
    try:
        auth.add_user(con, name, role, password, created_by=audit.actor())
        audit.record(con, "user add", {"name": name, "role": role})
    finally:
        con.close()
    click.echo(f"added {role} user {name}", err=True)


@users.command("password")
@click.argument("name")
@click.pass_obj
def users_password(ctx, name):
    """Set a user's password (read like `users add` reads it); their sessions end.

    \b
    Example:
      monitor users password jsmith
    """
    password = _password()
    con = ctx.connect()
    try:
        auth.set_password(con, name, password)
        audit.record(con, "user password", {"name": name})
    finally:
        con.close()
    click.echo(f"new password set for {name}; their sessions ended", err=True)


@users.command("remove")
@click.argument("name")
@click.pass_obj
def users_remove(ctx, name):
    """Remove a user; their sessions end at once.

    \b
    Example:
      monitor users remove jsmith
    """
    con = ctx.connect()
    try:
        auth.remove_user(con, name)
        audit.record(con, "user remove", {"name": name})
    finally:
        con.close()
    click.echo(f"removed user {name}", err=True)


def _password() -> str:
    """From standard input when it is not a terminal (one line), else asked twice."""
    if sys.stdin.isatty():
        return click.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    return sys.stdin.readline().rstrip("\r\n")


@users.command("list")
@output.format_option()
@click.pass_obj
def users_list(ctx, fmt):
    """List the users and their roles.

    \b
    Example:
      monitor users list --format json
    """
    con = ctx.connect()
    found = auth.users(con)
    con.close()
    output.emit(found, fmt, ["name", "role", "created_at", "created_by"])
