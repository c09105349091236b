-- name: evidence
-- finds: the charges behind each alert episode: the group's counted charges from the
--   start of its evidence window to the firing row at first firing, and from the start of
--   the episode's evidence to its latest firing (what a finance reader asks: since when,
--   how many, how much in all).
-- reads: temp tables `episodes` and `events`.
-- params: none.
-- returns: temp table `episodes` gains first_evidence (txn ids at first firing), evidence
--   (txn ids over the whole episode), episode_charges and episode_exposure (their count
--   and money); empty lists for an alert with no charge behind it (a quiet feed).

CREATE OR REPLACE TEMP TABLE episodes AS
WITH gathered AS (
SELECT e.detector, e.account, e.counterparty, e.initiator, e.episode,
    coalesce(list(v.txn_id ORDER BY v.day, v.txn_id) FILTER (
        WHERE v.posted_at >= e.first_since
          AND v.posted_at <= e.first_alert_at
          AND v.txn_id IS NOT NULL
    ), []) AS first_evidence,
    coalesce(list(v.txn_id ORDER BY v.day, v.txn_id) FILTER (WHERE v.txn_id IS NOT NULL), [])
        AS evidence,
    count(v.txn_id) AS episode_charges,
    coalesce(sum(v.amount) FILTER (WHERE v.txn_id IS NOT NULL), 0) AS episode_exposure
FROM episodes e
JOIN events v
  ON v.detector = e.detector
 AND v.account IS NOT DISTINCT FROM e.account
 AND v.counterparty IS NOT DISTINCT FROM e.counterparty
 AND v.initiator IS NOT DISTINCT FROM e.initiator
 AND v.posted_at BETWEEN e.first_since AND e.last_alert_at
GROUP BY e.detector, e.account, e.counterparty, e.initiator, e.episode
)
SELECT e.*, g.first_evidence, g.evidence, g.episode_charges, g.episode_exposure
FROM episodes e
JOIN gathered g
  ON g.detector = e.detector AND g.episode = e.episode
 AND g.account IS NOT DISTINCT FROM e.account
 AND g.counterparty IS NOT DISTINCT FROM e.counterparty
 AND g.initiator IS NOT DISTINCT FROM e.initiator;
