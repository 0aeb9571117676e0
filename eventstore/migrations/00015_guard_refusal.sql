-- +goose Up
-- A guarded append now counts its stale rows in its own statement
-- (eventstore.staleRowsSQL) and hands the count to this function, which
-- only raises: leadsvc_assert_current called the SQL function
-- leadsvc_stale_rows, whose body PostgreSQL planned again on every call.
-- Both old functions stay for processes of the previous release during
-- a rolling upgrade; a later release may drop them.

-- +goose StatementBegin
CREATE FUNCTION leadsvc_refuse_stale(stale bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF stale > 0 THEN
        RAISE EXCEPTION 'a row this write was decided from has changed' USING ERRCODE = 'LS412';
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION leadsvc_refuse_stale(bigint);
