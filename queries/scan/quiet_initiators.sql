-- name: quiet_initiators
-- finds: nothing; notes in temp table `quiet_initiators` the initiators of an incremental
--   scan's scope whose unexplained_drift findings at the initiator level (its third
--   level) cannot change, so that the detector leaves their initiator level out
--   (engines/duckdb.py) and macro `rescanned` (scan/scope.sql) carries those findings
--   over. Where new rows touch every card, the windows over every card's 400 days were
--   most of an incremental scan (2.4 s of CPU of 7.4 on the dense 10M-row benchmark).
--   An initiator qualifies when (1) none of its new rows is posted on or before
--   $after_day (the previous scan's date): a row enters the windows of its own day and
--   later days only, so the events of earlier days are a full scan's as they were; and
--   (2) no day after $after_day can fire. Firing on day d needs an unexplained charge that
--   day, and window spend W (unexplained positive amounts over [d - $window_days, d]) of
--   at least $tier_warning and at least $ratio times the expected spend, which is at
--   least H * $window_days / ($baseline_days - $lag_days) (H: positive amounts over
--   [d - $baseline_days, d - $lag_days]; the detector divides by a history span of at
--   most $baseline_days - $lag_days). Both sums are over this scan's rows, from
--   $horizon on: a full scan's H is no smaller, so it fires no sooner; W is complete
--   when $after_day is at least $window_days after $horizon (else nothing qualifies).
--   With a ratio, window or lag below zero, or a history of no days, nothing qualifies.
-- params:
--   $after_file_id  BIGINT   rows of files with a larger id are new
--   $after_day      DATE     the previous scan's date
--   $as_of          DATE     this scan's date
--   $horizon        DATE     first posting date of temp table `charges`
--   $window_days    INTEGER  unexplained_drift's parameters of those names
--   $baseline_days  INTEGER
--   $lag_days       INTEGER
--   $ratio          DOUBLE
--   $tier_warning   DECIMAL
-- returns (temp table `quiet_initiators`): quiet_detector ('unexplained_drift'),
--   quiet_initiator.

INSERT INTO quiet_initiators
WITH late AS (       -- initiators with a new row of a day already judged
    SELECT DISTINCT coalesce(initiator, account) AS initiator FROM transactions
    WHERE file_id > $after_file_id AND posted_at <= $after_day
),
judged AS (          -- this scan's initiators that may qualify: in scope, none late
    SELECT key AS initiator FROM scope
    WHERE kind = 'initiator' AND key NOT IN (SELECT initiator FROM late)
      AND $ratio >= 0 AND $window_days >= 0 AND $lag_days >= 0 AND $baseline_days > $lag_days
      AND date_diff('day', $horizon, $after_day) >= $window_days
),
days AS (            -- their new days with an unexplained charge
    SELECT DISTINCT c.initiator, c.day FROM charges c
    WHERE c.initiator IN (SELECT initiator FROM judged)
      AND c.posted_at > $after_day AND c.posted_at <= $as_of
      AND c.amount > 0 AND c.explained_by IS NULL
),
sums AS (
    SELECT d.initiator, d.day,
        coalesce(sum(CASE WHEN c.explained_by IS NULL AND c.day >= d.day - $window_days
                          THEN c.amount END), 0) AS recent,
        coalesce(sum(CASE WHEN c.day BETWEEN d.day - $baseline_days AND d.day - $lag_days
                          THEN c.amount END), 0) AS history
    FROM days d
    JOIN charges c ON c.initiator = d.initiator AND c.amount > 0
     AND c.day BETWEEN d.day - greatest($window_days, $baseline_days) AND d.day
    GROUP BY d.initiator, d.day
)
SELECT 'unexplained_drift', initiator FROM judged
WHERE initiator NOT IN (
    SELECT initiator FROM sums
    WHERE recent >= $tier_warning
      -- the slack keeps a tie, which rounding might decide either way, as may fire
      AND recent * ($baseline_days - $lag_days) * 1.000001
          >= $ratio * history * $window_days);
