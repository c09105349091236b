"""The detectors: the catalog of queries/detect/, the ones a config enables with their typed
parameters, and the empty shape of the `events` every engine fills. Both engines (the DuckDB
scan and detection/engines/spark.py) start from here.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

from monitor.errors import ConfigError
from monitor.settings.config import Config
from monitor.sql.header import coerce
from monitor.sql.store import QUERIES, load_query, query_header


# Detectors each of whose groups is one account-payee pair, judged from that pair's own
# charges (and the pair's first-day facts) alone: every window and grouping in their SQL
# is by account and payee, and they read no other table and no scan date. A pair without
# new rows is judged as before, so an incremental scan gives them only the charges of the
# pairs that new rows touched (engines/duckdb.py; scope.sql's `rescanned` says which of
# their findings were judged again). On a ledger where new rows touch nearly every card
# (2,000 cards paying 50,000 payees), they judged every card's last 400 days: 2.6 s of
# CPU of a 12 s scan. Listing a detector here that reads other pairs' rows would let an
# incremental scan differ from a full one (tests/test_incremental_scan.py).
PAIR_KEYED = ("below_approval_limit", "duplicate_charges", "frequency_burst",
              "high_risk_payee", "new_payee_ramp", "payee_rate_change", "round_amount_run",
              "test_charge_prelude")

# Detectors each of whose groups is an account-payee pair judged from the ACCOUNT's own
# charges alone, over all its history: payee_amount_shift's CUSUM run carries on until it
# falls back to zero, however long ago it began, and each charge's baselines are a year
# of the account's charges before it. Cut at the incremental scan's 400-day horizon, a
# run that began before it, or a charge whose baseline did, was judged otherwise than a
# full scan judges it (44 findings against 51 on the 10M-row benchmark). An incremental
# scan gives them every row of the accounts whose findings the new rows can change
# (scan/account_charges.sql), and `rescanned` (scope.sql) counts their findings as judged
# again for those accounts alone: an account of the new rows with a pair that can fire
# (more rows than the parameter named by min_charges, whose positive amounts sum to at
# least min_spend's: the kept facts count and sum every row of each pair) among its new
# pairs, or with a new row posted at least lag_days before the previous scan's date (a
# row moves the account's baselines from lag_days after its day on). Any other account
# judges its old charges as before, and its findings carry over.
ACCOUNT_KEYED = {"payee_amount_shift": {"min_charges": "min_history",
                                          "min_spend": "tier_warning",
                                          "lag_days": "lag_days"}}

# Detectors whose initiator level (findings with an initiator and neither account nor
# payee) an incremental scan leaves out for the initiators whose new days cannot fire and
# whose new rows all follow the last scan (scan/quiet_initiators.sql, which bounds
# unexplained_drift's firing rule: it is written for that detector alone): their findings
# carry over. Where new rows touch every card, the card level's windows over 400 days were
# a third of the scan.
QUIET_INITIATOR_LEVEL = ("unexplained_drift",)

# Pair-keyed detectors whose windows have no bound: high_risk_payee sums every charge of a
# pair since its first. Cut at the horizon, its exposure, count and `since` left out the
# earlier charges. An incremental scan gives it, for the pairs it judges that began
# before the horizon, their earlier rows too (engines/duckdb.py; most days none).
UNBOUNDED_PAIRS = ("high_risk_payee",)


@dataclass(frozen=True)
class Detector:
    name: str
    finds: str
    sentence: str
    params: dict           # name -> value, defaults overlaid with config

    @property
    def sql(self) -> str:
        return load_query(f"detect/{self.name}")


def catalog() -> list[str]:
    return sorted(p.stem for p in (QUERIES / "detect").glob("*.sql"))


def detectors(config: Config, calibrated: dict | None = None) -> list[Detector]:
    """The enabled detectors with their parameters: header defaults, then the values
    `monitor calibrate` chose (`calibrated`: detector -> {param: value}), then the
    [detectors] table's shared values, then [detectors.<name>]: a value written in the
    config always wins."""
    enabled = []
    for name in catalog():
        header = query_header(f"detect/{name}")
        written = configured(config, name)
        if not written.get("enabled", True):
            continue
        chosen = (calibrated or {}).get(name, {})
        params = {}
        for pname, spec in header["params"].items():
            value = written.get(pname, chosen.get(pname, spec["default"]))
            params[pname] = _typed(value, spec["type"], f"detectors.{name}.{pname}", config)
        enabled.append(Detector(name, header["finds"], header["sentence"], params))
    return enabled


def configured(config: Config, name: str) -> dict:
    """The values config.toml writes for one detector: [detectors]'s shared values (those
    of its parameters), overlaid with [detectors.<name>]."""
    section = config.sections.get("detectors", {})
    params = query_header(f"detect/{name}")["params"]
    shared = {k: v for k, v in section.items() if not isinstance(v, dict) and k in params}
    return shared | section.get(name, {})


def calibrated_values(con) -> dict:
    """detector -> {param: value as text} from the latest `monitor calibrate` run that
    calibrated (empty before the first, or on a ledger from before calibration)."""
    try:
        found = con.execute(
            "SELECT detector, param, value FROM calibrated_params WHERE param IS NOT NULL "
            "AND calibration_id = (SELECT max(calibration_id) FROM calibrations "
            "WHERE calibrated)").fetchall()
    except duckdb.CatalogException:         # a read-only copy made before migration 015
        return {}
    chosen: dict = {}
    for detector, param, value in found:
        chosen.setdefault(detector, {})[param] = value
    return chosen


def _typed(value, ptype: str, key: str, config: Config):
    try:
        return coerce(value, ptype)
    except (ValueError, TypeError, ArithmeticError):
        raise ConfigError(f"{config.path}: {key} = {value!r} is not a valid {ptype.lower()}; "
                          "write a plain number") from None


EMPTY_EVENTS = """SELECT NULL::VARCHAR AS account, NULL::VARCHAR AS counterparty,
    NULL::VARCHAR AS initiator, NULL::VARCHAR AS txn_id, NULL::DATE AS posted_at,
    NULL::INTEGER AS day, NULL::DECIMAL(18,2) AS amount, NULL::VARCHAR AS currency,
    NULL::DECIMAL(38,2) AS exposure, NULL::INTEGER AS charges, NULL::DATE AS since,
    NULL::VARCHAR AS severity, NULL::DATE AS active_until, NULL::VARCHAR AS detail"""
# `detail` is optional: a detector that names further facts in its sentence (a look-alike's
# original, say) returns them as a JSON object; the others leave it out and get NULL.
