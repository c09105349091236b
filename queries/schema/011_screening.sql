-- name: 011_screening
-- Sanctions screening (monitor/screening/). Every list version loaded is kept: its files and
-- their hashes, the publication date when the file carries one, who loaded it and when, its
-- entries and names (each name's normal form and words for finding candidates), and the
-- matches of the ledger's payee names against it (name as written, its payee key, the entry
-- and name matched, the score). The current version of a list is its latest load.
-- `threshold` and `screened_file_id` say how far the ledger's payees have been screened
-- against a version (files up to that id, at that threshold); screening_screened holds the
-- names done. A dismissal (a false positive, with who and why) is keyed by payee key and
-- the entry's uid, which lasts across versions of the list.

CREATE SEQUENCE screening_version_seq START 1;

CREATE TABLE screening_lists (
    version_id       BIGINT PRIMARY KEY DEFAULT nextval('screening_version_seq'),
    list             VARCHAR NOT NULL,       -- OFAC SDN | UN consolidated
    publisher        VARCHAR NOT NULL,
    published        DATE,
    files            VARCHAR[] NOT NULL,
    roles            VARCHAR[] NOT NULL,     -- sdn | alt | add | sdn_comments | xml
    sha256           VARCHAR[] NOT NULL,
    entries          INTEGER NOT NULL,
    names            INTEGER NOT NULL,
    loaded_at        TIMESTAMP NOT NULL,
    loaded_by        VARCHAR NOT NULL,
    threshold        DOUBLE,
    screened_file_id BIGINT
);

CREATE TABLE screening_entries (
    version_id  BIGINT NOT NULL,
    entry_uid   VARCHAR NOT NULL,            -- OFAC:<ent_num> | UN:<reference number>
    name        VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,            -- individual | entity | vessel | aircraft
    programmes  VARCHAR NOT NULL             -- "NPWMD, DPRK2"
);

CREATE TABLE screening_names (
    version_id  BIGINT NOT NULL,
    name_id     INTEGER NOT NULL,
    entry_uid   VARCHAR NOT NULL,
    listed      VARCHAR NOT NULL,            -- the name or alias as listed
    is_alias    BOOLEAN NOT NULL,
    form        VARCHAR NOT NULL,            -- monitor.screening.names.normal(listed)
    words       INTEGER NOT NULL
);

CREATE TABLE screening_tokens (
    version_id  BIGINT NOT NULL,
    name_id     INTEGER NOT NULL,
    token       VARCHAR NOT NULL
);

CREATE TABLE screening_screened (
    version_id  BIGINT NOT NULL,
    payee       VARCHAR NOT NULL
);

CREATE TABLE screening_matches (
    version_id  BIGINT NOT NULL,
    payee       VARCHAR NOT NULL,            -- the counterparty name as written
    payee_key   VARCHAR NOT NULL,            -- monitor.ledger.payees.payee_key(payee)
    entry_uid   VARCHAR NOT NULL,
    listed      VARCHAR NOT NULL,            -- the name or alias that matched best
    is_alias    BOOLEAN NOT NULL,
    score       DOUBLE NOT NULL,
    screened_at TIMESTAMP NOT NULL
);

CREATE TABLE screening_dismissals (
    payee_key    VARCHAR NOT NULL,
    entry_uid    VARCHAR NOT NULL,
    why          VARCHAR NOT NULL,
    dismissed_by VARCHAR NOT NULL,
    dismissed_at TIMESTAMP NOT NULL
);

CREATE VIEW screening_current AS
SELECT * FROM screening_lists
QUALIFY version_id = max(version_id) OVER (PARTITION BY list);

-- What the sanctioned_payee detector reads (and the Spark engine is shipped): the current
-- versions' matches that no reviewer dismissed.
CREATE VIEW screening_hits AS
SELECT m.payee, m.payee_key, m.entry_uid, e.name AS entry_name, e.kind, e.programmes,
       CASE WHEN m.is_alias THEN m.listed END AS alias, m.score, c.list, m.version_id
FROM screening_matches m
JOIN screening_current c USING (version_id)
JOIN screening_entries e USING (version_id, entry_uid)
WHERE NOT EXISTS (SELECT 1 FROM screening_dismissals d
                  WHERE d.payee_key = m.payee_key AND d.entry_uid = m.entry_uid);
