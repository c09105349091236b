-- name: carried_findings
-- finds: the findings of scan $scan_id still in force on $as_of, each marked in_scope
--   when the current incremental scan judged its group again (macro `rescanned` from
--   scope.sql: its account, payee or initiator is in temp table `scope`; findings about
--   feeds and bank statements, which do not come from charges, are always judged again).
--   A carried finding keeps its sentence (its detail facts are not kept).
-- params:
--   $scan_id  BIGINT  the previous scan
--   $as_of    DATE    the current scan date
-- returns: the findings columns as open_findings returns them, plus fingerprint,
--   payee_key, also_written_as and in_scope.

SELECT f.detector, f.severity, f.account, f.counterparty, f.initiator, f.currency,
       f.first_alert_at, f.last_charge_at, f.since, f.charges, f.exposure,
       f.evidence_txn_ids, f.escalations,
       f.active_until, f.fingerprint, f.payee_key, f.also_written_as,
       f.sentence,
       -- the group is the payee key (findings before keys: the name was the key)
       rescanned(f.detector, f.account, coalesce(f.payee_key, f.counterparty), f.initiator)
           AS in_scope
FROM findings f
WHERE f.scan_id = $scan_id AND f.active_until >= $as_of;
