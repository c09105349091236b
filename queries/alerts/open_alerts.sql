-- name: open_alerts
-- finds: every alert not yet resolved, with the silence that holds it now (if any).
--   A silence matches when each matcher it sets (detector, account, counterparty) equals
--   the alert's value, case-insensitive, * matching any text; NULL matches anything.
-- params:
--   $now  TIMESTAMP  the time to judge silences at
-- returns: every alerts column, plus matching_silence (BIGINT, NULL when none holds it).

WITH active AS (
    SELECT silence_id,
        replace(replace(replace(lower(detector), '%', '\%'), '_', '\_'), '*', '%') AS p_detector,
        replace(replace(replace(lower(account), '%', '\%'), '_', '\_'), '*', '%') AS p_account,
        replace(replace(replace(lower(counterparty), '%', '\%'), '_', '\_'), '*', '%') AS p_counterparty
    FROM silences
    WHERE starts_at <= $now AND ends_at > $now
)
SELECT a.*,
    (SELECT min(s.silence_id) FROM active s
     WHERE (s.p_detector IS NULL OR lower(a.detector) LIKE s.p_detector ESCAPE '\')
       AND (s.p_account IS NULL OR lower(coalesce(a.account, '')) LIKE s.p_account ESCAPE '\')
       AND (s.p_counterparty IS NULL
            OR lower(coalesce(a.counterparty, '')) LIKE s.p_counterparty ESCAPE '\')
    ) AS matching_silence
FROM alerts a
WHERE a.state <> 'resolved'
ORDER BY a.alert_id;
