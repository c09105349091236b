-- name: insert_event
-- finds: nothing; records one change of an alert with its time and actor.
-- params:
--   $alert_id  BIGINT
--   $at        TIMESTAMP
--   $actor     VARCHAR
--   $action    VARCHAR
--   $from_state  VARCHAR  NULL for the first
--   $to_state    VARCHAR
--   $note        VARCHAR  NULL allowed
-- returns: nothing.

INSERT INTO alert_events (alert_id, changed_at, actor, action, from_state, to_state, note)
VALUES ($alert_id, $at, $actor, $action, $from_state, $to_state, $note);
