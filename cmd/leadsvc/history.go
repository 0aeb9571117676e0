package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/audit"
)

// historyArgs is the parsed command line of `leadsvc history`.
type historyArgs struct {
	kind string
	id   uuid.UUID
	at   time.Time
	json bool
	wide bool // one table row per event instead of blocks that fit historyWidth
}

// historyWidth is the width the default text output fits in.
const historyWidth = 100

func parseHistoryArgs(kind, rawID, at string, asJSON, wide bool) (historyArgs, error) {
	h := historyArgs{kind: kind, json: asJSON, wide: wide}
	id, err := uuid.Parse(rawID)
	if err != nil {
		return h, usageError{fmt.Sprintf("history: %q is not an id", rawID)}
	}
	h.id = id
	if at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, at); err != nil {
				return h, usageError{fmt.Sprintf("history: --at %q is not an RFC 3339 time or a date", at)}
			}
		}
		h.at = t.UTC()
	}
	return h, nil
}

// historyCmd runs `leadsvc history lead|token ID [--at T] [--json]` for
// auditors with database access: the same answers as the audit API, for
// any account, as tables or JSON.
func historyCmd(ctx context.Context, cfg Config, _ *slog.Logger, h historyArgs, stdout io.Writer) error {
	s, err := openAuditSide(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	stream := domain.LeadStream(h.id)
	if h.kind == "token" {
		stream = domain.TokenStream(h.id)
	}
	account, found, err := s.reader.AccountOf(ctx, stream)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no %s %s in the log", h.kind, h.id)
	}
	if h.kind == "lead" {
		return leadHistory(ctx, s.reader, account, h, stdout)
	}
	return tokenHistory(ctx, s.reader, account, h, stdout)
}

func leadHistory(ctx context.Context, r *audit.Reader, account uuid.UUID, h historyArgs, stdout io.Writer) error {
	hist, err := r.LeadHistory(ctx, account, h.id)
	if err != nil {
		return err
	}
	if !h.at.IsZero() {
		hist.Data = entriesUpTo(hist.Data, h.at)
	}
	var state *audit.LeadState
	l, err := r.LeadAt(ctx, account, h.id, h.at, 0)
	switch {
	case err == nil:
		state = &l
	case !errors.Is(err, audit.ErrBeforeCreation):
		return err
	}
	if h.json {
		return writeJSONTo(stdout, struct {
			Lead    *audit.LeadState  `json:"lead"`
			At      *time.Time        `json:"at,omitempty"`
			History audit.LeadHistory `json:"history"`
		}{state, timeOrNil(h.at), hist})
	}
	if h.wide {
		fmt.Fprintf(stdout, "lead %s  campaign %s  version %d  %s\n", hist.LeadID, hist.CampaignID, hist.Version, chainText(hist.Integrity))
	} else {
		fmt.Fprintf(stdout, "lead %s  version %d\ncampaign %s\n%s\n", hist.LeadID, hist.Version, hist.CampaignID,
			wrap(chainText(hist.Integrity), historyWidth, ""))
	}
	if state == nil {
		fmt.Fprintf(stdout, "at %s: the lead did not exist yet\n", h.at.Format(time.RFC3339Nano))
	} else {
		when := "now"
		if !h.at.IsZero() {
			when = "at " + h.at.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(stdout, "%s: version %d, status %s, %d fields, %d files\n", when, state.Version, state.Status, len(state.Fields), len(state.Files))
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, k := range slices.Sorted(maps.Keys(state.Fields)) {
			fmt.Fprintf(tw, "  %s\t%s\n", k, value(state.Fields[k]))
		}
		for _, f := range state.Files {
			fmt.Fprintf(tw, "  file %s\t%s (%s, %d bytes)\n", f.ID, cut(f.Name, 30), f.ContentType, f.Size)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout)
	if h.wide {
		return entriesTable(stdout, hist.Data, false)
	}
	return entriesBlocks(stdout, hist.Data, false)
}

func tokenHistory(ctx context.Context, r *audit.Reader, account uuid.UUID, h historyArgs, stdout io.Writer) error {
	var hist audit.TokenHistory
	q := audit.TokenHistoryQuery{Limit: audit.MaxHistoryLimit, UpTo: h.at}
	for {
		page, err := r.TokenHistory(ctx, account, h.id, q)
		if err != nil {
			return err
		}
		hist.TokenID, hist.Token = page.TokenID, page.Token
		hist.Data = append(hist.Data, page.Data...)
		if page.NextAfter == nil {
			break
		}
		q.After = *page.NextAfter
	}
	var visible *audit.Visibility
	if !h.at.IsZero() {
		v, err := r.VisibleLeads(ctx, account, h.id, h.at)
		if err != nil {
			return err
		}
		visible = &v
	}
	if h.json {
		return writeJSONTo(stdout, struct {
			History audit.TokenHistory `json:"history"`
			Visible *audit.Visibility  `json:"visible_leads,omitempty"`
		}{hist, visible})
	}
	t := hist.Token
	scope := "account-level"
	if t.CampaignID != nil {
		scope = "campaign " + t.CampaignID.String()
		if t.FilterID != nil {
			scope += "  filter " + t.FilterID.String()
		}
	}
	when := "now"
	if !h.at.IsZero() {
		when = "at " + h.at.Format(time.RFC3339Nano)
	}
	switch {
	case t.State == audit.StateNotCreated:
		fmt.Fprintf(stdout, "token %s did not exist yet %s\n\n", h.id, when)
	case h.wide:
		fmt.Fprintf(stdout, "token %s %q  %s  permissions %s  %s: %s\n\n", t.ID, t.Name, scope, joinPerms(t.Permissions), when, t.State)
	default:
		fmt.Fprintf(stdout, "token %s %s\n%s\npermissions %s  %s: %s\n\n", t.ID, cut(fmt.Sprintf("%q", t.Name), historyWidth-43),
			scope, joinPerms(t.Permissions), when, t.State)
	}
	render := entriesBlocks
	if h.wide {
		render = entriesTable
	}
	if err := render(stdout, hist.Data, true); err != nil {
		return err
	}
	if visible != nil {
		fmt.Fprintf(stdout, "\nvisible at %s: %d leads (%s)", visible.At.Format(time.RFC3339Nano), visible.Count, visible.State)
		if f := visible.Filter; f != nil {
			fmt.Fprintf(stdout, ", filter %q version %d", f.Name, f.Version)
		}
		fmt.Fprintln(stdout)
		for _, id := range visible.Data {
			fmt.Fprintf(stdout, "  %s\n", id)
		}
	}
	return nil
}

// entriesTable prints history entries; a token's adds the kind and the
// stream each write went to.
func entriesTable(w io.Writer, entries []audit.Entry, token bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if token {
		fmt.Fprintln(tw, "POSITION\tTIME\tKIND\tTYPE\tSTREAM\tVERSION\tACTOR\tREQUEST\tCHANGES")
	} else {
		fmt.Fprintln(tw, "POSITION\tVERSION\tTIME\tTYPE\tACTOR\tREQUEST\tCHANGES")
	}
	layout := timeLayout(entries)
	for _, e := range entries {
		pos, ver := "-", "-"
		if e.Position > 0 {
			pos, ver = fmt.Sprint(e.Position), fmt.Sprint(e.StreamVersion)
		}
		changes := changesText(e.Changes)
		if e.Synthesized {
			changes = "(synthesized: " + e.Note + ")"
		}
		at := e.Time.Format(layout)
		if token {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", pos, at, e.Kind, e.Type, e.StreamID, ver, actorText(e.Actor), dash(e.RequestID), changes)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", pos, ver, at, e.Type, actorText(e.Actor), dash(e.RequestID), changes)
		}
	}
	return tw.Flush()
}

// entriesBlocks prints each entry as a block of lines that fit
// historyWidth: position, version, time and type first, then the actor,
// the request and one line per change.
func entriesBlocks(w io.Writer, entries []audit.Entry, token bool) error {
	layout := timeLayout(entries)
	const indent = "    "
	for i, e := range entries {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := "-"
		if e.Position > 0 {
			head = fmt.Sprintf("#%d v%d", e.Position, e.StreamVersion)
		}
		head += "  " + e.Time.Format(layout) + "  " + e.Type
		if token {
			head += "  (" + e.Kind + ")"
		}
		lines := []string{head}
		if token {
			lines = append(lines, indent+"stream "+e.StreamID)
		}
		lines = append(lines, indent+"by "+actorText(e.Actor), indent+"request "+dash(e.RequestID))
		if e.Synthesized {
			lines = append(lines, indent+"(synthesized: "+e.Note+")")
		}
		for _, c := range e.Changes {
			one := indent + c.Field + ": " + value(c.Before) + " → " + value(c.After)
			if utf8.RuneCountInString(one) <= historyWidth {
				lines = append(lines, one)
				continue
			}
			pad := strings.Repeat(" ", utf8.RuneCountInString(indent+c.Field))
			lines = append(lines, indent+c.Field+": "+value(c.Before), pad+"→ "+value(c.After))
		}
		for _, l := range lines {
			if _, err := fmt.Fprintln(w, wrap(l, historyWidth, indent+"  ")); err != nil {
				return err
			}
		}
	}
	return nil
}

// timeLayout is the RFC 3339 layout with as many fractional digits as
// tell the entries' distinct times apart: milliseconds at least, more
// when two events fall in the same millisecond.
func timeLayout(entries []audit.Entry) string {
	for _, digits := range []string{"000", "000000"} {
		layout := "2006-01-02T15:04:05." + digits + "Z07:00"
		if distinctAt(entries, layout) {
			return layout
		}
	}
	return "2006-01-02T15:04:05.000000000Z07:00"
}

func distinctAt(entries []audit.Entry, layout string) bool {
	seen := map[string]time.Time{}
	for _, e := range entries {
		s := e.Time.Format(layout)
		if t, ok := seen[s]; ok && !t.Equal(e.Time) {
			return false
		}
		seen[s] = e.Time
	}
	return true
}

// wrap breaks s at spaces so that no line is wider than width runes,
// continuing with indent; a word longer than a line is cut with "…".
func wrap(s string, width int, indent string) string {
	var out []string
	body := strings.TrimLeft(s, " ")
	line, first := s[:len(s)-len(body)], true
	for _, word := range strings.Split(body, " ") {
		switch {
		case first:
			line, first = line+word, false
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			out = append(out, cut(line, width))
			line = indent + word
		}
	}
	return strings.Join(append(out, cut(line, width)), "\n")
}

// cut shortens s to at most n runes, ending in "…" when it was longer.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func entriesUpTo(entries []audit.Entry, at time.Time) []audit.Entry {
	out := []audit.Entry{}
	for _, e := range entries {
		if !e.Time.After(at) {
			out = append(out, e)
		}
	}
	return out
}

func chainText(i audit.Integrity) string {
	if i.Intact {
		return "hash chain intact"
	}
	b := i.FirstBreak
	return fmt.Sprintf("HASH CHAIN BROKEN at version %d (position %d): %s", b.StreamVersion, b.Position, b.Reason)
}

func actorText(a *audit.Actor) string {
	switch {
	case a == nil:
		return "-"
	case a.Name == "":
		return a.TokenID
	}
	return fmt.Sprintf("%q %s", a.Name, a.TokenID)
}

func changesText(cs []audit.Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Field + ": " + value(c.Before) + " → " + value(c.After)
	}
	return strings.Join(parts, "; ")
}

// value shows a value in one short line: JSON, cut at 60 characters.
func value(v any) string {
	if v == nil {
		return "∅"
	}
	if f, ok := v.(domain.FileMeta); ok {
		return fmt.Sprintf("%s (%d bytes)", f.Name, f.Size)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if s := []rune(string(b)); len(s) > 60 {
		return string(s[:59]) + "…"
	}
	return string(b)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinPerms(ps []domain.Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ",")
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
