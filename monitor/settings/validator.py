"""The config validator every [section] is read with: where a key is set (file:line), errors
that say what to fix, warnings for unknown keys, and the typed readers for values that several
sections share (tables, booleans, seconds, durations, names, addresses, files, environment
variable names). monitor.settings.config and the section modules build on it.
"""
from __future__ import annotations

import difflib
import re
import tomllib
from datetime import timedelta
from pathlib import Path

from monitor.errors import ConfigError

SIZE = re.compile(r"\d+(\.\d+)?\s*[KMGT]i?B")
DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
MAX_DURATION = timedelta(days=3660)      # ten years: any interval, grace or cadence fits
ADDRESS = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.?[^@\s<>,;\"']*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")



class Validator:
    """Reads values out of a parsed TOML file; every error names the file, line, key and fix,
    and every unknown key is warned about (with the closest known one)."""

    def __init__(self, path: Path, text: str, warn):
        self.path, self.warn = path, warn
        self.lines = key_lines(text.splitlines())
        self.aliases = {}          # "sources.<name>." -> "sources[<index>]."
        self.base = path.resolve().parent

    def where(self, key: str) -> str:
        """'file:line' of the line that sets `key` (or its table), for messages."""
        for shown, indexed in self.aliases.items():
            if key.startswith(shown):
                key = indexed + key[len(shown):]
        while key:
            if key in self.lines:
                return f"{self.path}:{self.lines[key]}"
            key = key.rpartition(".")[0]
        return str(self.path)

    def error(self, key: str, problem: str, fix: str, at: str | None = None) -> ConfigError:
        return ConfigError(f"{self.where(at or key)}: {key} {problem}; {fix}")

    def unknown(self, table: dict, allowed, prefix: str) -> None:
        for key in table:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(key, list(allowed), n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            name = f"{prefix}{key}"
            self.warn(f"{self.where(name)}: unknown key '{name}' is ignored{tip}")

    def string(self, table: dict, key: str, name: str, default=None, choices=None):
        value = table.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, f"= {value!r} is not a non-empty string", "quote the value")
        if choices and value not in choices:
            raise self.error(name, f"= '{value}' is not valid",
                             "use one of: " + ", ".join(choices))
        return value


def key_lines(lines: list[str]) -> dict[str, int]:
    """The line of each table and key, by path with array indexes
    (sources[1].columns.amount), so a message points into the right [[sources]].
    Dotted keys (columns.amount = ...) and the keys of inline tables count as written
    on their own line."""
    found, table, arrays = {}, "", {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        header = re.match(r"^(\[\[?)\s*((?:[^\]\"']|\"[^\"]*\"|'[^']*')+?)\s*\]", text)
        if header:
            parts = key_parts(header[2])
            name = ".".join(parts)
            if header[1] == "[[":
                arrays[name] = arrays.get(name, -1) + 1
                table = f"{name}[{arrays[name]}]"
            else:   # [sources.columns] belongs to the latest [[sources]]
                head = parts[0]
                table = ".".join([f"{head}[{arrays[head]}]" if head in arrays else head] + parts[1:])
            found.setdefault(table, number)
            continue
        key = re.match(r"^((?:[\w-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[\w-]+|\"[^\"]*\"|'[^']*'))*)"
                       r"\s*=(.*)$", text)
        if not key:
            continue
        path = (table + "." if table else "") + ".".join(key_parts(key[1]))
        for depth in range(path.count(".") + 1):          # a.b.c also defines a.b
            found.setdefault(path.rsplit(".", depth)[0], number)
        if key[2].strip().startswith("{"):
            try:
                inline = tomllib.loads("v = " + key[2])["v"]
            except tomllib.TOMLDecodeError:
                continue                                  # a multi-line value: its key is enough
            for inner in _paths(inline):
                found.setdefault(f"{path}.{inner}", number)
    return found


def key_parts(key: str) -> list[str]:
    """`a."b.c".d` -> ["a", "b.c", "d"]."""
    return [p[1:-1] if p[:1] in "\"'" else p.strip()
            for p in re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s\"']+", key)]


def _paths(table: dict):
    for key, value in table.items():
        yield key
        if isinstance(value, dict):
            yield from (f"{key}.{inner}" for inner in _paths(value))


def subtable(v: Validator, data: dict, key: str, prefix: str = "") -> dict:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise v.error(prefix + key, "must be a table", f"write it as [{prefix}{key}]")
    return table


def boolean(v: Validator, table: dict, key: str, prefix: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise v.error(prefix + key, f"= {value!r} is not true or false",
                      "write true or false, without quotes")
    return value


def seconds(v: Validator, table: dict, key: str, prefix: str, default: float) -> float:
    value = table.get(key, default)
    # not (0 < value <= MAX): nan compares false both ways and must not slip through
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value <= MAX_DURATION.total_seconds():
        raise v.error(prefix + key, f"= {value!r} is not a number of seconds",
                      "write a positive number such as 30")
    return float(value)


def duration(v: Validator, table: dict, key: str, prefix: str, default: timedelta) -> timedelta:
    """A duration written "90s", "30m", "4h", "1d" (or 0 to turn it off)."""
    value = table.get(key)
    if value is None:
        return default
    match = DURATION.match(str(value)) if isinstance(value, (str, int)) \
        and not isinstance(value, bool) else None
    if not match:
        raise v.error(prefix + key, f"= {value!r} is not a duration",
                      "write it like \"90s\", \"30m\", \"4h\" or \"1d\" (\"0\" turns it off)")
    unit = {"s": "seconds", "": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    try:
        found = timedelta(**{unit: int(match[1])})
    except OverflowError:
        found = MAX_DURATION * 2
    if found > MAX_DURATION:      # later date arithmetic would overflow, or never come
        raise v.error(prefix + key, f"= {value!r} is too long",
                      f"write at most {MAX_DURATION.days} days, like \"30d\"")
    return found


def strings(v: Validator, table: dict, key: str, prefix: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise v.error(prefix + key, f"= {value!r} is not a list of names",
                      f"write {key} = [\"first\", \"second\"]")
    return tuple(value)


def addresses(v: Validator, table: dict, key: str, prefix: str, default) -> tuple[str, ...]:
    if key not in table:
        return tuple(default)
    found = strings(v, table, key, prefix)
    for address in found:
        if not ADDRESS.match(address):
            raise v.error(prefix + key, f"holds '{address}', which is not an e-mail address",
                          "write plain addresses like \"finance@example.org\"")
    return found


def file_path(v: Validator, table: dict, key: str, prefix: str) -> Path | None:
    name = v.string(table, key, prefix + key)
    if name is None:
        return None
    path = v.base / name
    if not path.is_file():
        raise v.error(prefix + key, f"= '{name}' is not a file",
                      "give the path of a PEM file, relative to the config file")
    return path


def env_name(v: Validator, table: dict, key: str, prefix: str) -> str | None:
    name = v.string(table, key, prefix + key)
    if name is not None and not ENV_NAME.match(name):
        raise v.error(prefix + key, f"= '{name}' is not an environment variable name",
                      "name the variable that holds the secret, e.g. \"MONITOR_SMTP_PASSWORD\"")
    return name
