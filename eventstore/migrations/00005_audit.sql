-- +goose Up
-- Audit reads (projections/audit). "Every write made with this token"
-- looks events up by the token in their metadata; the account's feed
-- walks one account's events in commit order below xmin (invariant 3)
-- without stepping over every other account's. Both are plain CREATE
-- INDEX: on a large existing log, build them beforehand with CREATE INDEX
-- CONCURRENTLY under the same names, and this migration is a no-op.
CREATE INDEX IF NOT EXISTS events_actor ON events ((metadata->>'actor_token_id'), tx_id, position);
CREATE INDEX IF NOT EXISTS events_account_order ON events (account_id, tx_id, position);

-- +goose Down
DROP INDEX events_account_order;
DROP INDEX events_actor;
