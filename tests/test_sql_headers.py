"""Every file in queries/ opens with the one header dialect (monitor.sql.header): its name,
what it finds, each $parameter it uses declared with a type, and nothing declared that it
does not use. Detectors' own rules (defaults, sentences) are in test_detector_headers.py."""
from __future__ import annotations

import re

import pytest

from monitor.sql import store

FILES = sorted(p.relative_to(store.QUERIES).with_suffix("").as_posix()
               for p in store.QUERIES.rglob("*.sql"))
TYPES = {"INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "VARCHAR", "DATE", "TIMESTAMP", "BOOLEAN",
         "BLOB", "STRUCT"}


def split(name: str) -> tuple[list[str], str]:
    """The header comment lines and the SQL after them, its comments removed."""
    lines = store.load_query(name).splitlines()
    n = next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
    return lines[:n], "\n".join(re.sub(r"--.*", "", line) for line in lines[n:])


def test_every_folder_is_covered():
    assert {name.split("/")[0] for name in FILES} >= {
        "alerts", "audit", "detect", "formats", "ingest", "notify", "report", "scan", "schema",
        "status"}


@pytest.mark.parametrize("name", FILES)
def test_header(name):
    header, sql = split(name)
    assert header and header[0] == f"-- name: {name.rsplit('/', 1)[-1]}", header[:1]
    old = [line for line in header if re.match(r"^-- (Finds|Parameters|Params|Returns|Reads)\b",
                                               line)]
    assert not old, f"keys are lower case: {old}"
    if name.startswith("schema/"):
        return                              # migrations: a name and free text
    parsed = store.query_header(name)
    assert parsed["finds"], "a `-- finds:` line says what the query finds or does"
    used = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
    declared = parsed["params"]
    assert set(declared) == used, f"declared {sorted(declared)}, used {sorted(used)}"
    for pname, spec in declared.items():
        assert re.sub(r"\(.*\)|\[\]", "", spec["type"]) in TYPES, (pname, spec)
