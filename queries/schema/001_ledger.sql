-- name: 001_ledger
-- The ledger: ingested files, canonical transactions, and rows set aside.
-- Sign convention: transactions.amount is POSITIVE when money LEAVES the account
-- (a charge, a payment out) and negative when money comes in (a refund, a credit).
-- Deduplication is by (source, txn_id), done at insert time with an anti-join:
-- a primary key would double the file size on large ledgers.

CREATE SEQUENCE file_id_seq START 1;

CREATE TABLE files (
    file_id      BIGINT PRIMARY KEY DEFAULT nextval('file_id_seq'),
    path         VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    format       VARCHAR NOT NULL,
    sha256       VARCHAR NOT NULL,
    size_bytes   BIGINT NOT NULL,
    status       VARCHAR NOT NULL,       -- loaded | error
    rows_read    BIGINT NOT NULL DEFAULT 0,
    loaded       BIGINT NOT NULL DEFAULT 0,
    duplicates   BIGINT NOT NULL DEFAULT 0,
    rejected     BIGINT NOT NULL DEFAULT 0,
    error        VARCHAR,
    ingested_at  TIMESTAMP NOT NULL
);

CREATE TABLE transactions (
    txn_id               VARCHAR NOT NULL,
    source               VARCHAR NOT NULL,
    account              VARCHAR NOT NULL,
    posted_at            DATE NOT NULL,
    amount               DECIMAL(18,2) NOT NULL,
    currency             VARCHAR NOT NULL,
    counterparty         VARCHAR,
    counterparty_account VARCHAR,
    initiator            VARCHAR,
    mcc                  VARCHAR,
    description          VARCHAR,
    reference            VARCHAR,
    file_id              BIGINT NOT NULL,
    source_row           BIGINT NOT NULL,
    ingested_at          TIMESTAMP NOT NULL
);

CREATE TABLE rejected_rows (
    file_id      BIGINT NOT NULL,
    source_row   BIGINT,
    raw          VARCHAR,
    reason       VARCHAR NOT NULL,
    rejected_at  TIMESTAMP NOT NULL
);
