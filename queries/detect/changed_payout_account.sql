-- name: changed_payout_account
-- finds: Changed bank details: a payee paid to one payout account (IBAN, account number)
--   for months that is suddenly paid to another one, where the source carries the
--   payee's account (camt, MT940, BAI2, OFX, many platform exports). Only a payee paid
--   at a single account over the lookback counts as having "its" account: a chain paid
--   at many (card merchant numbers of its stores) is not judged. Account numbers are
--   compared upper-cased without spaces, dashes, dots or slashes, so 'gb82 west-1234'
--   and 'GB82WEST1234' are one account. An account the payee was paid at within the last
--   $lookback_days is not new; one used again after a longer pause is. Severity follows
--   the money but warns from the first payment: a redirected payee is worth a call to the
--   payee (on a number already on file) before the next payment goes.
--   Only a real payout account is judged: a valid IBAN (its check digits verified), a
--   wallet address ('name@example.com', a PayPal payout), or any value of a source read
--   from a bank format (camt, MT940, BAI2, OFX: there the column is the payee's bank
--   account). A CSV column holding a card merchant number or a tax number (CNPJ) names
--   the payee, not where the money goes: a chain's stores or one name written for two
--   companies would be a 'new account' every week (US 2010 cards: 226 honest alerts in
--   six months; Brazil: 922 in 44). A CSV of domestic account numbers is not judged
--   either (a source setting could say what the column holds: not built).
-- params:
--   $lookback_days   INTEGER  default 365    the payee's earlier payments looked at
--   $established_days INTEGER default 60     the payee was first paid at least this many days
--                                             before the new account appeared (within lookback)
--   $min_paid        INTEGER  default 2      payments to the payee in the lookback before it
--   $window_days     INTEGER  default 90     payments to the new account are counted for this long
--   $tier_warning    DECIMAL  default 0      exposure that fires at severity warning
--   $tier_high       DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical   DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_paid ladder 2 3 4 6 8 12 16 24 32
-- returns: the detector event columns (see queries/scan/summarize.sql), keyed by the new
--   payout account (as `account`) and the payee, and `detail` (JSON: previous_account,
--   previous_paid) for the sentence.
-- sentence: {charges} payments since {since} to '{counterparty}' at payout account {account}, {exposure}; before, this payee was paid only at {previous_account} ({previous_paid}), none of them approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
WITH paid AS (
    SELECT c.*, p.payout
    FROM charges c JOIN payouts p USING (source, counterparty_account)
    WHERE c.amount > 0
),
payout_days AS (   -- each payee's payments per payout account and day
    SELECT counterparty, payout, day, count(*) AS n, sum(amount) AS total
    FROM paid GROUP BY counterparty, payout, day
),
payee_days AS (    -- what the payee had been paid before each day, at any account
    SELECT counterparty, payout, day,
        lag(day) OVER (PARTITION BY counterparty, payout ORDER BY day) AS previous_use,
        sum(n) OVER before AS paid_before,
        min(day) OVER before AS first_before,
        min(payout) OVER before AS low_payout,
        max(payout) OVER before AS high_payout
    FROM payout_days
    WINDOW before AS (PARTITION BY counterparty ORDER BY day
                      RANGE BETWEEN $lookback_days PRECEDING AND 1 PRECEDING)
),
switches AS (      -- the first day of an account the payee was not paid at lately
    SELECT *,
        CASE WHEN (previous_use IS NULL OR day - previous_use > $lookback_days)
                  AND paid_before >= $min_paid AND day - first_before >= $established_days
                  AND low_payout = high_payout   -- paid at one account until then
             THEN day END AS switch_day
    FROM payee_days
),
runs AS (          -- each payment to an account since its latest switch, and what the
                   -- payee was paid at before that switch
    SELECT p.*,
        max(s.switch_day) OVER run AS since_switch,
        last_value(CASE WHEN s.switch_day IS NOT NULL THEN s.low_payout END IGNORE NULLS)
            OVER run AS switched_from,
        last_value(CASE WHEN s.switch_day IS NOT NULL THEN s.paid_before END IGNORE NULLS)
            OVER run AS switched_after
    FROM paid p JOIN switches s USING (counterparty, payout, day)
    WINDOW run AS (PARTITION BY p.counterparty, p.payout ORDER BY p.day, p.txn_id
                   ROWS UNBOUNDED PRECEDING)
),
counted AS (
    SELECT *,
        sum(amount) OVER episode AS total,
        count(*) OVER episode AS n,
        min(posted_at) OVER episode AS first_at
    FROM runs
    WHERE since_switch IS NOT NULL AND day <= since_switch + $window_days
      AND explained_by IS NULL
    WINDOW episode AS (PARTITION BY counterparty, payout, since_switch ORDER BY day, txn_id
                       ROWS UNBOUNDED PRECEDING)
)
SELECT payout AS account, counterparty, CAST(NULL AS VARCHAR) AS initiator, txn_id,
    posted_at, day, amount, currency, total AS exposure, CAST(n AS INTEGER) AS charges,
    first_at AS since,
    CASE WHEN total >= $tier_critical THEN 'critical'
         WHEN total >= $tier_high THEN 'high'
         WHEN total >= $tier_warning THEN 'warning' END AS severity,
    posted_at + $window_days AS active_until,
    to_json({'previous_account': switched_from,
             'previous_paid': CAST(switched_after AS VARCHAR) || ' payments in the '
                 || CAST($lookback_days AS VARCHAR) || ' days before'}) AS detail
FROM counted
