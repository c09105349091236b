-- name: open_alerts
-- finds: Alerts not yet resolved whose episode touches the report's period (its charges
--   run from `since` to `last_charge_at`), the most severe and costly first. All of
--   them: the report counts and sums every one and lists the first few hundred.
-- params:
--   $date_from  DATE     default NULL  first day of the period (NULL: from the start)
--   $date_to    DATE     default NULL  last day of the period (NULL: to the end)
-- returns: alert_id, state, severity, detector, account, counterparty, initiator, currency,
--   exposure, charges, since, first_alert_at, last_charge_at, evidence_txn_ids, sentence,
--   acked_by, ack_note.

SELECT alert_id, state, severity, detector, account, counterparty, initiator, currency,
       exposure, charges, since, first_alert_at, last_charge_at, evidence_txn_ids, sentence,
       acked_by, ack_note
FROM alerts
WHERE state <> 'resolved'
  AND ($date_from IS NULL
       OR coalesce(last_charge_at, first_alert_at, since) >= CAST($date_from AS DATE))
  AND ($date_to IS NULL OR coalesce(since, first_alert_at) <= CAST($date_to AS DATE)
       OR coalesce(since, first_alert_at) IS NULL)
ORDER BY CASE severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'warning' THEN 1
         ELSE 0 END DESC, exposure DESC, alert_id;
