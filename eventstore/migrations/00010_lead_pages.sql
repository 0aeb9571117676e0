-- +goose Up
-- A filter's page is its membership rows and nothing else: each row
-- carries the lead as lead_views holds it, so a scoped list is one range
-- scan of one index in (updated_at, lead_id) order, with no join whose
-- plan could turn around on stale statistics. The projection writes a
-- lead's row and its copies in one transaction.
ALTER TABLE filter_members
    ADD COLUMN account_id  uuid,
    ADD COLUMN campaign_id uuid,
    ADD COLUMN status      text,
    ADD COLUMN fields      jsonb,
    ADD COLUMN files       jsonb,
    ADD COLUMN version     bigint,
    ADD COLUMN created_at  timestamptz;
UPDATE filter_members fm SET account_id = lv.account_id, campaign_id = lv.campaign_id, status = lv.status,
    fields = lv.fields, files = lv.files, version = lv.version, created_at = lv.created_at, updated_at = lv.updated_at
    FROM lead_views lv WHERE lv.id = fm.lead_id;
DELETE FROM filter_members WHERE account_id IS NULL;
ALTER TABLE filter_members
    ALTER COLUMN account_id SET NOT NULL,
    ALTER COLUMN campaign_id SET NOT NULL,
    ALTER COLUMN status SET NOT NULL,
    ALTER COLUMN fields SET NOT NULL,
    ALTER COLUMN files SET NOT NULL,
    ALTER COLUMN version SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL;
-- Keyed by lead first: a lead's memberships are replaced together, and
-- no index led by filter_id other than the two page orders exists for
-- the planner to prefer.
ALTER TABLE filter_members DROP CONSTRAINT filter_members_pkey;
DROP INDEX filter_members_lead;
ALTER TABLE filter_members ADD CONSTRAINT filter_members_pkey PRIMARY KEY (lead_id, filter_id);
CREATE INDEX filter_members_status_order ON filter_members (filter_id, status, updated_at, lead_id);
CREATE INDEX lead_views_campaign_status_order ON lead_views (campaign_id, status, updated_at, id);

-- +goose Down
DROP INDEX lead_views_campaign_status_order;
DROP INDEX filter_members_status_order;
ALTER TABLE filter_members DROP CONSTRAINT filter_members_pkey;
ALTER TABLE filter_members ADD CONSTRAINT filter_members_pkey PRIMARY KEY (filter_id, lead_id);
CREATE INDEX filter_members_lead ON filter_members (lead_id);
ALTER TABLE filter_members DROP COLUMN account_id, DROP COLUMN campaign_id, DROP COLUMN status, DROP COLUMN fields,
    DROP COLUMN files, DROP COLUMN version, DROP COLUMN created_at;
