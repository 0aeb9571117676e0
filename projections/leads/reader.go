package leads

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections"
)

// Reader answers reads from the lead views. It never decides scope: the
// caller re-checks each returned lead against the token's current filter
// (invariant 4), because a view may lag the log.
type Reader struct {
	pool *pgxpool.Pool
	log  Positions
	poll time.Duration
}

// Positions is what WaitFor needs of the event log.
type Positions interface {
	// ReadPositions reads the events at positions, leaving out positions
	// that name none.
	ReadPositions(ctx context.Context, positions []int64) ([]projections.Event, error)
	// StreamVersions is the latest version of each stream with the
	// prefix that a transaction wrote at or below a position.
	StreamVersions(ctx context.Context, txID uint64, upTo int64, prefix string) (map[string]int64, error)
}

// NewReader returns a reader over the lead view tables in pool; log
// tells WaitFor what an event changed.
func NewReader(pool *pgxpool.Pool, log Positions) *Reader {
	return &Reader{pool: pool, log: log, poll: 5 * time.Millisecond}
}

// Key is a place in the stable list order: (updated_at, id).
type Key struct {
	UpdatedAt time.Time
	ID        uuid.UUID
}

// KeyOf is the list key of a lead.
func KeyOf(l domain.Lead) Key { return Key{UpdatedAt: l.UpdatedAt, ID: l.ID} }

// MaxLimit bounds one page.
const MaxLimit = 1000

// Query selects one page of one account's leads.
type Query struct {
	AccountID    uuid.UUID
	CampaignID   *uuid.UUID // nil: every campaign of the account
	FilterID     *uuid.UUID // only leads in this filter's view
	Status       string     // "" for any status
	UpdatedSince *time.Time // updated_at at or after
	After        *Key       // exclusive; nil for the first page
	Limit        int        // 1..MaxLimit
	// Newest lists in descending (updated_at, id) order, the most
	// recently changed lead first; After is then exclusive from above.
	Newest bool
	// Search, when set, keeps the leads one of whose Search.Keys fields
	// holds Search.Text; with no keys it keeps none.
	Search *Search
	// Check, when set, is a condition the list must pass in its own
	// round trip and transaction.
	Check *Check
}

// Search is a case-insensitive substring search over some fields of a
// lead: the caller names text-like fields of the campaign's schema.
type Search struct {
	Text string
	Keys []string
}

// Check is a condition a read must pass in its own statements, such as a
// cached authentication's guard: SQL is an expression counting what fails
// it, taking Args as $1 … $n; when it counts more than zero the read
// fails with Err and returns nothing.
type Check struct {
	SQL  string
	Args []any
	Err  error
}

// queue queues the check alone into b; a nil check queues nothing.
func (c *Check) queue(b *pgx.Batch) {
	if c == nil {
		return
	}
	b.Queue(`SELECT `+c.SQL, c.Args...).QueryRow(func(row pgx.Row) error {
		var failed int64
		if err := row.Scan(&failed); err != nil {
			return err
		}
		return c.result(failed)
	})
}

// result is the read's outcome for what the check's expression counted;
// a nil check never fails.
func (c *Check) result(failed int64) error {
	if c != nil && failed > 0 {
		return c.Err
	}
	return nil
}

const leadColumns = `lv.id, lv.account_id, lv.campaign_id, lv.status, lv.fields, lv.files, lv.version, lv.created_at, lv.updated_at`

// memberColumns are leadColumns as a membership row carries them.
const memberColumns = `fm.lead_id, fm.account_id, fm.campaign_id, fm.status, fm.fields, fm.files, fm.version, fm.created_at, fm.updated_at`

// Page is one page of a list.
type Page struct {
	Leads []domain.Lead
	// Next is where the following page starts, nil on the last page.
	Next *Key
}

// List returns up to q.Limit leads of q.AccountID in (updated_at, id)
// order, or its reverse with q.Newest. Every shape is one range scan of
// one index, whatever the planner's statistics say (pinListPlan): a
// filter's page reads its membership rows, which carry the lead, and
// nothing else. Rows of another account are dropped but still advance
// Next, so a campaign id of another account pages through nothing.
func (r *Reader) List(ctx context.Context, q Query) (Page, error) {
	raw, err := r.ListRaw(ctx, q, 0)
	if err != nil {
		return Page{}, err
	}
	p := Page{Next: raw.Next, Leads: make([]domain.Lead, 0, len(raw.Leads))}
	for _, rl := range raw.Leads {
		l, err := rl.Decode()
		if err != nil {
			return Page{}, err
		}
		p.Leads = append(p.Leads, l)
	}
	return p, nil
}

// RawLead is a view row as stored: fields and files are the JSON text
// PostgreSQL keeps, not yet decoded.
type RawLead struct {
	ID, AccountID, CampaignID uuid.UUID
	Status                    string
	Fields, Files             []byte
	Version                   int64
	CreatedAt, UpdatedAt      time.Time
}

// Decode is the lead the row holds.
func (rl RawLead) Decode() (domain.Lead, error) {
	l := domain.Lead{ID: rl.ID, AccountID: rl.AccountID, CampaignID: rl.CampaignID, Status: rl.Status,
		Version: rl.Version, CreatedAt: rl.CreatedAt, UpdatedAt: rl.UpdatedAt}
	// go-json: a page decodes fifty of these, and encoding/json's
	// reflection was a third of a list's CPU.
	if err := gojson.Unmarshal(rl.Fields, &l.Fields); err != nil {
		return domain.Lead{}, fmt.Errorf("lead %s fields: %w", l.ID, err)
	}
	l.Fields = domain.NormalizeStored(l.Fields)
	if string(rl.Files) != "[]" {
		if err := gojson.Unmarshal(rl.Files, &l.Files); err != nil {
			return domain.Lead{}, fmt.Errorf("lead %s files: %w", l.ID, err)
		}
	}
	return l, nil
}

// RawPage is one page of a list as stored.
type RawPage struct {
	Leads []RawLead
	// Next is where the following page starts, nil on the last page.
	Next *Key
	// Exact reports, for a filter's page asked with the filter's version,
	// that the filter's view was evaluated at that version when the page
	// was read: every row is then in the filter as it is now, and needs
	// no re-check.
	Exact bool
}

// ListRaw is List without decoding the rows. With a filter and its
// current version (filterVersion > 0) it also reports whether the
// filter's view is exact for that version, read in the page's snapshot.
func (r *Reader) ListRaw(ctx context.Context, q Query, filterVersion int64) (RawPage, error) {
	if q.Limit < 1 || q.Limit > MaxLimit {
		return RawPage{}, fmt.Errorf("list leads: limit %d not in 1..%d", q.Limit, MaxLimit)
	}
	sql, args := listSQL(q)
	var (
		found     []RawLead
		viewedAt  int64
		checkView = q.FilterID != nil && filterVersion > 0
	)
	// One statement ahead of the page checks the caller's condition,
	// reads the version the filter's view was evaluated at and pins the
	// page's plan: each statement of a batch costs PostgreSQL a portal of
	// its own, and a page is cheap enough for that to show.
	check, preArgs := "0", []any(nil)
	if q.Check != nil {
		// Clipped: the view's argument is appended to a copy, never
		// into the caller's array.
		check, preArgs = q.Check.SQL, slices.Clip(q.Check.Args)
	}
	view := "0"
	if checkView {
		// Before the page: versions only grow, so the page reads the view
		// at this version or at a later one, committed after the token's
		// guard was checked; either is the filter as it is now.
		preArgs = append(preArgs, *q.FilterID)
		view = `coalesce((SELECT version FROM filter_views WHERE id = $` + strconv.Itoa(len(preArgs)) + `), 0)`
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT `+check+`, `+view+`, `+pinListPlan, preArgs...).QueryRow(func(row pgx.Row) error {
		var failed int64
		var pinned [3]string
		if err := row.Scan(&failed, &viewedAt, &pinned[0], &pinned[1], &pinned[2]); err != nil {
			return err
		}
		return q.Check.result(failed)
	})
	b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) { found, err = scanRaw(rows); return err })
	if err := r.pool.SendBatch(ctx, b).Close(); err != nil {
		return RawPage{}, fmt.Errorf("list leads: %w", err)
	}
	p := RawPage{Exact: checkView && viewedAt == filterVersion}
	for _, l := range found {
		if l.AccountID == q.AccountID {
			p.Leads = append(p.Leads, l)
		}
	}
	if len(found) == q.Limit {
		last := found[len(found)-1]
		p.Next = &Key{UpdatedAt: last.UpdatedAt, ID: last.ID}
	}
	return p, nil
}

func scanRaw(rows pgx.Rows) ([]RawLead, error) {
	defer rows.Close()
	var out []RawLead
	for rows.Next() {
		l, err := scanRawRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// scanRawRow scans one row of leadColumns, and of the columns after them
// into extra.
func scanRawRow(rows pgx.Rows, extra ...any) (RawLead, error) {
	var l RawLead
	dst := append([]any{&l.ID, &l.AccountID, &l.CampaignID, &l.Status, &l.Fields, &l.Files, &l.Version, &l.CreatedAt, &l.UpdatedAt}, extra...)
	if err := rows.Scan(dst...); err != nil {
		return RawLead{}, err
	}
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return l, nil
}

// pinListPlan runs before a list, in its implicit transaction (the same
// round trip), and leaves the planner one way to serve it: an index scan
// in the page's order. Without statistics (a burst of creates before
// autovacuum has analysed the view) the planner estimates a handful of
// rows and would rather bitmap-scan and sort them all, which for a
// filter of a million leads reads a million rows for a page of fifty.
// The settings last until the statement's transaction ends. It is the
// select list of the statement ahead of the page (three columns).
const pinListPlan = `set_config('enable_sort', 'off', true), set_config('enable_incremental_sort', 'off', true),
	set_config('enable_bitmapscan', 'off', true)`

// listSQL is the statement of one list shape. Only the index that the
// shape names can serve it: the view's id (the filter, campaign or
// account) is the only equality besides status, and nothing is joined,
// so no estimate can turn the plan into a scan and a sort.
func listSQL(q Query) (string, []any) {
	var (
		sb   strings.Builder
		args []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	from, cols, id := "lead_views lv", leadColumns, "lv.id"
	switch {
	case q.FilterID != nil:
		from, cols, id = "filter_members fm", memberColumns, "fm.lead_id"
		sb.WriteString(`SELECT ` + cols + ` FROM ` + from + ` WHERE fm.filter_id = ` + arg(*q.FilterID))
	case q.CampaignID != nil:
		// An erased lead's tombstone is in no list (nor in any filter).
		sb.WriteString(`SELECT ` + cols + ` FROM ` + from + ` WHERE lv.campaign_id = ` + arg(*q.CampaignID) + ` AND lv.erased_at IS NULL`)
	default:
		sb.WriteString(`SELECT ` + cols + ` FROM ` + from + ` WHERE lv.account_id = ` + arg(q.AccountID) + ` AND lv.erased_at IS NULL`)
	}
	alias := from[len(from)-2:]
	if q.Status != "" {
		sb.WriteString(` AND ` + alias + `.status = ` + arg(q.Status))
	}
	if q.UpdatedSince != nil {
		sb.WriteString(` AND ` + alias + `.updated_at >= ` + arg(*q.UpdatedSince))
	}
	if q.Search != nil && len(q.Search.Keys) == 0 {
		sb.WriteString(` AND false`)
	}
	if q.Search != nil && len(q.Search.Keys) > 0 {
		// strpos rather than LIKE: the text needs no escaping of % and _.
		text := arg(q.Search.Text)
		sb.WriteString(` AND (`)
		for i, k := range q.Search.Keys {
			if i > 0 {
				sb.WriteString(` OR `)
			}
			sb.WriteString(`strpos(lower(` + alias + `.fields->>` + arg(k) + `), lower(` + text + `)) > 0`)
		}
		sb.WriteString(`)`)
	}
	cmp, dir := ">", ""
	if q.Newest {
		// The same indexes, scanned backward: no sort, no other index.
		cmp, dir = "<", " DESC"
	}
	if q.After != nil {
		sb.WriteString(` AND (` + alias + `.updated_at, ` + id + `) ` + cmp + ` (` + arg(q.After.UpdatedAt) + `, ` + arg(q.After.ID) + `)`)
	}
	sb.WriteString(` ORDER BY ` + alias + `.updated_at` + dir + `, ` + id + dir + ` LIMIT ` + arg(q.Limit))
	return sb.String(), args
}

// Get returns one lead of the account as the view holds it, or
// domain.ErrLeadNotFound. An erased lead is its tombstone: ErasedAt set,
// its non-personal values only; the caller checks scope on it first, then
// answers that it was erased. check, when not nil, is Query.Check.
func (r *Reader) Get(ctx context.Context, accountID, leadID uuid.UUID, check *Check) (domain.Lead, error) {
	var (
		found  []domain.Lead
		erased *time.Time
	)
	b := &pgx.Batch{}
	check.queue(b)
	b.Queue(`SELECT `+leadColumns+`, lv.erased_at FROM lead_views lv WHERE lv.account_id = $1 AND lv.id = $2`, accountID, leadID).
		Query(func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				rl, err := scanRawRow(rows, &erased)
				if err != nil {
					return err
				}
				l, err := rl.Decode()
				if err != nil {
					return err
				}
				if erased != nil {
					l.ErasedAt = erased.UTC()
				}
				found = append(found, l)
			}
			return rows.Err()
		})
	if err := r.pool.SendBatch(ctx, b).Close(); err != nil {
		return domain.Lead{}, fmt.Errorf("get lead: %w", err)
	}
	if len(found) == 0 {
		return domain.Lead{}, domain.ErrLeadNotFound
	}
	return found[0], nil
}

func scanLeads(rows pgx.Rows) ([]domain.Lead, error) {
	raw, err := scanRaw(rows)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Lead, 0, len(raw))
	for _, rl := range raw {
		l, err := rl.Decode()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// WaitFor waits until the lead views reflect the event at position, or
// until ctx ends; it reports whether they do. A lead event is reflected
// when the lead's row has reached its version, a filter event when the
// membership has; any other event when the projection's checkpoint has
// passed it. An unknown position is reported as reached: there is nothing
// to wait for.
func (r *Reader) WaitFor(ctx context.Context, position int64) (bool, error) {
	at, err := r.log.ReadPositions(ctx, []int64{position})
	if err != nil {
		return false, fmt.Errorf("wait for %d: %w", position, err)
	}
	if len(at) == 0 {
		return true, nil
	}
	stream, version, txText := at[0].StreamID, at[0].StreamVersion, strconv.FormatUint(at[0].TxID, 10)
	agg, id, _ := domain.ParseStreamID(stream)
	var check string
	var args []any
	switch agg {
	case domain.AggregateLead:
		// The write is its transaction: a batch create is one position
		// per lead, and the projection may apply them in different
		// transactions, so every lead the write touched up to position
		// must have arrived.
		// The lead at position is among them.
		ids, versions, err := r.leadsWritten(ctx, at[0].TxID, position)
		if err != nil {
			return false, err
		}
		check, args = `SELECT count(*) = $3 FROM lead_views lv JOIN unnest($1::uuid[], $2::bigint[]) AS w(id, v)
			ON lv.id = w.id AND lv.version >= w.v`, []any{ids, versions, len(ids)}
	case domain.AggregateFilter:
		check, args = `SELECT EXISTS (SELECT 1 FROM filter_views WHERE id = $1 AND version >= $2)`, []any{id, version}
	default:
		check = `SELECT EXISTS (SELECT 1 FROM projection_checkpoints WHERE name = $1
			AND (tx_id, position) >= ($2::text::xid8, $3))`
		args = []any{Name, txText, position}
	}
	for {
		var ok bool
		if err := r.pool.QueryRow(ctx, check, args...).Scan(&ok); err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("wait for %d: %w", position, err)
		}
		if ok {
			return true, nil
		}
		t := time.NewTimer(r.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, nil
		case <-t.C:
		}
	}
}

// leadsWritten is the latest version of each lead the transaction txID
// wrote at or before position.
func (r *Reader) leadsWritten(ctx context.Context, txID uint64, position int64) ([]uuid.UUID, []int64, error) {
	written, err := r.log.StreamVersions(ctx, txID, position, domain.AggregateLead+"-")
	if err != nil {
		return nil, nil, fmt.Errorf("wait for %d: %w", position, err)
	}
	var (
		ids      []uuid.UUID
		versions []int64
	)
	for stream, version := range written {
		if _, id, err := domain.ParseStreamID(stream); err == nil {
			ids, versions = append(ids, id), append(versions, version)
		}
	}
	return ids, versions, nil
}
