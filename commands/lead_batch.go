package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// MaxBatchLeads is the most leads one CreateLeads takes.
const MaxBatchLeads = 100

// CheckBatchSize refuses a batch of n leads unless 1 ≤ n ≤ MaxBatchLeads,
// as a *domain.ValidationError on leads.
func CheckBatchSize(n int) error {
	if n < 1 || n > MaxBatchLeads {
		return domain.Invalid("leads", domain.CodeInvalidValue, "a batch holds 1 to %d leads, not %d", MaxBatchLeads, n)
	}
	return nil
}

// CreateLeads creates several leads at once, all or none.
type CreateLeads struct {
	AccountID uuid.UUID
	Scope     *Scope
	Leads     []NewLead
	Meta      Meta
	Idem      *Idempotency
}

// LeadsResult is the leads a CreateLeads created, in the order asked; the
// write's position is the batch's (each LeadResult's own is zero).
type LeadsResult struct {
	Leads []LeadResult `json:"leads"`
	Written
}

// BatchError refuses a batch: the refusal of each refused item by its
// index, in order. Nothing of the batch is written.
type BatchError struct {
	Items []ItemError
}

// ItemError is why one item of a batch is refused: a
// *domain.ValidationError or a *domain.ScopeError, as the same write alone would
// be refused.
type ItemError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string {
	msgs := make([]string, len(e.Items))
	for i, it := range e.Items {
		msgs[i] = fmt.Sprintf("item %d: %v", it.Index, it.Err)
	}
	return "batch refused: " + strings.Join(msgs, "; ")
}

// CreateLeadsHandler creates leads in batches.
type CreateLeadsHandler struct{ *deps }

// Handle decides every lead as CreateLead would (scope, filter
// defaults, validation, relations, the filter's write guard) and appends
// them all in one transaction. The scope and every campaign named are
// read once for the whole batch. Any refused item refuses the batch with
// a *BatchError listing every refused item; a batch of the wrong size is
// a *domain.ValidationError on leads (CheckBatchSize).
func (c CreateLeadsHandler) Handle(ctx context.Context, cmd CreateLeads) (LeadsResult, error) {
	if err := CheckBatchSize(len(cmd.Leads)); err != nil {
		return LeadsResult{}, err
	}
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (LeadsResult, error) {
		ids := make([]uuid.UUID, len(cmd.Leads))
		for i, n := range cmd.Leads {
			ids[i] = n.CampaignID
		}
		sc, camps, err := c.resolveScopeAnd(ctx, cmd.AccountID, cmd.Scope, ids...)
		if err != nil {
			return LeadsResult{}, err
		}
		res := LeadsResult{Leads: make([]LeadResult, len(cmd.Leads))}
		apps := make([]eventstore.Append, len(cmd.Leads))
		refused := &BatchError{}
		for i, n := range cmd.Leads {
			lr, app, err := c.decideLead(ctx, sc, camps, n, cmd.Meta)
			var (
				verr *domain.ValidationError
				serr *domain.ScopeError
			)
			switch {
			case errors.As(err, &verr), errors.As(err, &serr):
				refused.Items = append(refused.Items, ItemError{Index: i, Err: err})
			case err != nil:
				return LeadsResult{}, err
			}
			res.Leads[i], apps[i] = lr, app
		}
		if len(refused.Items) > 0 {
			return LeadsResult{}, refused
		}
		out, err := c.store.AppendInline(ctx, finishWith(fin, &res.Written, func() any { return res }), apps...)
		if err != nil {
			return LeadsResult{}, fmt.Errorf("create leads: %w", err)
		}
		res.Written = written(out)
		return res, nil
	})
}
