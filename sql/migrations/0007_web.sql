-- custos schema 7: the web server's identities (web/). Users with Argon2id
-- password hashes, server-side sessions and API tokens. Session and API
-- tokens are stored only as their SHA-256: a copy of these tables does not
-- let anyone sign in. Nothing here refers to another module's tables.

CREATE TABLE web_users (
    user_id             bigserial   PRIMARY KEY,
    username            text        NOT NULL UNIQUE
                                    CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    role                text        NOT NULL
                                    CHECK (role IN ('viewer', 'analyst', 'responder', 'auditor', 'admin')),
    password_hash       text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    disabled            boolean     NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text        NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

-- session_id is the public handle (listing and ending one's sessions);
-- the cookie's value is the secret, of which only the hash is kept.
CREATE TABLE web_sessions (
    session_id    bigserial   PRIMARY KEY,
    token_sha256  bytea       NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    user_id       bigint      NOT NULL REFERENCES web_users (user_id) ON DELETE CASCADE,
    csrf_token    text        NOT NULL CHECK (length(csrf_token) >= 43),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    ended_reason  text,
    address       text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT '' CHECK (length(user_agent) <= 256)
);
CREATE INDEX web_sessions_user ON web_sessions (user_id) WHERE ended_at IS NULL;

CREATE TABLE web_api_tokens (
    token_id      bigserial   PRIMARY KEY,
    name          text        NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    role          text        NOT NULL
                              CHECK (role IN ('viewer', 'analyst', 'responder', 'auditor', 'admin')),
    token_sha256  bytea       NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text        NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    revoked_by    text
);
-- A name is reused once its token is revoked.
CREATE UNIQUE INDEX web_api_tokens_name ON web_api_tokens (name) WHERE revoked_at IS NULL;
