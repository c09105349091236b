-- name: get_alert
-- Finds: one alert by its id.
-- Parameters:
--   $alert_id  BIGINT
-- Returns: every alerts column.

SELECT * FROM alerts WHERE alert_id = $alert_id;
