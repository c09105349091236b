-- name: expire_silence
-- finds: nothing; ends a silence now.
-- params:
--   $silence_id  BIGINT
--   $now         TIMESTAMP
--   $by          VARCHAR
-- returns: silence_id when it was in force (no row otherwise).

UPDATE silences SET ends_at = $now, expired_by = $by
WHERE silence_id = $silence_id AND ends_at > $now
RETURNING silence_id;
