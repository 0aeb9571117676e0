-- +goose Up
-- leadsvc_event_hash is STABLE, not IMMUTABLE: its body casts jsonb and
-- timestamptz to text (concat_ws, extract), which are STABLE, and
-- PostgreSQL inlines an SQL function only when the body is no more
-- volatile than the declaration. Inlined, the hash costs an expression;
-- not inlined, each statement that calls it plans the body again. The
-- hash it returns is unchanged.
ALTER FUNCTION leadsvc_event_hash(bytea, text, bigint, uuid, text, jsonb, jsonb, timestamptz) STABLE;

-- +goose Down
ALTER FUNCTION leadsvc_event_hash(bytea, text, bigint, uuid, text, jsonb, jsonb, timestamptz) IMMUTABLE;
