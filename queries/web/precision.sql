-- name: precision
-- finds: each detector's precision from the outcomes people gave: of its alerts judged,
--   how many were theft (confirmed, or not recognised and not since judged honest).
--   An alert counts once, by its latest outcome.
-- params: none.
-- returns: detector, judged, theft, honest, precision.

WITH latest AS (
    SELECT alert_id, detector, arg_max(outcome, decided_at) AS outcome
    FROM alert_outcomes GROUP BY alert_id, detector
)
SELECT detector, count(*) AS judged,
       count(*) FILTER (WHERE outcome IN ('theft', 'not_recognised')) AS theft,
       count(*) FILTER (WHERE outcome IN ('expected', 'error')) AS honest,
       round(count(*) FILTER (WHERE outcome IN ('theft', 'not_recognised')) / count(*), 2)
           AS "precision"
FROM latest
GROUP BY detector
ORDER BY detector;
