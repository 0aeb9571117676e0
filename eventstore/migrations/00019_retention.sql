-- +goose Up
-- A campaign's retention policy (domain.Retention as JSON; NULL: none),
-- kept with the campaign's other inline state.
ALTER TABLE campaigns ADD COLUMN retention jsonb;

-- The retention job pages one campaign's live leads oldest first, by
-- creation or by last change; erased tombstones are left out of both.
CREATE INDEX lead_views_retention_created ON lead_views (campaign_id, created_at, id) WHERE erased_at IS NULL;
CREATE INDEX lead_views_retention_updated ON lead_views (campaign_id, updated_at, id) WHERE erased_at IS NULL;

-- +goose Down
DROP INDEX lead_views_retention_updated;
DROP INDEX lead_views_retention_created;
ALTER TABLE campaigns DROP COLUMN retention;
