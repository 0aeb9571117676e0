package views

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// fileQuotaLockClass is the first key of the advisory locks that make one
// account's uploads check the quota one at a time (the two-key space,
// apart from the relay's one-key locks).
const fileQuotaLockClass = 0x6c66

// A file's bytes are rows of lead_file_chunks of fileChunkSize bytes
// (the last one shorter), so that neither a write nor a read holds a whole
// file in memory. 00012_file_chunks.sql cut the files stored before at
// the same size.
const fileChunkSize = 256 << 10

// fileChunksPerRead is how many chunks one round trip of a download
// fetches.
const fileChunksPerRead = 4

// FileBytes is what an account's files hold together, staged ones
// included.
func (v *Views) FileBytes(ctx context.Context, accountID uuid.UUID) (int64, error) {
	return fileBytes(ctx, v.pool, accountID)
}

func fileBytes(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, accountID uuid.UUID) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT coalesce(sum(size), 0) FROM lead_files WHERE account_id = $1`, accountID).Scan(&n)
	return n, err
}

// StagedFile is a file's row before its event: it reserves the file's room
// in the quota.
type StagedFile struct {
	Meta      domain.FileMeta
	LeadID    uuid.UUID
	AccountID uuid.UUID
	At        time.Time
	// Quota, when positive, bounds what the account's files may hold
	// together: fits is called with what they hold, this file excluded,
	// while the account's uploads wait their turn.
	Quota int64
	Fits  func(used int64) error
}

// StageFile inserts a staged file's row, after sweeping the rows staged
// before staleBefore (left by a process that stopped between staging and
// its event).
func (v *Views) StageFile(ctx context.Context, f StagedFile, staleBefore time.Time) error {
	return pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM lead_files WHERE NOT attached AND created_at < $1`, staleBefore); err != nil {
			return err
		}
		if f.Quota > 0 {
			// Two uploads must not both fit in the same room: the
			// account's reservations take turns.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, fileQuotaLockClass, f.AccountID.String()); err != nil {
				return err
			}
			used, err := fileBytes(ctx, tx, f.AccountID)
			if err != nil {
				return err
			}
			if err := f.Fits(used); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO lead_files (id, lead_id, account_id, name, content_type, size, sha256, created_at, attached)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false)`,
			f.Meta.ID, f.LeadID, f.AccountID, f.Meta.Name, f.Meta.ContentType, f.Meta.Size, f.Meta.SHA256, f.At)
		return err
	})
}

// CopyFileChunks stores a staged file's size bytes from content, one row
// per chunk, and returns how many it read and their SHA-256, for the
// caller to check against what it received.
func (v *Views) CopyFileChunks(ctx context.Context, id uuid.UUID, content io.ReaderAt, size int64) (read int64, sum []byte, err error) {
	src := &chunkSource{file: id, content: content, size: size, buf: make([]byte, fileChunkSize), sum: sha256.New()}
	_, err = v.pool.CopyFrom(ctx, pgx.Identifier{"lead_file_chunks"}, []string{"file_id", "seq", "data"}, src)
	return src.read, src.sum.Sum(nil), err
}

// chunkSource feeds COPY one chunk at a time from a file's bytes, hashing
// what it reads. Its buffer is reused: COPY encodes a row before it asks
// for the next.
type chunkSource struct {
	file    uuid.UUID
	content io.ReaderAt
	size    int64
	buf     []byte
	sum     hash.Hash
	seq     int32
	read    int64
	row     []byte
	err     error
}

func (s *chunkSource) Next() bool {
	if s.read >= s.size || s.err != nil {
		return false
	}
	n, err := s.content.ReadAt(s.buf[:min(int64(len(s.buf)), s.size-s.read)], s.read)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		s.err = fmt.Errorf("read the file's bytes: %w", err)
		return false
	}
	s.row = s.buf[:n]
	s.sum.Write(s.row)
	s.read += int64(n)
	s.seq++
	return true
}

func (s *chunkSource) Values() ([]any, error) { return []any{s.file, s.seq - 1, s.row}, nil }

func (s *chunkSource) Err() error { return s.err }

// UnstageFile removes a staged file that will not be attached.
func (v *Views) UnstageFile(ctx context.Context, id uuid.UUID) error {
	_, err := v.pool.Exec(ctx, `DELETE FROM lead_files WHERE id = $1 AND NOT attached`, id)
	return err
}

// AttachStagedFile marks a staged file attached, in the transaction of its
// lead.file_attached event.
func (v *Views) AttachStagedFile(id uuid.UUID) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		tag, err := tx.Exec(ctx, `UPDATE lead_files SET attached = true WHERE id = $1 AND NOT attached`, id)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("file %s: no longer staged", id)
		}
		return err
	}
}

// DeleteFile deletes a lead's file and its bytes, in the transaction of
// its lead.file_removed event.
func (v *Views) DeleteFile(leadID, fileID uuid.UUID) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		_, err := tx.Exec(ctx, `DELETE FROM lead_files WHERE id = $1 AND lead_id = $2`, fileID, leadID)
		return err
	}
}

// File returns the metadata of an attached file of the account's lead;
// any other is domain.ErrFileNotFound.
func (v *Views) File(ctx context.Context, accountID, leadID, fileID uuid.UUID) (domain.FileMeta, error) {
	var m domain.FileMeta
	err := v.pool.QueryRow(ctx, `SELECT id, name, content_type, size, sha256 FROM lead_files
		WHERE account_id = $1 AND lead_id = $2 AND id = $3 AND attached`, accountID, leadID, fileID).
		Scan(&m.ID, &m.Name, &m.ContentType, &m.Size, &m.SHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.FileMeta{}, domain.ErrFileNotFound
	}
	return m, err
}

// WriteFile writes the file's size bytes to w a few chunks per round
// trip, holding a connection only while it reads. A file removed
// meanwhile ends it early with domain.ErrFileNotFound.
func (v *Views) WriteFile(ctx context.Context, w io.Writer, id uuid.UUID, size int64) error {
	var written int64
	next := int32(0)
	for written < size {
		rows, err := v.pool.Query(ctx, `SELECT seq, data FROM lead_file_chunks WHERE file_id = $1 AND seq >= $2
			ORDER BY seq LIMIT $3`, id, next, fileChunksPerRead)
		if err != nil {
			return err
		}
		var chunks [][]byte
		for rows.Next() {
			var seq int32
			var data []byte
			if err := rows.Scan(&seq, &data); err != nil {
				rows.Close()
				return err
			}
			if seq != next {
				rows.Close()
				return fmt.Errorf("file %s: chunk %d missing: %w", id, next, domain.ErrFileNotFound)
			}
			chunks = append(chunks, data)
			next++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(chunks) == 0 {
			return fmt.Errorf("file %s: %d of %d bytes: %w", id, written, size, domain.ErrFileNotFound)
		}
		for _, data := range chunks {
			n, err := w.Write(data)
			written += int64(n)
			if err != nil {
				return err
			}
		}
	}
	return nil
}
