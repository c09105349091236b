-- name: lookalike_payee
-- finds: A payee new to the organisation whose name is very close to, but not the same
--   as, a payee the account or the organisation has paid for months: one letter changed,
--   added or dropped, 0 for O, two letters swapped, and (when asked) one word added
--   ('AMAZ0N MKTPLACE' for 'AMAZON MKTPLACE'). A name is compared lower-cased with
--   punctuation made spaces and web affixes ('www.', '.co.uk') dropped, so spelling
--   variants of one payee (case, punctuation, spacing) are not look-alikes; nor are a
--   name cut short ('HYATT REGENCY BIRMINGH'), names that differ only in digits, or
--   other store numbers of one chain ('TESCO STORE 2571', 'TESCO STORES 2371'), nor
--   names whose only difference is in a short word (initials, a numeral: 'AB COMERCIO DE
--   COMBUSTIVEIS' and 'AC COMERCIO DE COMBUSTIVEIS' are two firms, as are 'POSTO IV' and
--   'POSTO VI'; a firm's name is mostly such initials and the trade it is in).
--   Each letter outside ASCII is compared as '?' (DuckDB's levenshtein counts bytes,
--   Spark's characters: so both engines measure the same distance).
--   Severity follows the money (tiers) but warns from the first charge: a look-alike
--   is worth a look before any sum builds up, and the tiers escalate it as it does.
--   One finding per new payee across the organisation (account NULL, as payee_many_accounts):
--   a mangled name on eight cards is one thing to check, told once with the accounts that
--   pay it, not eight alerts. A charge counts when its own account trusts an original
--   (its own habit) or the organisation does; the exposure is those charges together.
-- params:
--   $new_days       INTEGER  default 90     days a payee counts as new to the organisation
--   $trusted_days   INTEGER  default 90     the look-alike's original was first paid at least
--                                            this many days before the new payee appeared
--   $history_days   INTEGER  default 180    an account's charges to the original are counted
--                                            over this many days before the new payee appeared
--   $min_paid       INTEGER  default 3      charges by the account in that time that make the
--                                            original one it trusts
--   $min_accounts   INTEGER  default 3      or: accounts that had paid the original by then
--   $min_length     INTEGER  default 6      shortest original name compared (letters and digits)
--   $min_word       INTEGER  default 4      the names must differ in a word of at least this many
--                                            letters, not only in shorter words (1: any word)
--   $extra_word     BOOLEAN  default false  a name that adds one word to the original looks
--                                            alike too (off: on purchase cards it is mostly a
--                                            branch or a place, 'COSTA COFFEE STOCKTON')
--   $tier_warning   DECIMAL  default 0      exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_length ladder 4 5 6 7 8 10 12 14 16 24
-- returns: the detector event columns (see queries/scan/summarize.sql), account NULL, and
--   `detail` (JSON: lookalike, lookalike_since, lookalike_paid, accounts) for the sentence.
-- sentence: '{counterparty}' looks like '{lookalike}', a payee paid since {lookalike_since} ({lookalike_paid}); {charges} charges to the new name from {accounts} since {since}, {exposure}

-- Names are compared once per distinct pair, after blocking: only names that share their
-- first or last three letters and differ in length by at most one (or by one added word)
-- are ever given to levenshtein, so tens of thousands of payees cost a few hundred
-- thousand comparisons, not their square. Whether the original was trusted comes from
-- pair_facts (every account-payee pair's first day, all history) and, for one account's
-- own habit, from that account's charges (an incremental scan judges a payee again only
-- when the payee and every account that ever paid it are in scope, so they are all
-- there; see scan/scope.sql).
WITH counted AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL AND amount > 0 AND day <= payee_first_day + $new_days
),
names AS (      -- every payee ever paid, with its name as compared (only what the
                -- blocking joins need: the rest is worked out for the blocked pairs alone,
                -- as is which name came first; over every name it was most of an
                -- incremental scan's time in this detector)
    SELECT counterparty, first_day, n, replace(n, ' ', '') AS squeezed,
        regexp_replace(n, '[^0-9]', '', 'g') AS digits
    FROM (SELECT counterparty, min(payee_first_day) AS first_day,
              regexp_replace(regexp_replace(regexp_replace(
                  trim(regexp_replace(lower(counterparty), '[^\p{L}\p{N}]+', ' ', 'g')),
                  '^www ', ''), ' (co uk|org uk|com|co|net|org|uk)$', ''),
                  '[^ -~]', '?', 'g') AS n
          -- a payee's first pairs (no account before them) carry its first day: a
          -- tenth of the rows of pair_facts to group
          FROM pair_facts WHERE payee_accounts_before = 0 GROUP BY counterparty) f
),
fresh AS (      -- the payees new to the organisation that a charge here was made to,
                -- unless a payee of the same name as compared came first (a spelling of it)
    SELECT p.* FROM names p
    SEMI JOIN (SELECT DISTINCT counterparty FROM counted) c USING (counterparty)
    WHERE NOT EXISTS (SELECT 1 FROM names e WHERE e.n = p.n AND e.first_day < p.first_day)
),
shifted AS (    -- each fresh name once per length its original may have: one edit
                -- changes the length by at most one (a word added is the other branch)
    SELECT p.*, length(p.squeezed) + d.shift AS want
    FROM fresh p CROSS JOIN (VALUES (-1), (0), (1)) AS d(shift)
),
pairs AS (      -- hash joins on (first three letters, length) and (last three, length):
                -- an OR of conditions, or the three letters alone, made blocks of a
                -- thousand names on a ledger of 60,000 payees
    -- Names that both carry digits are look-alikes only with the same digits (other
    -- digits are another store of a chain), so the digits are part of the join key: a
    -- ledger of numbered payees ('payee 1234', 'payee 1235') otherwise put hundreds of
    -- thousands of names in one block (a 10M-row scan ran out of memory and disk).
    SELECT p.counterparty, t.counterparty AS lookalike
    FROM shifted p JOIN names t
      ON left(p.squeezed, 3) = left(t.squeezed, 3) AND length(t.squeezed) = p.want
     AND p.digits = t.digits
    UNION
    SELECT p.counterparty, t.counterparty
    FROM shifted p JOIN names t
      ON right(p.squeezed, 3) = right(t.squeezed, 3) AND length(t.squeezed) = p.want
     AND p.digits = t.digits
    UNION       -- digits on one side only ('amaz0n' for 'amazon')
    SELECT p.counterparty, t.counterparty
    FROM (SELECT * FROM shifted WHERE digits <> '') p
    JOIN (SELECT * FROM names WHERE digits = '') t
      ON left(p.squeezed, 3) = left(t.squeezed, 3) AND length(t.squeezed) = p.want
    UNION
    SELECT p.counterparty, t.counterparty
    FROM (SELECT * FROM shifted WHERE digits <> '') p
    JOIN (SELECT * FROM names WHERE digits = '') t
      ON right(p.squeezed, 3) = right(t.squeezed, 3) AND length(t.squeezed) = p.want
    UNION
    SELECT p.counterparty, t.counterparty
    FROM (SELECT * FROM shifted WHERE digits = '') p
    JOIN (SELECT * FROM names WHERE digits <> '') t
      ON left(p.squeezed, 3) = left(t.squeezed, 3) AND length(t.squeezed) = p.want
    UNION
    SELECT p.counterparty, t.counterparty
    FROM (SELECT * FROM shifted WHERE digits = '') p
    JOIN (SELECT * FROM names WHERE digits <> '') t
      ON right(p.squeezed, 3) = right(t.squeezed, 3) AND length(t.squeezed) = p.want
    UNION       -- a word added (only when asked: no fresh name takes part otherwise)
    SELECT p.counterparty, t.counterparty
    FROM (SELECT * FROM fresh WHERE $extra_word) p JOIN names t
      ON left(p.squeezed, 3) = left(t.squeezed, 3) AND starts_with(p.n, t.n || ' ')
    UNION
    SELECT p.counterparty, t.counterparty
    FROM (SELECT * FROM fresh WHERE $extra_word) p JOIN names t
      ON right(p.squeezed, 3) = right(t.squeezed, 3) AND ends_with(p.n, ' ' || t.n)
),
blocked AS (
    SELECT p.counterparty, p.first_day, t.counterparty AS lookalike, p.n AS pn, t.n AS tn,
        p.squeezed AS p_sq, t.squeezed AS t_sq,
        regexp_replace(p.n, '[0-9 ]', '', 'g') AS p_bare,
        regexp_replace(t.n, '[0-9 ]', '', 'g') AS t_bare,
        p.digits AS p_digits, t.digits AS t_digits,
        -- the names without their words shorter than $min_word (each word between its own
        -- two spaces, so that neighbouring short words go too)
        CASE WHEN $min_word > 1 THEN regexp_replace(' ' || replace(p.n, ' ', '  ') || ' ',
            ' [^ ]{1,' || CAST($min_word - 1 AS VARCHAR) || '} ', '', 'g') ELSE p.n END AS p_long,
        CASE WHEN $min_word > 1 THEN regexp_replace(' ' || replace(t.n, ' ', '  ') || ' ',
            ' [^ ]{1,' || CAST($min_word - 1 AS VARCHAR) || '} ', '', 'g') ELSE t.n END AS t_long,
        array_to_string(list_sort(string_split(p.n, '')), '')          -- for swaps
            = array_to_string(list_sort(string_split(t.n, '')), '') AS anagram
    FROM pairs b
    JOIN fresh p ON p.counterparty = b.counterparty
    JOIN names t ON t.counterparty = b.lookalike
    WHERE t.first_day <= p.first_day - $trusted_days AND length(t.squeezed) >= $min_length
),
near AS (       -- one edit (or a swap) at position i leaves the part before i and the
                -- part after it alike: the first or the last half (less one) is the same,
                -- a cheap test that spares levenshtein most pairs of long names
    SELECT *, CAST(floor(least(length(p_sq), length(t_sq)) / 2) AS INTEGER) - 1 AS half
    FROM blocked
    WHERE p_bare <> t_bare
      AND NOT (p_digits <> '' AND t_digits <> '' AND p_digits <> t_digits)
),
scored AS (
    SELECT *, levenshtein(pn, tn) AS distance
    FROM near
    WHERE ($extra_word AND starts_with(pn, tn || ' ')
                       AND strpos(substr(pn, length(tn) + 2), ' ') = 0)
       OR ($extra_word AND ends_with(pn, ' ' || tn)
                       AND strpos(substr(pn, 1, length(pn) - length(tn) - 1), ' ') = 0)
       OR (NOT starts_with(p_sq, t_sq) AND NOT starts_with(t_sq, p_sq)
           AND replace(p_long, ' ', '') <> replace(t_long, ' ', '')
           AND (left(p_sq, half) = left(t_sq, half) OR right(p_sq, half) = right(t_sq, half)))
),
matches AS (    -- close but not the same name: one edit, two letters swapped, or (when
                -- asked) a word added; not one cut short, nor other digits of a chain,
                -- nor other short words only
    SELECT counterparty, first_day, lookalike, distance
    FROM scored
    WHERE ($extra_word AND (starts_with(pn, tn || ' ') OR ends_with(pn, ' ' || tn)))
       OR (NOT starts_with(p_sq, t_sq) AND NOT starts_with(t_sq, p_sq)
           AND replace(p_long, ' ', '') <> replace(t_long, ' ', '')
           -- one edit, or two that swap letters; `distance` named once, since DuckDB
           -- computes levenshtein again for each mention
           AND distance * 2 - CASE WHEN anagram THEN 1 ELSE 0 END IN (2, 3))
),
by_account AS (  -- originals the paying account itself used for months
    SELECT a.account, m.counterparty, m.lookalike, m.distance, 0 AS level,
        count(*) AS paid, min(f.pair_first_day) AS since_day
    FROM matches m
    JOIN (SELECT DISTINCT account, counterparty FROM counted) a USING (counterparty)
    JOIN pair_facts f ON f.account = a.account AND f.counterparty = m.lookalike
                     AND f.pair_first_day <= m.first_day - $trusted_days
    JOIN charges c ON c.account = a.account AND c.counterparty = m.lookalike AND c.amount > 0
                  AND c.day >= m.first_day - $history_days AND c.day < m.first_day
    GROUP BY a.account, m.counterparty, m.lookalike, m.distance
    HAVING count(*) >= $min_paid
),
by_organisation AS (   -- originals several accounts had paid
    SELECT m.counterparty, m.lookalike, m.distance, 1 AS level,
        count(*) AS paid, min(f.pair_first_day) AS since_day
    FROM matches m
    JOIN pair_facts f ON f.counterparty = m.lookalike
                     AND f.pair_first_day <= m.first_day - $trusted_days
    GROUP BY m.counterparty, m.lookalike, m.distance
    HAVING count(*) >= $min_accounts
),
candidates AS (
    SELECT * FROM by_account
    UNION ALL
    SELECT a.account, o.* FROM by_organisation o
    JOIN (SELECT DISTINCT account, counterparty FROM counted) a USING (counterparty)
),
best AS (        -- one original per account and new payee: its own first, then the closest
    SELECT account, counterparty, lookalike, level, paid, since_day
    FROM (SELECT *, row_number() OVER (PARTITION BY account, counterparty
                                       ORDER BY level, distance, paid DESC, lookalike) AS rank
          FROM candidates) r
    WHERE rank = 1
),
trusting AS (     -- the charges that count: each one's account trusts an original;
                  -- j = 1 on an account's first charge to the payee
    SELECT c.*, b.lookalike, b.level, b.paid, b.since_day,
        row_number() OVER (PARTITION BY c.counterparty, c.account
                           ORDER BY c.day, c.txn_id) AS j
    FROM counted c JOIN best b USING (account, counterparty)
),
running AS (      -- one run per payee, across its accounts
    SELECT *,
        sum(amount) OVER run AS total,
        count(*) OVER run AS n,
        min(posted_at) OVER run AS first_at,
        sum(CASE WHEN j = 1 THEN 1 ELSE 0 END) OVER run AS accounts
    FROM trusting
    WINDOW run AS (PARTITION BY counterparty ORDER BY day, txn_id ROWS UNBOUNDED PRECEDING)
),
named AS (        -- the first three accounts that paid it, by a running max over the row
                  -- where each first did (a window any engine has; no ordered list needed)
    SELECT *,
        max(CASE WHEN j = 1 AND accounts = 1 THEN account END) OVER run AS a1,
        max(CASE WHEN j = 1 AND accounts = 2 THEN account END) OVER run AS a2,
        max(CASE WHEN j = 1 AND accounts = 3 THEN account END) OVER run AS a3
    FROM running
    WINDOW run AS (PARTITION BY counterparty ORDER BY day, txn_id ROWS UNBOUNDED PRECEDING)
)
SELECT CAST(NULL AS VARCHAR) AS account, counterparty, CAST(NULL AS VARCHAR) AS initiator,
    txn_id, posted_at, day,
    amount, currency, total AS exposure, CAST(n AS INTEGER) AS charges, first_at AS since,
    CASE WHEN total >= $tier_critical THEN 'critical'
         WHEN total >= $tier_high THEN 'high'
         WHEN total >= $tier_warning THEN 'warning' END AS severity,
    posted_at + $new_days AS active_until,
    to_json({'lookalike': lookalike,
             'lookalike_since': CAST(DATE '1970-01-01' + since_day AS VARCHAR),
             'lookalike_paid': CASE WHEN level = 0
                 THEN 'account ' || account || ' paid it ' || CAST(paid AS VARCHAR)
                      || ' times in the ' || CAST($history_days AS VARCHAR) || ' days before'
                 ELSE CAST(paid AS VARCHAR) || ' accounts had paid it' END,
             'accounts': CASE WHEN accounts = 1 THEN 'account ' || a1
                 ELSE CAST(accounts AS VARCHAR) || ' accounts (' || concat_ws(', ', a1, a2, a3)
                      || CASE WHEN accounts > 3
                              THEN ' and ' || CAST(accounts - 3 AS VARCHAR) || ' more'
                              ELSE '' END || ')' END}) AS detail
FROM named
