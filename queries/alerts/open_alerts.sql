-- name: open_alerts
-- finds: every alert not yet resolved, with the silence that holds it now (if any).
--   A silence matches when each matcher it sets (detector, account, counterparty) equals
--   the alert's value, case-insensitive, * matching any text; NULL matches anything.
--   The payee matcher compares payee keys (table payee_keys; the silence's own name is
--   keyed when it is made): a silence for 'ACME HOSTING' holds an alert whose payee is
--   written 'Acme Hosting Ltd' or 'PAYPAL *ACME HOSTING'. A matcher with * is a pattern:
--   it matches the name as written or the key (as registry patterns do), since a pattern
--   has no key of its own ('acme*' holds 'ACME HOSTING LTD' and all it is written as).
-- params:
--   $now  TIMESTAMP  the time to judge silences at
-- returns: every alerts column, plus matching_silence (BIGINT, NULL when none holds it).

WITH active AS (
    SELECT s.silence_id,
        replace(replace(replace(lower(s.detector), '%', '\%'), '_', '\_'), '*', '%') AS p_detector,
        replace(replace(replace(lower(s.account), '%', '\%'), '_', '\_'), '*', '%') AS p_account,
        replace(replace(replace(lower(s.counterparty), '%', '\%'), '_', '\_'), '*', '%')
            AS p_counterparty,
        strpos(s.counterparty, '*') > 0 AS pattern,
        (SELECT min(k.payee_key) FROM payee_keys k
         WHERE k.name = s.counterparty AND k.payee_key <> '') AS k_counterparty
    FROM silences s
    WHERE s.starts_at <= $now AND s.ends_at > $now
),
open AS (
    SELECT a.*,
        (SELECT min(k.payee_key) FROM payee_keys k WHERE k.name = a.counterparty) AS a_key
    FROM alerts a
    WHERE a.state <> 'resolved'
)
SELECT a.* EXCLUDE (a_key),
    (SELECT min(s.silence_id) FROM active s
     WHERE (s.p_detector IS NULL OR lower(a.detector) LIKE s.p_detector ESCAPE '\')
       AND (s.p_account IS NULL OR lower(coalesce(a.account, '')) LIKE s.p_account ESCAPE '\')
       AND (s.p_counterparty IS NULL
            OR lower(coalesce(a.counterparty, '')) LIKE s.p_counterparty ESCAPE '\'
            OR (s.pattern AND a.a_key LIKE s.p_counterparty ESCAPE '\')
            OR (NOT s.pattern AND a.a_key = s.k_counterparty))
    ) AS matching_silence
FROM open a
ORDER BY a.alert_id;
