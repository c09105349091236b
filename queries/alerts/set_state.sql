-- name: set_state
-- Finds: nothing; moves an alert to a new state.
-- Parameters:
--   $alert_id    BIGINT
--   $state       VARCHAR    firing | acknowledged | silenced | resolved
--   $silence_id  BIGINT     the silence holding it (NULL unless silenced)
--   $resolved_at TIMESTAMP  NULL unless resolved
-- Returns: nothing.

UPDATE alerts SET state = $state, silence_id = $silence_id, resolved_at = $resolved_at
WHERE alert_id = $alert_id;
