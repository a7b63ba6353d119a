-- Hosted onboarding pages: single-use pages on which a provider's client
-- connects one channel to a store. Only the hash of the URL's token.

CREATE TABLE hosted_pages (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    store_id      TEXT NOT NULL REFERENCES stores(id),
    token_hash    TEXT NOT NULL UNIQUE,
    channels      TEXT NOT NULL,
    branding      TEXT NOT NULL,
    presets       TEXT NOT NULL,
    redirect_url  TEXT,
    metadata      TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('open', 'completed', 'revoked')),
    channel_id    TEXT,
    expires_at    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    completed_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX hosted_pages_by_store ON hosted_pages(store_id, id);

-- The state of an authorization a client started on a page: single-use,
-- bound to the page, short-lived. Only its hash.
CREATE TABLE oauth_states (
    state_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    page_id     TEXT NOT NULL REFERENCES hosted_pages(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    shop        TEXT,
    -- The PKCE code verifier, where the channel uses PKCE.
    verifier    TEXT,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
