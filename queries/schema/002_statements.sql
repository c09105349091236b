-- name: 002_statements
-- Bank statements (camt, MT940/942, BAI2, OFX): one row per statement in an ingested
-- file, with its balances and checks, and the exact amounts the ledger rounds.
-- balance_check: 'ok' when opening + credits - debits = closing (MT942: when the entries
--   match the reported debit and credit totals), 'mismatch' when not, 'unchecked' when
--   the statement carries nothing to check against (check_basis says why).
-- problems: every failed check ('; '-separated): balance mismatch, sequence gaps
--   (a missing statement number, an opening balance that is not the previous
--   closing balance), entries set aside. NULL when all is well. Alerting reads it.
-- Amounts use the ledger's sign convention where they are entries (credits and debits
-- are both positive sums); balances are positive in credit.

CREATE SEQUENCE statement_id_seq START 1;

CREATE TABLE statements (
    statement_id   BIGINT PRIMARY KEY DEFAULT nextval('statement_id_seq'),
    file_id        BIGINT NOT NULL,
    position       INTEGER NOT NULL,          -- 1 = first statement in the file
    kind           VARCHAR NOT NULL,          -- camt.053.001.02 | MT940 | MT942 | BAI2 | OFX ...
    account        VARCHAR NOT NULL,
    currency       VARCHAR,
    reference      VARCHAR,                   -- the bank's id for the statement
    number         VARCHAR,                   -- statement (sequence) number, when given
    page           VARCHAR,
    from_date      DATE,
    to_date        DATE,
    opening        DECIMAL(38,10),
    opening_date   DATE,
    closing        DECIMAL(38,10),
    closing_date   DATE,
    credits        DECIMAL(38,10) NOT NULL,   -- sum of money in, positive
    debits         DECIMAL(38,10) NOT NULL,   -- sum of money out, positive
    entries        BIGINT NOT NULL,           -- entries staged for the ledger
    set_aside      BIGINT NOT NULL,           -- entries rejected with a reason
    balance_check  VARCHAR NOT NULL,          -- ok | mismatch | unchecked
    check_basis    VARCHAR NOT NULL,
    difference     DECIMAL(38,10),            -- closing - (opening + credits - debits)
    problems       VARCHAR,
    notes          VARCHAR                    -- informational (e.g. pending entries not loaded)
);

-- Amounts with more than two decimals, or first paid in another currency: the ledger
-- keeps DECIMAL(18,2) in the account's currency; this keeps what the bank gave.
CREATE TABLE exact_amounts (
    file_id            BIGINT NOT NULL,
    source             VARCHAR NOT NULL,
    txn_id             VARCHAR NOT NULL,
    exact_amount       DECIMAL(38,10) NOT NULL,  -- sign convention of transactions.amount
    original_amount    DECIMAL(38,10),
    original_currency  VARCHAR
);
