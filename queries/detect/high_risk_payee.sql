-- name: high_risk_payee
-- finds: Unapproved charges to crypto exchanges, money-transfer and quasi-cash payees: the
--   advisory's first red flag (payment asked for in cryptocurrency). It fires on the first
--   charge: there is no honest pattern to wait for.
-- params:
--   $payee_pattern  VARCHAR  default \b(coinbase|binance|kraken|bitstamp|bitfinex|crypto\.com|bitpanda|gemini\.com|kucoin|okx|bybit|moonpay|localbitcoins|paxful|western\s*union|moneygram|remitly|payoneer|wise\s*transfer)\b
--   $risky_mcc      VARCHAR  default ^(6051|6540|4829|6211)$  merchant category codes: quasi-cash, stored value, money transfer, securities
--   $tier_warning   DECIMAL  default 0      exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from account {account} since {since}, {exposure}; the payee is a crypto exchange or money-transfer service and none of the charges is approved

WITH risky AS (
    SELECT *,
        count(*) OVER run AS n,
        sum(amount) OVER run AS total,
        min(posted_at) OVER run AS first_at
    FROM charges
    WHERE explained_by IS NULL AND amount > 0
      AND (regexp_matches(lower(counterparty), $payee_pattern)
           OR regexp_matches(coalesce(mcc, ''), $risky_mcc))
    WINDOW run AS (PARTITION BY account, counterparty ORDER BY day
                   RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT account, counterparty, CAST(NULL AS VARCHAR) AS initiator, txn_id, posted_at, day,
    amount, currency, total AS exposure, CAST(n AS INTEGER) AS charges, first_at AS since,
    CASE WHEN total >= $tier_critical THEN 'critical'
         WHEN total >= $tier_high THEN 'high'
         WHEN total >= $tier_warning THEN 'warning' END AS severity,
    posted_at + 90 AS active_until
FROM risky
