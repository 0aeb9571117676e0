-- +goose Up
-- Where each relay has published up to; advanced only after JetStream
-- acknowledged every event before it.
CREATE TABLE relay_checkpoints (
    name       text PRIMARY KEY,
    tx_id      xid8 NOT NULL,
    position   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE relay_checkpoints;
