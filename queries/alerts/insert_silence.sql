-- name: insert_silence
-- Finds: nothing; records a silence.
-- Parameters:
--   $detector VARCHAR, $account VARCHAR, $counterparty VARCHAR (each NULL: any),
--   $starts_at TIMESTAMP, $ends_at TIMESTAMP, $reason VARCHAR, $created_by VARCHAR
-- Returns: silence_id.

INSERT INTO silences (detector, account, counterparty, starts_at, ends_at, reason, created_by)
VALUES ($detector, $account, $counterparty, $starts_at, $ends_at, $reason, $created_by)
RETURNING silence_id;
