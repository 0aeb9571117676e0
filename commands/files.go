package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

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

// stagedFileTTL is how long a file may stay staged: staging is followed at
// once by the event's transaction, so an older staged file was left by a
// process that stopped in between, and is swept.
const stagedFileTTL = time.Hour

// fileViews keeps the files' rows and bytes.
type fileViews interface {
	StageFile(ctx context.Context, f views.StagedFile, staleBefore time.Time) error
	CopyFileChunks(ctx context.Context, id uuid.UUID, content io.ReaderAt, size int64) (read int64, sum []byte, err error)
	UnstageFile(ctx context.Context, id uuid.UUID) error
	AttachStagedFile(id uuid.UUID) eventstore.Inline
	DeleteFile(leadID, fileID uuid.UUID) eventstore.Inline
}

// stageFile stores a file's bytes ahead of its event: a row not yet
// attached, which reserves its room in the quota, then its chunks. The
// event's transaction only marks it attached, so that writers of one
// lead contend for a short transaction, not for the copy of a file. On
// error nothing is left staged.
func (c *deps) stageFile(ctx context.Context, accountID, leadID uuid.UUID, meta domain.FileMeta, content FileContent, quota int64) error {
	now := c.at()
	err := c.views.StageFile(ctx, views.StagedFile{Meta: meta, LeadID: leadID, AccountID: accountID, At: now, Quota: quota,
		Fits: func(used int64) error {
			if used+content.Size > quota {
				return &QuotaError{Quota: quota, Size: content.Size}
			}
			return nil
		}}, now.Add(-stagedFileTTL))
	if err != nil {
		return err
	}
	read, sum, err := c.views.CopyFileChunks(ctx, meta.ID, content.ReaderAt, content.Size)
	if err == nil && (read != content.Size || !bytes.Equal(sum, content.SHA256[:])) {
		err = fmt.Errorf("file %s: the %d bytes read do not match the %d received", meta.ID, read, content.Size)
	}
	if err != nil {
		c.unstageFile(ctx, meta.ID)
	}
	return err
}

// unstageFile removes a staged file that will not be attached; one it
// misses is swept later.
func (c *deps) unstageFile(ctx context.Context, id uuid.UUID) {
	_ = c.views.UnstageFile(context.WithoutCancel(ctx), id)
}
