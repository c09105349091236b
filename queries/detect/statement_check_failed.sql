-- name: statement_check_failed
-- finds: Bank statements that do not reconcile (opening + credits - debits is not the
--   closing balance) or that leave a gap in the account's sequence of statements: the
--   strongest sign that transactions went missing between the bank and the ledger.
--   Reads the statements the bank-format readers recorded, not the charges.
-- params:
--   $as_of          DATE     default NULL   the scan date (set by the scan)
--   $quiet_days     INTEGER  default 365    a finding stays open this long after the statement
--                                            (or after its file was ingested, if later)
-- reads: tables statements and files (see queries/schema/002_statements.sql).
-- returns: the detector event columns (see queries/scan/summarize.sql); exposure is the
--   money the failed checks leave unaccounted for, and there is no evidence charge.
-- sentence: Bank statements for account {account} do not add up since {since}: {exposure} unaccounted for, or a statement is missing (see `monitor status`)

WITH failed AS (
    SELECT s.*, f.ingested_at,
        coalesce(s.closing_date, s.to_date, CAST(f.ingested_at AS DATE)) AS end_date
    FROM statements s JOIN files f USING (file_id)
    WHERE s.problems IS NOT NULL AND f.status IN ('loaded', 'rejected')   -- every entry set aside: still a statement
)
SELECT account, CAST(NULL AS VARCHAR) AS counterparty, CAST(NULL AS VARCHAR) AS initiator,
    CAST(NULL AS VARCHAR) AS txn_id, end_date AS posted_at,
    CAST(date_diff('day', DATE '1970-01-01', end_date) AS INTEGER) AS day,
    CAST(0 AS DECIMAL(18,2)) AS amount, coalesce(currency, '') AS currency,
    CAST(abs(coalesce(difference, 0)) AS DECIMAL(38,2)) AS exposure, 0 AS charges,
    coalesce(from_date, opening_date, end_date) AS since, 'warning' AS severity,
    greatest(end_date, CAST(ingested_at AS DATE)) + $quiet_days AS active_until
FROM failed
WHERE end_date <= CAST($as_of AS DATE)
