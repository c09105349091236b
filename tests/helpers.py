"""Shared test helpers: config files, CSV/XLSX writers, and running the real CLI.

Every test works on real DuckDB files in a temp directory; nothing is mocked.
"""
from __future__ import annotations

import atexit
import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

import duckdb

from cli_launcher import Launcher, needs_fresh_interpreter
from monitor.cli import main as cli_mod
from monitor.settings import config as config_mod
from monitor.ledger import ingest as ingest_mod
from monitor.sql import store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LEDGERS = SHARED / "data" / "ledgers"

HEADER = ["date", "amount", "payee", "card"]
COLUMNS = {"posted_at": "date", "amount": "amount", "counterparty": "payee", "account": "card"}


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)          # a JSON string is a valid TOML basic string


def config_text(sources: list[dict], database: str = "ledger.duckdb") -> str:
    """A config.toml: each source dict holds its keys, plus `columns` for the mapping."""
    lines = ["[database]", f"path = {toml_value(database)}", ""]
    for source in sources:
        lines.append("[[sources]]")
        for key, value in source.items():
            if key != "columns":
                lines.append(f"{key} = {toml_value(value)}")
        if "columns" in source:
            lines.append("[sources.columns]")
            lines += [f"{k} = {toml_value(v)}" for k, v in source["columns"].items()]
        lines.append("")
    return "\n".join(lines)


def source(name: str = "cards", **keys) -> dict:
    """A CSV source reading in/*.csv with the default column mapping, overridable."""
    base = {"name": name, "format": "csv", "path": "in/*", "currency": "GBP",
            "charges": "positive", "columns": dict(COLUMNS)}
    base.update(keys)
    return base


def write_config(folder: Path, sources: list[dict] | None = None, **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(config_text(sources if sources is not None else [source()], **kw),
                    encoding="utf-8")
    return path


def csv_bytes(rows: list[list], header=HEADER, delimiter: str = ",",
              encoding: str = "utf-8", bom: bool = False, newline: str = "\n") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def write_csv(path: Path, rows: list[list], **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(rows, **kw))
    return path


def ingest(config_path: Path, paths=None, source_name: str | None = None,
           complete: bool = False):
    """Ingest through the library, on the real database file the config names."""
    cfg = config_mod.load(config_path, warn=lambda line: None)
    con = store.connect(cfg.database)
    try:
        planned = ingest_mod.plan(cfg, [str(p) for p in paths] if paths else None, source_name)
        return ingest_mod.ingest_all(con, planned, complete=complete)
    finally:
        con.close()


def one(config_path: Path, path: Path, source_name: str | None = None):
    (result,) = ingest(config_path, [path], source_name)
    assert_identity(result)
    return result


def assert_identity(result) -> None:
    """Nothing is dropped silently: every row read is loaded, a duplicate or rejected."""
    assert result.rows_read == result.loaded + result.duplicates + result.rejected, result


@contextmanager
def opened(config_path: Path):
    """(config, ledger connection) of a config file, as a writer; closed afterwards."""
    cfg = config_mod.load(config_path, warn=lambda line: None)
    con = store.connect(cfg.database)
    try:
        yield cfg, con
    finally:
        con.close()


def query(config_path: Path, sql: str, params=None) -> list[tuple]:
    cfg = config_mod.load(config_path, warn=lambda line: None)
    con = duckdb.connect(str(cfg.database), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


_LAUNCHER: list[Launcher] = []


def monitor(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `monitor` command in a child process, output captured as text.

    The child is forked from a process that has imported the monitor already
    (tests/cli_launcher.py): the same `python -m monitor` in its own process, without
    the 0.3 s of start-up each call. MONITOR_TEST_EXEC=1 starts a new interpreter every
    time instead, as does a call that sets a variable Python reads at start-up."""
    full_env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    full_env.update({"COLUMNS": "200", **(env or {})})
    if os.environ.get("MONITOR_TEST_EXEC") == "1" or needs_fresh_interpreter(full_env, os.environ):
        return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, env=full_env,
                              input=stdin, capture_output=True, text=True, timeout=timeout)
    if not _LAUNCHER:
        _LAUNCHER.append(Launcher())
        atexit.register(_LAUNCHER[0].close)
    return _LAUNCHER[0].run(list(args), cwd, full_env, timeout, stdin)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    """The command failed with `code` and said why in one plain line on stderr."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    return errors[0]


def write_xlsx(path: Path, rows: list[list], sheet: str = "Sheet1") -> Path:
    """A minimal real .xlsx: strings as inline strings, ints/floats as numbers,
    None as an empty cell. Enough for calamine, with no writer dependency."""
    def cell(ref: str, value) -> str:
        if value is None:
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f'<c r="{ref}"><v>{value}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'

    def column(index: int) -> str:
        name = ""
        index += 1
        while index:
            index, rest = divmod(index - 1, 26)
            name = chr(65 + rest) + name
        return name

    body = "".join(
        f'<row r="{r + 1}">' + "".join(cell(f"{column(c)}{r + 1}", v) for c, v in enumerate(row))
        + "</row>" for r, row in enumerate(rows))
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    files = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
            f'"{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml":
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel}"><sheets>'
            f'<sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
            f'"{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml":
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData>{body}'
            '</sheetData></worksheet>',
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    """The real entry point (monitor.cli.main.main) in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    try:
        cli_mod.main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err
