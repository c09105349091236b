-- name: scope
-- finds: what an incremental scan must look at again: the accounts, payees, initiators
--   and payout accounts of the rows new to this scan: ingested since the last scan (files
--   after $after_file_id), or ingested before but posted after the last scan's date
--   ($after_day: a scan --as-of a later day sees them for the first time). Every row of
--   each of them is in the scan, so each group they form is judged on complete data;
--   other groups keep the previous scan's findings.
-- params:
--   $after_file_id  BIGINT  rows of files with a larger id are new
--   $after_day      DATE    rows posted after this day are new (the last scan's as_of)
--   $as_of          DATE    last posting day considered
--   $pair_keyed     VARCHAR[]  detectors judged per account-payee pair from its own
--                              charges (detection/catalog.py PAIR_KEYED)
--   $account_keyed  VARCHAR[]  detectors judged per account from all its history
--                              (detection/catalog.py ACCOUNT_KEYED)
-- returns (temp table `scope`): kind ('account' | 'payee' | 'initiator' | 'payout'), key;
--   temp table `scope_pairs` (pair_account, pair_payee: the account-payee pairs of the
--   new rows; first_new_day: the earliest posting of their new rows), temp tables
--   `pair_keyed` (pair_detector), `account_keyed` (account_detector), `partial_payees`,
--   `quiet_initiators` and `account_rescanned` (all three empty), and macro `rescanned`.

CREATE OR REPLACE TEMP TABLE scope AS
WITH fresh AS (
    SELECT t.*, coalesce(k.payee_key, t.counterparty, '(no payee)') AS payee
    FROM transactions t
    LEFT JOIN payee_keys k ON k.name = t.counterparty     -- payees by key
    WHERE (t.file_id > $after_file_id OR t.posted_at > $after_day) AND t.posted_at <= $as_of
)
SELECT DISTINCT 'account' AS kind, account AS key FROM fresh
UNION SELECT DISTINCT 'payee', payee FROM fresh
UNION SELECT DISTINCT 'initiator', coalesce(initiator, account) FROM fresh
-- Every account that ever paid a payee of these rows that is new to the organisation (first
-- paid in the last 400 days, the longest a look-alike stays judged): a look-alike payee
-- is judged across all its accounts, each by its own history (see the macro below).
-- Older payees are left out: they have many accounts and no look-alike finding to redo.
UNION SELECT DISTINCT 'account', h.account FROM pair_history_pairs h
WHERE h.counterparty IN (SELECT payee FROM fresh)
  AND h.payee_first_day >= date_diff('day', DATE '1970-01-01', $as_of) - 400
-- A payout account as the detectors compare it (upper case, no spaces, dashes, dots or
-- slashes), and every spelling of it in the ledger, so its rows all come along.
UNION SELECT DISTINCT 'payout', upper(regexp_replace(counterparty_account, '[\s./-]+', '', 'g'))
FROM fresh WHERE counterparty_account IS NOT NULL
UNION SELECT DISTINCT 'payout', counterparty_account FROM transactions
WHERE posted_at <= $as_of
  AND upper(regexp_replace(counterparty_account, '[\s./-]+', '', 'g')) IN (
      SELECT upper(regexp_replace(counterparty_account, '[\s./-]+', '', 'g')) FROM fresh);

-- The account-payee pairs of the new rows: a pair-keyed detector (PAIR_KEYED in
-- detection/catalog.py) is given only their charges, every other pair being unchanged.
CREATE OR REPLACE TEMP TABLE scope_pairs AS
SELECT t.account AS pair_account,
       coalesce(k.payee_key, t.counterparty, '(no payee)') AS pair_payee,
       min(t.posted_at) AS first_new_day
FROM transactions t
LEFT JOIN payee_keys k ON k.name = t.counterparty
WHERE (t.file_id > $after_file_id OR t.posted_at > $after_day) AND t.posted_at <= $as_of
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE pair_keyed AS
SELECT unnest(CAST($pair_keyed AS VARCHAR[])) AS pair_detector;

CREATE OR REPLACE TEMP TABLE account_keyed AS
SELECT unnest(CAST($account_keyed AS VARCHAR[])) AS account_detector;

-- Payees in scope that an account out of scope paid (pair_history: all history), for the
-- macro below: filled by scan/partial_payees.sql once the detectors have run, for the
-- payees of look-alike findings alone (reading pair_history for every payee in scope cost
-- 0.3 s of CPU each time the macro was used, twice a scan, at 10M rows).
CREATE OR REPLACE TEMP TABLE partial_payees (payee VARCHAR);

-- The initiators whose unexplained_drift findings at the initiator level cannot change
-- (filled by scan/quiet_initiators.sql): their findings carry over.
CREATE OR REPLACE TEMP TABLE quiet_initiators (quiet_detector VARCHAR,
                                               quiet_initiator VARCHAR);

-- The accounts an account-keyed detector judged again, all their pairs on all their
-- history: filled by scan/account_charges.sql as each such detector runs.
CREATE OR REPLACE TEMP TABLE account_rescanned (rescanned_detector VARCHAR,
                                                rescanned_account VARCHAR);

-- Whether a finding's group was judged again on complete data: a group keyed by a payee
-- alone needs all the payee's rows, so only a payee in scope counts for it, and so on.
-- (Rows of other groups come along, e.g. an account's charges to a payee not in scope;
-- what the detectors make of such partial groups is dropped, and the previous scan's
-- findings about them carry over.) A look-alike payee is judged across the organisation
-- and, for each account that paid it, by that account's other payees too: only a payee in
-- scope whose every account (pair_history: all history) is in scope has all of those rows.
CREATE OR REPLACE TEMP MACRO rescanned(detector, account, counterparty, initiator) AS
    coalesce(detector IN ('stale_feed', 'statement_check_failed', 'conflicting_duplicate')
    OR (detector = 'shared_payout_account'
        AND account IN (SELECT key FROM scope WHERE kind = 'payout'))
    OR (detector = 'lookalike_payee'
        AND counterparty IN (SELECT key FROM scope WHERE kind = 'payee')
        AND counterparty NOT IN (SELECT payee FROM partial_payees))
    OR (detector IN (SELECT pair_detector FROM pair_keyed)
        AND EXISTS (SELECT 1 FROM scope_pairs
                    WHERE pair_account = account AND pair_payee = counterparty))
    OR (detector IN (SELECT account_detector FROM account_keyed)
        AND EXISTS (SELECT 1 FROM account_rescanned
                    WHERE rescanned_detector = detector AND rescanned_account = account))
    OR (detector NOT IN ('shared_payout_account', 'lookalike_payee')
        AND detector NOT IN (SELECT pair_detector FROM pair_keyed)
        AND detector NOT IN (SELECT account_detector FROM account_keyed) AND (
           account IN (SELECT key FROM scope WHERE kind = 'account')
        OR counterparty IN (SELECT key FROM scope WHERE kind = 'payee')
        OR initiator IN (SELECT key FROM scope WHERE kind = 'initiator'))
        AND NOT (account IS NULL AND counterparty IS NULL
                 AND EXISTS (SELECT 1 FROM quiet_initiators
                             WHERE quiet_detector = detector
                               AND quiet_initiator = initiator))), false);
