-- name: shared_payout_account
-- finds: One payout account (IBAN, PayPal, card) that receives money under several payees:
--   the advisory's sign of one worker behind many "freelancers", or of payee names that
--   differ from the account holder. Payees are told apart by their key (`counterparty`,
--   compared lower-cased with punctuation made spaces), so spellings of one payee
--   ('Devlab Consult', 'DEVLAB-CONSULT'; with payee keys also 'DEVLAB CONSULT LTD' and
--   'PAYPAL *DEVLAB CONSULT') are one payee, not several; account numbers are compared
--   upper-cased without spaces, dashes, dots or slashes.
--   Only a real payout account is judged: a valid IBAN (its check digits verified), a
--   wallet address ('name@example.com', a PayPal payout), or any value of a source read
--   from a bank format (camt, MT940, BAI2, OFX: there the column is the payee's bank
--   account). A CSV column holding a card merchant number or a tax number (CNPJ) names
--   the payee, not where the money goes, and one merchant or company goes by several
--   names: no sign of one person behind many payees (US 2010 cards: 130 honest alerts in
--   six months). A CSV of domestic account numbers is not judged either (a source
--   setting could say what the column holds: not built).
-- params:
--   $window_days    INTEGER  default 365    names are compared over this many days
--   $tier_warning   DECIMAL  default 0      exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- returns: the detector event columns (see queries/scan/summarize.sql), and `detail`
--   (JSON: payees, two of the payees seen) for the sentence.
-- sentence: {charges} payments since {since} to one payout account ({account}) under different payees ({payees}), {exposure}, none of them approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
WITH counted AS (
    SELECT c.*, p.payout,
        trim(regexp_replace(lower(c.counterparty), '[^\p{L}\p{N}]+', ' ', 'g')) AS payee
    FROM charges c JOIN payouts p USING (source, counterparty_account)
    WHERE c.explained_by IS NULL AND c.amount > 0
),
daily AS (
    SELECT payout, day, min(payee) AS one_name, max(payee) AS other_name, count(*) AS n,
        sum(amount) AS total,
        min(posted_at) AS first_at
    FROM counted
    GROUP BY payout, day
),
paid AS (
    SELECT payout, day,
        min(one_name) OVER w AS one_name,
        max(other_name) OVER w AS other_name,
        sum(n) OVER w AS n,
        sum(total) OVER w AS total,
        min(first_at) OVER w AS first_at
    FROM daily
    WINDOW w AS (PARTITION BY payout ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT c.payout AS account, CAST(NULL AS VARCHAR) AS counterparty,
    CAST(NULL AS VARCHAR) AS initiator, c.txn_id, c.posted_at, c.day, c.amount, c.currency,
    p.total AS exposure, CAST(p.n AS INTEGER) AS charges, p.first_at AS since,
    CASE WHEN p.one_name <> p.other_name THEN
        CASE WHEN p.total >= $tier_critical THEN 'critical'
             WHEN p.total >= $tier_high THEN 'high'
             WHEN p.total >= $tier_warning THEN 'warning' END
    END AS severity,
    c.posted_at + $window_days AS active_until,
    to_json({'payees': '''' || p.one_name || ''', ''' || p.other_name || ''''}) AS detail
FROM counted c JOIN paid p USING (payout, day)
