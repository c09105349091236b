-- name: 006_audit
-- The append-only audit log: every ingest, scan, notification, ack, silence, query and
-- evidence export, who did it, when, what, and a hash of its result. Each row's hash is
-- sha256(prev_hash || its own fields), so an edited or deleted row breaks the chain at that
-- row (`monitor audit verify`). seq numbers are consecutive from 1; a gap is a deletion.

CREATE TABLE audit_log (
    seq          BIGINT PRIMARY KEY,
    logged_at    TIMESTAMP NOT NULL,
    actor        VARCHAR NOT NULL,
    action       VARCHAR NOT NULL,   -- ingest | scan | notification | ack | silence | query | evidence ...
    detail       VARCHAR NOT NULL,   -- JSON: what was asked (paths, SQL and parameters, alert id)
    result_hash  VARCHAR,            -- sha256 of the result (rows, files) or NULL
    prev_hash    VARCHAR NOT NULL,   -- hash of row seq - 1 ('' for row 1)
    hash         VARCHAR NOT NULL
);
