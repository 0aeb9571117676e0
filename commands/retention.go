package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// RetentionMeta marks the events the retention job writes: no token asked
// for them, the service did.
var RetentionMeta = Meta{RequestID: "retention"}

// ExpiredLeads finds a campaign's live leads whose created_at (or
// updated_at, with countedFrom updated) is before a moment, oldest
// first; the lead views' reader (projections/leads) is the one in use.
type ExpiredLeads interface {
	ExpiredLeads(ctx context.Context, campaignID uuid.UUID, countedFrom string, before time.Time, limit int) ([]uuid.UUID, error)
}

// EraseExpiredLeads is one round of the retention job: for each campaign
// with a retention policy, up to Batch of its leads past the period are
// erased.
type EraseExpiredLeads struct {
	Leads ExpiredLeads
	Batch int // per campaign and round; default 100
}

// RetentionRound says what one round did; it holds no personal data.
type RetentionRound struct {
	Campaigns int // campaigns with a policy
	Busy      int // campaigns another process was working on
	Erased    int // leads erased
	Skipped   int // leads found but erased already, or changed since the views were read
	Failed    int // erasures that failed; Err says why
	// More is true when a campaign had a full batch: the job goes on
	// without waiting for its interval.
	More bool
}

// EraseExpiredLeadsHandler runs rounds of the retention job.
type EraseExpiredLeadsHandler struct{ *deps }

// Handle runs one round. Several processes may run rounds at once: a
// campaign is worked on by one of them at a time (an advisory lock that
// the others skip), and an erasure refuses a lead erased already, so a
// lead is erased exactly once whatever the interleaving. The leads found
// in the views are erased only when their own stream says that they are
// past the period (domain.Lead.EraseExpired): views that lag a change
// never erase a lead too early. The erasures' errors are joined in err;
// the round goes on past them.
func (c EraseExpiredLeadsHandler) Handle(ctx context.Context, cmd EraseExpiredLeads) (RetentionRound, error) {
	var round RetentionRound
	if cmd.Leads == nil {
		return round, errors.New("retention: no reader of expired leads")
	}
	batch := cmd.Batch
	if batch <= 0 {
		batch = 100
	}
	camps, err := c.views.RetentionCampaigns(ctx)
	if err != nil {
		return round, fmt.Errorf("retention: campaigns: %w", err)
	}
	round.Campaigns = len(camps)
	var errs []error
	for _, camp := range camps {
		if ctx.Err() != nil {
			break
		}
		policy := *camp.Retention
		locked, err := c.store.WithTryLock(ctx, "leadsvc.retention."+camp.ID.String(), func(ctx context.Context) error {
			ids, err := cmd.Leads.ExpiredLeads(ctx, camp.ID, policy.CountedFrom, policy.Cutoff(c.at()), batch)
			if err != nil {
				return err
			}
			round.More = round.More || len(ids) == batch
			for _, id := range ids {
				_, err := EraseLeadHandler(c).Handle(ctx, EraseLead{AccountID: camp.AccountID, LeadID: id,
					Retention: &policy, Meta: RetentionMeta})
				switch {
				case err == nil:
					round.Erased++
				case errors.Is(err, domain.ErrLeadErased), errors.Is(err, domain.ErrRetentionNotDue),
					errors.Is(err, domain.ErrLeadNotFound), errors.Is(err, eventstore.ErrVersionConflict):
					round.Skipped++
				case ctx.Err() != nil:
					return ctx.Err()
				default:
					round.Failed++
					errs = append(errs, fmt.Errorf("lead %s: %w", id, err))
				}
			}
			return nil
		})
		switch {
		case err != nil && ctx.Err() == nil:
			round.Failed++
			errs = append(errs, fmt.Errorf("campaign %s: %w", camp.ID, err))
		case !locked && err == nil:
			round.Busy++
		}
	}
	return round, errors.Join(errs...)
}
