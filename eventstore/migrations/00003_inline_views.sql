-- +goose Up
-- Views kept exact in the same transaction as their events (invariant 5):
-- authentication, schemas and filters must never lag the log.
CREATE TABLE accounts (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE campaigns (
    id         uuid PRIMARY KEY,
    account_id uuid NOT NULL,
    name       text NOT NULL,
    schema     jsonb NOT NULL,
    version    bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX campaigns_account ON campaigns (account_id, created_at);

CREATE TABLE filters (
    id          uuid PRIMARY KEY,
    campaign_id uuid NOT NULL,
    account_id  uuid NOT NULL,
    name        text NOT NULL,
    conditions  jsonb NOT NULL,
    any_groups  jsonb,
    deleted     boolean NOT NULL DEFAULT false,
    version     bigint NOT NULL
);
CREATE INDEX filters_campaign ON filters (campaign_id);

-- Token secrets live here, never in the events table: a SHA-256 for lookup
-- and an AES-256-GCM sealed copy for "Show". Revoking nulls all three.
CREATE TABLE tokens (
    id                   uuid PRIMARY KEY,
    account_id           uuid NOT NULL,
    campaign_id          uuid,
    filter_id            uuid,
    name                 text NOT NULL,
    permissions          text[] NOT NULL,
    expires_at           timestamptz,
    revoked_at           timestamptz,
    secret_hash          bytea UNIQUE,
    secret_sealed        bytea,
    secret_prefix        text NOT NULL,
    secret_last4         text NOT NULL,
    previous_secret_hash bytea,
    previous_valid_until timestamptz,
    docs_id              text NOT NULL UNIQUE,
    last_used_at         timestamptz,
    created_at           timestamptz NOT NULL,
    version              bigint NOT NULL
);
CREATE INDEX tokens_account ON tokens (account_id, created_at);
CREATE INDEX tokens_previous_secret ON tokens (previous_secret_hash) WHERE previous_secret_hash IS NOT NULL;

-- File bytes, written in the transaction of their lead.file_attached event.
CREATE TABLE lead_files (
    id           uuid PRIMARY KEY,
    lead_id      uuid NOT NULL,
    account_id   uuid NOT NULL,
    name         text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sha256       text NOT NULL,
    content      bytea NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX lead_files_lead ON lead_files (lead_id);

-- Idempotency keys, per token, kept 24 hours. A key is claimed as running
-- in its own transaction and marked done inside the command's event
-- transaction, so events never exist without their stored result.
CREATE TABLE idempotency_keys (
    token_id    text NOT NULL,
    key         text NOT NULL,
    fingerprint bytea NOT NULL,
    state       text NOT NULL CHECK (state IN ('running', 'done')),
    result      jsonb,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (token_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE lead_files;
DROP TABLE tokens;
DROP TABLE filters;
DROP TABLE campaigns;
DROP TABLE accounts;
