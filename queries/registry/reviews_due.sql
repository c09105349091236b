-- name: reviews_due
-- finds: the registry entries whose review date (valid_to) is from $today to $until and
--   whose owner has not yet been sent a review about that date (registry_reviews): the
--   expected-spend review (monitor.alerting.reviews). An entry extended to a new date is
--   due again before that one; an entry its owner ended (No longer expected: its review
--   date is then today) is not asked about again.
-- params:
--   $today  DATE  the first review date still worth asking about
--   $until  DATE  the last review date asked about now ($today + [registry] review_before)
-- returns: auth_id, payee, account, expected_amount, tolerance, cadence, valid_from,
--   valid_to, approver, reference.

SELECT a.auth_id, a.payee, a.account, a.expected_amount, a.tolerance, a.cadence,
       a.valid_from, a.valid_to, a.approver, a.reference
FROM authorizations a
WHERE a.valid_to BETWEEN $today AND $until
  AND NOT EXISTS (SELECT 1 FROM registry_reviews r
                  WHERE r.auth_id = a.auth_id AND r.valid_to = a.valid_to)
  AND NOT EXISTS (SELECT 1 FROM review_links_used u
                  WHERE u.auth_id = a.auth_id AND u.answer = 'ended')
ORDER BY a.valid_to, a.auth_id;
