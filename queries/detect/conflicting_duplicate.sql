-- name: conflicting_duplicate
-- finds: Rows that came again under a transaction id the ledger (or their own file)
--   already holds, but with another amount, date, account, currency or payee: a file
--   read while half written (600.00 loaded as 6.00), a bank's correction, or a forged
--   re-export. Ingest sets them aside instead of counting them as duplicates; this asks
--   a person to decide which is right (fix the file and `monitor ingest --reload` it).
--   Reads the rows set aside, not the charges.
-- params:
--   $as_of          DATE     default NULL   the scan date (set by the scan)
--   $quiet_days     INTEGER  default 90     a finding stays open this long after the row's
--                                            posting (or its file's ingest, if later)
-- reads: tables rejected_rows and files (reasons written by queries/ingest/conflicts.sql).
-- returns: the detector event columns (see queries/scan/summarize.sql); exposure is the
--   amount of the rows set aside, and the evidence is in `monitor rejects`.
-- sentence: A transaction of account {account} arrived again with other content since {since} ({charges} rows, {exposure}): set aside for a person to decide (see `monitor rejects`)

WITH conflicts AS (
    SELECT r.raw, f.ingested_at,
        coalesce(TRY_CAST(json_extract_string(r.raw, '$.posted_at') AS DATE),
                 CAST(f.ingested_at AS DATE)) AS posted_at
    FROM rejected_rows r JOIN files f USING (file_id)
    WHERE r.reason LIKE 'conflicting duplicate: %' AND f.status IN ('loaded', 'rejected')
)
SELECT coalesce(json_extract_string(raw, '$.account'), '') AS account,
    CAST(NULL AS VARCHAR) AS counterparty, CAST(NULL AS VARCHAR) AS initiator,
    json_extract_string(raw, '$.txn_id') AS txn_id, posted_at,
    CAST(date_diff('day', DATE '1970-01-01', posted_at) AS INTEGER) AS day,
    coalesce(TRY_CAST(json_extract_string(raw, '$.amount') AS DECIMAL(18,2)), 0) AS amount,
    coalesce(json_extract_string(raw, '$.currency'), '') AS currency,
    CAST(abs(coalesce(TRY_CAST(json_extract_string(raw, '$.amount') AS DECIMAL(18,2)), 0))
         AS DECIMAL(18,2)) AS exposure,
    1 AS charges, posted_at AS since, 'high' AS severity,
    greatest(posted_at, CAST(ingested_at AS DATE)) + $quiet_days AS active_until
FROM conflicts
WHERE posted_at <= CAST($as_of AS DATE)
