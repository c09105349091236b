-- name: 018_pair_charges
-- The kept first days (pair_history) and pair facts (pair_history_pairs) now count each
-- key's rows and positive money too (issue 17: an incremental scan reads the whole
-- history of the accounts with a pair that payee_amount_shift can judge,
-- scan/account_charges.sql). They are
-- derived data: emptying pair_history_state makes the next scan remake them.

DELETE FROM pair_history_state;
