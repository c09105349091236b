-- name: insert_statement
-- finds: nothing; records one bank statement of an ingested file with its checks.
-- params: one for each column of `statements` (queries/schema/002_statements.sql)
--   $file_id        BIGINT          the file being ingested
--   $position       INTEGER         1 = first statement in the file
--   $kind           VARCHAR
--   $account        VARCHAR
--   $currency       VARCHAR
--   $reference      VARCHAR
--   $number         VARCHAR
--   $page           VARCHAR
--   $from_date      DATE
--   $to_date        DATE
--   $opening        DECIMAL(38,10)
--   $opening_date   DATE
--   $closing        DECIMAL(38,10)
--   $closing_date   DATE
--   $credits        DECIMAL(38,10)
--   $debits         DECIMAL(38,10)
--   $entries        BIGINT
--   $set_aside      BIGINT
--   $balance_check  VARCHAR
--   $check_basis    VARCHAR
--   $difference     DECIMAL(38,10)
--   $problems       VARCHAR
--   $notes          VARCHAR
-- returns: nothing.

INSERT INTO statements (file_id, position, kind, account, currency, reference, number, page,
    from_date, to_date, opening, opening_date, closing, closing_date, credits, debits,
    entries, set_aside, balance_check, check_basis, difference, problems, notes)
VALUES ($file_id, $position, $kind, $account, $currency, $reference, $number, $page,
    $from_date, $to_date, $opening, $opening_date, $closing, $closing_date, $credits, $debits,
    $entries, $set_aside, $balance_check, $check_basis, $difference, $problems, $notes);
