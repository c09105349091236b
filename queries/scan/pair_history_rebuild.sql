-- name: pair_history_rebuild
-- Finds: nothing; makes table pair_history anew from every transaction of files up to
--   $max_file_id: the first posting day of each (account, payee, initiator), keyed as
--   the scans see them ('(no payee)', the account as initiator).
-- Parameters:
--   $max_file_id  BIGINT  the highest file id in `transactions` now
-- Returns: nothing.

CREATE OR REPLACE TABLE pair_history (
    account       VARCHAR NOT NULL,
    counterparty  VARCHAR NOT NULL,
    initiator     VARCHAR NOT NULL,
    first_day     INTEGER NOT NULL          -- days since 1970-01-01
);

INSERT INTO pair_history
SELECT account, coalesce(counterparty, '(no payee)'), coalesce(initiator, account),
       CAST(min(date_diff('day', DATE '1970-01-01', posted_at)) AS INTEGER)
FROM transactions
WHERE file_id <= $max_file_id
GROUP BY ALL;
