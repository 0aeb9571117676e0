package leads

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections"
)

// Projection keeps lead_views, filter_members and filter_views.
//
// It is correct whatever the order or repetition of deliveries, so that
// several consumers may run (invariant 6):
//   - a lead row is the fold of its stream: an event at or below the row's
//     version is a repeat; one that skips versions fetches the missing
//     ones from the log first;
//   - membership is always eval(current filter, current lead), with the
//     filter read from the filters view, which is exact (written with the
//     filter's events), and every transaction of a campaign takes the
//     campaign's advisory lock, so the last one to run sees the latest of
//     both.
type Projection struct {
	log   Log
	views Views
}

// Log is the event store as the lead views read it: projections.Log, and
// what a rebuild and its verification need.
type Log interface {
	projections.Log
	// CountUpTo counts the events at or below a position.
	CountUpTo(ctx context.Context, position int64) (int64, error)
	// CreatedAfterSQL is an SQL condition that holds when the stream
	// named by the expression streamID was created after the cursor of
	// the expressions txID (xid8 as text) and position.
	CreatedAfterSQL(streamID, txID, position string) string
}

// Views reads the campaigns and filters views, which the write side keeps
// exact in the transactions of their events (eventstore/views owns them),
// in this projection's transactions and round trips.
type Views interface {
	QueueCampaignSchema(b *pgx.Batch, id uuid.UUID, fn func(s domain.Schema, found bool) error)
	QueueLiveFilters(b *pgx.Batch, campaignID uuid.UUID, fn func([]domain.Filter) error)
	QueueFilter(b *pgx.Batch, id uuid.UUID, fn func(f domain.Filter, found bool) error)
	// EachFilter gives every filter, live or deleted, with its campaign's
	// schema (for a rebuild).
	EachFilter(ctx context.Context, fn func(f domain.Filter, schema domain.Schema) error) error
}

// New returns the projection over log, which also fills the gaps of a
// lead's stream, and views. The registry argument is no longer used: the
// log decodes what it returns.
func New(log Log, _ *domain.Registry, views Views) *Projection {
	return &Projection{log: log, views: views}
}

// Name implements projections.Projection.
func (p *Projection) Name() string { return Name }

// Apply implements projections.Projection. Lead events are applied
// set-wise (one read of the leads' rows, one round trip of writes), then
// filter events, which see the leads as this transaction left them.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, events []projections.Event) error {
	// The locks, then what the lead events need read, in one round trip:
	// a batch runs in order, so every read comes after every lock.
	b := &pgx.Batch{}
	if err := queueCampaignLocks(b, events); err != nil {
		return err
	}
	byLead := map[uuid.UUID][]projections.Event{}
	var leadOrder []uuid.UUID
	type filterRef struct{ id, campaign uuid.UUID }
	var filters []filterRef
	seenFilter := map[uuid.UUID]bool{}
	for _, e := range events {
		agg, id, err := domain.ParseStreamID(e.StreamID)
		if err != nil {
			continue
		}
		switch agg {
		case domain.AggregateLead:
			if byLead[id] == nil {
				leadOrder = append(leadOrder, id)
			}
			byLead[id] = append(byLead[id], e)
		case domain.AggregateFilter:
			if !seenFilter[id] {
				seenFilter[id] = true
				filters = append(filters, filterRef{id, e.CampaignID})
			}
		}
	}
	var reads *leadReads
	if len(leadOrder) > 0 {
		reads = p.queueLeadReads(b, leadOrder, byLead)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	if reads != nil {
		// Filter events below read the leads as written here; without
		// them the writes can wait for the commit's round trip.
		if err := p.applyLeads(ctx, tx, leadOrder, byLead, reads, len(filters) == 0); err != nil {
			return err
		}
	}
	for _, f := range filters {
		if err := p.applyFilter(ctx, tx, f.id, f.campaign); err != nil {
			return fmt.Errorf("filter %s: %w", f.id, err)
		}
	}
	return nil
}

// queueCampaignLocks queues the locks that serialise the projection's
// transactions per campaign: the projection lock shared (a rebuild's swap
// takes it exclusively), then the campaigns' locks in one order, so that
// two transactions never wait for each other in a cycle.
func queueCampaignLocks(b *pgx.Batch, events []projections.Event) error {
	var camps []string
	seen := map[uuid.UUID]bool{}
	for _, e := range events {
		agg, _, err := domain.ParseStreamID(e.StreamID)
		if err != nil || (agg != domain.AggregateLead && agg != domain.AggregateFilter) {
			continue
		}
		if e.CampaignID == uuid.Nil {
			return fmt.Errorf("%s %s v%d: no campaign", e.Type, e.StreamID, e.StreamVersion)
		}
		if !seen[e.CampaignID] {
			seen[e.CampaignID] = true
			camps = append(camps, e.CampaignID.String())
		}
	}
	if len(camps) == 0 {
		return nil
	}
	sort.Strings(camps)
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, projectionLock)
	for _, c := range camps {
		b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7340))`, c)
	}
	return nil
}

// leadReads is what applying lead events reads before it writes: the
// leads' rows and their campaigns' schemas and live filters.
type leadReads struct {
	rows      []domain.Lead
	campaigns map[uuid.UUID]*campaignState
}

func (p *Projection) queueLeadReads(b *pgx.Batch, ids []uuid.UUID, byLead map[uuid.UUID][]projections.Event) *leadReads {
	r := &leadReads{campaigns: map[uuid.UUID]*campaignState{}}
	b.Queue(`SELECT `+leadColumns+` FROM lead_views lv WHERE lv.id = ANY($1)`, ids).
		Query(func(rows pgx.Rows) (err error) { r.rows, err = scanLeads(rows); return err })
	for _, id := range ids {
		c := byLead[id][0].CampaignID
		if r.campaigns[c] == nil {
			r.campaigns[c] = &campaignState{}
			p.queueCampaignState(b, c, r.campaigns[c])
		}
	}
	return r
}

func (p *Projection) applyLeads(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, byLead map[uuid.UUID][]projections.Event,
	reads *leadReads, atCommit bool) error {
	current := make(map[uuid.UUID]domain.Lead, len(reads.rows))
	for _, l := range reads.rows {
		current[l.ID] = l
	}
	var w leadWrites
	for _, id := range ids {
		lead, changed, err := p.foldLead(ctx, tx, current[id], byLead[id])
		if err != nil {
			return fmt.Errorf("lead %s: %w", id, err)
		}
		if !changed {
			continue
		}
		cs := reads.campaigns[lead.CampaignID]
		if cs == nil {
			// Events name their lead's campaign, so this read is only
			// for a stream whose events disagree with it.
			cs = &campaignState{}
			if cs.schema, cs.filters, err = p.campaignFilters(ctx, tx, lead.CampaignID); err != nil {
				return err
			}
			reads.campaigns[lead.CampaignID] = cs
		}
		if err := w.add(lead, *cs); err != nil {
			return err
		}
	}
	if len(w.ids) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	w.queue(b)
	if atCommit {
		return projections.QueueAtCommit(ctx, tx, b)
	}
	return tx.SendBatch(ctx, b).Close()
}

// leadWrites gathers the rows a batch of lead events writes, column by
// column, so that the batch is three statements whatever its size: the
// lead rows, the removal of their memberships, and their memberships now.
type leadWrites struct {
	ids, accounts, campaigns []uuid.UUID
	statuses, fields, files  []string
	versions                 []int64
	created, updated         []time.Time
	erased                   []*time.Time
	memberFilters            []uuid.UUID
	memberLeads              []uuid.UUID
}

// add gathers the lead's row and its membership: exactly the live filters
// of its campaign that it matches now.
func (w *leadWrites) add(l domain.Lead, cs campaignState) error {
	fields, files, err := encodeLead(l)
	if err != nil {
		return err
	}
	w.ids, w.accounts, w.campaigns = append(w.ids, l.ID), append(w.accounts, l.AccountID), append(w.campaigns, l.CampaignID)
	w.statuses, w.fields, w.files = append(w.statuses, l.Status), append(w.fields, string(fields)), append(w.files, string(files))
	w.versions, w.created, w.updated = append(w.versions, l.Version), append(w.created, l.CreatedAt), append(w.updated, l.UpdatedAt)
	w.erased = append(w.erased, erasedAt(l))
	if l.Erased() {
		return nil // a tombstone: in no filter
	}
	view := l.View()
	for _, f := range cs.filters {
		if f.Matches(cs.schema, view) {
			w.memberFilters, w.memberLeads = append(w.memberFilters, f.ID), append(w.memberLeads, l.ID)
		}
	}
	return nil
}

// queue queues the writes. A membership row copies its lead's row, read
// back from lead_views as the first statement left it.
func (w *leadWrites) queue(b *pgx.Batch) {
	b.Queue(`INSERT INTO lead_views (id, account_id, campaign_id, status, fields, files, version, created_at, updated_at, erased_at)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[]::jsonb[], $6::text[]::jsonb[],
			$7::bigint[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[])
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, fields = excluded.fields, files = excluded.files,
			version = excluded.version, updated_at = excluded.updated_at, erased_at = excluded.erased_at`,
		w.ids, w.accounts, w.campaigns, w.statuses, w.fields, w.files, w.versions, w.created, w.updated, w.erased)
	b.Queue(`DELETE FROM filter_members WHERE lead_id = ANY($1)`, w.ids)
	if len(w.memberLeads) > 0 {
		b.Queue(`INSERT INTO filter_members (`+memberCopyColumns+`)
			SELECT m.filter_id, `+leadCopyColumns+` FROM unnest($1::uuid[], $2::uuid[]) AS m(filter_id, lead_id)
			JOIN lead_views lv ON lv.id = m.lead_id`, w.memberFilters, w.memberLeads)
	}
}

// memberCopyColumns and leadCopyColumns pair a membership row's columns
// with the lead_views columns they copy.
const (
	memberCopyColumns = `filter_id, lead_id, updated_at, account_id, campaign_id, status, fields, files, version, created_at`
	leadCopyColumns   = `lv.id, lv.updated_at, lv.account_id, lv.campaign_id, lv.status, lv.fields, lv.files, lv.version, lv.created_at`
)

// erasedAt is the erased_at column of a lead's row: NULL unless erased.
func erasedAt(l domain.Lead) *time.Time {
	if !l.Erased() {
		return nil
	}
	return &l.ErasedAt
}

// encodeLead is a lead's fields and files as the views store them.
func encodeLead(l domain.Lead) (fields, files []byte, err error) {
	if fields, err = json.Marshal(l.Fields); err != nil {
		return nil, nil, err
	}
	fs := l.Files
	if fs == nil {
		fs = []domain.FileMeta{}
	}
	if files, err = json.Marshal(fs); err != nil {
		return nil, nil, err
	}
	return fields, files, nil
}

type campaignState struct {
	schema  domain.Schema
	filters []domain.Filter
}

// foldLead brings a lead's row up to the newest of its events. Events at
// or below the row's version are repeats; a missing version is fetched
// from the log.
func (p *Projection) foldLead(ctx context.Context, tx pgx.Tx, lead domain.Lead, events []projections.Event) (domain.Lead, bool, error) {
	sort.Slice(events, func(i, j int) bool { return events[i].StreamVersion < events[j].StreamVersion })
	newest := events[len(events)-1]
	if newest.StreamVersion <= lead.Version {
		return lead, false, nil
	}
	var pending []projections.Event
	next := lead.Version + 1
	for _, e := range events {
		if e.StreamVersion < next {
			continue
		}
		if e.StreamVersion > next || e.Event == nil {
			pending = nil // a gap (out of order delivery) or undecodable here: fold from the log
			break
		}
		pending = append(pending, e)
		next++
	}
	if pending == nil || pending[len(pending)-1].StreamVersion != newest.StreamVersion {
		var err error
		if pending, err = p.readStream(ctx, tx, newest.StreamID, lead.Version, newest.StreamVersion); err != nil {
			return lead, false, err
		}
	}
	for _, pe := range pending {
		if pe.Event == nil {
			return lead, false, fmt.Errorf("event %d (%s) cannot be decoded by this build", pe.Position, pe.Type)
		}
		lead = lead.Evolve(pe.Event)
	}
	if lead.Version != newest.StreamVersion {
		return lead, false, fmt.Errorf("folded to version %d, want %d", lead.Version, newest.StreamVersion)
	}
	return lead, true, nil
}

// readStream reads the events of a stream with after < version <= upTo
// through the transaction: taking another connection while holding this
// one could wait forever on a pool that the other consumers hold.
func (p *Projection) readStream(ctx context.Context, tx pgx.Tx, streamID string, after, upTo int64) ([]projections.Event, error) {
	return p.log.ReadStream(ctx, tx, streamID, after, upTo)
}

// queueCampaignState queues the reads of a campaign's schema and live
// filters, from the views written with their events, into cs. A campaign
// that is not there has neither.
func (p *Projection) queueCampaignState(b *pgx.Batch, campaignID uuid.UUID, cs *campaignState) {
	var found bool
	p.views.QueueCampaignSchema(b, campaignID, func(s domain.Schema, ok bool) error {
		cs.schema, found = s, ok
		return nil
	})
	p.views.QueueLiveFilters(b, campaignID, func(fs []domain.Filter) error {
		if found {
			cs.filters = append(cs.filters, fs...)
		}
		return nil
	})
}

// campaignFilters reads the live filters of a campaign and its schema.
func (p *Projection) campaignFilters(ctx context.Context, tx pgx.Tx, campaignID uuid.UUID) (domain.Schema, []domain.Filter, error) {
	var cs campaignState
	b := &pgx.Batch{}
	p.queueCampaignState(b, campaignID, &cs)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return domain.Schema{}, nil, err
	}
	return cs.schema, cs.filters, nil
}

// applyFilter brings one filter's membership to its current definition.
// The event only says that the filter changed; what it changed to is read
// from the filters view, so a late or repeated event never reinstates an
// old definition.
func (p *Projection) applyFilter(ctx context.Context, tx pgx.Tx, filterID, campaignID uuid.UUID) error {
	var (
		f       domain.Filter
		found   bool
		applied int64
	)
	// The filter and the version applied, in one round trip.
	b := &pgx.Batch{}
	p.views.QueueFilter(b, filterID, func(got domain.Filter, ok bool) error {
		f, found = got, ok
		return nil
	})
	b.Queue(`SELECT version FROM filter_views WHERE id = $1`, filterID).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			if err := rows.Scan(&applied); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if !found {
		return nil // written by another account's log? nothing to apply
	}
	if applied >= f.Version {
		return nil
	}
	if f.Deleted {
		if _, err := tx.Exec(ctx, `DELETE FROM filter_members WHERE filter_id = $1`, filterID); err != nil {
			return err
		}
	} else if err := p.refreshFilterMembership(ctx, tx, f); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO filter_views (id, campaign_id, version) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version`, filterID, campaignID, f.Version)
	return err
}

// refreshFilterMembership re-evaluates one filter over every lead of its
// campaign, set-based: the filter compiled to SQL when it can be, else
// evaluated here over the campaign's rows.
func (p *Projection) refreshFilterMembership(ctx context.Context, tx pgx.Tx, f domain.Filter) error {
	var schema domain.Schema
	read := &pgx.Batch{}
	p.views.QueueCampaignSchema(read, f.CampaignID, func(s domain.Schema, found bool) error {
		if !found {
			return fmt.Errorf("campaign %s: %w", f.CampaignID, pgx.ErrNoRows)
		}
		schema = s
		return nil
	})
	if err := tx.SendBatch(ctx, read).Close(); err != nil {
		return err
	}
	if expr, args, ok := CompileFilter(schema, f, "lv", 2); ok {
		// Set-based: the database evaluates the filter over the
		// campaign's rows; only the differences are written.
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM filter_members fm WHERE fm.filter_id = $1 AND NOT EXISTS (
			SELECT 1 FROM lead_views lv WHERE lv.id = fm.lead_id AND lv.campaign_id = $2 AND lv.erased_at IS NULL AND `+expr+`)`,
			append([]any{f.ID, f.CampaignID}, args...)...)
		b.Queue(`INSERT INTO filter_members (`+memberCopyColumns+`)
			SELECT $1, `+leadCopyColumns+` FROM lead_views lv WHERE lv.campaign_id = $2 AND lv.erased_at IS NULL AND `+expr+`
			`+upsertMember, append([]any{f.ID, f.CampaignID}, args...)...)
		return tx.SendBatch(ctx, b).Close()
	}
	ids, err := matchingLeads(ctx, tx, schema, f)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM filter_members WHERE filter_id = $1 AND NOT (lead_id = ANY($2))`, f.ID, ids)
	b.Queue(`INSERT INTO filter_members (`+memberCopyColumns+`)
		SELECT $1, `+leadCopyColumns+` FROM lead_views lv WHERE lv.id = ANY($2)
		`+upsertMember, f.ID, ids)
	return tx.SendBatch(ctx, b).Close()
}

// upsertMember refreshes a membership row that is already there only
// when its copy of the lead is not the current one.
const upsertMember = `ON CONFLICT (lead_id, filter_id) DO UPDATE SET updated_at = excluded.updated_at,
	account_id = excluded.account_id, campaign_id = excluded.campaign_id, status = excluded.status, fields = excluded.fields,
	files = excluded.files, version = excluded.version, created_at = excluded.created_at
	WHERE (filter_members.version, filter_members.updated_at) IS DISTINCT FROM (excluded.version, excluded.updated_at)`

// matchingLeads returns the ids of the campaign's leads that f matches,
// evaluated in Go: for the rare filter CompileFilter cannot express
// exactly.
func matchingLeads(ctx context.Context, tx pgx.Tx, schema domain.Schema, f domain.Filter) ([]uuid.UUID, error) {
	rows, err := tx.Query(ctx, `SELECT id, status, fields, created_at, updated_at FROM lead_views WHERE campaign_id = $1 AND erased_at IS NULL`, f.CampaignID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []uuid.UUID{}
	for rows.Next() {
		var (
			id     uuid.UUID
			v      domain.LeadView
			fields []byte
		)
		if err := rows.Scan(&id, &v.Status, &fields, &v.CreatedAt, &v.UpdatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(fields, &v.Fields); err != nil {
			return nil, fmt.Errorf("lead %s fields: %w", id, err)
		}
		v.Fields = domain.NormalizeStored(v.Fields)
		if f.Matches(schema, v) {
			ids = append(ids, id)
		}
	}
	return ids, rows.Err()
}
