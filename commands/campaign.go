package commands

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// CreateCampaign creates a campaign with its schema.
type CreateCampaign struct {
	AccountID uuid.UUID
	Name      string
	Schema    domain.Schema
	Meta      Meta
	Idem      *Idempotency
}

// CampaignResult is a campaign after a write.
type CampaignResult struct {
	Campaign domain.Campaign `json:"campaign"`
	Written
}

// CreateCampaignHandler creates campaigns.
type CreateCampaignHandler struct{ *deps }

// Handle decides and appends a new campaign; relation fields must
// target a campaign of the same account (or the new campaign itself).
func (c CreateCampaignHandler) Handle(ctx context.Context, cmd CreateCampaign) (CampaignResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (CampaignResult, error) {
		id := uuid.New()
		if err := c.checkRelationTargets(ctx, cmd.AccountID, id, cmd.Schema.Fields); err != nil {
			return CampaignResult{}, err
		}
		events, err := domain.CreateCampaign(id, cmd.AccountID, cmd.Name, cmd.Schema, c.at())
		if err != nil {
			return CampaignResult{}, err
		}
		res := CampaignResult{Campaign: domain.FoldCampaign(events)}
		out, err := c.store.AppendInline(ctx, inlineAll(c.views.UpsertCampaign(res.Campaign), finishWith(fin, &res.Written, func() any { return res })),
			eventstore.Append{StreamID: domain.CampaignStream(id), AccountID: cmd.AccountID, CampaignID: id, Events: events, Metadata: cmd.Meta})
		if err != nil {
			return CampaignResult{}, fmt.Errorf("create campaign: %w", err)
		}
		res.Written = written(out)
		return res, nil
	})
}

func (c *deps) checkRelationTargets(ctx context.Context, accountID, self uuid.UUID, fields []domain.Field) error {
	v := &domain.ValidationError{}
	for i, f := range fields {
		if f.Type != domain.TypeRelation || f.Campaign == nil || *f.Campaign == self {
			continue
		}
		if _, err := c.views.Campaign(ctx, accountID, *f.Campaign); err != nil {
			v.Add(fmt.Sprintf("fields[%d].campaign", i), domain.CodeInvalidValue, "no campaign %s in this account", f.Campaign)
		}
	}
	return v.Err()
}

// ChangeCampaign is one schema or name change of a campaign. Exactly one
// of its change fields is set.
type ChangeCampaign struct {
	AccountID  uuid.UUID
	CampaignID uuid.UUID
	IfMatch    int64 // the campaign version the change was decided on; 0 for any
	Rename     *string
	AddSelect  *domain.Select
	AddOption  *SelectOption
	AddField   *domain.Field
	AddStatus  *domain.Status
	// Schema evolution: an existing option, field or status changed; its
	// value, key or slug stays.
	EditOption *OptionEdit
	EditField  *FieldEdit
	EditStatus *StatusEdit
	// Retention sets or removes the campaign's retention policy.
	Retention *RetentionChange
	Meta      Meta
	Idem      *Idempotency
}

// RetentionChange is the retention policy a campaign gets; a nil Policy
// removes the one it has.
type RetentionChange struct {
	Policy *domain.Retention
}

// OptionEdit names the option a change is for.
type OptionEdit struct {
	Select, Value string
	Change        domain.OptionChange
}

// FieldEdit names the field a change is for.
type FieldEdit struct {
	Key    string
	Change domain.FieldChange
}

// StatusEdit names the status a change is for.
type StatusEdit struct {
	Slug   string
	Change domain.StatusChange
}

// SelectOption names the select list a new option goes into.
type SelectOption struct {
	Select string
	Option domain.Option
}

// ChangeCampaignHandler changes campaigns.
type ChangeCampaignHandler struct{ *deps }

// Handle applies a rename, a new select, select option, field or
// status, a change of an existing option, field or status, or a
// retention policy. The schema view is updated in the same transaction, so the next
// request (and the partner's documentation) sees it. With IfMatch, the
// change appends at that version or is ErrPreconditionFailed, also when
// another change lands between the read and the append (invariant 2).
func (c ChangeCampaignHandler) Handle(ctx context.Context, cmd ChangeCampaign) (CampaignResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (CampaignResult, error) {
		var res CampaignResult
		var state domain.Campaign
		out, err := c.store.Update(ctx, eventstore.Update{
			StreamID: domain.CampaignStream(cmd.CampaignID), IfVersion: eventstore.AnyVersion,
			AccountID: cmd.AccountID, CampaignID: cmd.CampaignID, Metadata: cmd.Meta,
			Decide: func(history []eventstore.Record) ([]domain.Event, error) {
				state = domain.FoldCampaign(eventstore.Events(history))
				if !state.Exists() || state.AccountID != cmd.AccountID {
					return nil, domain.ErrCampaignNotFound
				}
				// Checked here rather than with Update.IfVersion so that a
				// missing campaign stays a 404; the append is at the loaded
				// version, and a concurrent change decides again and lands here.
				if cmd.IfMatch > 0 && state.Version != cmd.IfMatch {
					return nil, ErrPreconditionFailed
				}
				if cmd.AddField != nil {
					if err := c.checkRelationTargets(ctx, cmd.AccountID, cmd.CampaignID, []domain.Field{*cmd.AddField}); err != nil {
						return nil, err
					}
				}
				at := c.at()
				var events []domain.Event
				var err error
				switch {
				case cmd.Rename != nil:
					events, err = state.Rename(*cmd.Rename, at)
				case cmd.AddSelect != nil:
					events, err = state.AddSelect(*cmd.AddSelect, at)
				case cmd.AddOption != nil:
					events, err = state.AddSelectOption(cmd.AddOption.Select, cmd.AddOption.Option, at)
				case cmd.AddField != nil:
					events, err = state.AddField(*cmd.AddField, at)
				case cmd.AddStatus != nil:
					events, err = state.AddStatus(*cmd.AddStatus, at)
				case cmd.EditOption != nil:
					events, err = state.ChangeOption(cmd.EditOption.Select, cmd.EditOption.Value, cmd.EditOption.Change, at)
				case cmd.EditField != nil:
					events, err = state.ChangeField(cmd.EditField.Key, cmd.EditField.Change, at)
				case cmd.EditStatus != nil:
					events, err = state.ChangeStatus(cmd.EditStatus.Slug, cmd.EditStatus.Change, at)
				case cmd.Retention != nil:
					events, err = state.SetRetention(cmd.Retention.Policy, at)
				}
				state = domain.Fold(state, events)
				res.Campaign = state
				return events, err
			},
			Inline: views.Later(func() eventstore.Inline {
				return inlineAll(c.views.UpsertCampaign(state), finishWith(fin, &res.Written, func() any { return res }))
			}),
		})
		if err != nil {
			return CampaignResult{}, fmt.Errorf("change campaign: %w", mapConflict(err, cmd.IfMatch > 0))
		}
		res.Written = written(out)
		return res, nil
	})
}
