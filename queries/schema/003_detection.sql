-- name: 003_detection
-- The expected-charges registry, scans, and the findings each scan records.

CREATE SEQUENCE auth_id_seq START 1;
CREATE SEQUENCE scan_id_seq START 1;

-- What the finance team expects to pay: approved payees, contracts, subscriptions.
CREATE TABLE authorizations (
    auth_id          BIGINT PRIMARY KEY DEFAULT nextval('auth_id_seq'),
    payee            VARCHAR NOT NULL,        -- payee name; * matches any text
    account          VARCHAR,                 -- NULL: any account
    expected_amount  DECIMAL(18,2),           -- NULL: any amount
    tolerance        DECIMAL(18,2) NOT NULL DEFAULT 0,
    cadence          VARCHAR,                 -- weekly | monthly | quarterly | yearly | once | NULL (any)
    valid_from       DATE,
    valid_to         DATE,
    approver         VARCHAR NOT NULL,
    reference        VARCHAR NOT NULL,
    created_at       TIMESTAMP NOT NULL
);

CREATE TABLE scans (
    scan_id      BIGINT PRIMARY KEY DEFAULT nextval('scan_id_seq'),
    as_of        DATE NOT NULL,
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    detectors    INTEGER,
    findings     INTEGER
);

CREATE TABLE findings (
    scan_id           BIGINT NOT NULL,
    detector          VARCHAR NOT NULL,
    severity          VARCHAR NOT NULL,
    account           VARCHAR,
    counterparty      VARCHAR,
    initiator         VARCHAR,
    currency          VARCHAR,
    first_alert_at    DATE NOT NULL,
    last_charge_at    DATE NOT NULL,
    since             DATE NOT NULL,
    charges           INTEGER NOT NULL,
    exposure          DECIMAL(18,2) NOT NULL,
    evidence_txn_ids  VARCHAR[] NOT NULL,
    sentence          VARCHAR NOT NULL,
    fingerprint       VARCHAR NOT NULL
);
