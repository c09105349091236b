-- name: open_by_severity
-- finds: Alerts not yet resolved whose episode touches the report's period, counted by
--   severity and currency, with the money at risk (the sum of their exposures).
-- params:
--   $date_from  DATE  default NULL  first day of the period (NULL: from the start)
--   $date_to    DATE  default NULL  last day of the period (NULL: to the end)
-- returns: severity, currency, alerts, exposure (DECIMAL), most severe first.

SELECT severity, currency, count(*) AS alerts, CAST(sum(exposure) AS DECIMAL(18,2)) AS exposure
FROM alerts
WHERE state <> 'resolved'
  AND ($date_from IS NULL
       OR coalesce(last_charge_at, first_alert_at, since) >= CAST($date_from AS DATE))
  AND ($date_to IS NULL OR coalesce(since, first_alert_at) <= CAST($date_to AS DATE)
       OR coalesce(since, first_alert_at) IS NULL)
GROUP BY severity, currency
ORDER BY CASE severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'warning' THEN 1
         ELSE 0 END DESC, currency NULLS LAST;
