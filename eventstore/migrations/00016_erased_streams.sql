-- +goose Up
-- The streams whose personal values were erased (a lead's, on
-- lead.erased). eventstore writes a row in the erasure's transaction; the
-- relay reads it so that no message of an erased stream is published
-- again, and the broker purge reads it to know what to remove.
-- position is the lead.erased event's.
CREATE TABLE erased_streams (
    stream_id   text PRIMARY KEY,
    account_id  uuid NOT NULL,
    campaign_id uuid,
    erased_at   timestamptz NOT NULL,
    position    bigint NOT NULL
);
CREATE INDEX erased_streams_account ON erased_streams (account_id, erased_at);

-- +goose Down
DROP TABLE erased_streams;
