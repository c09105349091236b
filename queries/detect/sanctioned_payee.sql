-- name: sanctioned_payee
-- finds: Charges to a payee whose name matches an entry of a sanctions list (the US
--   Treasury's SDN list, the UN Security Council consolidated list) at or above the
--   [screening] threshold, and that no reviewer dismissed: the advisory's payees in
--   sanctioned networks (the DPRK programmes' front companies). It fires critical on the
--   first charge, approved or not: an approval does not lift a sanction. The matches come
--   from `monitor screening load` and the screening each scan does of new payees (view
--   screening_hits); the payee is matched by its name as written and by its payee key.
-- params:
--   $active_days  INTEGER  default 365  an alert stays in force this many days after a charge
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from account {account} since {since}, {exposure}; the payee matches a sanctions list entry: {match}

WITH hit_names AS (   -- a payee is found by its name as written or its payee key
    SELECT name, max(score) AS score
    FROM (SELECT payee AS name, score FROM screening_hits
          UNION ALL
          SELECT payee_key AS name, score FROM screening_hits) AS n
    GROUP BY name
),
paid AS (
    SELECT c.*,
        count(*) OVER run AS n,
        sum(c.amount) OVER run AS total,
        min(c.posted_at) OVER run AS first_at
    FROM charges c
    JOIN hit_names h ON h.name = c.counterparty
    WHERE c.amount > 0
    WINDOW run AS (PARTITION BY c.account, c.counterparty ORDER BY c.day
                   RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT account, counterparty, CAST(NULL AS VARCHAR) AS initiator, txn_id, posted_at, day,
    amount, currency, total AS exposure, CAST(n AS INTEGER) AS charges, first_at AS since,
    'critical' AS severity, posted_at + $active_days AS active_until
FROM paid
