package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// ErrVersionConflict is returned when an append's expected version is not
// the stream's current version (invariant 2).
var ErrVersionConflict = errors.New("stream version conflict")

// AnyVersion as an expected version appends at whatever version the stream
// has; only for streams with a single writer by construction.
const AnyVersion int64 = -1

// Metadata travels with every event; none of it is personal data.
type Metadata = domain.EventMetadata

// Codec names and (de)serialises domain events; *domain.Registry is one.
type Codec interface {
	Encode(domain.Event) (string, json.RawMessage, error)
	Decode(name string, data json.RawMessage) (domain.Event, error)
}

// Cursor is a place in the global read order (domain.Cursor): reads in
// that order only below the oldest running transaction (invariant 3).
type Cursor = domain.Cursor

// Record is a stored event.
type Record struct {
	Position      int64
	TxID          uint64
	StreamID      string
	StreamVersion int64
	EventID       uuid.UUID
	Type          string
	AccountID     uuid.UUID
	CampaignID    uuid.UUID // uuid.Nil when the event belongs to no campaign
	Data          json.RawMessage
	Metadata      Metadata
	RecordedAt    time.Time
	PrevHash      []byte
	Hash          []byte
	Event         domain.Event // Data decoded by the store's codec
}

// Cursor returns the record's place in the global order.
func (r Record) Cursor() Cursor { return Cursor{TxID: r.TxID, Position: r.Position} }

// Append is one stream's share of a write.
type Append struct {
	StreamID        string
	ExpectedVersion int64 // current version of the stream, 0 for a new stream, or AnyVersion
	AccountID       uuid.UUID
	CampaignID      uuid.UUID
	Events          []domain.Event
	Metadata        Metadata
	// Guard, when set, must hold when the append commits: ErrGuardFailed
	// otherwise, with nothing of the write committed.
	Guard Guard
}

// Appended tells a writer where its events landed.
type Appended struct {
	Records []Record // with Position, TxID, version, id, hash and time filled in
}

// LastPosition is the highest position written, 0 when none: a reader
// that has reached it has seen the whole write. (The appends of one write
// need not take their positions in the order they were given.)
func (a Appended) LastPosition() int64 {
	var last int64
	for _, r := range a.Records {
		last = max(last, r.Position)
	}
	return last
}

// Inline runs inside the append's transaction, after the events are inserted,
// to keep views that must be exact now (tokens, campaign schema) in step with
// the log (invariant 5). An error rolls the whole write back.
type Inline func(ctx context.Context, tx pgx.Tx, recs []Record) error

// Decider decides new events from a stream's history. Returning no events
// makes Update a no-op.
type Decider func(history []Record) ([]domain.Event, error)

// ReadOptions bounds a stream read. Zero values mean no bound.
type ReadOptions struct {
	UpToVersion int64
	UpTo        time.Time // inclusive: events recorded at or before UpTo
	AccountID   uuid.UUID // when set, only that account's events: another's stream reads as missing
	// Lenient keeps an event this build cannot decode, with a nil Event,
	// instead of failing the read: history shows what it cannot fold.
	Lenient bool
}

// ChainBreak names the first event of a stream whose hash does not match.
// Auditors see it as JSON.
type ChainBreak struct {
	StreamID      string `json:"stream_id"`
	StreamVersion int64  `json:"stream_version"`
	Position      int64  `json:"position"`
	Reason        string `json:"reason"`
}

var errStoreClosed = errors.New("event store closed")

func isConflict(err error) bool { return errors.Is(err, ErrVersionConflict) }
