-- +goose Up
-- The lead read model (projections/leads): each lead's current state, and
-- for every filter the leads that match it now. Kept by the lead view
-- projection from the event stream; rebuildable from the log (leadsvc
-- rebuild, leadsvc verify).
CREATE TABLE lead_views (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL,
    campaign_id uuid NOT NULL,
    status      text NOT NULL,
    fields      jsonb NOT NULL,
    files       jsonb NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
-- Lists page in (updated_at, id) order: a lead changed while a client
-- pages moves behind its cursor and is seen again, never skipped.
CREATE INDEX lead_views_campaign_order ON lead_views (campaign_id, updated_at, id);
CREATE INDEX lead_views_account_order ON lead_views (account_id, updated_at, id);

-- Membership: lead_id is in filter_id's view. updated_at copies the lead's
-- so that one filter's page is an index range scan.
CREATE TABLE filter_members (
    filter_id  uuid NOT NULL,
    lead_id    uuid NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (filter_id, lead_id)
);
CREATE INDEX filter_members_order ON filter_members (filter_id, updated_at, lead_id);
CREATE INDEX filter_members_lead ON filter_members (lead_id);

-- The filter versions the membership reflects, so a reader can tell
-- whether a filter change has been applied.
CREATE TABLE filter_views (
    id          uuid PRIMARY KEY,
    campaign_id uuid NOT NULL,
    version     bigint NOT NULL
);

-- Where each projection has applied the log up to: every event at or
-- before (tx_id, position) in commit order. Written in the transaction of
-- the rows it covers (invariant 6).
CREATE TABLE projection_checkpoints (
    name       text PRIMARY KEY,
    tx_id      xid8 NOT NULL,
    position   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE projection_checkpoints;
DROP TABLE filter_views;
DROP TABLE filter_members;
DROP TABLE lead_views;
