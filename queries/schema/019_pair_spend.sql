-- name: 019_pair_spend
-- The kept first days and pair facts now also sum each key's positive amounts and keep
-- its latest day (columns spend and last_day of pair_history, pair_history_pairs and
-- pair_history_added; issue 17: an incremental scan reads the whole history only of the
-- accounts with a pair that payee_amount_shift could fire on, scan/account_charges.sql,
-- and joins its rows only with the pairs posted since its horizon,
-- scan/features_kept.sql). They are derived data: emptying pair_history_state makes the
-- next scan remake them.

DELETE FROM pair_history_state;
