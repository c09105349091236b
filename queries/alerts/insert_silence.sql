-- name: insert_silence
-- finds: nothing; records a silence.
-- params:
--   $detector      VARCHAR
--   $account       VARCHAR
--   $counterparty  VARCHAR  each NULL: any
--   $starts_at   TIMESTAMP
--   $ends_at     TIMESTAMP
--   $reason      VARCHAR
--   $created_by  VARCHAR
-- returns: silence_id.

INSERT INTO silences (detector, account, counterparty, starts_at, ends_at, reason, created_by)
VALUES ($detector, $account, $counterparty, $starts_at, $ends_at, $reason, $created_by)
RETURNING silence_id;
