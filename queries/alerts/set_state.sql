-- name: set_state
-- finds: nothing; moves an alert to a new state.
-- params:
--   $alert_id    BIGINT
--   $state       VARCHAR    firing | acknowledged | silenced | resolved
--   $silence_id  BIGINT     the silence holding it (NULL unless silenced)
--   $resolved_at TIMESTAMP  NULL unless resolved
-- returns: nothing.

UPDATE alerts SET state = $state, silence_id = $silence_id, resolved_at = $resolved_at
WHERE alert_id = $alert_id;
