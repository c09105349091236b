-- name: alert_outcomes
-- finds: What became of the alerts whose episode touches the report's period: how many
--   there were, how many are open now (and in which state), and how many were ever
--   acknowledged, silenced or resolved (from their recorded history).
-- params:
--   $date_from  DATE  default NULL  first day of the period (NULL: from the start)
--   $date_to    DATE  default NULL  last day of the period (NULL: to the end)
-- returns: alerts, open_now, firing_now, acknowledged_now, silenced_now, acknowledged,
--   silenced, resolved (one row; each an alert count).

WITH scoped AS (
    SELECT alert_id, state, acked_by
    FROM alerts
    WHERE ($date_from IS NULL
           OR coalesce(last_charge_at, first_alert_at, since) >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR coalesce(since, first_alert_at) <= CAST($date_to AS DATE)
           OR coalesce(since, first_alert_at) IS NULL)
),
history AS (
    SELECT alert_id,
           bool_or(action = 'acknowledged') AS was_acked,
           bool_or(action = 'silenced') AS was_silenced,
           bool_or(action = 'resolved') AS was_resolved
    FROM alert_events
    WHERE alert_id IN (SELECT alert_id FROM scoped)
    GROUP BY alert_id
)
SELECT count(*) AS alerts,
       count(*) FILTER (WHERE s.state <> 'resolved') AS open_now,
       count(*) FILTER (WHERE s.state = 'firing') AS firing_now,
       count(*) FILTER (WHERE s.state = 'acknowledged') AS acknowledged_now,
       count(*) FILTER (WHERE s.state = 'silenced') AS silenced_now,
       count(*) FILTER (WHERE coalesce(h.was_acked, false) OR s.acked_by IS NOT NULL) AS acknowledged,
       count(*) FILTER (WHERE coalesce(h.was_silenced, false) OR s.state = 'silenced') AS silenced,
       count(*) FILTER (WHERE coalesce(h.was_resolved, false) OR s.state = 'resolved') AS resolved
FROM scoped s LEFT JOIN history h USING (alert_id);
