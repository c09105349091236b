-- name: 012_web
-- The web inbox (`monitor serve`, issue 18).
-- web_users: local users (`monitor users add`); the password as an argon2id hash, never the
--   password. role: finance (answers alerts, edits the registry) | auditor (reads and runs
--   read-only queries) | admin (all of it).
-- web_sessions: signed-in browsers. Only the SHA-256 of the cookie's token is kept, so a
--   copy of the database does not sign anyone in; csrf is the token every form carries.
-- web_links_used: e-mail action links that acted, by the SHA-256 of the link: a link works once.
-- alert_outcomes: how a person closed an alert (theft confirmed / honest, expected / honest,
--   error), kept with the detector so its precision can be counted.

CREATE TABLE web_users (
    name           VARCHAR PRIMARY KEY,
    role           VARCHAR NOT NULL,      -- finance | auditor | admin
    password_hash  VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    created_by     VARCHAR NOT NULL
);

CREATE TABLE web_sessions (
    token_hash  VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    csrf        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);

CREATE TABLE web_links_used (
    link_hash  VARCHAR PRIMARY KEY,
    recipient  VARCHAR NOT NULL,
    alert_id   BIGINT NOT NULL,
    answer     VARCHAR NOT NULL,
    used_at    TIMESTAMP NOT NULL
);

CREATE TABLE alert_outcomes (
    alert_id    BIGINT NOT NULL,
    detector    VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL,     -- theft | expected | error | not_recognised
    decided_by  VARCHAR NOT NULL,
    decided_at  TIMESTAMP NOT NULL,
    note        VARCHAR
);
