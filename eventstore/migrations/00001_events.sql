-- +goose Up
-- The event log. position is assigned at insert but transactions commit out
-- of position order; tailing readers order by (tx_id, position) and read only
-- below the oldest running transaction (invariant 3).
CREATE TABLE events (
    position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id      text NOT NULL,
    stream_version bigint NOT NULL CHECK (stream_version > 0),
    event_id       uuid NOT NULL,
    event_type     text NOT NULL,
    account_id     uuid NOT NULL,
    campaign_id    uuid,
    data           jsonb NOT NULL,
    metadata       jsonb NOT NULL DEFAULT '{}',
    recorded_at    timestamptz NOT NULL,
    prev_hash      bytea,
    hash           bytea NOT NULL,
    CONSTRAINT events_stream_version UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id UNIQUE (event_id)
);
CREATE INDEX events_global_order ON events (tx_id, position);
CREATE INDEX events_account_type ON events (account_id, event_type, position);
CREATE INDEX events_campaign ON events (campaign_id, position) WHERE campaign_id IS NOT NULL;

-- The hash of one event: SHA-256 over the previous event's hash and the
-- event's own content. Computed here from the stored jsonb text so that
-- append and verification agree byte for byte; the time enters as epoch
-- microseconds so the session TimeZone does not matter.
-- +goose StatementBegin
CREATE FUNCTION leadsvc_event_hash(prev bytea, stream_id text, version bigint, event_id uuid,
                                   event_type text, data jsonb, metadata jsonb, recorded_at timestamptz)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(coalesce(prev, ''::bytea) || convert_to(concat_ws(chr(31),
        stream_id, version::text, event_id::text, event_type, data::text, metadata::text,
        (extract(epoch FROM recorded_at) * 1000000)::bigint::text), 'UTF8'))
$$;
-- +goose StatementEnd

-- Appends events to one stream at an expected version, chaining hashes.
-- Returns the new positions and tx id, or conflict = true without raising,
-- so that one stream's conflict does not abort a group commit. A concurrent
-- writer of the same version waits on the unique key and then sees the
-- conflict (ON CONFLICT DO NOTHING).
-- +goose StatementBegin
CREATE FUNCTION leadsvc_append(p_stream text, p_expected bigint, p_account uuid, p_campaign uuid,
                               p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb,
                               p_recorded_at timestamptz,
                               OUT conflict boolean, OUT from_version bigint,
                               OUT positions bigint[], OUT hashes bytea[], OUT tx xid8)
LANGUAGE plpgsql AS $$
DECLARE
    v_prev bytea;
    v_version bigint;
    v_hash bytea;
    v_pos bigint;
    i int;
BEGIN
    conflict := false;
    tx := pg_current_xact_id();
    positions := '{}';
    hashes := '{}';
    IF p_expected < 0 THEN
        SELECT e.stream_version, e.hash INTO v_version, v_prev FROM events e
         WHERE e.stream_id = p_stream ORDER BY e.stream_version DESC LIMIT 1;
        v_version := coalesce(v_version, 0);
    ELSIF p_expected = 0 THEN
        v_version := 0;
    ELSE
        SELECT e.hash INTO v_prev FROM events e WHERE e.stream_id = p_stream AND e.stream_version = p_expected;
        IF NOT FOUND THEN
            conflict := true;
            RETURN;
        END IF;
        v_version := p_expected;
    END IF;
    from_version := v_version + 1;
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        v_version := v_version + 1;
        v_hash := leadsvc_event_hash(v_prev, p_stream, v_version, p_ids[i], p_types[i], p_data[i], p_metadata, p_recorded_at);
        INSERT INTO events (stream_id, stream_version, event_id, event_type, account_id, campaign_id,
                            data, metadata, recorded_at, prev_hash, hash)
        VALUES (p_stream, v_version, p_ids[i], p_types[i], p_account, p_campaign,
                p_data[i], p_metadata, p_recorded_at, v_prev, v_hash)
        ON CONFLICT (stream_id, stream_version) DO NOTHING
        RETURNING position INTO v_pos;
        IF v_pos IS NULL THEN
            IF i > 1 THEN
                -- Unreachable while this transaction holds the first new
                -- version; raising keeps a half-written append impossible.
                RAISE EXCEPTION 'leadsvc_append: conflict inside an append to %', p_stream;
            END IF;
            conflict := true;
            RETURN;
        END IF;
        positions := positions || v_pos;
        hashes := hashes || v_hash;
        v_prev := v_hash;
        v_pos := NULL;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION leadsvc_append;
DROP FUNCTION leadsvc_event_hash;
DROP TABLE events;
