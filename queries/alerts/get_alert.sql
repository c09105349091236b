-- name: get_alert
-- finds: one alert by its id.
-- params:
--   $alert_id  BIGINT
-- returns: every alerts column.

SELECT * FROM alerts WHERE alert_id = $alert_id;
