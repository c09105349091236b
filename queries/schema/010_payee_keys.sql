-- name: 010_payee_keys
-- The payee key (issue 16): every distinct payee name as written maps to the key the
-- scan groups by ("PAYPAL *ACME HOSTING", "Acme Hosting Ltd" -> "acme hosting"). Keys are
-- computed in Python (monitor/ledger/payees.py) over distinct names only: at ingest for
-- a file's new names, and whole again when [payees] settings change (payee_key_state
-- holds what they were made with). The scan's SQL joins this table, so the DuckDB and
-- Spark engines group by the same keys. Names of the registry are keyed here too.
-- A ledger from before this migration has no keys yet: the next scan makes them, and
-- the pair facts kept by payee are remade from them (pair_history_state emptied).

CREATE TABLE payee_keys (
    name       VARCHAR NOT NULL,      -- the counterparty exactly as the export wrote it
    payee_key  VARCHAR NOT NULL
);

CREATE TABLE payee_key_state (
    fingerprint  VARCHAR NOT NULL,    -- monitor.ledger.payees.fingerprint of the settings
    prefixes     VARCHAR[] NOT NULL,  -- [payees] processor_prefixes the keys were made with
    max_file_id  BIGINT NOT NULL      -- names of files up to this id are keyed (see refresh)
);

-- A finding names its payee as people know it (counterparty: the most used name as
-- written in its evidence) and keeps the key it is grouped by, and the other names.
ALTER TABLE findings ADD COLUMN payee_key VARCHAR;
ALTER TABLE findings ADD COLUMN also_written_as VARCHAR[];

DELETE FROM pair_history_state;
