-- name: outcomes
-- finds: the outcomes recorded for one alert, oldest first.
-- params:
--   $alert_id  BIGINT
-- returns: outcome, decided_by, decided_at, note.

SELECT outcome, decided_by, decided_at, note FROM alert_outcomes
WHERE alert_id = $alert_id ORDER BY decided_at;
