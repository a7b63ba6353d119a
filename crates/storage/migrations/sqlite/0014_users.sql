-- The console's users, their single-use links and their sessions. Only
-- hashes of passwords (Argon2id), link secrets and session secrets.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id),
    email          TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
    -- JSON array of store ids the user is limited to; NULL: every store.
    stores         TEXT,
    password_hash  TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX users_by_account ON users(account_id, id);

CREATE TABLE user_links (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);

CREATE TABLE user_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address     TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    ended_at    TEXT
);
CREATE INDEX user_sessions_by_user ON user_sessions(user_id);
