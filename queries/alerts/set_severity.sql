-- name: set_severity
-- finds: nothing; raises an alert's severity (a person said "not recognised"): the next
--   notification is an escalation to everyone it is routed to.
-- params:
--   $alert_id  BIGINT
--   $severity  VARCHAR
-- returns: nothing.

UPDATE alerts SET severity = $severity WHERE alert_id = $alert_id;
