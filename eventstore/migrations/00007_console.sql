-- +goose Up
-- Sessions of the admin console (api/console). The session id is 32
-- random bytes in an HttpOnly cookie; only its SHA-256 is kept, so a copy
-- of this table signs nobody in. Each request re-reads the token the
-- session was opened with, so revoking it ends its sessions at once.
CREATE TABLE console_sessions (
    id_hash      bytea PRIMARY KEY,
    token_id     uuid NOT NULL,
    account_id   uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- The absolute end; the idle limit is counted from last_seen_at.
    expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_token ON console_sessions (token_id);

-- +goose Down
DROP TABLE console_sessions;
