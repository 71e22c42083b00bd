-- custos schema 9: what the console keeps per user (web/). Saved views of
-- the queue: a name and the query string of its filters, per user, at most
-- 50 (the server counts), names unique per user.

CREATE TABLE web_saved_views (
    view_id    bigserial   PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES web_users (user_id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    query      text        NOT NULL CHECK (length(query) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);
