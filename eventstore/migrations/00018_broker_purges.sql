-- +goose Up
-- The erased streams whose messages the relay has removed from a
-- JetStream stream (eventstore.Relay's purge). One row per JetStream
-- stream and erased stream: a stream rebuilt under another name is
-- purged again. The sweep reads erased_streams rows without one.
CREATE TABLE broker_purges (
    broker_stream text NOT NULL,
    stream_id     text NOT NULL,
    purged_at     timestamptz NOT NULL,
    messages      bigint NOT NULL,
    PRIMARY KEY (broker_stream, stream_id)
);

-- +goose Down
DROP TABLE broker_purges;
