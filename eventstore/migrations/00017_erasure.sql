-- +goose Up
-- The digest an erasure records of each event row it scrubs: the row's
-- content exactly as leadsvc_event_hash covers it, without the previous
-- hash (the link is checked on its own). From the erasure on, such a row
-- is verified against its recorded hash and this digest of its scrubbed
-- form; the hash function and the append path stay as they are.
-- +goose StatementBegin
CREATE FUNCTION leadsvc_row_digest(stream_id text, version bigint, event_id uuid, event_type text,
                                   data jsonb, metadata jsonb, recorded_at timestamptz)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(concat_ws(chr(31),
        stream_id, version::text, event_id::text, event_type, data::text, metadata::text,
        (extract(epoch FROM recorded_at) * 1000000)::bigint::text), 'UTF8'))
$$;
-- +goose StatementEnd

-- An erased lead's row stays as a tombstone (its non-personal values, no
-- membership) so that a read can answer when it was erased and a late
-- repeat of its events never brings it back.
ALTER TABLE lead_views ADD COLUMN erased_at timestamptz;

-- An erasure finds the lead's webhook messages, whatever their state,
-- without reading the whole delivery log.
CREATE INDEX webhook_messages_lead ON webhook_messages (lead_id) WHERE lead_id IS NOT NULL;

-- +goose Down
DROP INDEX webhook_messages_lead;
ALTER TABLE lead_views DROP COLUMN erased_at;
DROP FUNCTION leadsvc_row_digest;
