-- name: insert_alert
-- finds: nothing; opens a new alert for a fingerprint with no open alert, in state firing.
-- params:
--   $fingerprint   VARCHAR
--   $detector      VARCHAR
--   $account       VARCHAR
--   $counterparty  VARCHAR
--   $initiator  VARCHAR
--   $sources    VARCHAR[]
--   $currency   VARCHAR
--   $severity   VARCHAR
--   $exposure        DECIMAL
--   $charges         INTEGER
--   $since           DATE
--   $first_alert_at  DATE
--   $last_charge_at    DATE
--   $evidence_txn_ids  VARCHAR[]
--   $evidence_money    STRUCT(txn_id, currency, amount)[]  the charges' amounts
--   $sentence          VARCHAR
--   $other_reasons     VARCHAR[]  other detectors' reasons about the same charges (fold.py)
--   $now      TIMESTAMP  opened and last seen
--   $scan_id  BIGINT     NULL allowed
-- returns: alert_id.

INSERT INTO alerts (fingerprint, detector, account, counterparty, initiator, sources, currency,
    state, severity, exposure, charges, since, first_alert_at, last_charge_at,
    evidence_txn_ids, evidence_money, sentence, opened_at, last_seen_at, last_scan_id,
    other_reasons)
VALUES ($fingerprint, $detector, $account, $counterparty, $initiator, $sources, $currency,
    'firing', $severity, $exposure, $charges, $since, $first_alert_at, $last_charge_at,
    $evidence_txn_ids, $evidence_money, $sentence, $now, $now, $scan_id, $other_reasons)
RETURNING alert_id;
