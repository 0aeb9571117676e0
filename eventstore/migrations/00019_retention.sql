-- +goose Up
-- A campaign's retention policy (domain.Retention as JSON; NULL: none),
-- kept with the campaign's other inline state.
ALTER TABLE campaigns ADD COLUMN retention jsonb;

-- The retention job reads one campaign's live leads oldest first, by
-- creation or by last change; erased tombstones are left out of both.
-- No id column: the job needs no stable order among equal times, and
-- without it the lists, which order by (updated_at, id), keep
-- lead_views_campaign_order rather than take the partial index.
CREATE INDEX lead_views_retention_created ON lead_views (campaign_id, created_at) WHERE erased_at IS NULL;
CREATE INDEX lead_views_retention_updated ON lead_views (campaign_id, updated_at) WHERE erased_at IS NULL;

-- +goose Down
DROP INDEX lead_views_retention_updated;
DROP INDEX lead_views_retention_created;
ALTER TABLE campaigns DROP COLUMN retention;
