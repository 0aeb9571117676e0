// Package audit answers auditors from the event log alone: a lead's and a
// token's history with actors and field-level changes, a lead as it was
// at any time or version, the exact set of leads a token could read at a
// time, the account's event feed in commit order, and the hash chain of a
// lead. Nothing here reads the current views (lead_views, tokens,
// filters, campaigns): every answer is a replay of the event log, read
// through the event store.
package audit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// Errors the API maps to problems; missing or other accounts' leads and
// tokens are domain.ErrLeadNotFound and domain.ErrTokenNotFound.
var (
	// ErrUnknownPosition: an after= that names no event of the account.
	ErrUnknownPosition = errors.New("after is not the position of an event in this account's log")
	// ErrPositionNotSettled: the event at after= is committed, but a
	// transaction older than it is still running, so what comes before it
	// in commit order is not known yet (invariant 3).
	ErrPositionNotSettled = errors.New("a transaction older than that position is still running; retry in a moment")
	// ErrBeforeCreation: the lead did not exist yet at the time or
	// version asked for.
	ErrBeforeCreation = errors.New("the lead did not exist at that time or version")
)

// VerifyFunc checks one stream's hash chain and returns its first broken
// link, nil when intact; eventstore.Store.VerifyStream is one.
type VerifyFunc func(ctx context.Context, streamID string) (*eventstore.ChainBreak, error)

// Config wires a Reader.
type Config struct {
	Store  *eventstore.Store // the log, decoded by the store's codec
	Verify VerifyFunc        // default Store.VerifyStream
	Clock  func() time.Time  // default time.Now
}

// Reader answers audit questions. Every method takes the caller's account
// and never reads another's events: another account's id is not found.
type Reader struct {
	store  *eventstore.Store
	pool   *pgxpool.Pool // for the set-based reads of the feed and of visibility
	verify VerifyFunc
	now    func() time.Time
}

// New returns a Reader for cfg.
func New(cfg Config) *Reader {
	r := &Reader{store: cfg.Store, pool: cfg.Store.Pool(), verify: cfg.Verify, now: cfg.Clock}
	if r.verify == nil {
		r.verify = cfg.Store.VerifyStream
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Entry is one event as auditors see it. Synthesized entries (a token's
// expiry, which is a moment and not an event) have no position, version
// or hash and say so in Synthesized.
type Entry struct {
	Position      int64           `json:"position,omitempty"`
	StreamID      string          `json:"stream_id"`
	StreamVersion int64           `json:"stream_version,omitempty"`
	EventID       *uuid.UUID      `json:"event_id,omitempty"`
	Type          string          `json:"type"`
	Time          time.Time       `json:"time"`
	CampaignID    *uuid.UUID      `json:"campaign_id,omitempty"`
	Actor         *Actor          `json:"actor"`
	RequestID     string          `json:"request_id"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	CausationID   string          `json:"causation_id,omitempty"`
	Data          json.RawMessage `json:"data"`
	// Kind, in a token's history: "lifecycle" (the token's own stream)
	// or "write" (an event the token's requests wrote).
	Kind        string   `json:"kind,omitempty"`
	Changes     []Change `json:"changes,omitempty"`
	Synthesized bool     `json:"synthesized,omitempty"`
	Note        string   `json:"note,omitempty"`
	Hash        string   `json:"hash,omitempty"`
	PrevHash    string   `json:"prev_hash,omitempty"`
}

// Actor is the token that wrote an event, with its name when the event
// was recorded (not its name today).
type Actor struct {
	TokenID string `json:"token_id"`
	Name    string `json:"name,omitempty"`
}

// Change is one field's value before and after an event; null on one
// side means the field was absent.
type Change struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// metadata is the stored event metadata (eventstore.Metadata).
type metadata struct {
	ActorTokenID  string `json:"actor_token_id"`
	RequestID     string `json:"request_id"`
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
}

// record is one stored event.
type record struct {
	Position   int64
	TxID       uint64
	StreamID   string
	Version    int64
	EventID    uuid.UUID
	Type       string
	CampaignID *uuid.UUID
	Data       []byte
	Meta       metadata
	At         time.Time
	PrevHash   []byte
	Hash       []byte
	Event      domain.Event // nil when not decoded or undecodable (a hand-edited event may not decode)
}

// fromRecords turns the store's records into the audit's.
func fromRecords(recs []eventstore.Record) []record {
	out := make([]record, len(recs))
	for i, r := range recs {
		out[i] = record{Position: r.Position, TxID: r.TxID, StreamID: r.StreamID, Version: r.StreamVersion, EventID: r.EventID,
			Type: r.Type, Data: r.Data, At: r.RecordedAt, PrevHash: r.PrevHash, Hash: r.Hash, Event: r.Event,
			Meta: metadata{ActorTokenID: r.Metadata.ActorTokenID, RequestID: r.Metadata.RequestID,
				CorrelationID: r.Metadata.CorrelationID, CausationID: r.Metadata.CausationID}}
		if r.CampaignID != uuid.Nil {
			campaign := r.CampaignID
			out[i].CampaignID = &campaign
		}
	}
	return out
}

// stream reads one aggregate's events of the account in version order,
// decoded where they can be (history must show an event that no longer
// decodes).
func (r *Reader) stream(ctx context.Context, accountID uuid.UUID, streamID string) ([]record, error) {
	recs, err := r.store.ReadStream(ctx, streamID, eventstore.ReadOptions{AccountID: accountID, Lenient: true})
	if err != nil {
		return nil, err
	}
	return fromRecords(recs), nil
}

// upTo keeps the records recorded at or before t; a zero t keeps all.
func upTo(recs []record, t time.Time) []record {
	if t.IsZero() {
		return recs
	}
	n := sort.Search(len(recs), func(i int) bool { return recs[i].At.After(t) })
	return recs[:n]
}

func events(recs []record) []domain.Event {
	out := make([]domain.Event, 0, len(recs))
	for _, rec := range recs {
		if rec.Event != nil {
			out = append(out, rec.Event)
		}
	}
	return out
}

// entry is the auditor's view of a record, without actor or changes.
func (rec record) entry() Entry {
	id := rec.EventID
	e := Entry{Position: rec.Position, StreamID: rec.StreamID, StreamVersion: rec.Version, EventID: &id, Type: rec.Type,
		Time: rec.At, CampaignID: rec.CampaignID, RequestID: rec.Meta.RequestID, CorrelationID: rec.Meta.CorrelationID,
		CausationID: rec.Meta.CausationID, Data: rec.Data, Hash: hex.EncodeToString(rec.Hash)}
	if len(rec.PrevHash) > 0 {
		e.PrevHash = hex.EncodeToString(rec.PrevHash)
	}
	return e
}

// actors names the tokens that wrote events: each token's stream is read
// once, and its name at an event's time is a search in its timeline.
type actors struct {
	r       *Reader
	account uuid.UUID
	names   map[string][]named
}

// named is a token's name from a time on.
type named struct {
	from time.Time
	name string
}

func (r *Reader) actors(accountID uuid.UUID) *actors {
	return &actors{r: r, account: accountID, names: map[string][]named{}}
}

// of returns the actor of an event recorded at t, nil when no token wrote
// it (the bootstrap commands). A token of another account, which no
// write can name, stays unnamed.
func (a *actors) of(ctx context.Context, m metadata, t time.Time) (*Actor, error) {
	if m.ActorTokenID == "" {
		return nil, nil
	}
	timeline, ok := a.names[m.ActorTokenID]
	if !ok {
		var err error
		if timeline, err = a.load(ctx, m.ActorTokenID); err != nil {
			return nil, err
		}
		a.names[m.ActorTokenID] = timeline
	}
	out := &Actor{TokenID: m.ActorTokenID}
	if i := sort.Search(len(timeline), func(i int) bool { return timeline[i].from.After(t) }); i > 0 {
		out.Name = timeline[i-1].name
	}
	return out, nil
}

func (a *actors) load(ctx context.Context, tokenID string) ([]named, error) {
	id, err := uuid.Parse(tokenID)
	if err != nil {
		return nil, nil
	}
	recs, err := a.r.stream(ctx, a.account, domain.TokenStream(id))
	if err != nil {
		return nil, fmt.Errorf("actor %s: %w", tokenID, err)
	}
	var (
		out []named
		tok domain.Token
	)
	for _, rec := range recs {
		if rec.Event == nil {
			continue
		}
		tok = tok.Evolve(rec.Event)
		if len(out) == 0 || out[len(out)-1].name != tok.Name {
			out = append(out, named{from: rec.At, name: tok.Name})
		}
	}
	return out, nil
}

// cursor is a place in commit order, (transaction id, position).
type cursor struct {
	tx  uint64
	pos int64
	at  time.Time // when the event there was recorded
}

// cursorOf maps a position of the account's log to its place in commit
// order. The event must be below the oldest running transaction: what
// precedes it in commit order is then final, and resuming after it skips
// nothing (invariant 3).
func (r *Reader) cursorOf(ctx context.Context, accountID uuid.UUID, position int64) (cursor, error) {
	if position == 0 {
		return cursor{}, nil
	}
	recs, err := r.store.ReadPositions(ctx, []int64{position})
	if err != nil {
		return cursor{}, fmt.Errorf("position %d: %w", position, err)
	}
	if len(recs) == 0 || recs[0].AccountID != accountID {
		return cursor{}, ErrUnknownPosition
	}
	// The horizon only rises: read after the event, it is at least what
	// it was then.
	horizon, err := r.store.Horizon(ctx)
	if err != nil {
		return cursor{}, fmt.Errorf("position %d: %w", position, err)
	}
	if recs[0].TxID >= horizon {
		return cursor{}, ErrPositionNotSettled
	}
	return cursor{tx: recs[0].TxID, pos: position, at: recs[0].RecordedAt}, nil
}

// AccountOf returns the account a stream belongs to, for operators'
// tools that answer for any account (the command line); found is false
// when the stream has no events.
func (r *Reader) AccountOf(ctx context.Context, streamID string) (account uuid.UUID, found bool, err error) {
	return r.store.StreamAccount(ctx, streamID)
}
