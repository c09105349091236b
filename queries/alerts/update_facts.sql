-- name: update_facts
-- finds: nothing; refreshes an open alert with what the latest scan found. The severity
--   only rises: it is the highest tier the episode reached.
-- params:
--   $alert_id  BIGINT
--   $sources   VARCHAR[]
--   $currency  VARCHAR
--   $severity  VARCHAR
--   $exposure        DECIMAL
--   $charges         INTEGER
--   $since           DATE
--   $first_alert_at  DATE
--   $last_charge_at    DATE
--   $evidence_txn_ids  VARCHAR[]
--   $evidence_money    STRUCT(txn_id, currency, amount)[]  the charges' amounts
--   $sentence          VARCHAR
--   $other_reasons     VARCHAR[]  other detectors' reasons about the same charges (fold.py)
--   $now      TIMESTAMP  last seen
--   $scan_id  BIGINT     NULL allowed
-- returns: nothing.

UPDATE alerts SET sources = $sources, currency = $currency, severity = $severity,
    exposure = $exposure, charges = $charges, since = $since,
    first_alert_at = $first_alert_at, last_charge_at = $last_charge_at,
    evidence_txn_ids = $evidence_txn_ids, evidence_money = $evidence_money, sentence = $sentence,
    last_seen_at = $now, last_scan_id = $scan_id, other_reasons = $other_reasons
WHERE alert_id = $alert_id;
