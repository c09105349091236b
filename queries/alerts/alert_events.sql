-- name: alert_events
-- finds: the history of one alert: every state change with its time and actor.
-- params:
--   $alert_id  BIGINT
-- returns: changed_at, actor, action, from_state, to_state, note.

SELECT changed_at, actor, action, from_state, to_state, note
FROM alert_events WHERE alert_id = $alert_id
ORDER BY event_id;
