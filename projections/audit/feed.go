package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/google/uuid"
)

// Feed limits: events per response and per database read.
const (
	DefaultFeedLimit = 10000
	MaxFeedLimit     = 100000
	feedPage         = 1000
)

// FeedQuery asks for the account's events after a position.
type FeedQuery struct {
	// After is 0 for the beginning, or the position of the last event a
	// previous response delivered (its end line's next_after).
	After int64
	Limit int // events in this response; 0 means DefaultFeedLimit
}

// FeedEnd is the last line of a feed response: where to resume, how many
// events came, and whether more were already there.
type FeedEnd struct {
	End       bool  `json:"end"` // always true: tells the end line from an event
	NextAfter int64 `json:"next_after"`
	Count     int   `json:"count"`
	More      bool  `json:"more"`
}

// Feed is an account's events in commit order from a cursor, ready to
// stream.
type Feed struct {
	r       *Reader
	account uuid.UUID
	from    cursor
	after   int64
	limit   int
}

// OpenFeed resolves where the feed resumes. A position is not a cursor
// by itself (positions commit out of order); the position of an event
// names its place in commit order, (transaction id, position), and every
// event before that place was already readable when the event was
// delivered, so resuming after it skips and repeats nothing (invariant
// 3). An after that is not an event of the account is
// ErrUnknownPosition; one whose place is not yet final,
// ErrPositionNotSettled.
func (r *Reader) OpenFeed(ctx context.Context, accountID uuid.UUID, q FeedQuery) (*Feed, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultFeedLimit
	}
	from, err := r.cursorOf(ctx, accountID, q.After)
	if err != nil {
		return nil, err
	}
	return &Feed{r: r, account: accountID, from: from, after: q.After, limit: min(q.Limit, MaxFeedLimit)}, nil
}

// Stream writes the feed as NDJSON: one event per line, then the end
// line. It reads a page at a time below the oldest running transaction
// and calls flush after each page, so a client sees events as they are
// read. On an error the returned end still says where to resume.
func (f *Feed) Stream(ctx context.Context, w io.Writer, flush func() error) (FeedEnd, error) {
	end := FeedEnd{End: true, NextAfter: f.after}
	bw := bufio.NewWriterSize(w, 64<<10)
	who := f.r.actors(f.account)
	at := f.from
	for end.Count < f.limit {
		left := f.limit - end.Count
		n := feedPage
		if left <= feedPage {
			n = left + 1 // one more than is left tells whether more are waiting
		}
		recs, err := f.r.query(ctx, false, `SELECT `+recordColumns+` FROM events
			WHERE account_id = $1 AND (tx_id, position) > ($2::text::xid8, $3)
			  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
			ORDER BY tx_id, position LIMIT $4`, f.account, strconv.FormatUint(at.tx, 10), at.pos, n)
		if err != nil {
			return end, fmt.Errorf("feed after %d: %w", end.NextAfter, err)
		}
		if len(recs) > left {
			recs, end.More = recs[:left], true
		}
		for _, rec := range recs {
			e := rec.entry()
			if e.Actor, err = who.of(ctx, rec.Meta, rec.At); err != nil {
				return end, err
			}
			line, err := json.Marshal(e)
			if err != nil {
				return end, err
			}
			if _, err := bw.Write(append(line, '\n')); err != nil {
				return end, err
			}
			end.Count++
			end.NextAfter = rec.Position
			at = cursor{tx: rec.TxID, pos: rec.Position}
		}
		if err := bw.Flush(); err != nil {
			return end, err
		}
		if flush != nil {
			if err := flush(); err != nil {
				return end, err
			}
		}
		if len(recs) < n {
			break
		}
	}
	line, err := json.Marshal(end)
	if err != nil {
		return end, err
	}
	if _, err := bw.Write(append(line, '\n')); err != nil {
		return end, err
	}
	if err := bw.Flush(); err != nil {
		return end, err
	}
	if flush != nil {
		return end, flush()
	}
	return end, nil
}
