-- name: insert_rejects
-- finds: the parsed rows normalize could not use, and sets them aside with a reason.
-- reads: temp table `parsed`.
-- params:
--   $file_id    BIGINT     the file being ingested
--   $at         TIMESTAMP  ingest time
--   $first_row  BIGINT     file row number of parsed.rowid 0 (rows without their own number)
-- returns: the number of rows inserted into rejected_rows.

INSERT INTO rejected_rows (file_id, source_row, raw, reason, rejected_at)
SELECT $file_id, coalesce(source_row, rowid + $first_row), raw, reason, $at
FROM parsed
WHERE reason IS NOT NULL;
