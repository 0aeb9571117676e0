-- +goose Up
-- The rate limits every process shares (commands/ratelimits): per policy
-- and key, when the key's budget is full again (GCRA's theoretical
-- arrival time, on the database's clock). A row whose tat has passed is
-- the same as no row and is swept. The key is the SHA-256 of the
-- budget's key (a token id, a client address), so no address is kept in
-- clear. changed_at lets each process read what the others spent since
-- its last sync.
CREATE TABLE rate_limits (
    policy     text NOT NULL,
    key        bytea NOT NULL,
    tat        timestamptz NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (policy, key)
);
CREATE INDEX rate_limits_changed ON rate_limits (policy, changed_at);
CREATE INDEX rate_limits_tat ON rate_limits (tat);

-- +goose Down
DROP TABLE rate_limits;
