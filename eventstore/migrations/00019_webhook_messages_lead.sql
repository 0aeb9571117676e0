-- +goose Up
-- A lead's webhook messages, for its access export (views.LeadDeliveries)
-- without reading every subscription's log. Plain CREATE INDEX: on a
-- large delivery log, build it beforehand with CREATE INDEX CONCURRENTLY
-- under the same name, and this step finds it.
CREATE INDEX IF NOT EXISTS webhook_messages_lead ON webhook_messages (lead_id) WHERE lead_id IS NOT NULL;

-- +goose Down
DROP INDEX IF EXISTS webhook_messages_lead;
