-- +goose Up
-- events_account_type indexed every event by (account, type) for one
-- reader: the audit's "leads created by T" (projections/audit). A partial
-- index of lead creations alone answers it as well, holds a fraction of
-- the rows, and spares every other append one index insertion. Plain
-- CREATE INDEX: on a large existing log, build it beforehand with CREATE
-- INDEX CONCURRENTLY under the same name, and this step only drops the old.
CREATE INDEX IF NOT EXISTS events_lead_created ON events (account_id, recorded_at)
    WHERE event_type = 'lead.created';
DROP INDEX IF EXISTS events_account_type;

-- +goose Down
CREATE INDEX IF NOT EXISTS events_account_type ON events (account_id, event_type, position);
DROP INDEX IF EXISTS events_lead_created;
