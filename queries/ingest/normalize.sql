-- name: normalize
-- Finds: nothing; turns staged text rows into typed ledger rows in one pass over the
--   file. Every staged row comes out exactly once, with a reject reason or usable.
-- Reads: `staging` (canonical column names, all VARCHAR, plus source_row, which is
--   NULL when rows are numbered by their order; then parsed.rowid is that order, and
--   raw_row, the row's full text as JSON when the reader has it, else NULL).
-- Parameters:
--   $source        VARCHAR        source name, for messages
--   $currency      VARCHAR        currency when the file has no currency column (may be NULL)
--   $account       VARCHAR        account when the file has no account column (may be NULL)
--   $sign          INTEGER        1 if charges are positive in the file, -1 if negative
--   $date_formats  VARCHAR[]      strptime formats tried in order
--   $columns       STRUCT         canonical field -> file column ('' if unmapped), for messages
--   $raw_keys      VARCHAR[]      file columns shown in `raw`, each once
--   $raw_index     INTEGER[]      for each of those, its field's 1-based CANONICAL_COLUMNS position
--   $derive_ids    BOOLEAN        true when the source maps no txn_id
-- Returns (temp table `parsed`): source_row, txn_id (for derived ids: the content key,
--   numbered later), account, posted_at, amount, currency, counterparty,
--   counterparty_account, initiator, mcc, description, reference,
--   reason (NULL when usable), raw (only when rejected: raw_row, else the mapped columns'
--   texts as JSON by file column name).

CREATE OR REPLACE TEMP TABLE parsed AS
WITH cleaned AS (
    SELECT
        source_row,
        clean_text(txn_id) AS given_id,
        clean_text(account) AS account_text,
        clean_text(posted_at) AS date_text,
        clean_text(amount) AS amount_text,
        clean_text(debit) AS debit_text,
        clean_text(credit) AS credit_text,
        clean_text(currency) AS currency_text,
        clean_text(counterparty) AS counterparty,
        clean_text(counterparty_account) AS counterparty_account,
        clean_text(initiator) AS initiator,
        clean_text(mcc) AS mcc,
        clean_text(description) AS description,
        clean_text(reference) AS reference,
        raw_row
    FROM staging
),
typed AS (
    SELECT *,
        coalesce(account_text, $account) AS account,
        upper(coalesce(currency_text, $currency)) AS currency,
        try_strptime(date_text, $date_formats)::DATE AS posted_at,
        CASE
            WHEN amount_text IS NOT NULL THEN $sign * parse_money(amount_text)
            WHEN debit_text IS NOT NULL OR credit_text IS NOT NULL
                THEN coalesce(abs(parse_money(debit_text)), 0) - coalesce(abs(parse_money(credit_text)), 0)
        END::DECIMAL(18,2) AS amount
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
                format('no amount in column ''{}''',
                       CASE WHEN $columns['amount'] <> '' THEN $columns['amount']
                            ELSE concat_ws(''' or ''', nullif($columns['debit'], ''), nullif($columns['credit'], '')) END)
            WHEN amount IS NULL THEN
                format('amount ''{}'' in column ''{}'' is not a number',
                       coalesce(amount_text, debit_text, credit_text),
                       CASE WHEN $columns['amount'] <> '' THEN $columns['amount']
                            WHEN debit_text IS NOT NULL THEN $columns['debit'] ELSE $columns['credit'] END)
            WHEN account IS NULL THEN
                format('no account in column ''{}''; or set account for source ''{}''',
                       $columns['account'], $source)
            WHEN currency IS NULL OR NOT regexp_full_match(currency, '[A-Z]{3}') THEN
                format('currency ''{}'' is not a three-letter code', coalesce(currency, ''))
        END AS reason
    FROM typed
)
SELECT
    source_row,
    CASE WHEN $derive_ids THEN
        -- Content key: identical rows in one file are numbered later by their order,
        -- so an overlapping export yields the same ids.
        'h' || substr(sha256(concat_ws(chr(31), account, posted_at, amount, currency,
            counterparty, counterparty_account, initiator, mcc, description, reference)), 1, 24)
    ELSE given_id END AS txn_id,
    account, posted_at, amount, currency, counterparty, counterparty_account, initiator, mcc,
    description, reference, reason,
    -- Built only for rejected rows: the row's texts in monitor.config.CANONICAL_COLUMNS
    -- order, each mapped file column once, keyed by its name.
    CASE WHEN reason IS NOT NULL THEN coalesce(raw_row, '{' || array_to_string(list_transform(
        list_filter(list_zip($raw_keys, list_transform($raw_index, lambda i:
            [given_id, date_text, amount_text, debit_text, credit_text, currency_text,
             account_text, counterparty, counterparty_account, initiator, mcc, description,
             reference][i])), lambda kv: kv[2] IS NOT NULL),
        lambda kv: to_json(kv[1]) || ':' || to_json(kv[2])), ',') || '}')
    END AS raw
FROM judged;
