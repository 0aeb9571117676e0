package commands

import (
	"bytes"
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

// A file's bytes are rows of lead_file_chunks of fileChunkSize bytes
// (the last one shorter), so that neither a write nor a read holds a whole
// file in memory. 00012_file_chunks.sql cut the files stored before at
// the same size.
const fileChunkSize = 256 << 10

// fileChunksPerRead is how many chunks one round trip of a download
// fetches.
const fileChunksPerRead = 4

// ErrUploadQuotaExceeded: the file does not fit in what the account's
// files may hold together (a *QuotaError says how much). Nothing was
// written.
var ErrUploadQuotaExceeded = errors.New("the file does not fit in the account's file quota")

// QuotaError is ErrUploadQuotaExceeded with the quota and the file's size;
// it never says what the account holds, since a scoped token would learn
// of files outside its scope.
type QuotaError struct {
	Quota, Size int64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("the file of %d bytes does not fit in the account's file quota of %d bytes", e.Size, e.Quota)
}

func (e *QuotaError) Unwrap() error { return ErrUploadQuotaExceeded }

// FileContent is a file's bytes as they were received: read from the
// start as often as a write is tried again, with the size and SHA-256
// counted as they arrived. Storing checks both against what it reads.
type FileContent struct {
	io.ReaderAt
	Size   int64
	SHA256 [sha256.Size]byte
}

// BytesContent is b as a FileContent.
func BytesContent(b []byte) FileContent {
	return FileContent{ReaderAt: bytes.NewReader(b), Size: int64(len(b)), SHA256: sha256.Sum256(b)}
}

// fileQuotaLockClass is the first key of the advisory locks that make one
// account's uploads check the quota one at a time (the two-key space,
// apart from the relay's one-key locks).
const fileQuotaLockClass = 0x6c66

// stagedFileTTL is how long a file may stay staged: staging is followed at
// once by the event's transaction, so an older staged file was left by a
// process that stopped in between, and is swept.
const stagedFileTTL = time.Hour

// FileBytes is what an account's files hold together, staged ones
// included.
func (c *Commands) FileBytes(ctx context.Context, accountID uuid.UUID) (int64, error) {
	return fileBytes(ctx, c.pool, accountID)
}

func fileBytes(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, accountID uuid.UUID) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT coalesce(sum(size), 0) FROM lead_files WHERE account_id = $1`, accountID).Scan(&n)
	return n, err
}

// stageFile stores a file's bytes ahead of its event: a row not yet
// attached, which reserves its room in the quota, then its chunks. The
// event's transaction only marks it attached, so that writers of one
// lead contend for a short transaction, not for the copy of a file. On
// error nothing is left staged.
func (c *Commands) stageFile(ctx context.Context, accountID, leadID uuid.UUID, meta domain.FileMeta, content FileContent, quota int64) error {
	now := c.at()
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM lead_files WHERE NOT attached AND created_at < $1`, now.Add(-stagedFileTTL)); err != nil {
			return err
		}
		if quota > 0 {
			// Two uploads must not both fit in the same room: the
			// account's reservations take turns.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, fileQuotaLockClass, accountID.String()); err != nil {
				return err
			}
			used, err := fileBytes(ctx, tx, accountID)
			if err != nil {
				return err
			}
			if used+content.Size > quota {
				return &QuotaError{Quota: quota, Size: content.Size}
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO lead_files (id, lead_id, account_id, name, content_type, size, sha256, created_at, attached)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false)`,
			meta.ID, leadID, accountID, meta.Name, meta.ContentType, meta.Size, meta.SHA256, now)
		return err
	})
	if err != nil {
		return err
	}
	src := &chunkSource{file: meta.ID, content: content, buf: make([]byte, fileChunkSize), sum: sha256.New()}
	_, err = c.pool.CopyFrom(ctx, pgx.Identifier{"lead_file_chunks"}, []string{"file_id", "seq", "data"}, src)
	if err == nil && (src.read != content.Size || !bytes.Equal(src.sum.Sum(nil), content.SHA256[:])) {
		err = fmt.Errorf("file %s: the %d bytes read do not match the %d received", meta.ID, src.read, content.Size)
	}
	if err != nil {
		c.unstageFile(ctx, meta.ID)
	}
	return err
}

// unstageFile removes a staged file that will not be attached; one it
// misses is swept later.
func (c *Commands) unstageFile(ctx context.Context, id uuid.UUID) {
	_, _ = c.pool.Exec(context.WithoutCancel(ctx), `DELETE FROM lead_files WHERE id = $1 AND NOT attached`, id)
}

// attachStagedFile marks a staged file attached, in the transaction of
// its lead.file_attached event.
func attachStagedFile(id uuid.UUID) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		tag, err := tx.Exec(ctx, `UPDATE lead_files SET attached = true WHERE id = $1 AND NOT attached`, id)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("file %s: no longer staged", id)
		}
		return err
	}
}

// chunkSource feeds COPY one chunk at a time from a FileContent, hashing
// what it reads. Its buffer is reused: COPY encodes a row before it asks
// for the next.
type chunkSource struct {
	file    uuid.UUID
	content FileContent
	buf     []byte
	sum     hash.Hash
	seq     int32
	read    int64
	row     []byte
	err     error
}

func (s *chunkSource) Next() bool {
	if s.read >= s.content.Size || s.err != nil {
		return false
	}
	n, err := s.content.ReadAt(s.buf[:min(int64(len(s.buf)), s.content.Size-s.read)], s.read)
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

// File is a stored file of a lead: its metadata; WriteFile sends the
// bytes.
type File struct {
	Meta   domain.FileMeta
	LeadID uuid.UUID
}

// File returns a file's metadata; another account's file is not found.
func (c *Commands) File(ctx context.Context, accountID, leadID, fileID uuid.UUID) (File, error) {
	f := File{LeadID: leadID}
	err := c.pool.QueryRow(ctx, `SELECT id, name, content_type, size, sha256 FROM lead_files
		WHERE account_id = $1 AND lead_id = $2 AND id = $3 AND attached`, accountID, leadID, fileID).
		Scan(&f.Meta.ID, &f.Meta.Name, &f.Meta.ContentType, &f.Meta.Size, &f.Meta.SHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		return File{}, domain.ErrFileNotFound
	}
	return f, err
}

// WriteFile writes f's bytes to w a few chunks per round trip, holding a
// connection only while it reads. A file removed meanwhile ends it early
// with domain.ErrFileNotFound.
func (c *Commands) WriteFile(ctx context.Context, w io.Writer, f File) error {
	var written int64
	next := int32(0)
	for written < f.Meta.Size {
		rows, err := c.pool.Query(ctx, `SELECT seq, data FROM lead_file_chunks WHERE file_id = $1 AND seq >= $2
			ORDER BY seq LIMIT $3`, f.Meta.ID, next, fileChunksPerRead)
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
				return fmt.Errorf("file %s: chunk %d missing: %w", f.Meta.ID, next, domain.ErrFileNotFound)
			}
			chunks = append(chunks, data)
			next++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(chunks) == 0 {
			return fmt.Errorf("file %s: %d of %d bytes: %w", f.Meta.ID, written, f.Meta.Size, domain.ErrFileNotFound)
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
