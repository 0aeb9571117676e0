package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// Why a token could read nothing at a time, besides the token states.
const (
	StateNoReadPermission = "no_read_permission"
	StateFilterDeleted    = "filter_deleted"
)

// Visibility is the exact set of leads a token could read at a time,
// replayed from the log: the token as it was (campaign, filter,
// permissions, revoked or expired), its filter's definition then, the
// campaign's schema then, and every lead of the campaign as it was then.
type Visibility struct {
	TokenID uuid.UUID `json:"token_id"`
	At      time.Time `json:"at"`
	// State is active when the token could read; otherwise why it read
	// nothing: not_created, revoked, expired, no_read_permission,
	// filter_deleted.
	State  string       `json:"state"`
	Token  TokenState   `json:"token"`
	Filter *FilterState `json:"filter"`
	Count  int          `json:"count"`
	Data   []uuid.UUID  `json:"data"` // sorted
}

// FilterState is a filter as it was at a time.
type FilterState struct {
	ID         uuid.UUID            `json:"id"`
	Name       string               `json:"name"`
	Conditions []domain.Condition   `json:"conditions"`
	Any        [][]domain.Condition `json:"any,omitempty"`
	Deleted    bool                 `json:"deleted"`
	Version    int64                `json:"version"`
}

// VisibleLeads answers which leads the token could read at at: events
// recorded at or before at count. Another account's token is
// domain.ErrTokenNotFound.
func (r *Reader) VisibleLeads(ctx context.Context, accountID, tokenID uuid.UUID, at time.Time) (Visibility, error) {
	at = at.UTC()
	recs, err := r.stream(ctx, accountID, domain.TokenStream(tokenID))
	if err != nil {
		return Visibility{}, fmt.Errorf("token %s: %w", tokenID, err)
	}
	if len(recs) == 0 {
		return Visibility{}, domain.ErrTokenNotFound
	}
	tok, state := tokenAt(tokenID, upTo(recs, at), at)
	v := Visibility{TokenID: tokenID, At: at, State: state.State, Token: state, Data: []uuid.UUID{}}
	switch {
	case state.State != StateActive:
		return v, nil
	case !tok.Can(domain.PermRead):
		v.State = StateNoReadPermission
		return v, nil
	case tok.FilterID == nil:
		v.Data, err = r.leadsCreated(ctx, accountID, tok.CampaignID, at)
	default:
		var f domain.Filter
		if f, err = r.filterAt(ctx, accountID, *tok.FilterID, at); err != nil {
			return Visibility{}, err
		}
		v.Filter = &FilterState{ID: *tok.FilterID, Name: f.Name, Conditions: f.Conditions, Any: f.Any, Deleted: f.Deleted, Version: f.Version}
		scope := domain.NewScope(accountID, tok.CampaignID, tok.FilterID, &f)
		if scope.Closed() {
			v.State = StateFilterDeleted
			return v, nil
		}
		var c []record
		if c, err = r.stream(ctx, accountID, domain.CampaignStream(*tok.CampaignID)); err != nil {
			return Visibility{}, fmt.Errorf("campaign %s: %w", tok.CampaignID, err)
		}
		schema := domain.FoldCampaign(events(upTo(c, at))).Schema
		v.Data, err = r.matching(ctx, accountID, *tok.CampaignID, at, scope, schema)
	}
	if err != nil {
		return Visibility{}, err
	}
	v.Count = len(v.Data)
	return v, nil
}

func (r *Reader) filterAt(ctx context.Context, accountID, filterID uuid.UUID, at time.Time) (domain.Filter, error) {
	recs, err := r.stream(ctx, accountID, domain.FilterStream(filterID))
	if err != nil {
		return domain.Filter{}, fmt.Errorf("filter %s: %w", filterID, err)
	}
	return domain.FoldFilter(events(upTo(recs, at))), nil
}

// leadsCreated lists the leads created by at, in one campaign or, with
// campaign nil, in the whole account: a token without a filter reads
// every one of them.
func (r *Reader) leadsCreated(ctx context.Context, accountID uuid.UUID, campaign *uuid.UUID, at time.Time) ([]uuid.UUID, error) {
	streams, err := r.store.LeadsCreated(ctx, accountID, campaign, at)
	if err != nil {
		return nil, err
	}
	out := []uuid.UUID{}
	for _, stream := range streams {
		if id, err := uuid.Parse(strings.TrimPrefix(stream, domain.AggregateLead+"-")); err == nil {
			out = append(out, id)
		}
	}
	sortIDs(out)
	return out, nil
}

func sortIDs(ids []uuid.UUID) {
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
}

// leadFold is what a filter needs of one lead: each value with the
// version that set it, so that events can arrive in any order and the
// latest version still wins, as in domain.Lead.Evolve. The field values
// live in matching's flat slices.
type leadFold struct {
	created           bool
	createdAt         time.Time
	updatedAt         time.Time
	updatedV, statusV int64
	status            string
}

// matching replays the campaign's lead events up to at and keeps the
// leads the scope's filter admits. It reads only what the filter can test
// (the referenced fields, the status and, if named, the times) in one
// scan of the campaign's events, folds them in memory, and asks
// domain.Scope.Admits, the reference semantics, of each lead. The scan
// (eventstore.ScanLeadValues) reads raw column bytes and interns repeated
// values: 100,000 leads are over half a million rows, and allocating per
// row would cost more than Postgres takes to send them. It reads the
// stored JSON, so when the codec upcasts any of those events the leads
// are folded from decoded events instead (matchingDecoded).
func (r *Reader) matching(ctx context.Context, accountID, campaignID uuid.UUID, at time.Time, scope domain.Scope, s domain.Schema) ([]uuid.UUID, error) {
	f := *scope.Filter()
	var keys []string
	needTimes := false
	for _, c := range append(append([]domain.Condition{}, f.Conditions...), flatten(f.Any)...) {
		switch c.Field {
		case domain.AttrStatus:
		case domain.AttrCreatedAt, domain.AttrUpdatedAt:
			needTimes = true
		default:
			if !slices.Contains(keys, c.Field) {
				keys = append(keys, c.Field)
			}
		}
	}
	types := []string{domain.LeadCreated{}.EventType(), domain.LeadUpdated{}.EventType()}
	if needTimes {
		// File events move updated_at too.
		types = append(types, domain.FileAttached{}.EventType(), domain.FileRemoved{}.EventType())
	}
	if r.store.Upcasts(types...) {
		// The stored JSON is not the events' shape: fold them decoded.
		return r.matchingDecoded(ctx, accountID, campaignID, at, types, scope, s)
	}
	var (
		nk     = len(keys)
		index  = map[uuid.UUID]int32{}
		folds  []leadFold
		vals   []string // nk per lead: raw JSON; "" absent, "null" cleared
		valV   []int64
		intern = map[string]string{}
	)
	interned := func(b []byte) string {
		if v, ok := intern[string(b)]; ok {
			return v
		}
		v := string(b)
		intern[v] = v
		return v
	}
	err := r.store.ScanLeadValues(ctx, accountID, campaignID, at, types, keys, needTimes, func(raw [][]byte) error {
		id, err := uuid.ParseBytes(bytes.TrimPrefix(raw[eventstore.LeadColStream], []byte(domain.AggregateLead+"-")))
		if err != nil {
			return nil
		}
		version, err := strconv.ParseInt(string(raw[eventstore.LeadColVersion]), 10, 64)
		if err != nil {
			return err
		}
		created := string(raw[eventstore.LeadColCreated]) == "t"
		i, ok := index[id]
		if !ok {
			i = int32(len(folds))
			index[id] = i
			folds = append(folds, leadFold{})
			for range nk {
				vals, valV = append(vals, ""), append(valV, 0)
			}
		}
		l := &folds[i]
		var t time.Time
		if raw[eventstore.LeadColAt] != nil {
			t, _ = time.Parse(time.RFC3339Nano, string(raw[eventstore.LeadColAt]))
		}
		if created {
			l.created, l.createdAt = true, t
		}
		if raw[eventstore.LeadColStatus] != nil && version > l.statusV {
			l.status, l.statusV = interned(raw[eventstore.LeadColStatus]), version
		}
		if version > l.updatedV {
			l.updatedAt, l.updatedV = t, version
		}
		for k := range nk {
			if v := raw[eventstore.LeadColFirstKey+k]; v != nil && version > valV[int(i)*nk+k] {
				vals[int(i)*nk+k], valV[int(i)*nk+k] = interned(v), version
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	decoded := map[string]any{}
	fields := domain.Fields{}
	out := []uuid.UUID{}
	for id, i := range index {
		l := &folds[i]
		if !l.created {
			continue
		}
		clear(fields)
		for k, key := range keys {
			v := vals[int(i)*nk+k]
			if v == "" || v == "null" {
				continue
			}
			val, ok := decoded[v]
			if !ok {
				var x any
				if json.Unmarshal([]byte(v), &x) == nil {
					val = domain.NormalizeStored(domain.Fields{key: x})[key]
				}
				decoded[v] = val
			}
			if val != nil {
				fields[key] = val
			}
		}
		if scope.Admits(s, domain.LeadView{Status: l.status, Fields: fields, CreatedAt: l.createdAt, UpdatedAt: l.updatedAt}) {
			out = append(out, id)
		}
	}
	sortIDs(out)
	return out, nil
}

// matchingDecoded is matching for events whose stored JSON the codec
// rewrites: the campaign's lead events up to at, decoded and folded per
// lead with domain.Lead.Evolve, each lead then asked of the scope.
func (r *Reader) matchingDecoded(ctx context.Context, accountID, campaignID uuid.UUID, at time.Time, types []string,
	scope domain.Scope, s domain.Schema) ([]uuid.UUID, error) {
	recs, err := r.store.ReadCampaignEvents(ctx, accountID, campaignID, at, types)
	if err != nil {
		return nil, err
	}
	out := []uuid.UUID{}
	var lead domain.Lead
	admit := func() {
		if lead.ID != uuid.Nil && scope.Admits(s, lead.View()) {
			out = append(out, lead.ID)
		}
	}
	for i, rec := range recs {
		if i > 0 && rec.StreamID != recs[i-1].StreamID {
			admit()
			lead = domain.Lead{}
		}
		if rec.Event != nil {
			lead = lead.Evolve(rec.Event)
		}
	}
	admit()
	sortIDs(out)
	return out, nil
}

func flatten(groups [][]domain.Condition) []domain.Condition {
	var out []domain.Condition
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
