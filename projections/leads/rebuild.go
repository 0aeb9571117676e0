package leads

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections"
)

// table is one table of the read model with the indexes it needs; shadow
// copies are built without indexes and indexed after the bulk load.
type table struct {
	name    string
	indexes []string // "name (columns) [WHERE predicate]"; the first is the primary key
}

var tables = []table{
	{"lead_views", []string{"lead_views_pkey (id)", "lead_views_campaign_order (campaign_id, updated_at, id)",
		"lead_views_campaign_status_order (campaign_id, status, updated_at, id)", "lead_views_account_order (account_id, updated_at, id)",
		"lead_views_retention_created (campaign_id, created_at) WHERE erased_at IS NULL",
		"lead_views_retention_updated (campaign_id, updated_at) WHERE erased_at IS NULL"}},
	{"filter_members", []string{"filter_members_pkey (lead_id, filter_id)", "filter_members_order (filter_id, updated_at, lead_id)",
		"filter_members_status_order (filter_id, status, updated_at, lead_id)"}},
	{"filter_views", []string{"filter_views_pkey (id)"}},
}

// shadow is a complete copy of the read model built from the log up to
// head, in tables named with suffix.
type shadow struct {
	suffix      string
	head        projections.Cursor
	events      int64
	leads       int
	memberships int64
}

// readBatch is how many events one read of the log returns while
// building.
const readBatch = 5000

// buildShadow folds the log up to its current head into fresh tables
// <name><suffix>: leads in memory, then one COPY per table, then indexes.
func (p *Projection) buildShadow(ctx context.Context, pool *pgxpool.Pool, suffix string, progress func(projections.Progress)) (shadow, error) {
	sh := shadow{suffix: suffix}
	if progress == nil {
		progress = func(projections.Progress) {}
	}
	for _, t := range tables {
		if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS `+t.name+suffix); err != nil {
			return sh, err
		}
		if _, err := pool.Exec(ctx, `CREATE TABLE `+t.name+suffix+` (LIKE `+t.name+` INCLUDING DEFAULTS)`); err != nil {
			return sh, err
		}
	}
	var err error
	if sh.head, err = p.log.Head(ctx); err != nil {
		return sh, err
	}
	pr := projections.Progress{Phase: "reading log", Start: time.Now()}
	if pr.Total, err = p.log.CountUpTo(ctx, sh.head.Position); err != nil {
		return sh, err
	}
	progress(pr)
	byID := map[uuid.UUID]*domain.Lead{}
	// One goroutine reads pages while this one folds, so the database's
	// time and the decoding overlap.
	pages := make(chan []projections.Event, 4)
	readErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(pages)
		cursor := projections.Cursor{}
		for cursor.Less(sh.head) {
			page, err := p.log.ReadAll(rctx, cursor, readBatch)
			if err != nil {
				readErr <- err
				return
			}
			if len(page) == 0 {
				return
			}
			last := page[len(page)-1]
			cursor = projections.Cursor{TxID: last.TxID, Position: last.Position}
			select {
			case pages <- page:
			case <-rctx.Done():
				return
			}
		}
	}()
	for page := range pages {
		for _, e := range page {
			if sh.head.Less(projections.Cursor{TxID: e.TxID, Position: e.Position}) {
				break
			}
			sh.events++
			agg, id, err := domain.ParseStreamID(e.StreamID)
			if err != nil || agg != domain.AggregateLead {
				continue
			}
			if e.Event == nil {
				return sh, fmt.Errorf("event %d (%s) cannot be decoded by this build", e.Position, e.Type)
			}
			l := byID[id]
			if l == nil {
				l = &domain.Lead{}
				byID[id] = l
			}
			*l = l.Evolve(e.Event)
		}
		pr.Done = sh.events
		progress(pr)
	}
	select {
	case err := <-readErr:
		return sh, err
	default:
	}
	pr.Done, pr.Total = sh.events, sh.events
	progress(pr)

	pr.Phase = "writing rows"
	progress(pr)
	viewRows := make([][]any, 0, len(byID))
	byCampaign := map[uuid.UUID][]leadRow{}
	for _, l := range byID {
		fields, files, err := encodeLead(*l)
		if err != nil {
			return sh, err
		}
		row := []any{[16]byte(l.ID), [16]byte(l.AccountID), [16]byte(l.CampaignID), l.Status, json.RawMessage(fields),
			json.RawMessage(files), l.Version, l.CreatedAt, l.UpdatedAt}
		viewRows = append(viewRows, append(row[:len(row):len(row)], erasedAt(*l)))
		byCampaign[l.CampaignID] = append(byCampaign[l.CampaignID], leadRow{lead: l, row: row})
	}
	sh.leads = len(viewRows)
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"lead_views" + suffix}, append(leadViewColumns[:len(leadViewColumns):len(leadViewColumns)], "erased_at"),
		pgx.CopyFromRows(viewRows)); err != nil {
		return sh, fmt.Errorf("copy leads: %w", err)
	}

	pr.Phase = "memberships"
	progress(pr)
	if sh.memberships, err = p.buildMemberships(ctx, pool, suffix, byCampaign); err != nil {
		return sh, err
	}
	pr.Phase = "indexing"
	progress(pr)
	for _, t := range tables {
		for i, ix := range t.indexes {
			name, cols, _ := strings.Cut(ix, " ")
			q := `CREATE INDEX ` + name + suffix + ` ON ` + t.name + suffix + ` ` + cols
			if i == 0 {
				q = `ALTER TABLE ` + t.name + suffix + ` ADD CONSTRAINT ` + name + suffix + ` PRIMARY KEY ` + cols
			}
			if _, err := pool.Exec(ctx, q); err != nil {
				return sh, fmt.Errorf("index %s: %w", name, err)
			}
		}
		if _, err := pool.Exec(ctx, `ANALYZE `+t.name+suffix); err != nil {
			return sh, err
		}
	}
	pr.Phase = "built"
	progress(pr)
	return sh, nil
}

// leadViewColumns are the columns of a lead_views row as COPY writes them.
var leadViewColumns = []string{"id", "account_id", "campaign_id", "status", "fields", "files", "version", "created_at", "updated_at"}

// leadRow is a folded lead with its lead_views row (leadViewColumns), which
// its membership rows copy.
type leadRow struct {
	lead *domain.Lead
	row  []any
}

// buildMemberships evaluates every live filter over its campaign's leads
// and writes filter_views for every filter the filters view holds.
func (p *Projection) buildMemberships(ctx context.Context, pool *pgxpool.Pool, suffix string, byCampaign map[uuid.UUID][]leadRow) (int64, error) {
	type filterRow struct {
		f      domain.Filter
		schema domain.Schema
	}
	var filters []filterRow
	err := p.views.EachFilter(ctx, func(f domain.Filter, schema domain.Schema) error {
		filters = append(filters, filterRow{f: f, schema: schema})
		return nil
	})
	if err != nil {
		return 0, err
	}
	views := make([][]any, 0, len(filters))
	var members [][]any
	for _, fr := range filters {
		views = append(views, []any{[16]byte(fr.f.ID), [16]byte(fr.f.CampaignID), fr.f.Version})
		if fr.f.Deleted {
			continue
		}
		for _, lr := range byCampaign[fr.f.CampaignID] {
			if !lr.lead.Erased() && fr.f.Matches(fr.schema, lr.lead.View()) {
				// The filter, then the lead's row as lead_views holds it.
				members = append(members, append([]any{[16]byte(fr.f.ID)}, lr.row...))
			}
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"filter_views" + suffix}, []string{"id", "campaign_id", "version"},
		pgx.CopyFromRows(views)); err != nil {
		return 0, fmt.Errorf("copy filter views: %w", err)
	}
	n, err := pool.CopyFrom(ctx, pgx.Identifier{"filter_members" + suffix}, append([]string{"filter_id", "lead_id"}, leadViewColumns[1:]...),
		pgx.CopyFromRows(members))
	if err != nil {
		return 0, fmt.Errorf("copy memberships: %w", err)
	}
	return n, nil
}

// RebuildReport says what a rebuild did.
type RebuildReport struct {
	Events      int64         // events read from the log
	Tail        int           // events applied during the swap, written meanwhile
	Leads       int           // lead rows
	Memberships int64         // membership rows
	Duration    time.Duration // from start to swap
}

// Rebuild folds the whole log into fresh tables and swaps them in while
// the service keeps serving: live consumers and readers wait only for the
// swap, in which the events written during the build are applied too.
func (p *Projection) Rebuild(ctx context.Context, pool *pgxpool.Pool, progress func(projections.Progress)) (RebuildReport, error) {
	start := time.Now()
	sh, err := p.buildShadow(ctx, pool, "_next", progress)
	if err != nil {
		p.dropShadow(pool, "_next")
		return RebuildReport{}, fmt.Errorf("rebuild %s: %w", Name, err)
	}
	rep := RebuildReport{Events: sh.events, Leads: sh.leads, Memberships: sh.memberships}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The exclusive projection lock first: live transactions take it
		// shared before any campaign lock, so none holds a campaign lock
		// that the tail below would wait for.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, projectionLock); err != nil {
			return err
		}
		for _, t := range tables {
			if _, err := tx.Exec(ctx, `DROP TABLE `+t.name); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `ALTER TABLE `+t.name+sh.suffix+` RENAME TO `+t.name); err != nil {
				return err
			}
			for _, ix := range t.indexes {
				name, _, _ := strings.Cut(ix, " ")
				if _, err := tx.Exec(ctx, `ALTER INDEX `+name+sh.suffix+` RENAME TO `+name); err != nil {
					return err
				}
			}
		}
		cursor := sh.head
		for {
			tail, err := p.log.ReadAll(ctx, cursor, readBatch)
			if err != nil {
				return err
			}
			if len(tail) == 0 {
				break
			}
			if err := p.Apply(ctx, tx, tail); err != nil {
				return err
			}
			rep.Tail += len(tail)
			last := tail[len(tail)-1]
			cursor = projections.Cursor{TxID: last.TxID, Position: last.Position}
		}
		if cursor == (projections.Cursor{}) {
			return nil
		}
		return projections.SaveCheckpoint(ctx, tx, Name, []projections.Event{{TxID: cursor.TxID, Position: cursor.Position}})
	})
	if err != nil {
		p.dropShadow(pool, sh.suffix)
		return rep, fmt.Errorf("rebuild %s: swap: %w", Name, err)
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

func (p *Projection) dropShadow(pool *pgxpool.Pool, suffix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, t := range tables {
		_, _ = pool.Exec(ctx, `DROP TABLE IF EXISTS `+t.name+suffix)
	}
}

// projectionLock is the advisory lock a rebuild's swap takes exclusively
// and every live transaction of the projection takes shared.
const projectionLock int64 = 0x6c65616476696577 // "leadview"

// Difference is one way the live views disagree with the log.
type Difference struct {
	Table   string
	Key     string
	Problem string
}

// VerifyReport is what a verification found.
type VerifyReport struct {
	Events      int64        // events folded into the shadow tables
	Leads       int          // leads compared
	Skipped     int64        // leads or filters changed after the snapshot, not compared
	Differences []Difference // at most maxDifferences per table
}

// maxDifferences bounds what one table reports.
const maxDifferences = 100

// Verify rebuilds the views from the log into shadow tables and compares
// them with the live ones, once the live projection has applied at least
// as much of the log (waiting up to wait). Rows that changed after the
// shadow's snapshot are skipped; everything else must be equal.
func (p *Projection) Verify(ctx context.Context, pool *pgxpool.Pool, wait time.Duration, progress func(projections.Progress)) (VerifyReport, error) {
	const suffix = "_verify"
	defer p.dropShadow(pool, suffix)
	sh, err := p.buildShadow(ctx, pool, suffix, progress)
	if err != nil {
		return VerifyReport{}, fmt.Errorf("verify %s: %w", Name, err)
	}
	rep := VerifyReport{Events: sh.events, Leads: sh.leads}
	deadline := time.Now().Add(wait)
	for {
		live, err := projections.LoadCheckpoint(ctx, pool, Name)
		if err != nil {
			return rep, err
		}
		if !live.Less(sh.head) {
			break
		}
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("verify %s: the live projection is at position %d, behind the log's %d after %v; is the service running?",
				Name, live.Position, sh.head.Position, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for _, check := range verifyChecks(p.log.CreatedAfterSQL(`'lead-' || l.id::text`, `$1`, `$2`)) {
			diffs, err := collectDiffs(ctx, tx, check.table, check.sql, sh.head)
			if err != nil {
				return fmt.Errorf("compare %s: %w", check.table, err)
			}
			rep.Differences = append(rep.Differences, diffs...)
		}
		return tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM lead_views_verify s JOIN lead_views l USING (id) WHERE l.version > s.version) +
			(SELECT count(*) FROM filter_views_verify s JOIN filter_views l USING (id) WHERE l.version > s.version)`).Scan(&rep.Skipped)
	})
	return rep, err
}

// verifyChecks compare live and shadow tables; each query returns (key,
// problem) rows. createdAfterHead is the log's condition that the live
// lead l was created after the shadow's snapshot ($1, $2).
func verifyChecks(createdAfterHead string) []struct{ table, sql string } {
	return []struct{ table, sql string }{
		{"lead_views", `SELECT coalesce(s.id, l.id)::text,
		CASE WHEN l.id IS NULL THEN 'missing from the live view'
		     WHEN s.id IS NULL THEN 'in the live view but not in the log'
		     WHEN l.version < s.version THEN 'live row at version ' || l.version || ', the log at ' || s.version
		     ELSE 'differs in ' || concat_ws(', ',
		          CASE WHEN l.account_id <> s.account_id THEN 'account_id' END,
		          CASE WHEN l.campaign_id <> s.campaign_id THEN 'campaign_id' END,
		          CASE WHEN l.status <> s.status THEN 'status' END,
		          CASE WHEN l.fields <> s.fields THEN 'fields' END,
		          CASE WHEN l.files <> s.files THEN 'files' END,
		          CASE WHEN l.created_at <> s.created_at THEN 'created_at' END,
		          CASE WHEN l.updated_at <> s.updated_at THEN 'updated_at' END,
		          CASE WHEN l.erased_at IS DISTINCT FROM s.erased_at THEN 'erased_at' END) END
		FROM lead_views_verify s FULL JOIN lead_views l ON l.id = s.id
		WHERE (l.id IS NULL)
		   OR (s.id IS NULL AND NOT ` + createdAfterHead + `)
		   OR (l.version < s.version)
		   OR (l.version = s.version AND (l.account_id, l.campaign_id, l.status, l.fields, l.files, l.created_at, l.updated_at, l.erased_at)
		       IS DISTINCT FROM (s.account_id, s.campaign_id, s.status, s.fields, s.files, s.created_at, s.updated_at, s.erased_at))
		ORDER BY 1 LIMIT 101`},
		{"filter_views", `SELECT coalesce(s.id, l.id)::text,
		CASE WHEN l.id IS NULL THEN 'missing from the live view'
		     ELSE 'live membership of version ' || l.version || ', the filter at ' || s.version END
		FROM filter_views_verify s LEFT JOIN filter_views l ON l.id = s.id
		WHERE l.id IS NULL OR l.version < s.version
		ORDER BY 1 LIMIT 101`},
		{"filter_members", `WITH stable_leads AS (
			SELECT s.id FROM lead_views_verify s JOIN lead_views l USING (id) WHERE s.version = l.version),
		stable_filters AS (
			SELECT s.id FROM filter_views_verify s JOIN filter_views l USING (id) WHERE s.version = l.version),
		live AS (SELECT * FROM filter_members WHERE lead_id IN (SELECT id FROM stable_leads) AND filter_id IN (SELECT id FROM stable_filters)),
		shadow AS (SELECT * FROM filter_members_verify WHERE lead_id IN (SELECT id FROM stable_leads) AND filter_id IN (SELECT id FROM stable_filters))
		SELECT 'filter ' || coalesce(s.filter_id, l.filter_id) || ' lead ' || coalesce(s.lead_id, l.lead_id),
			CASE WHEN l.lead_id IS NULL THEN 'matches the filter but is missing from its live view'
			     WHEN s.lead_id IS NULL THEN 'in the live view but does not match the filter'
			     ELSE 'live membership holds another copy of the lead than the log' END
		FROM shadow s FULL JOIN live l ON l.filter_id = s.filter_id AND l.lead_id = s.lead_id
		WHERE l.lead_id IS NULL OR s.lead_id IS NULL
		   OR (l.updated_at, l.account_id, l.campaign_id, l.status, l.fields, l.files, l.version, l.created_at)
		      IS DISTINCT FROM (s.updated_at, s.account_id, s.campaign_id, s.status, s.fields, s.files, s.version, s.created_at)
		ORDER BY 1 LIMIT 101`},
	}
}

// collectDiffs runs one check; a lead created after head (the shadow's
// snapshot, $1 and $2 of the lead check) is not a difference.
func collectDiffs(ctx context.Context, tx pgx.Tx, table, sql string, head projections.Cursor) ([]Difference, error) {
	var args []any
	if strings.Contains(sql, "$1") {
		args = []any{strconv.FormatUint(head.TxID, 10), head.Position}
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Difference
	for rows.Next() {
		d := Difference{Table: table}
		if err := rows.Scan(&d.Key, &d.Problem); err != nil {
			return nil, err
		}
		if len(out) == maxDifferences {
			d = Difference{Table: table, Key: "…", Problem: "more differences not listed"}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
