"""One alert per theft: findings of several detectors about the same charges become one.

Why: a theft to a new payee is often seen by three detectors at once (several similar
charges to a new payee, round amounts, a new payee many accounts use). Three alerts with
overlapping evidence cost the finance team three reads and made "money at risk" look
bigger. So findings whose evidence shares a charge (directly or through another finding)
are one group, and the group is one finding:

- its carrier is the finding raised first (then the higher severity, a finding about one
  payee before a total across payees, more money): the alert a person already knows keeps
  its identity as other detectors join in, instead of being resolved and raised again;
- it takes the highest severity and the most money of the group, and the union of the
  evidence (money at risk counts each charge once elsewhere);
- the others' sentences are kept, strongest first, in `other_reasons`
  ("detector: sentence"), shown under the alert's own.

Findings without evidence (a stale feed) are never folded.
"""
from __future__ import annotations

from monitor.settings.config import SEVERITY_RANK

# Totals across payees, or a feed: a finding about one payee's charges says more. The one
# list: the e-mail and the inbox order alerts by it too (alerting.lifecycle.suspicion).
AGGREGATE = ("unexplained_drift", "stale_feed", "statement_check_failed")


def _carrier_order(row: dict) -> tuple:
    return (row.get("first_alert_at"), -SEVERITY_RANK.get(row["severity"], 0),
            row["detector"] in AGGREGATE, -(row.get("exposure") or 0), row["detector"],
            row.get("account") or "", row.get("counterparty") or "")


def _strength(row: dict) -> tuple:
    return (-SEVERITY_RANK.get(row["severity"], 0), row["detector"] in AGGREGATE,
            -(row.get("exposure") or 0), row["detector"])


def fold(rows: list[dict]) -> list[dict]:
    """The findings with each group sharing evidence charges folded into its carrier (see
    the module's docstring); the order of the carriers is kept."""
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    holder: dict = {}
    for i, row in enumerate(rows):
        for txn_id in row.get("evidence_txn_ids") or []:
            j = holder.setdefault(txn_id, i)
            if root(j) != root(i):
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(root(i), []).append(i)
    carriers = {}
    for members in groups.values():
        found = [rows[i] for i in members]
        carrier = min(found, key=_carrier_order)
        others = sorted((r for r in found if r is not carrier), key=_strength)
        carriers[id(carrier)] = _folded(carrier, others)
    return [carriers[id(row)] for row in rows if id(row) in carriers]


def _folded(carrier: dict, others: list[dict]) -> dict:
    row = dict(carrier)
    row["other_reasons"] = [f"{o['detector']}: {o['sentence']}" for o in others
                            if o.get("sentence")]
    if not others:
        return row
    group = [carrier, *others]
    row["severity"] = max((r["severity"] for r in group),
                          key=lambda s: SEVERITY_RANK.get(s, 0))
    row["exposure"] = max(r.get("exposure") or 0 for r in group)
    evidence = list(carrier.get("evidence_txn_ids") or [])
    seen = set(evidence)
    for other in others:
        for txn_id in other.get("evidence_txn_ids") or []:
            if txn_id not in seen:
                seen.add(txn_id)
                evidence.append(txn_id)
    row["evidence_txn_ids"] = evidence
    row["charges"] = max(row.get("charges") or 0, *(o.get("charges") or 0 for o in others))
    return row


def over_time(alerts: list[dict]) -> list[dict]:
    """A backtest's alerts, one per theft: an alert whose evidence shares a charge with an
    alert raised before it (or the same day) is folded into that one, as a daily run's
    scans would have folded it into the alert already open."""
    return sorted(fold(alerts), key=lambda a: (a["first_alert_at"], a["detector"],
                                               a["account"] or "", a["counterparty"] or ""))
