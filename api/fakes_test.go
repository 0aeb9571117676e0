package api_test

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// fakeService is an in-memory stand-in for the command side, the queries
// and the lead views, enough for the partner routes. It embeds
// api.Queries so that it satisfies that interface, and commands gives
// the API its command handlers; a call to a query or command it does not
// fake panics on a nil interface, and the test fails loudly.
type fakeService struct {
	api.Queries

	mu        sync.Mutex
	now       time.Time
	position  int64
	tokens    map[string]commands.TokenInfo // by secret
	cached    map[string]commands.TokenInfo // the process's cached authentications, maybe stale
	campaigns map[uuid.UUID]domain.Campaign
	leads     map[uuid.UUID]domain.Lead
	replays   map[string]commands.LeadResult // by token id and Idempotency-Key
	created   []commands.CreateLead          // as the API asked, in order
	updated   []commands.UpdateLead
}

func newFakeService() *fakeService {
	return &fakeService{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), tokens: map[string]commands.TokenInfo{},
		cached:    map[string]commands.TokenInfo{},
		campaigns: map[uuid.UUID]domain.Campaign{}, leads: map[uuid.UUID]domain.Lead{},
		replays: map[string]commands.LeadResult{}}
}

// commands are the handlers fakeService fakes; the others stay nil.
func (f *fakeService) commands() api.Commands {
	return api.Commands{
		CreateLead: api.HandlerFunc[commands.CreateLead, commands.LeadResult](f.CreateLead),
		UpdateLead: api.HandlerFunc[commands.UpdateLead, commands.LeadResult](f.UpdateLead),
		EraseLead:  api.HandlerFunc[commands.EraseLead, commands.EraseResult](f.EraseLead),
	}
}

func (f *fakeService) addCampaign(accountID uuid.UUID) domain.Campaign {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := domain.Campaign{ID: uuid.New(), AccountID: accountID, Name: "Campaign", Version: 1}
	f.campaigns[c.ID] = c
	return c
}

// addToken makes a token of accountID, bound to campaignID unless nil,
// and returns its secret.
func (f *fakeService) addToken(accountID uuid.UUID, campaignID *uuid.UUID, perms ...domain.Permission) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	secret := "lsk_" + uuid.NewString()
	f.tokens[secret] = commands.TokenInfo{ID: uuid.New(), AccountID: accountID, CampaignID: campaignID, Name: "token",
		Permissions: perms, CreatedAt: f.now, Version: 1}
	return secret
}

// addLead stores a lead as the views would hold it, a second apart from
// the previous one so that list order is known.
func (f *fakeService) addLead(c domain.Campaign, fields domain.Fields) domain.Lead {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(time.Second)
	f.position++
	l := domain.Lead{ID: uuid.New(), AccountID: c.AccountID, CampaignID: c.ID, Status: "new", Fields: fields,
		Version: 1, CreatedAt: f.now, UpdatedAt: f.now}
	f.leads[l.ID] = l
	return l
}

// cache keeps the secret's token as it is now among the cached
// authentications; later changes to the token make that entry stale.
func (f *fakeService) cache(secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cached[secret] = f.tokens[secret]
}

// changeToken changes the secret's token and its version; a nil change
// revokes it.
func (f *fakeService) changeToken(secret string, change func(*commands.TokenInfo)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if change == nil {
		delete(f.tokens, secret)
		return
	}
	t := f.tokens[secret]
	change(&t)
	t.Version++
	f.tokens[secret] = t
}

func (f *fakeService) CachedAuthentication(secret string) (commands.TokenInfo, *commands.Scope, commands.Guard, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.cached[secret]
	if !ok {
		return commands.TokenInfo{}, nil, nil, false
	}
	return t, &commands.Scope{CampaignID: t.CampaignID, FilterID: t.FilterID},
		commands.Guard{{Table: eventstore.GuardTokens, ID: t.ID, Version: t.Version}}, true
}

func (f *fakeService) AuthenticateScoped(_ context.Context, secret string) (commands.TokenInfo, *commands.Scope, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[secret]
	if !ok {
		return commands.TokenInfo{}, nil, commands.ErrUnauthenticated
	}
	return t, &commands.Scope{CampaignID: t.CampaignID, FilterID: t.FilterID}, nil
}

// CheckGuard is commands.ErrScopeChanged when a token the guard names has
// changed or is gone.
func (f *fakeService) CheckGuard(_ context.Context, g commands.Guard) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checkGuard(g)
}

func (f *fakeService) checkGuard(g commands.Guard) error {
	for _, row := range g {
		changed := true
		for _, t := range f.tokens {
			if t.ID == row.ID && t.Version == row.Version {
				changed = false
			}
		}
		if changed {
			return commands.ErrScopeChanged
		}
	}
	return nil
}

func (f *fakeService) TouchLastUsed(context.Context, uuid.UUID) error { return nil }

func (f *fakeService) TokenScope(_ context.Context, t commands.TokenInfo, _ *commands.Scope) (domain.Scope, error) {
	return domain.NewScope(t.AccountID, t.CampaignID, t.FilterID, nil), nil
}

func (f *fakeService) Campaign(_ context.Context, accountID, id uuid.UUID) (domain.Campaign, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.campaigns[id]
	if !ok || c.AccountID != accountID {
		return domain.Campaign{}, domain.ErrCampaignNotFound
	}
	return c, nil
}

// CreateLead keeps the API's command, checks its guard in the same step
// as the command side does, and stores the lead; a repeated
// Idempotency-Key answers the stored result, marked replayed, as the
// command side does.
func (f *fakeService) CreateLead(ctx context.Context, cmd commands.CreateLead) (commands.LeadResult, error) {
	f.mu.Lock()
	f.created = append(f.created, cmd)
	if err := f.checkGuard(cmd.Guard); err != nil {
		f.mu.Unlock()
		return commands.LeadResult{}, err
	}
	var idem string
	if cmd.Idem != nil {
		idem = cmd.Idem.TokenID + " " + cmd.Idem.Key
		if res, ok := f.replays[idem]; ok {
			f.mu.Unlock()
			res.Replayed = true
			return res, nil
		}
	}
	f.mu.Unlock()
	c, err := f.Campaign(ctx, cmd.AccountID, cmd.CampaignID)
	if err != nil {
		return commands.LeadResult{}, err
	}
	if cmd.Status == "" {
		cmd.Status = "new"
	}
	if cmd.Status != "new" {
		return commands.LeadResult{}, domain.Invalid("status", domain.CodeInvalidValue, "unknown status")
	}
	l := f.addLead(c, cmd.Fields)
	f.mu.Lock()
	defer f.mu.Unlock()
	res := commands.LeadResult{Lead: l, Written: commands.Written{Position: f.position}}
	if idem != "" {
		f.replays[idem] = res
	}
	return res, nil
}

// UpdateLead refuses a stale If-Match as the command side does; it
// changes nothing else.
func (f *fakeService) UpdateLead(_ context.Context, cmd commands.UpdateLead) (commands.LeadResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updated = append(f.updated, cmd)
	l, ok := f.leads[cmd.LeadID]
	if !ok || l.AccountID != cmd.AccountID {
		return commands.LeadResult{}, domain.ErrLeadNotFound
	}
	if cmd.IfVersion != 0 && cmd.IfVersion != l.Version {
		return commands.LeadResult{}, commands.ErrPreconditionFailed
	}
	return commands.LeadResult{Lead: l}, nil
}

// fakeReader is the lead views over fakeService's leads, always up to
// date.
type fakeReader struct{ s *fakeService }

func (r fakeReader) Get(_ context.Context, accountID, leadID uuid.UUID, _ *leads.Check) (domain.Lead, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	l, ok := r.s.leads[leadID]
	if !ok || l.AccountID != accountID {
		return domain.Lead{}, domain.ErrLeadNotFound
	}
	return l, nil
}

func (r fakeReader) List(ctx context.Context, q leads.Query) (leads.Page, error) {
	raw, err := r.ListRaw(ctx, q, 0)
	if err != nil {
		return leads.Page{}, err
	}
	page := leads.Page{Next: raw.Next}
	for _, rl := range raw.Leads {
		l, err := rl.Decode()
		if err != nil {
			return leads.Page{}, err
		}
		page.Leads = append(page.Leads, l)
	}
	return page, nil
}

// ListRaw pages in (updated_at, id) order; filters are not faked.
func (r fakeReader) ListRaw(_ context.Context, q leads.Query, _ int64) (leads.RawPage, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var all []domain.Lead
	for _, l := range r.s.leads {
		if l.AccountID == q.AccountID && (q.CampaignID == nil || l.CampaignID == *q.CampaignID) &&
			(q.Status == "" || l.Status == q.Status) {
			all = append(all, l)
		}
	}
	key := func(l domain.Lead) leads.Key { return leads.Key{UpdatedAt: l.UpdatedAt, ID: l.ID} }
	less := func(a, b leads.Key) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), slices.Compare(a.ID[:], b.ID[:]))
	}
	slices.SortFunc(all, func(a, b domain.Lead) int { return less(key(a), key(b)) })
	var page leads.RawPage
	for _, l := range all {
		if q.After != nil && less(key(l), *q.After) <= 0 {
			continue
		}
		if len(page.Leads) == q.Limit {
			last := page.Leads[len(page.Leads)-1]
			page.Next = &leads.Key{UpdatedAt: last.UpdatedAt, ID: last.ID}
			break
		}
		fields, err := json.Marshal(l.Fields)
		if err != nil {
			return leads.RawPage{}, err
		}
		page.Leads = append(page.Leads, leads.RawLead{ID: l.ID, AccountID: l.AccountID, CampaignID: l.CampaignID,
			Status: l.Status, Fields: fields, Files: []byte("[]"), Version: l.Version, CreatedAt: l.CreatedAt,
			UpdatedAt: l.UpdatedAt})
	}
	return page, nil
}

func (r fakeReader) WaitFor(context.Context, int64) (bool, error) { return true, nil }

// EraseLead marks the lead erased as the tombstone the views keep: a
// second erasure is refused as erased.
func (f *fakeService) EraseLead(_ context.Context, cmd commands.EraseLead) (commands.EraseResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.leads[cmd.LeadID]
	switch {
	case !ok || l.AccountID != cmd.AccountID:
		return commands.EraseResult{}, domain.ErrLeadNotFound
	case l.Erased():
		return commands.EraseResult{}, l.ErasedError()
	}
	ev, err := l.Erase(cmd.Reason, cmd.Meta.ActorTokenID, domain.Schema{}, f.now)
	if err != nil {
		return commands.EraseResult{}, err
	}
	f.position++
	f.leads[cmd.LeadID] = l.Evolve(ev)
	return commands.EraseResult{LeadID: l.ID, ErasedAt: ev.At, Fields: ev.Fields, Rows: 1, ChainIntact: true,
		Written: commands.Written{Position: f.position}}, nil
}
