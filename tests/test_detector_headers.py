"""Every detector SQL file opens with the header convention: name, finds, params (each with
a type and a default), returns and sentence; each declared $param is used in the SQL and
each $param the SQL uses is declared; the sentence only names facts a finding has."""
from __future__ import annotations

import re

import pytest

from monitor.detection import scan as detect
from monitor.detection.catalog import catalog
from monitor.sql import store
from monitor.settings.config import Config

DETECTORS = catalog()
FIELDS = ("name", "finds", "params", "returns", "sentence")
TYPES = {"INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "VARCHAR", "DATE", "BOOLEAN"}


def split(name: str) -> tuple[list[str], str]:
    """The header comment lines and the SQL after them, its comments removed."""
    lines = store.load_query(f"detect/{name}").splitlines()
    n = next(i for i, line in enumerate(lines) if not line.startswith("--"))
    sql = "\n".join(re.sub(r"--.*", "", line) for line in lines[n:])
    return lines[:n], sql


def test_there_are_detectors():
    assert len(DETECTORS) >= 12


@pytest.mark.parametrize("name", DETECTORS)
def test_header_fields_in_order(name):
    header, _ = split(name)
    assert header[0] == f"-- name: {name}"
    fields = [m[1] for line in header if (m := re.match(r"^-- (\w+):", line))]
    assert [f for f in fields if f in FIELDS] == list(FIELDS), fields
    parsed = store.query_header(f"detect/{name}")
    assert parsed["name"] == name
    assert len(parsed["finds"]) > 40 and not parsed["finds"].startswith("--")
    assert parsed["sentence"] and "\n" not in parsed["sentence"]


@pytest.mark.parametrize("name", DETECTORS)
def test_every_param_line_parses_with_a_type_and_a_default(name):
    header, _ = split(name)
    start = header.index("-- params:")
    end = next(i for i, line in enumerate(header) if line.startswith("-- returns:"))
    declared = [line for line in header[start:end] if re.match(r"^--\s+\$\w+", line)]
    params = store.query_header(f"detect/{name}")["params"]
    assert len(params) == len(declared), "a $param line does not parse: " + repr(declared)
    for pname, spec in params.items():
        assert spec["type"].rstrip("[]") in TYPES, (pname, spec)
        value = spec["default"]
        assert value is None or isinstance(value, {"INTEGER": int, "BIGINT": int, "DOUBLE": float,
                                                    "DATE": str, "VARCHAR": str,
                                                    "BOOLEAN": bool}.get(spec["type"], object)) \
            or spec["type"] == "DECIMAL", (pname, spec)


@pytest.mark.parametrize("name", DETECTORS)
def test_declared_params_are_exactly_the_params_used(name):
    _, sql = split(name)
    used = set(re.findall(r"\$(\w+)", sql))
    declared = set(store.query_header(f"detect/{name}")["params"])
    assert declared - used == set(), "declared but never used"
    assert used - declared == set(), "used but not declared"


@pytest.mark.parametrize("name", DETECTORS)
def test_the_sentence_names_only_facts_a_finding_has(name):
    template = store.query_header(f"detect/{name}")["sentence"]
    placeholders = set(re.findall(r"\{(\w+)\}", template))
    assert placeholders <= {"charges", "counterparty", "account", "initiator", "since",
                            "exposure", "scope", "match", *detect.DETAIL_FIELDS}, placeholders
    assert "{exposure}" in template or name == "stale_feed"
    filled = detect.sentence(template, {"charges": 3, "counterparty": "Acme", "account": "c-1",
                                        "exposure": 1667, "currency": "GBP"})
    assert "{" not in filled and "}" not in filled


def test_defaults_load_into_the_detectors(tmp_path):
    """With an empty [detectors] table every detector runs with its header's defaults."""
    config = Config(path=tmp_path / "config.toml", database=tmp_path / "t.duckdb",
                    outbox=tmp_path / "outbox", sources=())
    loaded = {d.name: d for d in detect.detectors(config)}
    assert sorted(loaded) == DETECTORS
    for name, d in loaded.items():
        header = store.query_header(f"detect/{name}")
        assert d.finds == header["finds"] and d.sentence == header["sentence"]
        assert set(d.params) == set(header["params"])
        for pname, spec in header["params"].items():
            assert d.params[pname] == spec["default"], (name, pname)


def test_config_overrides_shared_then_own(tmp_path):
    config = Config(path=tmp_path / "config.toml", database=tmp_path / "t.duckdb",
                    outbox=tmp_path / "outbox", sources=(),
                    sections={"detectors": {"window_days": 30,
                                            "new_payee_repeat": {"window_days": 45},
                                            "stale_feed": {"enabled": False}}})
    loaded = {d.name: d for d in detect.detectors(config)}
    assert "stale_feed" not in loaded
    assert loaded["new_payee_repeat"].params["window_days"] == 45
    assert loaded["round_amount_run"].params["window_days"] == 30
