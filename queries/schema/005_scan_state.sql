-- name: 005_scan_state
-- What an incremental scan needs: the high-water mark of each scan, the first day of
-- every (account, payee, initiator) so new-payee features need no full history pass,
-- and how long each finding stays in force.

ALTER TABLE scans ADD COLUMN max_file_id BIGINT;
ALTER TABLE scans ADD COLUMN settings_hash VARCHAR;     -- detectors' parameters and registry
ALTER TABLE scans ADD COLUMN mode VARCHAR;              -- full | incremental
ALTER TABLE findings ADD COLUMN active_until DATE;
ALTER TABLE findings ADD COLUMN escalations STRUCT(severity VARCHAR, "at" DATE, exposure DECIMAL(18,2))[];

CREATE TABLE pair_firsts (
    account       VARCHAR NOT NULL,
    counterparty  VARCHAR NOT NULL,
    initiator     VARCHAR NOT NULL,
    first_day     INTEGER NOT NULL
);

-- Small named counters, e.g. the last file folded into pair_firsts.
CREATE TABLE scan_state (
    name   VARCHAR PRIMARY KEY,
    value  BIGINT NOT NULL
);
