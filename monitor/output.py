"""Printing rows: one place for the table, csv and json shapes every verb shares.

Tables are drawn with rich on a terminal and as plain aligned text when piped,
so nothing decorative reaches a pipe. CSV cells that a spreadsheet would run
as formulas are defused.
"""
from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from decimal import Decimal

import click

FORMATS = ("table", "csv", "json")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_option(default="table", choices=FORMATS):
    return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                        show_default=True, help="Output shape.")


def safe_cell(value) -> str:
    """Text for a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, (int, float, Decimal)):
        return text
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


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
            writer.writerow([safe_cell(row.get(c)) for c in columns])
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
        for column in columns:
            numeric = any(isinstance(row.get(column), (int, float, Decimal)) for row in rows)
            grid.add_column(column, justify="right" if numeric else "left")
        for line in cells:
            grid.add_row(*(Text(v) for v in line))   # Text: payee names are not markup
        Console(file=stream, highlight=False).print(grid)
        return
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    stream.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for line in cells:
        stream.write("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() + "\n")


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
