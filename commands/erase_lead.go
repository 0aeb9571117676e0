package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// EraseLead erases the personal values of one lead of the account.
type EraseLead struct {
	AccountID uuid.UUID
	LeadID    uuid.UUID
	Reason    string
	// Retention, when set, erases the lead under that policy instead of
	// for Reason: only when it is past the period at the commands' clock
	// (else domain.ErrRetentionNotDue), with the policy as the reason.
	Retention *domain.Retention
	Meta      Meta
	Idem      *Idempotency
}

// EraseResult says what an erasure did; it holds no personal data.
type EraseResult struct {
	LeadID      uuid.UUID `json:"lead_id"`
	ErasedAt    time.Time `json:"erased_at"`
	Fields      []string  `json:"fields"`       // the keys whose values were erased
	Rows        int       `json:"rows"`         // the event rows scrubbed
	ChainIntact bool      `json:"chain_intact"` // the stream's chain before the erasure
	Written
}

// erasureViews is the write side's share of an erasure, in its
// transaction.
type erasureViews interface {
	EraseLead(leadID uuid.UUID, at time.Time) eventstore.Inline
}

// ErasedLeadViews is the read side's share of an erasure that must hold
// when it is acknowledged (the lead's tombstone in the lead views), kept
// by the package that owns those tables; nil leaves it to the projection.
type ErasedLeadViews interface {
	EraseLeadView(lead domain.Lead, erased domain.LeadErased) eventstore.Inline
}

// EraseLeadHandler erases leads.
type EraseLeadHandler struct{ *deps }

// Handle erases, in one transaction (eventstore.Store.Erase): the lead's
// personal values from every event of its stream, its files, the stored
// idempotent results and webhook bodies that carry it, and its row in the
// lead views. A lead of another account is domain.ErrLeadNotFound; an
// erased one a *domain.LeadErasedError.
func (c EraseLeadHandler) Handle(ctx context.Context, cmd EraseLead) (EraseResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (EraseResult, error) {
		var (
			res    EraseResult
			lead   domain.Lead
			schema domain.Schema
			erased domain.LeadErased
		)
		at := c.at()
		out, err := c.store.Erase(ctx, eventstore.Erasure{
			StreamID: domain.LeadStream(cmd.LeadID), AccountID: cmd.AccountID, Metadata: cmd.Meta,
			Decide: func(history []eventstore.Record) (domain.LeadErased, error) {
				lead = domain.FoldLead(eventstore.Events(history))
				if !lead.Exists() || lead.AccountID != cmd.AccountID {
					return domain.LeadErased{}, domain.ErrLeadNotFound
				}
				camp, err := c.views.Campaign(ctx, cmd.AccountID, lead.CampaignID)
				if err != nil {
					return domain.LeadErased{}, err
				}
				schema = camp.Schema
				if cmd.Retention != nil {
					return lead.EraseExpired(*cmd.Retention, schema, at)
				}
				return lead.Erase(cmd.Reason, cmd.Meta.ActorTokenID, schema, at)
			},
			Scrub: func(r eventstore.Record) (json.RawMessage, bool, error) {
				return domain.ScrubLeadEvent(r.Type, r.Data, schema)
			},
			Inline: inlineAll(
				views.Step(func(recs []eventstore.Record) error {
					e := recs[0].Event.(domain.LeadErased)
					erased = e
					res = EraseResult{LeadID: cmd.LeadID, ErasedAt: e.At, Fields: e.Fields, Rows: len(e.Rows), ChainIntact: e.ChainIntact}
					return nil
				}),
				views.Later(func() eventstore.Inline {
					step := c.views.EraseLead(cmd.LeadID, erased.At)
					if c.leadViews == nil {
						return step
					}
					return inlineAll(step, c.leadViews.EraseLeadView(lead, erased))
				}),
				finishWith(fin, &res.Written, func() any { return res })),
		})
		if err != nil {
			return EraseResult{}, fmt.Errorf("erase lead %s: %w", cmd.LeadID, err)
		}
		res.Written = written(out)
		return res, nil
	})
}
