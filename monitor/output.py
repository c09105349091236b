"""Printing rows: one place for the table, csv and json shapes every verb shares.

Tables are drawn with rich on a terminal and as plain aligned text when piped,
so nothing decorative reaches a pipe; the money column is never cut (other columns
wrap). CSV cells that a spreadsheet would run as formulas are defused, and control
characters in them are escaped (see `escape_text`).
"""
from __future__ import annotations

import csv
import json
import re
import sys
from datetime import date, datetime
from decimal import Decimal

import click

FORMATS = ("table", "csv", "json")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# C0 controls, DEL and C1 controls: what a terminal acts on (ESC starts its escape
# sequences, U+009B is the one-character CSI) and NUL, which cuts C strings.
CONTROL = "\x00-\x1f\x7f-\x9f"
_ESCAPE = re.compile(f"[{CONTROL}]|\\\\(?=\\\\|x[0-9a-f]{{2}}|[{CONTROL}])")
_UNESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")


def format_option(default="table", choices=FORMATS):
    return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                        show_default=True, help="Output shape.")


def escape_text(text: str) -> str:
    """Control characters as `\\xHH` (ESC is `\\x1b`, NUL `\\x00`, a newline `\\x0a`), so
    no cell can move a terminal's cursor, recolour it or cut a C string. A backslash is
    doubled only where it would otherwise be read as part of such an escape (before
    another backslash, before `x` and two hex digits, before a control character); every
    other text is unchanged. `unescape_text` gives back the original exactly."""
    return _ESCAPE.sub(lambda m: "\\\\" if m[0] == "\\" else f"\\x{ord(m[0]):02x}", text)


def unescape_text(text: str) -> str:
    """The inverse of `escape_text`."""
    return _UNESCAPE.sub(lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), text)


def safe_cell(value) -> str:
    """Text for a CSV cell that a spreadsheet shows as text, never runs as a formula
    (e-mailed attachments: opened in a spreadsheet, kept exact)."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, (int, float, Decimal)):
        return text
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_cell(value) -> str:
    """A cell of CSV the monitor prints or writes (query, evidence, --format csv): also
    safe on a terminal, control characters escaped (`escape_text`), then safe_cell."""
    if value is None or isinstance(value, (int, float, Decimal)):
        return safe_cell(value)
    return safe_cell(escape_text(str(value)))


def jsonable(value):
    if isinstance(value, Decimal):
        return str(value)          # money stays exact in JSON
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def dumps(document) -> str:
    return json.dumps(document, default=jsonable, ensure_ascii=False, indent=2)


def emit(rows: list[dict], fmt: str, columns: list[str] | None = None, title: str = "",
         stream=None) -> None:
    stream = stream or sys.stdout
    columns = columns or (list(rows[0]) if rows else [])
    if fmt == "json":
        stream.write(dumps([{c: r.get(c) for c in columns} for r in rows]) + "\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(row.get(c)) for c in columns])
    else:
        table(rows, columns, title, stream)


def table(rows: list[dict], columns: list[str], title: str = "", stream=None) -> None:
    stream = stream or sys.stdout
    cells = [[_show(row.get(c)) for c in columns] for row in rows]
    if stream.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
        grid = Table(title=title or None, title_justify="left")
        for i, column in enumerate(columns):
            numeric = any(isinstance(row.get(column), (int, float, Decimal)) for row in rows)
            if numeric:     # money is never cut ("1,625…"): the text columns wrap instead
                widest = max([len(line[i]) for line in cells] or [1])
                grid.add_column(column, justify="right", no_wrap=True, min_width=widest,
                                overflow="fold")
            else:
                grid.add_column(column, justify="left", overflow="fold")
        for line in cells:
            grid.add_row(*(Text(v) for v in line))   # Text: payee names are not markup
        Console(file=stream, highlight=False).print(grid)
        return
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    stream.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for line in cells:
        stream.write("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() + "\n")


def money(value, currency: str = "") -> str:
    """'1,234.56 GBP': how every message, page and table writes an amount (two places,
    thousands separated, the currency code after it when known)."""
    return f"{Decimal(value or 0):,.2f} {currency or ''}".strip()


def _show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    text = str(value)
    # A payee name must not move the terminal's cursor or hide other rows.
    return "".join(ch if ch.isprintable() else " " for ch in text)
