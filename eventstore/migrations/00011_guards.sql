-- +goose Up
-- A guard is what a write or a read was decided from besides its stream:
-- rows of the views kept in the log's own transactions, each at the
-- version it was read at (eventstore.Guard). Checking one costs a primary
-- key probe per row, in the statement's round trip, so that what was read
-- earlier (a cached authentication) can be used without reading it again.

-- +goose StatementBegin
CREATE FUNCTION leadsvc_stale_rows(tbls text[], ids uuid[], versions bigint[]) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM unnest(tbls, ids, versions) AS r(tbl, id, version)
    WHERE NOT coalesce(CASE r.tbl
        WHEN 'tokens' THEN EXISTS (SELECT 1 FROM tokens t WHERE t.id = r.id AND t.version = r.version)
        WHEN 'campaigns' THEN EXISTS (SELECT 1 FROM campaigns c WHERE c.id = r.id AND c.version = r.version)
        WHEN 'filters' THEN EXISTS (SELECT 1 FROM filters f WHERE f.id = r.id AND f.version = r.version)
    END, false)
$$;
-- +goose StatementEnd

-- Raises LS412 when a row moved, so that the statements after it in the
-- same transaction (an append) never run.
-- +goose StatementBegin
CREATE FUNCTION leadsvc_assert_current(tbls text[], ids uuid[], versions bigint[]) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF leadsvc_stale_rows(tbls, ids, versions) > 0 THEN
        RAISE EXCEPTION 'a row this write was decided from has changed' USING ERRCODE = 'LS412';
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION leadsvc_assert_current(text[], uuid[], bigint[]);
DROP FUNCTION leadsvc_stale_rows(text[], uuid[], bigint[]);
