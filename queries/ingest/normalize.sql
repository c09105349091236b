-- name: normalize
-- Finds: nothing; turns staged text rows into typed ledger rows. Every staged row
--   comes out exactly once, either with a reject reason or as a usable transaction.
-- Reads: temp table `staging` (canonical column names, all VARCHAR, plus source_row,
--   which is NULL when the reader numbers rows by their order).
-- Parameters:
--   $source        VARCHAR        source name written on every row
--   $currency      VARCHAR        currency when the file has no currency column (may be NULL)
--   $account       VARCHAR        account when the file has no account column (may be NULL)
--   $sign          INTEGER        1 if charges are positive in the file, -1 if negative
--   $date_formats  VARCHAR[]      strptime formats tried in order
--   $columns       MAP(VARCHAR, VARCHAR)  canonical field -> file column, for messages
--   $derive_ids    BOOLEAN        true when the source maps no txn_id
--   $first_row     BIGINT         file row number of the first staged row
-- Returns (temp table `parsed`): source_row, txn_id, account, posted_at, amount, currency,
--   counterparty, counterparty_account, initiator, mcc, description, reference,
--   reason (NULL when usable), raw (the row's text, JSON, only when rejected),
--   duplicate_in_file (BOOLEAN).

CREATE OR REPLACE TEMP TABLE parsed AS
WITH cleaned AS (
    SELECT
        coalesce(source_row, rowid + $first_row) AS source_row,
        nullif(trim(txn_id), '') AS given_id,
        coalesce(nullif(trim(account), ''), $account) AS account,
        nullif(trim(posted_at), '') AS date_text,
        try_strptime(trim(posted_at), $date_formats)::DATE AS posted_at,
        nullif(trim(amount), '') AS amount_text,
        nullif(trim(debit), '') AS debit_text,
        nullif(trim(credit), '') AS credit_text,
        upper(coalesce(nullif(trim(currency), ''), $currency)) AS currency,
        nullif(trim(counterparty), '') AS counterparty,
        nullif(trim(counterparty_account), '') AS counterparty_account,
        nullif(trim(initiator), '') AS initiator,
        nullif(trim(mcc), '') AS mcc,
        nullif(trim(description), '') AS description,
        nullif(trim(reference), '') AS reference
    FROM staging
),
money AS (
    SELECT *,
        CASE
            WHEN amount_text IS NOT NULL THEN $sign * parse_money(amount_text)
            WHEN debit_text IS NOT NULL OR credit_text IS NOT NULL
                THEN coalesce(abs(parse_money(debit_text)), 0) - coalesce(abs(parse_money(credit_text)), 0)
        END AS amount
    FROM cleaned
),
judged AS (
    SELECT *,
        CASE
            WHEN NOT $derive_ids AND given_id IS NULL THEN
                format('no transaction id in column ''{}'' (a subtotal or blank row?)', $columns['txn_id'])
            WHEN date_text IS NULL THEN
                format('no date in column ''{}''', $columns['posted_at'])
            WHEN posted_at IS NULL THEN
                format('date ''{}'' in column ''{}'' is not in a known format; set date_format for source ''{}''',
                       date_text, $columns['posted_at'], $source)
            WHEN amount_text IS NULL AND debit_text IS NULL AND credit_text IS NULL THEN
                format('no amount in column ''{}''', coalesce($columns['amount'], $columns['debit']))
            WHEN amount IS NULL THEN
                format('amount ''{}'' in column ''{}'' is not a number',
                       coalesce(amount_text, debit_text, credit_text),
                       coalesce($columns['amount'], $columns['debit']))
            WHEN account IS NULL THEN
                format('no account in column ''{}''; or set account for source ''{}''',
                       $columns['account'], $source)
            WHEN currency IS NULL OR NOT regexp_full_match(currency, '[A-Z]{3}') THEN
                format('currency ''{}'' is not a three-letter code', coalesce(currency, ''))
        END AS reason
    FROM money
),
identified AS (
    SELECT *,
        CASE WHEN $derive_ids THEN
            -- Stable id from the row's content; identical rows in one file are told
            -- apart by their order, so an overlapping export yields the same ids.
            'h' || substr(sha256(concat_ws(chr(31), account, posted_at, amount, currency,
                counterparty, counterparty_account, initiator, mcc, description, reference)), 1, 24)
        ELSE given_id END AS base_id
    FROM judged
)
SELECT
    source_row,
    CASE WHEN $derive_ids
        THEN base_id || '.' || row_number() OVER (PARTITION BY base_id ORDER BY source_row)
        ELSE base_id END AS txn_id,
    account, posted_at, amount::DECIMAL(18,2) AS amount, currency, counterparty,
    counterparty_account, initiator, mcc, description, reference, reason,
    CASE WHEN reason IS NOT NULL THEN json_object(
        'txn_id', given_id, 'account', account, 'posted_at', date_text, 'amount', amount_text,
        'debit', debit_text, 'credit', credit_text, 'currency', currency,
        'counterparty', counterparty, 'description', description)::VARCHAR
    END AS raw,
    CASE WHEN $derive_ids OR reason IS NOT NULL THEN false
        ELSE row_number() OVER (PARTITION BY base_id, reason IS NULL ORDER BY source_row) > 1
    END AS duplicate_in_file
FROM identified;
