-- The console's users, their single-use links and their sessions. Only
-- hashes of passwords (Argon2id), link secrets and session secrets.

CREATE TABLE users (
    id             text COLLATE "C" PRIMARY KEY,
    account_id     text COLLATE "C" NOT NULL REFERENCES accounts(id),
    email          text COLLATE "C" NOT NULL UNIQUE,
    role           text COLLATE "C" NOT NULL CHECK (role IN ('owner', 'staff')),
    -- JSON array of store ids the user is limited to; NULL: every store.
    stores         text COLLATE "C",
    password_hash  text COLLATE "C",
    created_at     timestamptz NOT NULL
);
CREATE INDEX users_by_account ON users(account_id, id);

CREATE TABLE user_links (
    token_hash  text COLLATE "C" PRIMARY KEY,
    user_id     text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     text COLLATE "C" NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

CREATE TABLE user_sessions (
    token_hash  text COLLATE "C" PRIMARY KEY,
    user_id     text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address     text COLLATE "C",
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX user_sessions_by_user ON user_sessions(user_id);
