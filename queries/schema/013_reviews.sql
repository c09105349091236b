-- name: 013_reviews
-- Issue 18's expected-spend review and the inbox's money at risk.
-- registry_reviews: the review e-mails sent to an entry's owner before its review date
--   (valid_to): one per entry and review date, so the daemon's hourly job sends it once and
--   an entry extended to a new date is reviewed again before that one.
-- review_links_used: review links (Still expected / No longer expected) that acted, by the
--   SHA-256 of the link: a link works once (as web_links_used for alert links).
-- alerts.evidence_money: each evidence charge's id, currency and amount, kept as the scan
--   records the alert, so the distinct money at risk of the open alerts needs no join with
--   the ledger (a hash join of the evidence ids against ten million transaction ids took
--   2 s). Filled here for the alerts already recorded.

CREATE TABLE registry_reviews (
    auth_id    BIGINT NOT NULL,
    valid_to   DATE NOT NULL,       -- the review date the e-mail asked about
    recipient  VARCHAR NOT NULL,
    outbox_id  BIGINT,
    sent_at    TIMESTAMP NOT NULL
);

CREATE TABLE review_links_used (
    link_hash  VARCHAR PRIMARY KEY,
    recipient  VARCHAR NOT NULL,
    auth_id    BIGINT NOT NULL,
    answer     VARCHAR NOT NULL,
    used_at    TIMESTAMP NOT NULL
);

ALTER TABLE alerts ADD COLUMN evidence_money
    STRUCT(txn_id VARCHAR, currency VARCHAR, amount DECIMAL(18,2))[];

UPDATE alerts SET evidence_money = m.money
FROM (SELECT e.alert_id,
             list({'txn_id': t.txn_id, 'currency': t.currency, 'amount': t.amount}
                  ORDER BY t.txn_id) AS money
      FROM (SELECT alert_id, unnest(evidence_txn_ids) AS txn_id FROM alerts) e
      JOIN transactions t ON t.txn_id = e.txn_id
      GROUP BY e.alert_id) m
WHERE alerts.alert_id = m.alert_id;

UPDATE alerts SET evidence_money = []
WHERE evidence_money IS NULL;
