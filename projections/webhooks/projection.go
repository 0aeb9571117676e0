package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections"
)

// Name is the projection's durable name: its checkpoint and its JetStream
// consumer. Renaming it would deliver the whole log again.
const Name = "webhooks"

// WakeChannel is the Postgres notification channel on which the projection
// (and the commands that queue messages) wake the dispatcher.
const WakeChannel = "leadsvc_webhooks"

// Projection decides which subscriptions get each lead event and records
// the messages, in the transaction that moves its checkpoint; the
// Dispatcher sends them.
//
// Per lead it works in version order, whatever order the events arrive
// in: it keeps its own fold of each lead of a subscribed campaign
// (webhook_leads) and fetches skipped versions from the log, so a
// subscription's messages of one lead are recorded in version order and
// a filter is evaluated on the lead as it was at each event. Every
// transaction of a campaign holds the campaign's advisory lock, so
// several consumers never interleave one lead.
type Projection struct {
	log   Streams
	views Views
}

// Streams is what the projection reads of the event log.
type Streams interface {
	// ReadStream reads a stream's events with after < version <= upTo
	// through tx, decoded; an undecodable one is an error.
	ReadStream(ctx context.Context, tx pgx.Tx, streamID string, after, upTo int64) ([]projections.Event, error)
}

// Views reads the subscriptions, campaigns and filters views, which the
// write side keeps exact in the transactions of their events
// (eventstore/views owns them), in this projection's transactions and
// round trips.
type Views interface {
	// QueueSubscriptions gives the live subscriptions of the campaigns in
	// the order they were created, with their campaign's schema.
	QueueSubscriptions(b *pgx.Batch, campaignIDs []uuid.UUID, fn func(w domain.Webhook, createdPosition int64, schema domain.Schema) error)
	LiveFiltersIn(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) ([]domain.Filter, error)
}

// New returns the projection over log, which fills the gaps of a lead's
// stream, and views.
func New(log Streams, views Views) *Projection { return &Projection{log: log, views: views} }

// Name implements projections.Projection.
func (p *Projection) Name() string { return Name }

// subscription is a live subscription as the webhooks view holds it now.
type subscription struct {
	id, account, campaign uuid.UUID
	filterID              *uuid.UUID
	eventTypes            []string
	disabled              bool
	createdPosition       int64
}

func (s subscription) wants(t string) bool {
	return len(s.eventTypes) == 0 || slices.Contains(s.eventTypes, t)
}

// sees reports whether the subscription's scope holds a lead of its
// campaign (domain.Scope): every lead without a filter; with one, the
// leads it matches; with a deleted filter, none.
func (s subscription) sees(c *campaignState, l domain.Lead) bool {
	var filter *domain.Filter
	if s.filterID != nil {
		if f, ok := c.filters[*s.filterID]; ok {
			filter = &f
		}
	}
	return domain.NewScope(s.account, &s.campaign, s.filterID, filter).Admits(c.schema, l.View())
}

type campaignState struct {
	schema  domain.Schema
	subs    []subscription
	filters map[uuid.UUID]domain.Filter // live filters the subscriptions name
}

type scopeKey struct{ webhook, lead uuid.UUID }

// apply is one transaction's work: what it read and what it will write.
type apply struct {
	p         *Projection
	campaigns map[uuid.UUID]*campaignState
	scopes    map[scopeKey]bool         // current membership of the leads touched
	changed   map[scopeKey]bool         // memberships to write
	leads     map[uuid.UUID]domain.Lead // as stored, or as folded here
	folded    []uuid.UUID               // the leads folded here, to store
	msgs      []message
}

// message is one row of webhook_messages.
type message struct {
	webhook     uuid.UUID
	msgID       uuid.UUID
	eventType   string
	lead        uuid.UUID
	leadVersion int64
	ord         int16 // 0: the event of that version; 1: left_scope after it
	position    *int64
	body        []byte
	eventTime   time.Time
	skipped     bool
}

// Apply implements projections.Projection.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, events []projections.Event) error {
	byLead := map[uuid.UUID][]projections.Event{}
	var leadOrder []uuid.UUID
	var others []projections.Event // filter and webhook events, in log order
	campaigns := map[uuid.UUID]bool{}
	for _, e := range events {
		switch {
		case strings.HasPrefix(e.StreamID, domain.AggregateLead+"-"):
			id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, domain.AggregateLead+"-"))
			if err != nil || e.CampaignID == uuid.Nil {
				continue
			}
			if byLead[id] == nil {
				leadOrder = append(leadOrder, id)
			}
			byLead[id] = append(byLead[id], e)
		case e.Type == domain.FilterUpdated{}.EventType(), e.Type == domain.FilterDeleted{}.EventType(),
			strings.HasPrefix(e.StreamID, domain.AggregateWebhook+"-"):
			if e.CampaignID == uuid.Nil {
				continue
			}
			others = append(others, e)
		default:
			continue
		}
		campaigns[e.CampaignID] = true
	}
	if len(campaigns) == 0 {
		return nil
	}
	a := &apply{p: p, scopes: map[scopeKey]bool{}, changed: map[scopeKey]bool{}, leads: map[uuid.UUID]domain.Lead{}}
	if err := a.load(ctx, tx, campaigns); err != nil {
		return err
	}
	if err := a.applyLeads(ctx, tx, leadOrder, byLead); err != nil {
		return err
	}
	for _, e := range others {
		if err := a.applyOther(ctx, tx, e); err != nil {
			return fmt.Errorf("%s %s: %w", e.Type, e.StreamID, err)
		}
	}
	return a.write(ctx, tx)
}

// load locks the campaigns (in one order, so two transactions never wait
// for each other in a cycle) and reads their live subscriptions, schemas
// and the filters the subscriptions name.
func (a *apply) load(ctx context.Context, tx pgx.Tx, set map[uuid.UUID]bool) error {
	ids := make([]uuid.UUID, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) })
	// The locks and the read in one round trip: the batch runs them in
	// order, so the read comes after every lock is held.
	a.campaigns = map[uuid.UUID]*campaignState{}
	var filterIDs []uuid.UUID
	b := &pgx.Batch{}
	for _, id := range ids {
		b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7342))`, id.String())
	}
	a.p.views.QueueSubscriptions(b, ids, func(w domain.Webhook, createdPosition int64, schema domain.Schema) error {
		s := subscription{id: w.ID, account: w.AccountID, campaign: w.CampaignID, filterID: w.FilterID,
			eventTypes: w.EventTypes, disabled: w.Disabled, createdPosition: createdPosition}
		c := a.campaigns[s.campaign]
		if c == nil {
			c = &campaignState{schema: schema, filters: map[uuid.UUID]domain.Filter{}}
			a.campaigns[s.campaign] = c
		}
		c.subs = append(c.subs, s)
		if s.filterID != nil {
			filterIDs = append(filterIDs, *s.filterID)
		}
		return nil
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if len(filterIDs) == 0 {
		return nil
	}
	filters, err := a.p.views.LiveFiltersIn(ctx, tx, filterIDs)
	if err != nil {
		return err
	}
	for _, f := range filters {
		if c := a.campaigns[f.CampaignID]; c != nil {
			c.filters[f.ID] = f
		}
	}
	return nil
}

// applyLeads brings each lead of a subscribed campaign from the version
// this projection last saw to its newest event, deciding the messages of
// every version in between.
func (a *apply) applyLeads(ctx context.Context, tx pgx.Tx, order []uuid.UUID, byLead map[uuid.UUID][]projections.Event) error {
	var ids []uuid.UUID
	for _, id := range order {
		if a.campaigns[byLead[id][0].CampaignID] != nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := a.loadLeads(ctx, tx, ids); err != nil {
		return err
	}
	for _, id := range ids {
		events := byLead[id]
		sort.Slice(events, func(i, j int) bool { return events[i].StreamVersion < events[j].StreamVersion })
		lead := a.leads[id]
		newest := events[len(events)-1]
		if newest.StreamVersion <= lead.Version {
			continue // seen before
		}
		var pending []projections.Event
		for _, e := range events {
			if e.StreamVersion == lead.Version+int64(len(pending))+1 && e.Event != nil {
				pending = append(pending, e)
			} else if e.StreamVersion > lead.Version {
				pending = nil // a gap, or undecodable here: read the versions from the log
				break
			}
		}
		if len(pending) == 0 || pending[len(pending)-1].StreamVersion != newest.StreamVersion {
			var err error
			if pending, err = a.p.readStream(ctx, tx, newest, lead.Version); err != nil {
				return fmt.Errorf("lead %s: %w", id, err)
			}
		}
		c := a.campaigns[newest.CampaignID]
		for _, e := range pending {
			if e.Event == nil {
				return fmt.Errorf("lead %s: event %d (%s) cannot be decoded by this build", id, e.Position, e.Type)
			}
			lead = lead.Evolve(e.Event)
			lead.CampaignID = e.CampaignID
			a.decide(c, lead, e)
		}
		if lead.Version != newest.StreamVersion {
			return fmt.Errorf("lead %s folded to version %d, want %d", id, lead.Version, newest.StreamVersion)
		}
		a.leads[id] = lead
		a.folded = append(a.folded, id)
	}
	return nil
}

// decide records what each subscription of the campaign gets for the
// lead's event e: the event itself while the lead is in its scope, one
// lead.left_scope when it has just left, nothing otherwise. Events logged
// before a subscription existed are not its business.
func (a *apply) decide(c *campaignState, lead domain.Lead, e projections.Event) {
	for _, s := range c.subs {
		if e.Position <= s.createdPosition {
			continue
		}
		k := scopeKey{s.id, lead.ID}
		in, was := s.sees(c, lead), a.scopes[k]
		switch {
		case in:
			if s.wants(e.Type) {
				pos := e.Position
				a.msgs = append(a.msgs, message{webhook: s.id, msgID: e.EventID, eventType: e.Type, lead: lead.ID,
					leadVersion: lead.Version, position: &pos, eventTime: e.RecordedAt, skipped: s.disabled})
			}
		case was:
			a.leftScope(s, lead, e, 0)
		}
		if in != was {
			a.scopes[k], a.changed[k] = in, true
		}
	}
}

// leftScope records the lead.left_scope message of a lead that the event
// e took out of s's scope. Its id is derived from e and the lead, so a
// repeated event makes the same message.
func (a *apply) leftScope(s subscription, lead domain.Lead, e projections.Event, ord int16) {
	if !s.wants(domain.EventLeadLeftScope) {
		return
	}
	id := uuid.NewSHA1(leftScopeSpace, append(e.EventID[:], lead.ID[:]...))
	data, _ := json.Marshal(map[string]string{"lead_id": lead.ID.String()})
	ce := domain.NewCloudEvent(id, domain.EventLeadLeftScope, s.account, s.campaign, lead.ID.String(), e.RecordedAt, data)
	ce.Position, ce.StreamVersion = e.Position, lead.Version
	body, _ := json.Marshal(ce)
	a.msgs = append(a.msgs, message{webhook: s.id, msgID: id, eventType: domain.EventLeadLeftScope, lead: lead.ID,
		leadVersion: lead.Version, ord: ord, body: body, eventTime: e.RecordedAt, skipped: s.disabled})
}

// leftScopeSpace namespaces the derived ids of lead.left_scope messages.
var leftScopeSpace = uuid.MustParse("6f1b3c2e-9a57-4d0e-8c41-3b7e5a2d9f10")

func (a *apply) loadLeads(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	rows, err := tx.Query(ctx, `SELECT `+leadColumns+` FROM webhook_leads l WHERE l.lead_id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	stored, err := scanLeads(rows)
	if err != nil {
		return err
	}
	for _, l := range stored {
		a.leads[l.ID] = l
	}
	rows, err = tx.Query(ctx, `SELECT webhook_id, lead_id FROM webhook_scopes WHERE lead_id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k scopeKey
		if err := rows.Scan(&k.webhook, &k.lead); err != nil {
			return err
		}
		a.scopes[k] = true
	}
	return rows.Err()
}

const leadColumns = `l.lead_id, l.campaign_id, l.version, l.status, l.fields, l.created_at, l.updated_at`

func scanLeads(rows pgx.Rows) ([]domain.Lead, error) {
	defer rows.Close()
	var out []domain.Lead
	for rows.Next() {
		var (
			l      domain.Lead
			fields []byte
		)
		if err := rows.Scan(&l.ID, &l.CampaignID, &l.Version, &l.Status, &fields, &l.CreatedAt, &l.UpdatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(fields, &l.Fields); err != nil {
			return nil, fmt.Errorf("lead %s fields: %w", l.ID, err)
		}
		l.Fields = domain.NormalizeStored(l.Fields)
		out = append(out, l)
	}
	return out, rows.Err()
}

// readStream reads the events of newest's stream after version after, up
// to newest, through the transaction (another connection could wait
// forever on a pool the other consumers hold).
func (p *Projection) readStream(ctx context.Context, tx pgx.Tx, newest projections.Event, after int64) ([]projections.Event, error) {
	return p.log.ReadStream(ctx, tx, newest.StreamID, after, newest.StreamVersion)
}

// applyOther handles a filter or subscription event: a change of what a
// subscription's filter lets through re-checks the leads it has been
// sent; those no longer inside get one lead.left_scope. A lead that comes
// into scope this way arrives with its next event.
func (a *apply) applyOther(ctx context.Context, tx pgx.Tx, e projections.Event) error {
	c := a.campaigns[e.CampaignID]
	switch e.Event.(type) {
	case domain.FilterUpdated, domain.FilterDeleted:
		if c == nil {
			return nil
		}
		_, filterID, _ := strings.Cut(e.StreamID, "-")
		for _, s := range c.subs {
			if s.filterID != nil && s.filterID.String() == filterID {
				if err := a.recheck(ctx, tx, c, s, e); err != nil {
					return err
				}
			}
		}
	case domain.WebhookUpdated:
		if c == nil {
			return nil
		}
		for _, s := range c.subs {
			if domain.WebhookStream(s.id) == e.StreamID {
				return a.recheck(ctx, tx, c, s, e)
			}
		}
	case domain.WebhookDeleted:
		_, err := tx.Exec(ctx, `DELETE FROM webhook_scopes WHERE webhook_id = $1`,
			strings.TrimPrefix(e.StreamID, domain.AggregateWebhook+"-"))
		return err
	}
	return nil
}

// recheck evaluates s's scope, as the views hold it now, on the leads s
// has been sent and not told they left: as this transaction left them
// where it touched them, as stored otherwise.
func (a *apply) recheck(ctx context.Context, tx pgx.Tx, c *campaignState, s subscription, e projections.Event) error {
	rows, err := tx.Query(ctx, `SELECT `+leadColumns+` FROM webhook_scopes s JOIN webhook_leads l ON l.lead_id = s.lead_id
		WHERE s.webhook_id = $1`, s.id)
	if err != nil {
		return err
	}
	stored, err := scanLeads(rows)
	if err != nil {
		return err
	}
	inScope := map[uuid.UUID]domain.Lead{}
	for _, l := range stored {
		if in, touched := a.scopes[scopeKey{s.id, l.ID}]; touched && !in {
			continue
		}
		if cur, ok := a.leads[l.ID]; ok {
			l = cur
		}
		inScope[l.ID] = l
	}
	for k, in := range a.scopes {
		if in && k.webhook == s.id {
			inScope[k.lead] = a.leads[k.lead]
		}
	}
	ids := make([]uuid.UUID, 0, len(inScope))
	for id := range inScope {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) })
	for _, id := range ids {
		if l := inScope[id]; !s.sees(c, l) {
			a.leftScope(s, l, e, 1)
			k := scopeKey{s.id, id}
			a.scopes[k], a.changed[k] = false, true
		}
	}
	return nil
}

// write stores the leads folded here, the membership changes and the
// messages, and wakes the dispatcher when there is something to send.
func (a *apply) write(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	if len(a.folded) > 0 {
		var (
			ids, camps           []uuid.UUID
			versions             []int64
			statuses, fields     []string
			createdAt, updatedAt []time.Time
		)
		for _, id := range a.folded {
			l := a.leads[id]
			f, err := json.Marshal(l.Fields)
			if err != nil {
				return err
			}
			ids, camps, versions = append(ids, id), append(camps, l.CampaignID), append(versions, l.Version)
			statuses, fields = append(statuses, l.Status), append(fields, string(f))
			createdAt, updatedAt = append(createdAt, l.CreatedAt), append(updatedAt, l.UpdatedAt)
		}
		b.Queue(`INSERT INTO webhook_leads (lead_id, campaign_id, version, status, fields, created_at, updated_at)
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[]::jsonb[], $6::timestamptz[], $7::timestamptz[])
			ON CONFLICT (lead_id) DO UPDATE SET version = excluded.version, status = excluded.status, fields = excluded.fields,
				updated_at = excluded.updated_at WHERE webhook_leads.version < excluded.version`,
			ids, camps, versions, statuses, fields, createdAt, updatedAt)
	}
	var addW, addL, delW, delL []uuid.UUID
	for k := range a.changed {
		if a.scopes[k] {
			addW, addL = append(addW, k.webhook), append(addL, k.lead)
		} else {
			delW, delL = append(delW, k.webhook), append(delL, k.lead)
		}
	}
	if len(addW) > 0 {
		b.Queue(`INSERT INTO webhook_scopes (webhook_id, lead_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])
			ON CONFLICT DO NOTHING`, addW, addL)
	}
	if len(delW) > 0 {
		b.Queue(`DELETE FROM webhook_scopes WHERE (webhook_id, lead_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))`, delW, delL)
	}
	if len(a.msgs) > 0 {
		n := len(a.msgs)
		var (
			hooks, msgIDs, leads = make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
			types, states        = make([]string, n), make([]string, n)
			versions, positions  = make([]int64, n), make([]*int64, n)
			ords                 = make([]int16, n)
			bodies               = make([][]byte, n)
			times                = make([]time.Time, n)
		)
		for i, m := range a.msgs {
			hooks[i], msgIDs[i], leads[i], types[i] = m.webhook, m.msgID, m.lead, m.eventType
			versions[i], ords[i], positions[i], bodies[i], times[i] = m.leadVersion, m.ord, m.position, m.body, m.eventTime
			states[i] = "pending"
			if m.skipped {
				states[i] = "skipped"
			}
		}
		// A message not sent because its subscription is disabled is
		// finished when it is recorded; "-infinity" is "due now" on any
		// dispatcher clock.
		b.Queue(`INSERT INTO webhook_messages (webhook_id, msg_id, event_type, lead_id, lead_version, ord, position, body,
				event_time, state, next_attempt_at, finished_at)
			SELECT w, m, t, l, v, o, p, b, et, s, '-infinity', CASE WHEN s = 'skipped' THEN et END
			FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::bigint[], $6::smallint[], $7::bigint[], $8::bytea[],
				$9::timestamptz[], $10::text[]) AS x(w, m, t, l, v, o, p, b, et, s)
			ON CONFLICT (webhook_id, msg_id) DO NOTHING`,
			hooks, msgIDs, types, leads, versions, ords, positions, bodies, times, states)
		b.Queue(`SELECT pg_notify($1, '')`, WakeChannel)
	}
	if b.Len() == 0 {
		return nil
	}
	// Nothing reads these rows before the commit: they travel with it.
	return projections.QueueAtCommit(ctx, tx, b)
}
