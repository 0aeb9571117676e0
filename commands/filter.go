package commands

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// CreateFilter creates a filter of a campaign. Match is empty or
// domain.MatchConditions for a filter of conditions; a filter without
// condition needs domain.MatchAll.
type CreateFilter struct {
	AccountID  uuid.UUID
	CampaignID uuid.UUID
	Name       string
	Match      domain.FilterMatch
	Conditions []domain.Condition
	Any        [][]domain.Condition
	Meta       Meta
	Idem       *Idempotency
}

// FilterResult is a filter after a write.
type FilterResult struct {
	Filter domain.Filter `json:"filter"`
	Written
}

// CreateFilterHandler creates filters.
type CreateFilterHandler struct{ *deps }

// Handle validates the conditions against the campaign's current
// schema and appends the filter.
func (c CreateFilterHandler) Handle(ctx context.Context, cmd CreateFilter) (FilterResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (FilterResult, error) {
		camp, err := c.views.Campaign(ctx, cmd.AccountID, cmd.CampaignID)
		if err != nil {
			return FilterResult{}, err
		}
		id := uuid.New()
		events, err := domain.CreateFilter(id, camp.ID, cmd.AccountID, cmd.Name, cmd.Match, cmd.Conditions, cmd.Any, camp.Schema, c.at())
		if err != nil {
			return FilterResult{}, err
		}
		res := FilterResult{Filter: domain.FoldFilter(events)}
		out, err := c.store.AppendInline(ctx, inlineAll(c.views.UpsertFilter(res.Filter), finishWith(fin, &res.Written, func() any { return res })),
			eventstore.Append{StreamID: domain.FilterStream(id), AccountID: cmd.AccountID, CampaignID: camp.ID,
				Events: events, Metadata: cmd.Meta})
		if err != nil {
			return FilterResult{}, fmt.Errorf("create filter: %w", err)
		}
		res.Written = written(out)
		return res, nil
	})
}

// UpdateFilter replaces a filter's name and conditions (or, with Delete,
// deletes it); Match is as CreateFilter takes it. IfVersion, when not
// AnyVersion, must be the filter's current version.
type UpdateFilter struct {
	AccountID  uuid.UUID
	FilterID   uuid.UUID
	Name       string
	Match      domain.FilterMatch
	Conditions []domain.Condition
	Any        [][]domain.Condition
	Delete     bool
	IfVersion  int64
	Meta       Meta
	Idem       *Idempotency
}

// UpdateFilterHandler changes and deletes filters.
type UpdateFilterHandler struct{ *deps }

// Handle decides on the filter's current state and the campaign's
// current schema. Tokens bound to the filter see the new slice at once:
// the filters view changes in the same transaction.
func (c UpdateFilterHandler) Handle(ctx context.Context, cmd UpdateFilter) (FilterResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (FilterResult, error) {
		var res FilterResult
		var state domain.Filter
		// The view gives the campaign, whose schema the conditions must
		// fit; a deleted or foreign filter is not found.
		f, err := c.views.Filter(ctx, cmd.AccountID, cmd.FilterID)
		if err != nil {
			return FilterResult{}, err
		}
		camp, err := c.views.Campaign(ctx, cmd.AccountID, f.CampaignID)
		if err != nil {
			return FilterResult{}, err
		}
		schema, campaignID := camp.Schema, camp.ID
		out, err := c.store.Update(ctx, eventstore.Update{
			StreamID: domain.FilterStream(cmd.FilterID), IfVersion: ifVersion(cmd.IfVersion),
			AccountID: cmd.AccountID, CampaignID: campaignID, Metadata: cmd.Meta,
			Decide: func(history []eventstore.Record) ([]domain.Event, error) {
				state = domain.FoldFilter(eventstore.Events(history))
				if state.Version == 0 || state.AccountID != cmd.AccountID {
					return nil, domain.ErrFilterNotFound
				}
				var events []domain.Event
				var err error
				if cmd.Delete {
					events, err = state.Delete(c.at())
				} else {
					events, err = state.Update(cmd.Name, cmd.Match, cmd.Conditions, cmd.Any, schema, c.at())
				}
				state = domain.Fold(state, events)
				res.Filter = state
				return events, err
			},
			Inline: views.Later(func() eventstore.Inline {
				return inlineAll(c.views.UpsertFilter(state), finishWith(fin, &res.Written, func() any { return res }))
			}),
		})
		if err != nil {
			return FilterResult{}, fmt.Errorf("update filter: %w", mapConflict(err, cmd.IfVersion > 0))
		}
		res.Written = written(out)
		return res, nil
	})
}

// ifVersion maps "no If-Match" (0) to AnyVersion.
func ifVersion(v int64) int64 {
	if v <= 0 {
		return eventstore.AnyVersion
	}
	return v
}
