package queries

import (
	"context"
	"io"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// File is a stored file of a lead: its metadata; WriteFile sends the
// bytes.
type File struct {
	Meta   domain.FileMeta
	LeadID uuid.UUID
}

// File returns a file's metadata; another account's file is not found.
func (q *Queries) File(ctx context.Context, accountID, leadID, fileID uuid.UUID) (File, error) {
	meta, err := q.views.File(ctx, accountID, leadID, fileID)
	if err != nil {
		return File{}, err
	}
	return File{Meta: meta, LeadID: leadID}, nil
}

// WriteFile writes f's bytes to w a few chunks per round trip, holding a
// connection only while it reads. A file removed meanwhile ends it early
// with domain.ErrFileNotFound.
func (q *Queries) WriteFile(ctx context.Context, w io.Writer, f File) error {
	return q.views.WriteFile(ctx, w, f.Meta.ID, f.Meta.Size)
}

// FileBytes is what an account's files hold together, staged ones
// included.
func (q *Queries) FileBytes(ctx context.Context, accountID uuid.UUID) (int64, error) {
	return q.views.FileBytes(ctx, accountID)
}
