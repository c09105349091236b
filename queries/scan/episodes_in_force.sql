-- name: episodes_in_force
-- finds: the alert episodes still in force on some day from $start: their group and when
--   each began and stops being in force. What a change of settings raises on the day it
--   takes over is the new settings' episodes then in force whose group was not in force
--   under the old ones (an open finding the next scan reports; calibrate._foresight
--   counts them, benchmarks/recalibrated.py raises them).
-- reads: temp table `episodes`.
-- params:
--   $start  DATE  the first day that matters
-- returns: detector, account, counterparty, initiator, first_alert_at, active_until.

SELECT e.detector, e.account, e.counterparty, e.initiator, e.first_alert_at, e.active_until
FROM episodes e
WHERE e.active_until >= $start
ORDER BY e.detector, e.first_alert_at, e.account, e.counterparty, e.initiator;
