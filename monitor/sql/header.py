"""The header every queries/**/*.sql file opens with, parsed in this one place.

    -- name: open_alerts                         the file's stem
    -- finds: what the rows are (or `nothing; ` and what the statement does), continued on
    --   indented lines
    -- params:                                   or `-- params: none.`
    --   $as_of      DATE     default NULL  what it means
    --   $alert_id   BIGINT                 no default: the caller binds it
    -- reads: temp tables it expects            (optional)
    -- returns (temp table `x`): the columns     (the parenthesis is optional)
    -- sentence: a detector's alert sentence, with {fields} of a finding (detectors only)
    -- calibrate: $min_charge quantile 0.5 0.75 0.9 0.95 0.98 0.995
                                                 the one setting `monitor calibrate` may choose
                                                 (detectors only): `quantile` levels of the
                                                 organisation's charge amounts (money, so the
                                                 choice scales with the ledger), or `ladder`
                                                 values as written; most sensitive first
    -- calibrate: $min_charge quantile 0.5 0.9 0.99 and $min_charges ladder 2 4 8
                                                 a grid of an amount and a count of charges:
                                                 every pair of levels is a candidate, the
                                                 fewest charges first, then the smallest
                                                 amount, pairs whose count x amount passes
                                                 the detector's tier_high last (see
                                                 detection/calibrate.py `rungs`)

Migrations (queries/schema/) have a name and free text. A key is lower case and ends in `:`;
any other comment line continues the key before it. A parameter's default is parsed into the
Python value of its type (`NULL` is None), as is a value given for it (`parse_param`).
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import TypedDict

KEYS = ("name", "finds", "params", "reads", "returns", "sentence", "calibrate")
TYPE = r"[A-Z]+(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?"
KEY_LINE = re.compile(r"^--\s?(" + "|".join(KEYS) + r")(?: \([^)]*\))?:\s*(.*)$")
PARAM_LINE = re.compile(r"^--\s+\$(\w+)\s+(" + TYPE + r")(?:\s+default\s+(\S+))?\s*(.*)$")


class Param(TypedDict):
    type: str           # the DuckDB type as written: INTEGER, DECIMAL, VARCHAR[], ...
    default: object     # its Python value; None for `default NULL` and for a required one
    required: bool      # no `default`: whoever runs the query binds it
    help: str


class Calibration(TypedDict):
    param: str          # the parameter calibration chooses
    kind: str           # quantile (of the organisation's charge amounts) | ladder (values)
    levels: list        # most sensitive first: quantiles as floats, ladder values typed
    grid: dict | None   # `and $count ladder ...`: a second setting every level is tried with


class Header(TypedDict):
    name: str
    finds: str
    params: dict[str, Param]
    reads: str
    returns: str
    sentence: str
    calibrate: Calibration | None


def parse(name: str, text: str) -> Header:
    """The header of the query `name` (e.g. 'detect/new_payee_small_charges') from its text."""
    header: Header = {"name": name.rsplit("/", 1)[-1], "finds": "", "params": {}, "reads": "",
                      "returns": "", "sentence": "", "calibrate": None}
    key = last_param = None
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        match = KEY_LINE.match(line)
        if match:
            key, rest = match.groups()
            last_param = None
            if key == "calibrate":
                header[key] = _calibration(name, rest, header["params"])
            elif key not in ("name", "params"):
                header[key] = rest.strip()
            continue
        match = PARAM_LINE.match(line) if key == "params" else None
        if match:
            pname, ptype, default, help_text = match.groups()
            header["params"][pname] = {
                "type": ptype, "default": None if default is None else parse_param(ptype, default),
                "required": default is None, "help": help_text.strip()}
            last_param = pname
            continue
        text_part = line[2:].strip()
        if not text_part:
            continue
        if key == "params" and last_param:
            spec = header["params"][last_param]
            spec["help"] = f"{spec['help']} {text_part}".strip()
        elif key in ("finds", "reads", "returns", "sentence"):
            header[key] = f"{header[key]} {text_part}".strip()
    return header


CALIBRATE_LINE = re.compile(r"^\$(\w+)\s+(quantile|ladder)((?:\s+[\d.]+)+)"
                            r"(?:\s+and\s+\$(\w+)\s+ladder((?:\s+\d+)+))?\s*$")


def _calibration(name: str, text: str, params: dict) -> Calibration:
    """`$param quantile q1 q2 ...` or `$param ladder v1 v2 ...` (after `params:`), with
    an optional `and $count ladder n1 n2 ...` of a second, integer parameter."""
    match = CALIBRATE_LINE.match(text.strip())
    if not match or match.group(1) not in params or (
            match.group(4) and (match.group(4) not in params
                                or match.group(4) == match.group(1)
                                or params[match.group(4)]["type"] != "INTEGER")):
        raise ValueError(f"queries/{name}.sql: calibrate: {text.strip()!r} is not "
                         "'$param quantile|ladder value ...' for one of its params (and "
                         "optionally 'and $other ladder n ...' for another, INTEGER one)")
    pname, kind, values, other, counts = match.groups()
    if kind == "quantile":
        levels = [float(v) for v in values.split()]
        if params[pname]["type"] != "DECIMAL" or not all(0 < q < 1 for q in levels):
            raise ValueError(f"queries/{name}.sql: calibrate: quantiles are of money: "
                             f"${pname} must be DECIMAL and each level between 0 and 1")
    else:
        levels = [parse_param(params[pname]["type"], v) for v in values.split()]
    if other and kind != "quantile":
        raise ValueError(f"queries/{name}.sql: calibrate: a grid ('and ${other} ladder') "
                         "is an amount and a count of charges: the first setting must be "
                         "a quantile")
    grid = ({"param": other, "levels": [int(v) for v in counts.split()]} if other else None)
    return {"param": pname, "kind": kind, "levels": levels, "grid": grid}


def coerce(value, ptype: str):
    """A value from the config (TOML: a number, a string, a list) or a header default, as
    the Python value bound for a parameter of SQL type `ptype`: money as Decimal, never
    float. Raises ValueError or ArithmeticError for a value of the wrong kind. The one
    place a parameter is typed: detectors, saved audit queries and reports all bind
    through here or parse_param."""
    if value is None:
        return None
    if ptype.endswith("[]"):
        items = value if isinstance(value, (list, tuple)) else [value]
        return [coerce(item, ptype[:-2]) for item in items]
    if isinstance(value, str) and ptype != "VARCHAR":
        return parse_param(ptype, value)
    if ptype == "DECIMAL":
        return Decimal(str(value))
    if ptype in ("INTEGER", "BIGINT"):
        if isinstance(value, bool) or int(value) != value:
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    if ptype == "DOUBLE":
        return float(value)
    return value


def parse_param(ptype: str, text: str):
    """A parameter value of a declared SQL type, from its text form."""
    if ptype.endswith("[]"):
        return [parse_param(ptype[:-2], item) for item in text.strip("[]").split(",") if item]
    if text.upper() == "NULL":
        return None
    if ptype in ("INTEGER", "BIGINT"):
        return int(text)
    if ptype == "DOUBLE":
        return float(text)
    if ptype == "DECIMAL":
        return Decimal(text)
    if ptype == "BOOLEAN":
        return text.lower() == "true"
    return text.strip("'\"")
