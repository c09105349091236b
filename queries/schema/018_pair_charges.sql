-- name: 018_pair_charges
-- The kept first days and pair facts now count each key's rows too (pair_history,
-- pair_history_pairs, and the new table pair_history_added for later files; issue 17: an
-- incremental scan reads the whole history of the accounts with a pair that
-- payee_amount_shift can judge, scan/account_charges.sql). They are derived data:
-- emptying pair_history_state makes the next scan remake them.

DELETE FROM pair_history_state;
