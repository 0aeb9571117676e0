package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// LeadHistory is every event of a lead, oldest first, with who wrote it
// and what it changed, and the check of the lead's hash chain.
type LeadHistory struct {
	LeadID     uuid.UUID `json:"lead_id"`
	CampaignID uuid.UUID `json:"campaign_id"`
	Version    int64     `json:"version"`
	Data       []Entry   `json:"data"`
	Integrity  Integrity `json:"integrity"`
}

// Integrity is the result of recomputing a stream's hash chain.
type Integrity struct {
	Intact bool `json:"intact"`
	// FirstBreak names the first event whose hash or link does not match:
	// that event, or one before it, was edited or deleted.
	FirstBreak *eventstore.ChainBreak `json:"first_break"`
}

// LeadState is a lead as the log says it was.
type LeadState struct {
	ID         uuid.UUID         `json:"id"`
	CampaignID uuid.UUID         `json:"campaign_id"`
	Status     string            `json:"status"`
	Fields     domain.Fields     `json:"fields"`
	Files      []domain.FileMeta `json:"files"`
	Version    int64             `json:"version"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

func leadState(l domain.Lead) LeadState {
	s := LeadState{ID: l.ID, CampaignID: l.CampaignID, Status: l.Status, Fields: l.Fields, Files: l.Files,
		Version: l.Version, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
	if s.Fields == nil {
		s.Fields = domain.Fields{}
	}
	if s.Files == nil {
		s.Files = []domain.FileMeta{}
	}
	return s
}

// leadStream reads a lead of the account; none is domain.ErrLeadNotFound.
func (r *Reader) leadStream(ctx context.Context, accountID, leadID uuid.UUID) ([]record, error) {
	recs, err := r.stream(ctx, accountID, domain.LeadStream(leadID))
	if err != nil {
		return nil, fmt.Errorf("lead %s: %w", leadID, err)
	}
	if len(recs) == 0 {
		return nil, domain.ErrLeadNotFound
	}
	return recs, nil
}

// LeadHistory returns every event of a lead with its actor (the token and
// its name then), request id and field-level changes, and the lead's
// chain check. A lead of another account is domain.ErrLeadNotFound.
func (r *Reader) LeadHistory(ctx context.Context, accountID, leadID uuid.UUID) (LeadHistory, error) {
	recs, err := r.leadStream(ctx, accountID, leadID)
	if err != nil {
		return LeadHistory{}, err
	}
	h := LeadHistory{LeadID: leadID, Data: make([]Entry, 0, len(recs))}
	if recs[0].CampaignID != nil {
		h.CampaignID = *recs[0].CampaignID
	}
	who := r.actors(accountID)
	var lead domain.Lead
	for _, rec := range recs {
		e := rec.entry()
		if e.Actor, err = who.of(ctx, rec.Meta, rec.At); err != nil {
			return LeadHistory{}, err
		}
		if rec.Event != nil {
			next := lead.Evolve(rec.Event)
			e.Changes = diff(leadFacts(lead), leadFacts(next))
			lead = next
		}
		h.Data = append(h.Data, e)
		h.Version = rec.Version
	}
	if h.Integrity, err = r.integrity(ctx, domain.LeadStream(leadID)); err != nil {
		return LeadHistory{}, err
	}
	return h, nil
}

// VerifyLead recomputes a lead's hash chain.
func (r *Reader) VerifyLead(ctx context.Context, accountID, leadID uuid.UUID) (Integrity, error) {
	account, found, err := r.store.StreamAccount(ctx, domain.LeadStream(leadID))
	if err != nil {
		return Integrity{}, fmt.Errorf("lead %s: %w", leadID, err)
	}
	if !found || account != accountID {
		return Integrity{}, domain.ErrLeadNotFound
	}
	return r.integrity(ctx, domain.LeadStream(leadID))
}

func (r *Reader) integrity(ctx context.Context, streamID string) (Integrity, error) {
	if r.verify == nil {
		return Integrity{}, errors.New("audit: no chain verifier configured")
	}
	b, err := r.verify(ctx, streamID)
	if err != nil {
		return Integrity{}, err
	}
	return Integrity{Intact: b == nil, FirstBreak: b}, nil
}

// LeadAt returns the lead as it was at a time (events recorded at or
// before at) or at a version; with neither, as it is now. Before its
// creation it is ErrBeforeCreation; another account's is
// domain.ErrLeadNotFound.
func (r *Reader) LeadAt(ctx context.Context, accountID, leadID uuid.UUID, at time.Time, version int64) (LeadState, error) {
	recs, err := r.leadStream(ctx, accountID, leadID)
	if err != nil {
		return LeadState{}, err
	}
	recs = upTo(recs, at)
	if version > 0 {
		recs = recs[:sort.Search(len(recs), func(i int) bool { return recs[i].Version > version })]
		if len(recs) == 0 || recs[len(recs)-1].Version != version {
			return LeadState{}, ErrBeforeCreation
		}
	}
	lead := domain.FoldLead(events(recs))
	if !lead.Exists() {
		return LeadState{}, ErrBeforeCreation
	}
	return leadState(lead), nil
}

// leadFacts flattens a lead into what a change can touch: status, each
// field and each file by id.
func leadFacts(l domain.Lead) map[string]any {
	m := map[string]any{}
	if l.Status != "" {
		m["status"] = l.Status
	}
	for k, v := range l.Fields {
		m["fields."+k] = v
	}
	for _, f := range l.Files {
		m["files."+f.ID.String()] = f
	}
	return m
}

// diff lists the facts that differ, sorted by name.
func diff(before, after map[string]any) []Change {
	var out []Change
	for k, a := range after {
		if b, ok := before[k]; !ok || !reflect.DeepEqual(a, b) {
			out = append(out, Change{Field: k, Before: before[k], After: a})
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			out = append(out, Change{Field: k, Before: b})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// TokenState is a token as its stream says it was.
type TokenState struct {
	ID           uuid.UUID           `json:"id"`
	Name         string              `json:"name"`
	CampaignID   *uuid.UUID          `json:"campaign_id"`
	FilterID     *uuid.UUID          `json:"filter_id"`
	Permissions  []domain.Permission `json:"permissions"`
	ExpiresAt    *time.Time          `json:"expires_at"`
	RevokedAt    *time.Time          `json:"revoked_at"`
	SecretPrefix string              `json:"secret_prefix"`
	SecretLast4  string              `json:"secret_last4"`
	CreatedAt    time.Time           `json:"created_at"`
	Version      int64               `json:"version"`
	// State at the time asked for: active, revoked, expired, or
	// not_created (the token did not exist yet).
	State string `json:"state"`
}

// Token states.
const (
	StateActive     = "active"
	StateRevoked    = "revoked"
	StateExpired    = "expired"
	StateNotCreated = "not_created"
)

// tokenAt folds a token's lifecycle records and says its state at t.
func tokenAt(id uuid.UUID, recs []record, t time.Time) (domain.Token, TokenState) {
	var (
		tok     domain.Token
		revoked *time.Time
	)
	for _, rec := range recs {
		if rec.Event == nil {
			continue
		}
		tok = tok.Evolve(rec.Event)
		if _, ok := rec.Event.(domain.TokenRevoked); ok && revoked == nil {
			at := rec.At
			revoked = &at
		}
	}
	s := TokenState{ID: id, Name: tok.Name, CampaignID: tok.CampaignID, FilterID: tok.FilterID,
		Permissions: slices.Clone(tok.Permissions), ExpiresAt: tok.ExpiresAt, RevokedAt: revoked, SecretPrefix: tok.SecretPrefix,
		SecretLast4: tok.SecretLast4, CreatedAt: tok.CreatedAt, Version: tok.Version}
	if s.Permissions == nil {
		s.Permissions = []domain.Permission{}
	}
	switch {
	case !tok.Exists():
		s.State = StateNotCreated
	case tok.Revoked:
		s.State = StateRevoked
	case !tok.Active(t):
		s.State = StateExpired
	default:
		s.State = StateActive
	}
	return tok, s
}

// tokenFacts flattens a token into what its events can change.
func tokenFacts(t domain.Token) map[string]any {
	m := map[string]any{}
	if !t.Exists() {
		return m
	}
	m["name"] = t.Name
	m["permissions"] = t.Permissions
	m["secret_prefix"], m["secret_last4"] = t.SecretPrefix, t.SecretLast4
	m["revoked"] = t.Revoked
	if t.CampaignID != nil {
		m["campaign_id"] = *t.CampaignID
	}
	if t.FilterID != nil {
		m["filter_id"] = *t.FilterID
	}
	if t.ExpiresAt != nil {
		m["expires_at"] = *t.ExpiresAt
	}
	if !t.PreviousValidUntil.IsZero() {
		m["previous_secret_valid_until"] = t.PreviousValidUntil
	}
	return m
}

// Limits of a token history page.
const (
	DefaultHistoryLimit = 1000
	MaxHistoryLimit     = 10000
)

// TokenHistoryQuery selects a page of a token's history.
type TokenHistoryQuery struct {
	After int64     // a position from a previous page's NextAfter; 0 from the start
	Limit int       // entries from the log per page; 0 means DefaultHistoryLimit
	UpTo  time.Time // only what happened at or before; zero means now
}

// TokenHistory is a page of a token's lifecycle and of the writes made
// with it, in commit order.
type TokenHistory struct {
	TokenID uuid.UUID `json:"token_id"`
	// Token is the token at UpTo (or now), folded from its stream.
	Token TokenState `json:"token"`
	Data  []Entry    `json:"data"`
	// NextAfter is the after= of the next page; null on the last one.
	NextAfter *int64 `json:"next_after"`
}

// TokenHistory returns a page of the token's history: its own events
// (created, updated, rotated, revealed, revoked) with their changes, each
// time its expiry passed (synthesized, not an event), and every event
// written with it (metadata.actor_token_id). Pages follow commit order
// and end below the oldest running transaction, so paging while the
// token writes skips nothing (invariant 3); the last page adds what has
// committed since. Another account's token is domain.ErrTokenNotFound.
func (r *Reader) TokenHistory(ctx context.Context, accountID, tokenID uuid.UUID, q TokenHistoryQuery) (TokenHistory, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultHistoryLimit
	}
	q.Limit = min(q.Limit, MaxHistoryLimit)
	streamID := domain.TokenStream(tokenID)
	all, err := r.stream(ctx, accountID, streamID)
	if err != nil {
		return TokenHistory{}, fmt.Errorf("token %s: %w", tokenID, err)
	}
	if len(all) == 0 {
		return TokenHistory{}, domain.ErrTokenNotFound
	}
	end := r.now().UTC()
	if !q.UpTo.IsZero() && q.UpTo.Before(end) {
		end = q.UpTo
	}
	lifecycle := upTo(all, end)
	_, state := tokenAt(tokenID, lifecycle, end)
	h := TokenHistory{TokenID: tokenID, Token: state, Data: []Entry{}}

	from, err := r.cursorOf(ctx, accountID, q.After)
	if err != nil {
		return TokenHistory{}, err
	}
	// One horizon for both reads: the oldest transaction running now.
	horizon, err := r.store.Horizon(ctx)
	if err != nil {
		return TokenHistory{}, fmt.Errorf("token %s history: %w", tokenID, err)
	}
	page := func(settled bool, limit int) ([]record, error) {
		recs, err := r.store.ReadStreamAndActor(ctx, eventstore.ActorQuery{AccountID: accountID, StreamID: streamID,
			ActorTokenID: tokenID.String(), After: eventstore.Cursor{TxID: from.tx, Position: from.pos}, UpTo: end,
			Horizon: horizon, AboveHorizon: !settled, Limit: limit})
		if err != nil {
			return nil, fmt.Errorf("token %s history: %w", tokenID, err)
		}
		return fromRecords(recs), nil
	}
	// Pages end on events below the horizon, so the next page, resumed
	// after the last one, cannot miss a late commit (invariant 3).
	recs, err := page(true, q.Limit+1)
	if err != nil {
		return TokenHistory{}, err
	}
	last := len(recs) <= q.Limit
	if last {
		// The last page also shows what committed above the horizon: no
		// page follows it, so nothing can be skipped, and a long
		// transaction elsewhere in the database does not hide the
		// token's latest events. If they do not fit, they come on a
		// next page once the horizon has passed them.
		room := q.Limit - len(recs)
		tail, err := page(false, room+1)
		if err != nil {
			return TokenHistory{}, err
		}
		if len(tail) <= room {
			recs = append(recs, tail...)
		} else {
			last = false
			next := q.After
			if len(recs) > 0 {
				next = recs[len(recs)-1].Position
			}
			h.NextAfter = &next
		}
	} else {
		recs = recs[:q.Limit]
		next := recs[len(recs)-1].Position
		h.NextAfter = &next
	}

	// The changes of lifecycle events come from folding the whole stream.
	changes := map[int64][]Change{}
	var tok domain.Token
	for _, rec := range lifecycle {
		if rec.Event == nil {
			continue
		}
		next := tok.Evolve(rec.Event)
		changes[rec.Position] = diff(tokenFacts(tok), tokenFacts(next))
		tok = next
	}
	who := r.actors(accountID)
	for _, rec := range recs {
		e := rec.entry()
		if e.Actor, err = who.of(ctx, rec.Meta, rec.At); err != nil {
			return TokenHistory{}, err
		}
		e.Kind = "write"
		if rec.StreamID == streamID {
			e.Kind, e.Changes = "lifecycle", changes[rec.Position]
		}
		h.Data = append(h.Data, e)
	}

	// Expiries fall on this page when they come after the event the page
	// starts from and, but on the last page, by the time of its last entry.
	lo, hi := from.at, end
	if !last {
		hi = lo
		if len(recs) > 0 {
			hi = recs[len(recs)-1].At
		}
	}
	var due []Entry
	for _, x := range expiries(tokenID, lifecycle, end) {
		if (lo.IsZero() || x.Time.After(lo)) && !x.Time.After(hi) {
			due = append(due, x)
		}
	}
	h.Data = mergeByTime(h.Data, due)
	return h, nil
}

// expiries synthesizes an entry for each time the token's expiry passed
// while it was not revoked, up to end. An expiry is not an event: the
// token simply stops authenticating; a later change of expires_at can
// make it work again, so there can be several.
func expiries(tokenID uuid.UUID, lifecycle []record, end time.Time) []Entry {
	var (
		out []Entry
		tok domain.Token
	)
	for i, rec := range lifecycle {
		if rec.Event == nil {
			continue
		}
		tok = tok.Evolve(rec.Event)
		until := end
		if i+1 < len(lifecycle) {
			until = lifecycle[i+1].At
		}
		if tok.Revoked || tok.ExpiresAt == nil || !tok.ExpiresAt.After(rec.At) || tok.ExpiresAt.After(until) {
			continue
		}
		x := tok.ExpiresAt.UTC()
		data, _ := json.Marshal(map[string]any{"token_id": tokenID, "expires_at": x})
		out = append(out, Entry{StreamID: domain.TokenStream(tokenID), Type: "token.expired", Time: x, Data: data,
			Kind: "lifecycle", Synthesized: true, Changes: []Change{{Field: "expired", Before: false, After: true}},
			Note: "not an event: the token's expires_at passed and it stopped authenticating"})
	}
	return out
}

// mergeByTime places each synthesized entry (sorted by time) after the
// log entries recorded at or before it, keeping the log's order.
func mergeByTime(logged, synthesized []Entry) []Entry {
	if len(synthesized) == 0 {
		return logged
	}
	out := make([]Entry, 0, len(logged)+len(synthesized))
	for _, e := range logged {
		for len(synthesized) > 0 && synthesized[0].Time.Before(e.Time) {
			out, synthesized = append(out, synthesized[0]), synthesized[1:]
		}
		out = append(out, e)
	}
	return append(out, synthesized...)
}
