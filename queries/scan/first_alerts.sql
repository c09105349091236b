-- name: first_alerts
-- finds: every alert a daily run between $start and $end would have raised, once, at its
--   first firing, with the evidence and exposure of that day; escalations are listed
--   inside it. History before $start only warms up the baselines.
-- reads: temp table `episodes`.
-- params:
--   $start  DATE  first day of the replay
--   $end    DATE  last day of the replay
-- returns: detector, severity, account, counterparty, initiator, currency, first_alert_at,
--   since, charges, exposure, evidence_txn_ids, escalations, detail.

SELECT e.detector, e.first_severity AS severity, e.account, e.counterparty, e.initiator,
       e.currency, e.first_alert_at, e.first_since AS since, e.first_charges AS charges,
       e.first_exposure AS exposure, e.first_evidence AS evidence_txn_ids,
       e.escalations, e.first_detail AS detail
FROM episodes e
WHERE e.first_alert_at BETWEEN $start AND $end
ORDER BY e.first_alert_at, e.detector, e.account, e.counterparty;
