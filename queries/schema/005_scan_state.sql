-- name: 005_scan_state
-- What an incremental scan needs: the high-water mark and settings of each scan, and how
-- long each finding stays in force (with its escalations) so it can be carried over.

ALTER TABLE scans ADD COLUMN max_file_id BIGINT;
ALTER TABLE scans ADD COLUMN settings_hash VARCHAR;     -- detectors' parameters and registry
ALTER TABLE scans ADD COLUMN mode VARCHAR;              -- full | incremental
ALTER TABLE findings ADD COLUMN active_until DATE;
ALTER TABLE findings ADD COLUMN escalations STRUCT(severity VARCHAR, "at" DATE, exposure DECIMAL(18,2))[];
