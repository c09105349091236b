-- name: conflicts
-- finds: usable parsed rows whose txn_id is already held with other content, in the
--   ledger or by an earlier row of the same file, and sets them aside with the reason:
--   such a row is no duplicate (a file caught half written loaded 600.00 as 6.00, and
--   the whole file's row then counted as a duplicate of it). A person decides; the
--   conflicting_duplicate detector raises the alert. Content is the money: account,
--   date, amount and currency (payee texts vary between a bank's reports of one entry,
--   camt.052 against camt.053, so they are shown but not compared).
-- reads: temp view `parsed_full` (temp table `parsed` with every column, its rowid as
--   row_index); table transactions.
-- params:
--   $source     VARCHAR  the file's source name
--   $currency   VARCHAR  the file's currency when no column gives it (parsed.currency is
--                        then NULL: read as coalesce(currency, upper($currency)))
--   $account    VARCHAR  the same for the account (coalesce(account, $account))
--   $fresh      BOOLEAN  the source holds no transactions yet (no ledger conflicts)
--   $repeats    BOOLEAN  some txn_id repeats inside the file
--   $by_order   BOOLEAN  rows are numbered by their order (parsed.source_row is all NULL)
--   $first_row  BIGINT   file row number of row_index 0
--   $prefix     VARCHAR  the reason's first words, which the detector looks for
-- returns: nothing; parsed.reason and parsed.raw are set on the rows set aside.

UPDATE parsed SET reason = c.reason, raw = c.raw
FROM (
    WITH mine AS (
        SELECT row_index AS rid, * REPLACE (coalesce(account, $account) AS account,
                                            coalesce(currency, upper($currency)) AS currency),
            CASE WHEN $by_order THEN row_index + $first_row ELSE source_row END AS file_row
        FROM parsed_full WHERE reason IS NULL
    ),
    firsts AS (
        -- Inside the file: each later row of a txn_id against its first row.
        SELECT * FROM (
            SELECT rid, txn_id, account, posted_at, amount, currency, file_row,
                first_value(rid) OVER w AS first_rid
            FROM mine
            WHERE $repeats
            WINDOW w AS (PARTITION BY txn_id ORDER BY file_row)
        ) WHERE rid <> first_rid
    ),
    against AS (
        SELECT m.rid, format('file row {}', f.file_row) AS held_at, f.account, f.posted_at,
               f.amount, f.currency
        FROM firsts m JOIN mine f ON f.rid = m.first_rid
        UNION ALL
        SELECT m.rid, format('file #{} row {}', t.file_id, t.source_row), t.account,
               t.posted_at, t.amount, t.currency
        FROM mine m JOIN transactions t
          ON NOT $fresh AND t.source = $source AND t.txn_id = m.txn_id
    )
    SELECT m.rid,
        $prefix || format('txn_id ''{}'' is already held ({}) with other content: {}; set '
                          'aside for a person to decide (see `monitor alerts`)',
            m.txn_id, arg_min(a.held_at, a.held_at), arg_min(concat_ws(', ',
                CASE WHEN a.amount IS DISTINCT FROM m.amount
                     THEN format('amount {} there, {} here', a.amount::VARCHAR, m.amount::VARCHAR) END,
                CASE WHEN a.posted_at IS DISTINCT FROM m.posted_at
                     THEN format('date {} there, {} here', a.posted_at, m.posted_at) END,
                CASE WHEN a.account IS DISTINCT FROM m.account
                     THEN format('account {} there, {} here', a.account, m.account) END,
                CASE WHEN a.currency IS DISTINCT FROM m.currency
                     THEN format('currency {} there, {} here', a.currency, m.currency) END),
                a.held_at)) AS reason,
        to_json(struct_pack(txn_id := m.txn_id, posted_at := m.posted_at, amount := m.amount,
            currency := m.currency, account := m.account, counterparty := m.counterparty,
            counterparty_account := m.counterparty_account, description := m.description,
            reference := m.reference))::VARCHAR AS raw
    FROM mine m JOIN against a ON a.rid = m.rid
    WHERE a.amount IS DISTINCT FROM m.amount OR a.posted_at IS DISTINCT FROM m.posted_at
       OR a.account IS DISTINCT FROM m.account OR a.currency IS DISTINCT FROM m.currency
    GROUP BY m.rid, m.txn_id, m.posted_at, m.amount, m.currency, m.account, m.counterparty,
        m.counterparty_account, m.description, m.reference
) c
WHERE parsed.rowid = c.rid;
