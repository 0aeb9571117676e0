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
}

func parseHistoryArgs(kind, rawID, at string, asJSON bool) (historyArgs, error) {
	h := historyArgs{kind: kind, json: asJSON}
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
	fmt.Fprintf(stdout, "lead %s  campaign %s  version %d  %s\n", hist.LeadID, hist.CampaignID, hist.Version, chainText(hist.Integrity))
	if state == nil {
		fmt.Fprintf(stdout, "at %s: the lead did not exist yet\n", h.at.Format(time.RFC3339))
	} else {
		when := "now"
		if !h.at.IsZero() {
			when = "at " + h.at.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s: version %d, status %s, %d fields, %d files\n", when, state.Version, state.Status, len(state.Fields), len(state.Files))
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, k := range slices.Sorted(maps.Keys(state.Fields)) {
			fmt.Fprintf(tw, "  %s\t%s\n", k, value(state.Fields[k]))
		}
		for _, f := range state.Files {
			fmt.Fprintf(tw, "  file %s\t%s (%s, %d bytes)\n", f.ID, f.Name, f.ContentType, f.Size)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout)
	return entriesTable(stdout, hist.Data, false)
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
		when = "at " + h.at.Format(time.RFC3339)
	}
	if t.State == audit.StateNotCreated {
		fmt.Fprintf(stdout, "token %s did not exist yet %s\n\n", h.id, when)
	} else {
		fmt.Fprintf(stdout, "token %s %q  %s  permissions %s  %s: %s\n\n", t.ID, t.Name, scope, joinPerms(t.Permissions), when, t.State)
	}
	if err := entriesTable(stdout, hist.Data, true); err != nil {
		return err
	}
	if visible != nil {
		fmt.Fprintf(stdout, "\nvisible at %s: %d leads (%s)", visible.At.Format(time.RFC3339), visible.Count, visible.State)
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
	for _, e := range entries {
		pos, ver := "-", "-"
		if e.Position > 0 {
			pos, ver = fmt.Sprint(e.Position), fmt.Sprint(e.StreamVersion)
		}
		changes := changesText(e.Changes)
		if e.Synthesized {
			changes = "(synthesized: " + e.Note + ")"
		}
		at := e.Time.Format("2006-01-02T15:04:05.000Z07:00")
		if token {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", pos, at, e.Kind, e.Type, e.StreamID, ver, actorText(e.Actor), dash(e.RequestID), changes)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", pos, ver, at, e.Type, actorText(e.Actor), dash(e.RequestID), changes)
		}
	}
	return tw.Flush()
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
