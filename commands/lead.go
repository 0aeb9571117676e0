package commands

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// Scope is the slice of an account a caller may touch: nil for an
// account-level token, otherwise the token's campaign and optional filter.
type Scope struct {
	CampaignID *uuid.UUID
	FilterID   *uuid.UUID

	// Read by AuthenticateScoped in the round trip that found the token,
	// so a write need not read them again.
	prefetched bool
	filter     *domain.Filter // nil with a FilterID: the filter was deleted
	camp       *domain.Campaign
}

// Prefetched returns what AuthenticateScoped read with the scope: the
// token's filter (nil when it has none or it was deleted) and campaign;
// ok is false when nothing was read ahead.
func (s *Scope) Prefetched() (filter *domain.Filter, camp *domain.Campaign, ok bool) {
	if s == nil || !s.prefetched {
		return nil, nil, false
	}
	return s.filter, s.camp, true
}

// ScopeOf returns the scope of an authenticated token.
func ScopeOf(t TokenInfo) *Scope {
	if t.CampaignID == nil {
		return nil
	}
	return &Scope{CampaignID: t.CampaignID, FilterID: t.FilterID}
}

// TokenScope is the rule for what t sees and writes now (domain.Scope).
// s is the scope authentication found with t, whose filter it may have
// read already; nil reads the token's filter.
func (c Auth) TokenScope(ctx context.Context, t TokenInfo, s *Scope) (domain.Scope, error) {
	if s == nil {
		s = ScopeOf(t)
	}
	return c.resolveScope(ctx, t.AccountID, s)
}

func (c *deps) resolveScope(ctx context.Context, accountID uuid.UUID, s *Scope) (domain.Scope, error) {
	sc, _, err := c.resolveScopeAnd(ctx, accountID, s)
	return sc, err
}

// resolveScopeAnd resolves the scope against the filters view and reads
// the campaigns named, in one round trip: both are on the path of every
// lead write. A campaign that is missing, of another account, or not the
// campaign token's own (which is never read) is absent from the map.
func (c *deps) resolveScopeAnd(ctx context.Context, accountID uuid.UUID, s *Scope, campaignIDs ...uuid.UUID) (domain.Scope, map[uuid.UUID]*domain.Campaign, error) {
	camps := make(map[uuid.UUID]*domain.Campaign, len(campaignIDs))
	var (
		campaignID *uuid.UUID
		filterID   *uuid.UUID
		readFilter *uuid.UUID
		found      *domain.Filter
	)
	if s != nil {
		campaignID, filterID = s.CampaignID, s.FilterID
		switch {
		case s.prefetched && s.FilterID != nil:
			found = s.filter
		case s.FilterID != nil:
			readFilter = s.FilterID
		}
	}
	var read []uuid.UUID
	for _, id := range campaignIDs {
		switch {
		case s != nil && s.CampaignID != nil && *s.CampaignID != id:
		case s != nil && s.prefetched && s.camp.ID == id && s.camp.AccountID == accountID:
			camps[id] = s.camp
		case !slices.Contains(read, id):
			read = append(read, id)
		}
	}
	f, cs, err := c.views.ScopeRows(ctx, accountID, readFilter, read)
	if err != nil {
		return domain.Scope{}, nil, err
	}
	if readFilter != nil {
		found = f
	}
	for i := range cs {
		camps[cs[i].ID] = &cs[i]
	}
	return domain.NewScope(accountID, campaignID, filterID, found), camps, nil
}

// LeadResult is a lead after a write.
type LeadResult struct {
	Lead domain.Lead `json:"lead"`
	// Defaulted lists the fields (and "status") filled from the token
	// filter's equality conditions because the request omitted them.
	Defaulted []string `json:"defaulted,omitempty"`
	Written
}

// CreateLead creates a lead in a campaign.
type CreateLead struct {
	AccountID  uuid.UUID
	CampaignID uuid.UUID
	Scope      *Scope
	Status     string
	Fields     map[string]any
	Meta       Meta
	Idem       *Idempotency
	Guard      Guard // of a cached authentication, checked with the append
}

// CreateLeadHandler creates leads.
type CreateLeadHandler struct{ *deps }

// Handle validates the fields against the campaign's schema. Through a
// filtered scope, omitted fields pinned by the filter's equality
// conditions are filled in, and a lead that would still fall outside the
// filter is refused with a *domain.ScopeError naming the condition. A campaign the
// scope cannot write to is a *domain.ValidationError on campaign_id.
func (c CreateLeadHandler) Handle(ctx context.Context, cmd CreateLead) (LeadResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (LeadResult, error) {
		sc, camps, err := c.resolveScopeAnd(ctx, cmd.AccountID, cmd.Scope, cmd.CampaignID)
		if err != nil {
			return LeadResult{}, err
		}
		res, app, err := c.decideLead(ctx, sc, camps, NewLead{CampaignID: cmd.CampaignID, Status: cmd.Status, Fields: cmd.Fields}, cmd.Meta)
		if err != nil {
			return LeadResult{}, err
		}
		app.Guard = cmd.Guard
		out, err := c.store.AppendInline(ctx, finishWith(fin, &res.Written, func() any { return res }), app)
		if err != nil {
			return LeadResult{}, fmt.Errorf("create lead: %w", err)
		}
		res.Written = written(out)
		return res, nil
	})
}

// NewLead is a lead to create: its campaign, status (empty for the
// default) and fields.
type NewLead struct {
	CampaignID uuid.UUID
	Status     string
	Fields     map[string]any
}

// decideLead decides one new lead through the scope, with the campaigns
// resolveScopeAnd read. It refuses with a *domain.ValidationError (a
// campaign the scope cannot write to, invalid fields or status, a relation
// it cannot see) or a *domain.ScopeError (a lead outside the filter); any other
// error is a failed read.
func (c *deps) decideLead(ctx context.Context, sc domain.Scope, camps map[uuid.UUID]*domain.Campaign, n NewLead, meta Meta) (LeadResult, eventstore.Append, error) {
	camp := camps[n.CampaignID]
	if camp == nil || (sc.CampaignID != nil && *sc.CampaignID != n.CampaignID) {
		// Missing, of another account, or not the token's: all alike.
		return LeadResult{}, eventstore.Append{}, domain.Invalid("campaign_id", domain.CodeInvalidValue,
			"no campaign %s that this token can write to", n.CampaignID)
	}
	var res LeadResult
	id := uuid.New()
	events, defaulted, err := sc.CreateLead(id, camp.ID, n.Status, n.Fields, camp.Schema, c.at())
	if err != nil {
		return LeadResult{}, eventstore.Append{}, err
	}
	res.Defaulted = defaulted
	res.Lead = domain.FoldLead(events)
	if err := c.checkRelations(ctx, sc, camp.Schema, res.Lead.Fields); err != nil {
		return LeadResult{}, eventstore.Append{}, err
	}
	return res, eventstore.Append{StreamID: domain.LeadStream(id), AccountID: sc.AccountID, CampaignID: camp.ID,
		Events: events, Metadata: meta}, nil
}

// checkRelations requires every relation value to name a lead of the
// field's target campaign that the scope can see; a lead outside the scope
// is reported exactly like a missing one.
func (c *deps) checkRelations(ctx context.Context, sc domain.Scope, schema domain.Schema, fields domain.Fields) error {
	v := &domain.ValidationError{}
	for _, f := range schema.Fields {
		raw, ok := fields[f.Key]
		if f.Type != domain.TypeRelation || !ok || raw == nil || f.Campaign == nil {
			continue
		}
		id, err := uuid.Parse(fmt.Sprint(raw))
		if err != nil {
			v.Add("fields."+f.Key, domain.CodeInvalidFormat, "%q is not a lead id", raw)
			continue
		}
		target, err := c.loadLead(ctx, id)
		if err != nil {
			return err
		}
		// An erased lead is no target: nothing of it is left to relate to.
		visible := target.Exists() && !target.Erased() && target.AccountID == sc.AccountID && target.CampaignID == *f.Campaign
		if visible && sc.CampaignID != nil {
			visible = *f.Campaign == *sc.CampaignID && sc.Sees(schema, target)
		}
		if !visible {
			v.Add("fields."+f.Key, domain.CodeInvalidValue, "no lead %s that you can see in the related campaign", id)
		}
	}
	return v.Err()
}

func (c *deps) loadLead(ctx context.Context, id uuid.UUID) (domain.Lead, error) {
	events, err := c.load(ctx, domain.LeadStream(id))
	if err != nil {
		return domain.Lead{}, err
	}
	return domain.FoldLead(events), nil
}

// getLead returns a lead as the scope sees it; a lead outside the scope is
// domain.ErrLeadNotFound, exactly like a missing one.
func (c *deps) getLead(ctx context.Context, accountID, leadID uuid.UUID, s *Scope) (domain.Lead, error) {
	sc, err := c.resolveScope(ctx, accountID, s)
	if err != nil {
		return domain.Lead{}, err
	}
	l, err := c.loadLead(ctx, leadID)
	if err != nil {
		return domain.Lead{}, err
	}
	if !sc.Owns(l) {
		return domain.Lead{}, domain.ErrLeadNotFound
	}
	camp, err := c.views.Campaign(ctx, accountID, l.CampaignID)
	if err != nil {
		return domain.Lead{}, err
	}
	if !sc.Sees(camp.Schema, l) {
		return domain.Lead{}, domain.ErrLeadNotFound
	}
	if l.Erased() {
		return domain.Lead{}, l.ErasedError()
	}
	return l, nil
}

// UpdateLead changes fields (nil clears) and the status of a lead.
type UpdateLead struct {
	AccountID uuid.UUID
	LeadID    uuid.UUID
	Scope     *Scope
	Status    string
	Fields    map[string]any
	IfVersion int64 // If-Match; 0 for none
	Meta      Meta
	Idem      *Idempotency
}

// UpdateLeadHandler changes leads.
type UpdateLeadHandler struct{ *deps }

// Handle refuses, in this order: a lead outside the scope (not
// found, so a stale If-Match never reveals that a lead exists), a stale
// IfVersion (ErrPreconditionFailed), invalid fields, and a change that would
// take the lead out of the scope's filter (*domain.ScopeError). Without IfVersion a
// concurrent change makes it decide again on the new state.
func (c UpdateLeadHandler) Handle(ctx context.Context, cmd UpdateLead) (LeadResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (LeadResult, error) {
		return c.changeLead(ctx, cmd.AccountID, cmd.LeadID, cmd.Scope, cmd.IfVersion, cmd.Meta, fin,
			func(l domain.Lead, schema domain.Schema, sc domain.Scope) ([]domain.Event, error) {
				events, err := sc.UpdateLead(l, cmd.Fields, cmd.Status, schema, c.at())
				if err != nil || len(events) == 0 {
					return events, err
				}
				return events, c.checkRelations(ctx, sc, schema, events[0].(domain.LeadUpdated).Fields)
			}, nil)
	})
}

// changeLead runs one load–decide–append cycle on a lead the scope sees.
func (c *deps) changeLead(ctx context.Context, accountID, leadID uuid.UUID, s *Scope, ifVer int64, meta Meta, fin finish,
	decide func(domain.Lead, domain.Schema, domain.Scope) ([]domain.Event, error), inline eventstore.Inline,
) (LeadResult, error) {
	// A scoped token's campaign is known before the lead is: read it with
	// the filter.
	var want []uuid.UUID
	if s != nil && s.CampaignID != nil {
		want = append(want, *s.CampaignID)
	}
	sc, known, err := c.resolveScopeAnd(ctx, accountID, s, want...)
	if err != nil {
		return LeadResult{}, err
	}
	var res LeadResult
	out, err := c.store.Update(ctx, eventstore.Update{
		StreamID: domain.LeadStream(leadID), IfVersion: eventstore.AnyVersion, AccountID: accountID, Metadata: meta,
		Decide: func(history []eventstore.Record) ([]domain.Event, error) {
			l := domain.FoldLead(eventstore.Events(history))
			if !sc.Owns(l) {
				return nil, domain.ErrLeadNotFound
			}
			camp := known[l.CampaignID]
			if camp == nil {
				c, err := c.views.Campaign(ctx, accountID, l.CampaignID)
				if err != nil {
					return nil, err
				}
				camp = &c
			}
			if !sc.Sees(camp.Schema, l) {
				// An erased lead too: what is left of it decides, so a
				// token never learns of one outside its filter.
				return nil, domain.ErrLeadNotFound
			}
			if l.Erased() {
				return nil, l.ErasedError()
			}
			if ifVer > 0 && l.Version != ifVer {
				return nil, fmt.Errorf("%w: the lead is at version %d, not %d", ErrPreconditionFailed, l.Version, ifVer)
			}
			events, err := decide(l, camp.Schema, sc)
			res.Lead = l.Preview(events)
			return events, err
		},
		Inline: inlineAll(inline, finishWith(fin, &res.Written, func() any { return res })),
	})
	if err != nil {
		return LeadResult{}, fmt.Errorf("lead %s: %w", leadID, mapConflict(err, ifVer > 0))
	}
	res.Written = written(out)
	return res, nil
}

// AttachFile stores a file's bytes and appends lead.file_attached, whose
// transaction makes them the lead's.
type AttachFile struct {
	AccountID   uuid.UUID
	LeadID      uuid.UUID
	Scope       *Scope
	Name        string
	ContentType string
	Content     FileContent
	// Quota bounds what the account's files hold together, this one
	// included (*QuotaError); 0 is no bound.
	Quota int64
	Meta  Meta
	Idem  *Idempotency
}

// FileResult is a file after a write, with its lead.
type FileResult struct {
	File domain.FileMeta `json:"file"`
	LeadResult
}

// AttachFileHandler attaches files to leads.
type AttachFileHandler struct{ *deps }

// Handle records the size and SHA-256 of the bytes, so a download can
// be checked against what was uploaded. The bytes are staged first
// (stageFile), once the lead is known to be the scope's; a refusal after
// that removes them.
func (c AttachFileHandler) Handle(ctx context.Context, cmd AttachFile) (FileResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (FileResult, error) {
		meta := domain.FileMeta{ID: uuid.New(), Name: cmd.Name, ContentType: cmd.ContentType,
			Size: cmd.Content.Size, SHA256: hex.EncodeToString(cmd.Content.SHA256[:])}
		if _, err := c.getLead(ctx, cmd.AccountID, cmd.LeadID, cmd.Scope); err != nil {
			return FileResult{}, err
		}
		if err := c.stageFile(ctx, cmd.AccountID, cmd.LeadID, meta, cmd.Content, cmd.Quota); err != nil {
			return FileResult{}, err
		}
		var res FileResult
		res.File = meta
		var finFile finish
		if fin != nil {
			finFile = func(result func() any) eventstore.Inline {
				return fin(func() any {
					res.LeadResult = result().(LeadResult)
					return res
				})
			}
		}
		lr, err := c.changeLead(ctx, cmd.AccountID, cmd.LeadID, cmd.Scope, 0, cmd.Meta, finFile,
			func(l domain.Lead, _ domain.Schema, _ domain.Scope) ([]domain.Event, error) {
				return l.AttachFile(meta, c.at())
			},
			c.views.AttachStagedFile(meta.ID))
		if err != nil {
			c.unstageFile(ctx, meta.ID)
			return FileResult{}, err
		}
		res.LeadResult = lr
		return res, nil
	})
}

// RemoveFile deletes a file of a lead: its bytes go with the event.
type RemoveFile struct {
	AccountID uuid.UUID
	LeadID    uuid.UUID
	FileID    uuid.UUID
	Scope     *Scope
	Meta      Meta
	Idem      *Idempotency
}

// RemoveFileHandler removes files from leads.
type RemoveFileHandler struct{ *deps }

// Handle appends lead.file_removed and deletes the bytes in the same
// transaction.
func (c RemoveFileHandler) Handle(ctx context.Context, cmd RemoveFile) (LeadResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (LeadResult, error) {
		drop := c.views.DeleteFile(cmd.LeadID, cmd.FileID)
		return c.changeLead(ctx, cmd.AccountID, cmd.LeadID, cmd.Scope, 0, cmd.Meta, fin,
			func(l domain.Lead, _ domain.Schema, _ domain.Scope) ([]domain.Event, error) {
				return l.RemoveFile(cmd.FileID, c.at())
			},
			drop)
	})
}
