-- +goose Up
-- A file's bytes as rows of 256 KiB (commands.fileChunkSize; the last one
-- shorter), so that an upload is stored and a download read a chunk at a
-- time, never held whole in memory. The chunks go with their file's row.
CREATE TABLE lead_file_chunks (
    file_id uuid NOT NULL REFERENCES lead_files (id) ON DELETE CASCADE,
    seq     integer NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (file_id, seq)
);
INSERT INTO lead_file_chunks (file_id, seq, data)
SELECT f.id, g.seq, substring(f.content FROM g.seq * 262144 + 1 FOR 262144)
FROM lead_files f, generate_series(0, (length(f.content) - 1) / 262144) AS g(seq)
WHERE length(f.content) > 0;
ALTER TABLE lead_files DROP COLUMN content;

-- A file is staged (its row and chunks written) before the transaction of
-- its lead.file_attached event, which marks it attached; only attached
-- files are served. A staged file older than an hour was left by a
-- process that stopped in between, and is swept.
ALTER TABLE lead_files ADD COLUMN attached boolean NOT NULL DEFAULT true;
ALTER TABLE lead_files ALTER COLUMN attached DROP DEFAULT;
CREATE INDEX lead_files_staged ON lead_files (created_at) WHERE NOT attached;

-- What an account's files hold together, for the upload quota (staged
-- files count: they reserve their room).
CREATE INDEX lead_files_account ON lead_files (account_id) INCLUDE (size);

-- +goose Down
DROP INDEX lead_files_account;
DELETE FROM lead_files WHERE NOT attached;
DROP INDEX lead_files_staged;
ALTER TABLE lead_files DROP COLUMN attached;
ALTER TABLE lead_files ADD COLUMN content bytea NOT NULL DEFAULT '';
UPDATE lead_files f SET content = (SELECT string_agg(c.data, ''::bytea ORDER BY c.seq) FROM lead_file_chunks c WHERE c.file_id = f.id)
WHERE EXISTS (SELECT 1 FROM lead_file_chunks c WHERE c.file_id = f.id);
ALTER TABLE lead_files ALTER COLUMN content DROP DEFAULT;
DROP TABLE lead_file_chunks;
