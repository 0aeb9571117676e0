package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/audit"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// labelled is one field of a lead with its label.
type labelled struct {
	Key   string
	Label string
	Value string
}

// leadRow is one lead of a list.
type leadRow struct {
	L        domain.Lead
	Campaign string
	Status   string
	Summary  []labelled
}

// summaryFields is how many filled-in fields a list shows of a lead.
const summaryFields = 4

func statusLabel(s domain.Schema, slug string) string {
	for _, st := range s.Statuses {
		if st.Slug == slug {
			return st.Label
		}
	}
	return slug
}

// fieldsOf lists a lead's fields in the schema's order, then any the
// schema no longer has.
func fieldsOf(s domain.Schema, fs domain.Fields, all bool) []labelled {
	var out []labelled
	seen := map[string]bool{}
	for _, f := range s.Fields {
		seen[f.Key] = true
		v, ok := fs[f.Key]
		if !ok && !all {
			continue
		}
		val := fmtValue(v)
		if f.Type == domain.TypeSelect || f.Type == domain.TypeMultiselect {
			val = optionLabels(s, f.Select, v)
		}
		out = append(out, labelled{Key: f.Key, Label: f.Label, Value: val})
	}
	var extra []string
	for k := range fs {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, labelled{Key: k, Label: k, Value: fmtValue(fs[k])})
	}
	return out
}

// optionLabels shows select values by their labels.
func optionLabels(s domain.Schema, key string, v any) string {
	sl, _ := s.Select(key)
	label := func(val string) string {
		for _, o := range sl.Options {
			if o.Value == val {
				return o.Label
			}
		}
		return val
	}
	switch x := v.(type) {
	case string:
		return label(x)
	case []string:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = label(p)
		}
		return strings.Join(parts, ", ")
	}
	return fmtValue(v)
}

// leadRows shows leads of the campaigns given; the campaign's name only
// when withCampaign (a list across campaigns).
func leadRows(ls []domain.Lead, campaigns map[uuid.UUID]domain.Campaign, withCampaign bool) []leadRow {
	return leadRowsOf(ls, campaigns, withCampaign, nil)
}

// leadRowsOf is leadRows showing the fields cols names, in their order;
// none chosen shows the first filled-in ones.
func leadRowsOf(ls []domain.Lead, campaigns map[uuid.UUID]domain.Campaign, withCampaign bool, cols []string) []leadRow {
	out := make([]leadRow, 0, len(ls))
	for _, l := range ls {
		camp := campaigns[l.CampaignID]
		row := leadRow{L: l, Status: statusLabel(camp.Schema, l.Status)}
		if withCampaign {
			row.Campaign = camp.Name
		}
		for _, f := range fieldsOf(camp.Schema, l.Fields, false) {
			switch {
			case len(cols) > 0:
				if slices.Contains(cols, f.Key) {
					row.Summary = append(row.Summary, f)
				}
			case f.Value != "" && len(row.Summary) < summaryFields:
				row.Summary = append(row.Summary, f)
			}
		}
		out = append(out, row)
	}
	return out
}

// afterParam and parseAfter carry a list's position, (updated_at, id),
// in the "after" query parameter. It needs no signature: every read is
// scoped to the signed-in account whatever it says.
func afterParam(k leads.Key) string {
	return strconv.FormatInt(k.UpdatedAt.UnixMicro(), 10) + "_" + k.ID.String()
}

func parseAfter(r *http.Request) (*leads.Key, error) {
	s := r.URL.Query().Get("after")
	if s == "" {
		return nil, nil
	}
	at, id, ok := strings.Cut(s, "_")
	micros, err := strconv.ParseInt(at, 10, 64)
	uid, uerr := uuid.Parse(id)
	if !ok || err != nil || uerr != nil {
		return nil, api.ErrRouteNotFound
	}
	return &leads.Key{UpdatedAt: time.UnixMicro(micros).UTC(), ID: uid}, nil
}

// leadList is a campaign's leads, as the admin sees them: all of them,
// or those of one status, with the fields the admin chose.
type leadList struct {
	Rows     []leadRow
	Next     template.URL // the next page's query (url.Values.Encode: safe)
	First    bool
	Status   string          // the status shown; "" for every one
	Statuses []domain.Status // to choose from
	Fields   []domain.Field  // the columns to choose from
	Cols     map[string]bool // the chosen ones
	Query    template.URL    // the choices, for the pager's links
	Search   string          // the search text, "" for none
	// Searchable names the fields a search looks in.
	Searchable string
}

// maxSearch bounds the search text (runes); a longer one is cut.
const maxSearch = 200

// searchText is the search box's text as the database can take it: no
// NUL, valid UTF-8, at most maxSearch runes.
func searchText(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), ""))
	if r := []rune(s); len(r) > maxSearch {
		s = string(r[:maxSearch])
	}
	return s
}

// searchTypes are the field types the leads page searches in: those
// holding text a person types.
var searchTypes = map[domain.FieldType]bool{domain.TypeText: true, domain.TypeTextarea: true, domain.TypeEmail: true,
	domain.TypePhone: true}

// searchKeys are the keys of the schema's searched fields, retired ones
// too: their values are still on the leads.
func searchKeys(s domain.Schema) []string {
	var out []string
	for _, f := range s.Fields {
		if searchTypes[f.Type] {
			out = append(out, f.Key)
		}
	}
	return out
}

// searchLabels names the searched fields for the search box's hint.
func searchLabels(s domain.Schema) string {
	var out []string
	for _, f := range s.Fields {
		if searchTypes[f.Type] {
			out = append(out, f.Label)
		}
	}
	return strings.Join(out, ", ")
}

func (c *Console) listLeads(w http.ResponseWriter, r *http.Request) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	after, err := parseAfter(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !camp.Schema.HasStatus(status) {
		status = "" // a status since removed from the URL's choice shows every lead
	}
	var cols []string
	for _, k := range q["cols"] {
		if _, ok := camp.Schema.Field(k); ok {
			cols = append(cols, k)
		}
	}
	text := searchText(q.Get("q"))
	searchable := searchKeys(camp.Schema)
	lq := leads.Query{AccountID: camp.AccountID, CampaignID: &camp.ID, Status: status, After: after, Limit: previewSize, Newest: true}
	if text != "" {
		lq.Search = &leads.Search{Text: text, Keys: searchable}
	}
	ls, err := c.leads.List(r.Context(), lq)
	if err != nil {
		return err
	}
	keep := url.Values{}
	if status != "" {
		keep.Set("status", status)
	}
	if text != "" {
		keep.Set("q", text)
	}
	data := leadList{Rows: leadRowsOf(ls.Leads, map[uuid.UUID]domain.Campaign{camp.ID: camp}, false, cols), First: after == nil,
		Status: status, Statuses: camp.Schema.Statuses, Fields: camp.Schema.Fields, Cols: map[string]bool{},
		Search: text, Searchable: searchLabels(camp.Schema)}
	for _, k := range cols {
		data.Cols[k] = true
		keep.Add("cols", k)
	}
	data.Query = template.URL(keep.Encode())
	if ls.Next != nil {
		next := url.Values{}
		for k, v := range keep {
			next[k] = v
		}
		next.Set("after", afterParam(*ls.Next))
		data.Next = template.URL(next.Encode())
	}
	c.render(w, r, http.StatusOK, "leads", &view{Title: "Leads · " + camp.Name, Section: "campaigns", Campaign: &camp,
		Tab: "leads", Data: data})
	return nil
}

// leadPage is a lead with its files and history.
type leadPage struct {
	L      domain.Lead
	Status string
	Fields []labelled
	// History is nil when it cannot be shown; HistoryNote says why.
	History     *audit.LeadHistory
	Entries     []historyEntry // History in words
	HistoryNote string
}

// historyEntry is one event of a lead's history as people read it: what
// happened, and each change as label: before → after.
type historyEntry struct {
	audit.Entry
	What    string
	Changes []historyChange
}

type historyChange struct{ Label, Before, After string }

// eventWords name the lead events in the console's words.
var eventWords = map[string]string{
	"lead.created":       "Created",
	"lead.updated":       "Changed",
	"lead.file_attached": "File attached",
	"lead.file_removed":  "File removed",
}

// historyEntries puts a lead's history in words: field labels for keys,
// status labels for slugs, files by name, type and size.
func historyEntries(h *audit.LeadHistory, s domain.Schema) []historyEntry {
	out := make([]historyEntry, 0, len(h.Data))
	for _, e := range h.Data {
		he := historyEntry{Entry: e, What: eventWords[e.Type]}
		if he.What == "" {
			he.What = e.Type
		}
		for _, c := range e.Changes {
			ch := historyChange{Label: c.Field, Before: historyValue(c.Before), After: historyValue(c.After)}
			switch key, isField := strings.CutPrefix(c.Field, "fields."); {
			case c.Field == "status":
				ch.Label = "Status"
				ch.Before, ch.After = statusWords(s, c.Before), statusWords(s, c.After)
			case isField:
				if f, ok := s.Field(key); ok {
					ch.Label = f.Label
				}
			case strings.HasPrefix(c.Field, "files"):
				ch.Label = "File"
			}
			he.Changes = append(he.Changes, ch)
		}
		out = append(out, he)
	}
	return out
}

func statusWords(s domain.Schema, v any) string {
	slug, _ := v.(string)
	if slug == "" {
		return ""
	}
	return statusLabel(s, slug)
}

// historyValue is a value as the history shows it; a file by its name,
// type and size rather than its record.
func historyValue(v any) string {
	switch f := v.(type) {
	case domain.FileMeta:
		return fileWords(f.Name, f.ContentType, f.Size)
	case map[string]any:
		if name, ok := f["name"].(string); ok {
			ct, _ := f["content_type"].(string)
			size, _ := f["size"].(float64)
			return fileWords(name, ct, int64(size))
		}
	}
	return fmtValue(v)
}

func fileWords(name, contentType string, size int64) string {
	return fmt.Sprintf("%s (%s, %s)", name, contentType, byteWords(size))
}

// byteWords is a size in the unit people read it in.
func byteWords(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func (c *Console) leadOf(r *http.Request) (domain.Lead, error) {
	return byPath(r, func(ctx context.Context, account, id uuid.UUID) (domain.Lead, error) {
		l, err := c.leads.Get(ctx, account, id, nil)
		if err == nil && l.Erased() {
			return domain.Lead{}, l.ErasedError() // the page says when, as the API does
		}
		return l, err
	})
}

// showLead shows a lead from the lead views and its history from the log
// (the audit read side), which needs the audit permission, as in the API.
func (c *Console) showLead(w http.ResponseWriter, r *http.Request) error {
	l, err := c.leadOf(r)
	if err != nil {
		return err
	}
	camp, err := c.q.Campaign(r.Context(), l.AccountID, l.CampaignID)
	if err != nil {
		return err
	}
	data := leadPage{L: l, Status: statusLabel(camp.Schema, l.Status), Fields: fieldsOf(camp.Schema, l.Fields, true)}
	switch {
	case c.audit == nil:
		data.HistoryNote = "The history is not available on this server."
	case !authFrom(r.Context()).token.Can(domain.PermAudit):
		data.HistoryNote = "Seeing a lead's history needs a token with the audit permission."
	default:
		h, err := c.audit.LeadHistory(r.Context(), l.AccountID, l.ID)
		if err != nil && !errors.Is(err, domain.ErrLeadNotFound) {
			return err
		}
		if err == nil {
			data.History, data.Entries = &h, historyEntries(&h, camp.Schema)
		}
	}
	c.render(w, r, http.StatusOK, "lead", &view{Title: "Lead " + l.ID.String()[:8], Section: "campaigns", Campaign: &camp,
		Tab: "leads", Data: data})
	return nil
}

// downloadFile serves a lead's file as an attachment the browser neither
// sniffs nor runs.
func (c *Console) downloadFile(w http.ResponseWriter, r *http.Request) error {
	l, err := c.leadOf(r)
	if err != nil {
		return err
	}
	fileID, err := api.PathID(r, "file_id")
	if err != nil {
		return err
	}
	f, err := c.q.File(r.Context(), l.AccountID, l.ID, fileID)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", f.Meta.ContentType)
	h.Set("Content-Length", strconv.FormatInt(f.Meta.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Meta.Name}))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	// Sent as it is read; a failure past the status can only cut the
	// answer short of its Content-Length.
	if err := c.q.WriteFile(r.Context(), w, f); err != nil {
		c.log.LogAttrs(r.Context(), slog.LevelWarn, "console: file download cut short", slog.String("err", err.Error()))
	}
	return nil
}
