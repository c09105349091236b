-- name: 004_alerts
-- Alert lifecycle (Alertmanager-style) and the durable notification outbox.
-- alerts: one row per alert episode of a fingerprint (detector, account, counterparty,
--   initiator). At most one row per fingerprint is open (state <> 'resolved'); a group that
--   fires again after it resolved opens a new row. state: firing | acknowledged | silenced |
--   resolved. notified_severity / last_notified_at say what the recipients were last told.
-- alert_events: every state change (and escalation) with its time and actor.
-- silences: matchers (NULL matches anything; * is a wildcard) in force until ends_at.
-- notifications: what the lifecycle rules called for (firing, escalation, reminder, resolved).
-- outbox: each rendered message, written before it is sent and marked sent only after the
--   server accepted it; message_key is its stable RFC 5322 Message-ID.
-- outbox_items: which notifications each message carries.

CREATE SEQUENCE alert_id_seq START 1;
CREATE SEQUENCE alert_event_id_seq START 1;
CREATE SEQUENCE silence_id_seq START 1;
CREATE SEQUENCE notification_id_seq START 1;
CREATE SEQUENCE outbox_id_seq START 1;

CREATE TABLE alerts (
    alert_id           BIGINT PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    fingerprint        VARCHAR NOT NULL,
    detector           VARCHAR NOT NULL,
    account            VARCHAR,
    counterparty       VARCHAR,
    initiator          VARCHAR,
    sources            VARCHAR[] NOT NULL,       -- ledger sources of the evidence charges
    currency           VARCHAR,
    state              VARCHAR NOT NULL,         -- firing | acknowledged | silenced | resolved
    severity           VARCHAR NOT NULL,         -- highest tier reached
    exposure           DECIMAL(18,2) NOT NULL,   -- money at risk, latest scan
    charges            INTEGER NOT NULL,
    since              DATE,
    first_alert_at     DATE,
    last_charge_at     DATE,
    evidence_txn_ids   VARCHAR[] NOT NULL,
    sentence           VARCHAR NOT NULL,
    opened_at          TIMESTAMP NOT NULL,
    last_seen_at       TIMESTAMP NOT NULL,
    last_scan_id       BIGINT,
    resolved_at        TIMESTAMP,
    acked_by           VARCHAR,
    acked_at           TIMESTAMP,
    ack_note           VARCHAR,
    silence_id         BIGINT,                   -- the silence holding it, while silenced
    notified_severity  VARCHAR,                  -- NULL: never notified
    last_notified_at   TIMESTAMP
);

CREATE TABLE alert_events (
    event_id    BIGINT PRIMARY KEY DEFAULT nextval('alert_event_id_seq'),
    alert_id    BIGINT NOT NULL,
    changed_at  TIMESTAMP NOT NULL,
    actor       VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,   -- fired | escalated | acknowledged | silenced | unsilenced | resolved
    from_state  VARCHAR,
    to_state    VARCHAR NOT NULL,
    note        VARCHAR
);

CREATE TABLE silences (
    silence_id    BIGINT PRIMARY KEY DEFAULT nextval('silence_id_seq'),
    detector      VARCHAR,
    account       VARCHAR,
    counterparty  VARCHAR,
    starts_at     TIMESTAMP NOT NULL,
    ends_at       TIMESTAMP NOT NULL,
    reason        VARCHAR NOT NULL,
    created_by    VARCHAR NOT NULL,
    expired_by    VARCHAR                        -- set when ended early
);

CREATE TABLE notifications (
    notification_id  BIGINT PRIMARY KEY DEFAULT nextval('notification_id_seq'),
    alert_id         BIGINT NOT NULL,
    reason           VARCHAR NOT NULL,   -- firing | escalation | reminder | resolved
    severity         VARCHAR NOT NULL,
    exposure         DECIMAL(18,2) NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    scan_id          BIGINT
);

CREATE TABLE outbox (
    outbox_id        BIGINT PRIMARY KEY DEFAULT nextval('outbox_id_seq'),
    message_key      VARCHAR NOT NULL,   -- stable Message-ID, also the webhook idempotency key
    channel          VARCHAR NOT NULL,   -- email | webhook
    recipient        VARCHAR NOT NULL,   -- an address, or the webhook's name
    kind             VARCHAR NOT NULL,   -- alerts | digest
    digest_day       DATE,
    subject          VARCHAR NOT NULL,
    body             BLOB NOT NULL,      -- the whole rendered message, sent as stored
    created_at       TIMESTAMP NOT NULL,
    status           VARCHAR NOT NULL,   -- pending | sent
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP,
    last_error       VARCHAR,
    sent_at          TIMESTAMP,
    sent_via         VARCHAR             -- smtp | file | webhook
);

CREATE TABLE outbox_items (
    outbox_id        BIGINT NOT NULL,
    notification_id  BIGINT NOT NULL
);
