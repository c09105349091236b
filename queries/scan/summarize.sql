-- name: summarize
-- finds: alert episodes in the detectors' event rows. An episode of a group (detector,
--   account, counterparty, initiator) starts at a firing row when the group had no firing
--   state in force (none yet, or the last one expired: its active_until has passed), and
--   lasts while firing rows keep it in force; a quiet row in between does not end it.
-- reads: temp table `events` (detector, account, counterparty, initiator, txn_id,
--   posted_at, day, amount, currency, exposure, charges, since, severity, active_until,
--   detail: further facts for the sentence, or NULL).
-- params: none.
-- returns (temp table `episodes`): detector, account, counterparty, initiator, episode,
--   currency, first_alert_at, first_severity, first_exposure, first_charges, first_since,
--   first_txn_id, last_alert_at, severity (highest reached), exposure, charges, since,
--   last_txn_id, active_until, escalations (LIST of {severity, at, exposure}), first_detail,
--   detail (the detail of the first and of the latest firing row).

CREATE OR REPLACE TEMP TABLE episodes AS
WITH ordered AS (
    SELECT *,
        max(CASE WHEN severity IS NOT NULL THEN active_until END) OVER (
            PARTITION BY detector, account, counterparty, initiator ORDER BY day, txn_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS in_force_until
    FROM events
),
numbered AS (
    SELECT *,
        sum(CASE WHEN severity IS NOT NULL
                  AND (in_force_until IS NULL OR in_force_until < posted_at) THEN 1 ELSE 0 END)
            OVER (PARTITION BY detector, account, counterparty, initiator ORDER BY day, txn_id
                  ROWS UNBOUNDED PRECEDING) AS episode
    FROM ordered
),
firing AS (
    SELECT *,
        CASE severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 ELSE 1 END AS rank
    FROM numbered
    WHERE severity IS NOT NULL AND episode > 0
),
steps AS (   -- the first row at each severity: the escalations
    SELECT detector, account, counterparty, initiator, episode, severity, rank,
           arg_min(posted_at, (day, txn_id)) AS at, arg_min(exposure, (day, txn_id)) AS exposure
    FROM firing
    GROUP BY ALL
)
SELECT f.detector, f.account, f.counterparty, f.initiator, f.episode,
    arg_min(f.currency, (f.day, f.txn_id)) AS currency,
    min(f.posted_at) AS first_alert_at,
    arg_min(f.severity, (f.day, f.txn_id)) AS first_severity,
    arg_min(f.exposure, (f.day, f.txn_id)) AS first_exposure,
    arg_min(f.charges, (f.day, f.txn_id)) AS first_charges,
    arg_min(f.since, (f.day, f.txn_id)) AS first_since,
    arg_min(f.txn_id, (f.day, f.txn_id)) AS first_txn_id,
    max(f.posted_at) AS last_alert_at,
    arg_max(f.severity, f.rank) AS severity,
    arg_max(f.exposure, (f.day, f.txn_id)) AS exposure,
    arg_max(f.charges, (f.day, f.txn_id)) AS charges,
    arg_max(f.since, (f.day, f.txn_id)) AS since,
    arg_max(f.txn_id, (f.day, f.txn_id)) AS last_txn_id,
    arg_max(f.active_until, (f.day, f.txn_id)) AS active_until,
    arg_min(f.detail, (f.day, f.txn_id)) AS first_detail,
    arg_max(f.detail, (f.day, f.txn_id)) AS detail,
    (SELECT list({'severity': s.severity, 'at': s.at, 'exposure': s.exposure} ORDER BY s.rank)
     FROM steps s
     WHERE s.detector = f.detector AND s.episode = f.episode
       AND s.account IS NOT DISTINCT FROM f.account
       AND s.counterparty IS NOT DISTINCT FROM f.counterparty
       AND s.initiator IS NOT DISTINCT FROM f.initiator) AS escalations
FROM firing f
GROUP BY f.detector, f.account, f.counterparty, f.initiator, f.episode;
