-- name: normalize
-- finds: nothing; turns staged text rows into typed ledger rows in one pass over the
--   file. Every staged row comes out exactly once, with a reject reason or usable.
-- reads: `staging` (canonical column names, all VARCHAR, plus source_row, which is
--   NULL when rows are numbered by their order; then parsed.rowid is that order, and
--   raw_row, the row's full text as JSON when the reader has it, else NULL).
-- params:
--   $source        VARCHAR        source name, for messages
--   $currency      VARCHAR        currency when the file has no currency column (may be NULL)
--   $account       VARCHAR        account when the file has no account column (may be NULL)
--   $sign          INTEGER        1 if charges are positive in the file, -1 if negative
--   $date_formats  VARCHAR[]      strptime formats tried in order
--   $columns       STRUCT         canonical field -> file column ('' if unmapped), for messages
--   $raw_keys      VARCHAR[]      file columns shown in `raw`, each once
--   $raw_index     INTEGER[]      for each of those, its field's 1-based CANONICAL_COLUMNS position
--   $derive_ids    BOOLEAN        true when the source maps no txn_id
--   $earliest      DATE           a posting date before this is refused (no sane ledger has one)
--   $latest        DATE           a posting date after this (the day of ingest plus
--                                 $future_days) is refused: scans judge as of the latest
--                                 posting, so one far-future row would end detection
--   $future_days   INTEGER        the source's future_days, for messages
--   $max_amount    DECIMAL        an amount this large or larger is refused (keeps every sum
--                                 far from overflowing)
--   $check_places  BOOLEAN        refuse amounts with more decimals than their currency has
--                                 (bank readers keep such amounts exactly, so they pass false)
--   $zero_decimal  VARCHAR[]      currencies with no minor unit (ISO 4217 exponent 0); the
--                                 rest may have two decimals (the ledger keeps two)
--   $constant      VARCHAR[]      columns the same in every row of this file (unmapped
--                                 fields, source_row when the reader numbers no rows, and
--                                 currency and account when no column gives them): left
--                                 out of `parsed`; ingest's view `parsed_full` adds them
--                                 back as NULLs (writing seven NULL columns row by row cost
--                                 a tenth of normalize), and its readers take a NULL
--                                 currency or account as upper($currency) and $account
-- returns (temp table `parsed`): source_row, txn_id (for derived ids: the content key,
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
        money_canon(clean_text(amount)) AS amount_canon,
        money_canon(clean_text(debit)) AS debit_canon,
        money_canon(clean_text(credit)) AS credit_canon,
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
valued AS (
    -- Each amount's number parsed once (typed needs it three times).
    SELECT *,
        try_cast(amount_canon AS DECIMAL(18,2)) AS amount_value,
        try_cast(debit_canon AS DECIMAL(18,2)) AS debit_value,
        try_cast(credit_canon AS DECIMAL(18,2)) AS credit_value
    FROM cleaned
),
typed AS (
    SELECT *,
        coalesce(account_text, $account) AS account,
        upper(coalesce(currency_text, $currency)) AS currency,
        try_strptime(date_text, $date_formats)::DATE AS posted_at,
        CASE
            WHEN amount_text IS NOT NULL THEN $sign * amount_value
            WHEN debit_text IS NOT NULL OR credit_text IS NOT NULL
                THEN coalesce(abs(debit_value), 0)
                     - coalesce(abs(credit_value), 0)
        END::DECIMAL(18,2) AS amount,
        -- Which amount column holds no number, or one too large (the first, in column
        -- order), and the most decimals any of them carries.
        CASE WHEN amount_text IS NOT NULL AND amount_canon IS NULL THEN 'amount'
             WHEN debit_text IS NOT NULL AND debit_canon IS NULL THEN 'debit'
             WHEN credit_text IS NOT NULL AND credit_canon IS NULL THEN 'credit'
        END AS not_number,
        CASE WHEN amount_canon IS NOT NULL AND coalesce(abs(amount_value) >= $max_amount, true) THEN 'amount'
             WHEN debit_canon IS NOT NULL AND coalesce(abs(debit_value) >= $max_amount, true) THEN 'debit'
             WHEN credit_canon IS NOT NULL AND coalesce(abs(credit_value) >= $max_amount, true) THEN 'credit'
        END AS too_large,
        greatest(money_places(amount_canon), money_places(debit_canon),
                 money_places(credit_canon)) AS places,
        -- list_position, not list_contains: DuckDB rewrites list_contains over a list
        -- parameter into a hash join, and a join gives rows back out of file order
        -- (parsed.rowid numbers the rows: 1.86M of 2M rows got another row's number).
        CASE WHEN list_position($zero_decimal, upper(coalesce(currency_text, $currency))) IS NOT NULL
             THEN 0 ELSE 2 END AS currency_places
    FROM valued
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
            WHEN posted_at > $latest THEN
                format('date {} in column ''{}'' is after {}, more than {} day(s) after the day of '
                       'ingest: a posting cannot be dated in the future (fix the file, or raise '
                       'future_days for source ''{}'')', posted_at, $columns['posted_at'], $latest,
                       $future_days, $source)
            WHEN posted_at < $earliest THEN
                format('date {} in column ''{}'' is before {}, too early to be a posting (fix the '
                       'file, or set earliest_date for source ''{}'')', posted_at,
                       $columns['posted_at'], $earliest, $source)
            WHEN amount_text IS NULL AND debit_text IS NULL AND credit_text IS NULL THEN
                format('no amount in column ''{}''',
                       CASE WHEN $columns['amount'] <> '' THEN $columns['amount']
                            ELSE concat_ws(''' or ''', nullif($columns['debit'], ''), nullif($columns['credit'], '')) END)
            WHEN not_number IS NOT NULL THEN
                format('amount ''{}'' in column ''{}'' is not a number',
                       CASE not_number WHEN 'amount' THEN amount_text WHEN 'debit' THEN debit_text
                            ELSE credit_text END, CASE not_number WHEN 'amount' THEN $columns['amount'] WHEN 'debit' THEN $columns['debit'] ELSE $columns['credit'] END)
            WHEN too_large IS NOT NULL OR abs(amount) >= $max_amount THEN
                format('amount ''{}'' in column ''{}'' is not below {}, more than any one payment '
                       '(fix the file, or raise max_amount for source ''{}'')',
                       CASE coalesce(too_large, 'amount') WHEN 'amount' THEN coalesce(amount_text, debit_text)
                            WHEN 'debit' THEN debit_text ELSE credit_text END,
                       CASE coalesce(too_large, 'amount') WHEN 'amount' THEN $columns['amount'] WHEN 'debit' THEN $columns['debit'] ELSE $columns['credit'] END, CAST($max_amount AS BIGINT), $source)
            WHEN $check_places AND places > currency_places THEN
                format('amount ''{}'' in column ''{}'' has more decimals than {} has ({}); money is '
                       'never rounded: fix the export',
                       coalesce(amount_text, debit_text, credit_text),
                       CASE WHEN amount_text IS NOT NULL THEN $columns['amount']
                            WHEN debit_text IS NOT NULL THEN $columns['debit'] ELSE $columns['credit'] END,
                       coalesce(currency, 'the currency'), currency_places)
            WHEN account IS NULL THEN
                format('no account in column ''{}''; or set account for source ''{}''',
                       $columns['account'], $source)
            WHEN currency IS NULL OR NOT regexp_full_match(currency, '[A-Z]{3}') THEN
                format('currency ''{}'' is not a three-letter code', coalesce(currency, ''))
        END AS reason
    FROM typed
),
parsed_rows AS (
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
    -- Built only for rejected rows: the row's texts in monitor.settings.config.CANONICAL_COLUMNS
    -- order, each mapped file column once, keyed by its name.
    CASE WHEN reason IS NOT NULL THEN coalesce(raw_row, '{' || array_to_string(list_transform(
        list_filter(list_zip($raw_keys, list_transform($raw_index, lambda i:
            [given_id, date_text, amount_text, debit_text, credit_text, currency_text,
             account_text, counterparty, counterparty_account, initiator, mcc, description,
             reference][i])), lambda kv: kv[2] IS NOT NULL),
        lambda kv: to_json(kv[1]) || ':' || to_json(kv[2])), ',') || '}')
    END AS raw
FROM judged
)
SELECT COLUMNS(lambda c: NOT list_contains($constant, c)) FROM parsed_rows;
