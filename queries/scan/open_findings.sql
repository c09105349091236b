-- name: open_findings
-- finds: the alert episodes still in force on $as_of (their firing state has not expired),
--   each told from the start of its evidence: since when, how many charges, how much.
-- reads: temp table `episodes`.
-- params:
--   $as_of  DATE  the scan date
-- returns: detector, severity, account, counterparty, initiator, currency, first_alert_at,
--   last_charge_at, since, charges, exposure, evidence_txn_ids, escalations, active_until,
--   detail.

SELECT e.detector, e.severity, e.account, e.counterparty, e.initiator, e.currency,
       e.first_alert_at, e.last_alert_at AS last_charge_at, e.first_since AS since,
       CAST(e.episode_charges AS INTEGER) AS charges,
       -- an alert with no charge behind it (a quiet feed, a statement) keeps its own figure
       CAST(CASE WHEN e.episode_charges > 0 THEN e.episode_exposure ELSE e.exposure END
            AS DECIMAL(38,2)) AS exposure,
       e.evidence AS evidence_txn_ids, e.escalations, e.active_until, e.detail
FROM episodes e
WHERE e.active_until >= $as_of
ORDER BY CASE e.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 ELSE 2 END,
         e.episode_exposure DESC, e.detector, e.account, e.counterparty;
