-- name: insert_outcome
-- finds: nothing; records how a person judged an alert.
-- params:
--   $alert_id    BIGINT
--   $detector    VARCHAR
--   $outcome     VARCHAR    theft | expected | error | not_recognised
--   $decided_by  VARCHAR
--   $decided_at  TIMESTAMP
--   $note        VARCHAR    NULL allowed
-- returns: nothing.

INSERT INTO alert_outcomes VALUES ($alert_id, $detector, $outcome, $decided_by, $decided_at,
                                   $note);
