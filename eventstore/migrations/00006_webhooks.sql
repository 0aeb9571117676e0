-- +goose Up
-- Webhook subscriptions, kept exact in the transaction of their events by
-- the commands. The signing secrets live here only, sealed with
-- LEADSVC_SECRET_KEY (AES-256-GCM), never in the log; deleting a
-- subscription nulls them.
CREATE TABLE webhooks (
    id                     uuid PRIMARY KEY,
    account_id             uuid NOT NULL,
    campaign_id            uuid NOT NULL,
    filter_id              uuid,
    url                    text NOT NULL,
    event_types            text[] NOT NULL DEFAULT '{}',
    disabled_at            timestamptz,
    disabled_reason        text,
    disabled_detail        text,
    deleted_at             timestamptz,
    secret_sealed          bytea,
    previous_secret_sealed bytea,
    previous_valid_until   timestamptz,
    -- Events logged at or before it are never delivered to the subscription.
    created_position       bigint NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    version                bigint NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX webhooks_campaign ON webhooks (campaign_id) WHERE deleted_at IS NULL;

-- The delivery projection's own fold of the leads of subscribed campaigns,
-- so that a filter is evaluated on the lead as it was at each event.
CREATE TABLE webhook_leads (
    lead_id     uuid PRIMARY KEY,
    campaign_id uuid NOT NULL,
    version     bigint NOT NULL,
    status      text NOT NULL,
    fields      jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- The leads a subscription has been sent and not yet told (with
-- lead.left_scope) that they left its filter.
CREATE TABLE webhook_scopes (
    webhook_id uuid NOT NULL,
    lead_id    uuid NOT NULL,
    PRIMARY KEY (webhook_id, lead_id)
);
CREATE INDEX webhook_scopes_lead ON webhook_scopes (lead_id);

-- One row per message a subscription is to receive: written by the
-- delivery projection in the transaction of its checkpoint, sent by the
-- dispatcher. A logged event's body is built from its events row at send
-- time (position); synthesized messages (lead.left_scope, webhook.test)
-- carry their body. A lead's messages go out in (lead_version, ord) order.
CREATE TABLE webhook_messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      uuid NOT NULL,
    msg_id          uuid NOT NULL,
    event_type      text NOT NULL,
    lead_id         uuid,
    lead_version    bigint NOT NULL DEFAULT 0,
    ord             smallint NOT NULL DEFAULT 0,
    position        bigint,
    body            bytea,
    event_time      timestamptz NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    finished_at     timestamptz,
    CONSTRAINT webhook_messages_once UNIQUE (webhook_id, msg_id),
    CONSTRAINT webhook_messages_body CHECK ((position IS NULL) <> (body IS NULL))
);
CREATE INDEX webhook_messages_due ON webhook_messages (webhook_id, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_messages_lead_order ON webhook_messages (webhook_id, lead_id, lead_version, ord) WHERE state = 'pending';
CREATE INDEX webhook_messages_time ON webhook_messages (webhook_id, event_time);
CREATE INDEX webhook_messages_finished ON webhook_messages (finished_at) WHERE finished_at IS NOT NULL;

-- The delivery log: every attempt.
CREATE TABLE webhook_attempts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id       bigint NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    webhook_id       uuid NOT NULL,
    attempt          integer NOT NULL,
    attempted_at     timestamptz NOT NULL,
    status_code      integer,
    duration_ms      double precision NOT NULL,
    response_excerpt text,
    error            text,
    success          boolean NOT NULL
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, id DESC);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id);

-- An endpoint's run of failures: failing_since is the first failed
-- attempt since its last success (or since it was enabled or its URL
-- changed).
CREATE TABLE webhook_health (
    webhook_id      uuid PRIMARY KEY,
    failing_since   timestamptz,
    last_success_at timestamptz,
    last_failure_at timestamptz
);

-- +goose Down
DROP TABLE webhook_health;
DROP TABLE webhook_attempts;
DROP TABLE webhook_messages;
DROP TABLE webhook_scopes;
DROP TABLE webhook_leads;
DROP TABLE webhooks;
