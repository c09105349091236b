-- name: insert_rejects
-- finds: the parsed rows normalize could not use, and sets them aside with a reason.
-- reads: temp view `parsed_full` (temp table `parsed` with every column, its rowid as
--   row_index).
-- params:
--   $file_id    BIGINT     the file being ingested
--   $at         TIMESTAMP  ingest time
--   $first_row  BIGINT     file row number of row_index 0 (rows without their own number)
-- returns: the number of rows inserted into rejected_rows.

INSERT INTO rejected_rows (file_id, source_row, raw, reason, rejected_at)
SELECT $file_id, coalesce(source_row, row_index + $first_row), raw, reason, $at
FROM parsed_full
WHERE reason IS NOT NULL;
