-- name: 016_pair_keys
-- The kept pair facts (pair_history_pairs, pair_history_initiators) now hold the hash of
-- their key too (issue 17: an incremental scan joins by it, scan/features_kept.sql).
-- They are derived data: emptying pair_history_state makes the next scan remake them.

DELETE FROM pair_history_state;
