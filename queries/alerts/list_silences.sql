-- name: list_silences
-- finds: silences, those in force first.
-- params:
--   $now  TIMESTAMP  the time that decides which are in force
--   $all  BOOLEAN    default false  include expired ones
-- returns: silence_id, active, detector, account, counterparty, starts_at, ends_at, reason,
--   created_by, expired_by.

SELECT silence_id, (starts_at <= $now AND ends_at > $now) AS active, detector, account,
       counterparty, starts_at, ends_at, reason, created_by, expired_by
FROM silences
WHERE $all OR ends_at > $now
ORDER BY active DESC, silence_id DESC;
