-- name: test_charge_prelude
-- finds: A payee new to an account whose first charges are tiny tests (pennies or cents:
--   a thief checking that a card or account works) followed within days by a larger
--   charge. It fires from that first larger charge, before any sum builds up: an early
--   signal, not only evidence. Tiny charges alone (an honest merchant's card check) never
--   fire, nor do tiny charges to a payee the account has paid for longer.
-- params:
--   $new_days      INTEGER  default 30     the tests fall within this many days of the
--                                            account's first charge from the payee
--   $tiny_max      DECIMAL  default 2      a charge of at most this is a test (money: it
--                                            scales with the ledger's currency)
--   $min_tests     INTEGER  default 2      tests needed before a larger charge fires
--   $multiple      DOUBLE   default 10.0   a larger charge is at least this many times the
--                                            largest test
--   $window_days   INTEGER  default 30     ...and comes within this many days of the first test
--   $tier_warning  DECIMAL  default 0      exposure that fires at severity warning
--   $tier_high     DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_tests ladder 2 3 4 5 6 8 10 12 16
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from account {account} since {since}, {exposure}, began with tiny test charges: a card or account tested before money is taken

WITH pair AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL AND day <= pair_first_day + $new_days + $window_days
),
tests AS (
    SELECT account, counterparty, min(day) AS first_test_day, min(posted_at) AS first_test_at
    FROM pair
    WHERE amount > 0 AND amount <= $tiny_max AND day <= pair_first_day + $new_days
    GROUP BY account, counterparty
),
running AS (
    SELECT p.account, p.counterparty, p.txn_id, p.posted_at, p.day, p.amount, p.currency,
        t.first_test_day, t.first_test_at,
        count(CASE WHEN p.amount > 0 AND p.amount <= $tiny_max THEN 1 END) OVER w AS tests,
        max(CASE WHEN p.amount > 0 AND p.amount <= $tiny_max THEN p.amount END) OVER w
            AS largest_test,
        sum(p.amount) OVER w AS total,
        count(CASE WHEN p.amount > 0 THEN 1 END) OVER w AS n
    FROM pair p JOIN tests t ON t.account = p.account AND t.counterparty = p.counterparty
    WHERE p.day >= t.first_test_day
    WINDOW w AS (PARTITION BY p.account, p.counterparty ORDER BY p.day, p.txn_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT account, counterparty, CAST(NULL AS VARCHAR) AS initiator, txn_id, posted_at, day,
    amount, currency, total AS exposure, CAST(n AS INTEGER) AS charges, first_test_at AS since,
    CASE WHEN amount > $tiny_max AND amount >= $multiple * largest_test AND tests >= $min_tests
              AND day <= first_test_day + $window_days AND total >= $tier_warning THEN
        CASE WHEN total >= $tier_critical THEN 'critical'
             WHEN total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    posted_at + 90 AS active_until
FROM running
