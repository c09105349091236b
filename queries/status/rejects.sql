-- name: rejects
-- finds: rows set aside at ingest, with the reason and the row's text.
-- params:
--   $file_id  BIGINT   only this file (NULL: every file)
--   $limit    INTEGER  at most this many rows
-- returns: file_id, path, source_row, reason, raw.

SELECT r.file_id, f.path, r.source_row, r.reason, r.raw
FROM rejected_rows r JOIN files f USING (file_id)
WHERE $file_id IS NULL OR r.file_id = $file_id
ORDER BY r.file_id, r.source_row
LIMIT $limit;
