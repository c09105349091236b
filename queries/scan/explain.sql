-- name: explain
-- finds: charges the expected-charges registry explains. A charge is explained by an
--   authorization when the payee matches (case-insensitive; * is a wildcard), the
--   account matches (or the authorization names none), the date is within its validity,
--   and the amount is within tolerance of the expected amount (or none is set). A
--   cadence explains at most one charge per period (week, month, quarter, year, or
--   once ever): a second charge in the same month of a monthly contract stays unexplained.
-- params:
--   $as_of  DATE  last posting date to consider
-- returns (temp table `explained`): source, txn_id, reference.

CREATE OR REPLACE TEMP TABLE explained AS
WITH rules AS (
    SELECT *, lower(trim(payee)) AS payee_key, contains(payee, '*') AS is_pattern,
           replace(replace(replace(lower(trim(payee)), '%', '\%'), '_', '\_'), '*', '%') AS like_pattern
    FROM authorizations
),
candidates AS (
    SELECT t.source, t.txn_id, t.account, t.posted_at, t.amount, r.auth_id,
           r.account AS rule_account, r.expected_amount, r.tolerance, r.cadence,
           r.valid_from, r.valid_to, r.reference
    FROM transactions t JOIN rules r ON r.payee_key = lower(trim(t.counterparty))
    WHERE NOT r.is_pattern
    UNION ALL
    SELECT t.source, t.txn_id, t.account, t.posted_at, t.amount, r.auth_id,
           r.account AS rule_account, r.expected_amount, r.tolerance, r.cadence,
           r.valid_from, r.valid_to, r.reference
    FROM transactions t JOIN rules r ON lower(trim(t.counterparty)) LIKE r.like_pattern ESCAPE '\'
    WHERE r.is_pattern
),
fitting AS (
    SELECT * FROM candidates
    WHERE amount > 0 AND posted_at <= $as_of
      AND (rule_account IS NULL OR rule_account = account)
      AND (valid_from IS NULL OR posted_at >= valid_from)
      AND (valid_to IS NULL OR posted_at <= valid_to)
      AND (expected_amount IS NULL OR abs(amount - expected_amount) <= tolerance)
),
ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY auth_id, CASE cadence
            WHEN 'weekly' THEN date_trunc('week', posted_at)
            WHEN 'monthly' THEN date_trunc('month', posted_at)
            WHEN 'quarterly' THEN date_trunc('quarter', posted_at)
            WHEN 'yearly' THEN date_trunc('year', posted_at)
            ELSE DATE '1970-01-01' END
        ORDER BY posted_at, txn_id) AS nth
    FROM fitting
)
SELECT source, txn_id, min(reference) AS reference
FROM ranked
WHERE cadence IS NULL OR nth = 1
GROUP BY source, txn_id;
