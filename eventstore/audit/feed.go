package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/eventstore"
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
	var line []byte
	for end.Count < f.limit {
		left := f.limit - end.Count
		n := feedPage
		if left <= feedPage {
			n = left + 1 // one more than is left tells whether more are waiting
		}
		page, err := f.page(ctx, at, n)
		if err != nil {
			return end, fmt.Errorf("feed after %d: %w", end.NextAfter, err)
		}
		rows := page.rows
		if len(rows) > left {
			rows, end.More = rows[:left], true
		}
		for i := range rows {
			row := page.row(i)
			micros, _ := strconv.ParseInt(string(row[colTime]), 10, 64)
			t := time.UnixMicro(micros).UTC()
			var actor *Actor
			if row[colActor] != nil {
				if actor, err = who.of(ctx, metadata{ActorTokenID: string(row[colActor])}, t); err != nil {
					return end, err
				}
			}
			if _, err := bw.Write(appendFeedLine(line[:0], row, t, actor)); err != nil {
				return end, err
			}
			end.Count++
			end.NextAfter, _ = strconv.ParseInt(string(row[colPosition]), 10, 64)
			tx, _ := strconv.ParseUint(string(row[colTx]), 10, 64)
			at = cursor{tx: tx, pos: end.NextAfter}
		}
		if err := bw.Flush(); err != nil {
			return end, err
		}
		if flush != nil {
			if err := flush(); err != nil {
				return end, err
			}
		}
		if len(page.rows) < n {
			break
		}
	}
	last, err := json.Marshal(end)
	if err != nil {
		return end, err
	}
	if _, err := bw.Write(append(last, '\n')); err != nil {
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

// The feed's columns (eventstore.ReadAccountText).
const (
	colPosition    = eventstore.TextPosition
	colTx          = eventstore.TextTxID
	colStream      = eventstore.TextStreamID
	colVersion     = eventstore.TextStreamVersion
	colEventID     = eventstore.TextEventID
	colType        = eventstore.TextType
	colCampaign    = eventstore.TextCampaignID
	colData        = eventstore.TextData
	colActor       = eventstore.TextActorTokenID
	colRequest     = eventstore.TextRequestID
	colCorrelation = eventstore.TextCorrelationID
	colCausation   = eventstore.TextCausationID
	colTime        = eventstore.TextRecordedAtMicros
	colHash        = eventstore.TextHash
	colPrevHash    = eventstore.TextPrevHash
	feedCols       = eventstore.TextColumns
)

// feedPageRows is one page of the feed: every column's bytes copied into
// one arena, so the connection is free again before the lines are
// written (naming an actor may read its token's stream).
type feedPageRows struct {
	arena []byte
	rows  [][feedCols][2]int32 // start, end in arena; start -1 for NULL
	buf   [feedCols][]byte
}

func (p *feedPageRows) row(i int) *[feedCols][]byte {
	for c, span := range p.rows[i] {
		p.buf[c] = nil
		if span[0] >= 0 {
			p.buf[c] = p.arena[span[0]:span[1]]
		}
	}
	return &p.buf
}

// page reads up to n of the account's events after at in commit order,
// below the oldest running transaction (invariant 3).
func (f *Feed) page(ctx context.Context, at cursor, n int) (*feedPageRows, error) {
	p := &feedPageRows{}
	err := f.r.store.ReadAccountText(ctx, f.account, eventstore.Cursor{TxID: at.tx, Position: at.pos}, n, func(row [][]byte) error {
		var spans [feedCols][2]int32
		for c, v := range row {
			if v == nil {
				spans[c] = [2]int32{-1, -1}
				continue
			}
			spans[c] = [2]int32{int32(len(p.arena)), int32(len(p.arena) + len(v))}
			p.arena = append(p.arena, v...)
		}
		p.rows = append(p.rows, spans)
		return nil
	})
	return p, err
}

// appendFeedLine writes one event as the JSON of an Entry (without the
// history-only members) and a newline.
func appendFeedLine(b []byte, c *[feedCols][]byte, t time.Time, actor *Actor) []byte {
	b = append(b, `{"position":`...)
	b = append(b, c[colPosition]...)
	b = append(b, `,"stream_id":`...)
	b = appendJSONString(b, c[colStream])
	b = append(b, `,"stream_version":`...)
	b = append(b, c[colVersion]...)
	b = append(b, `,"event_id":`...)
	b = appendJSONString(b, c[colEventID])
	b = append(b, `,"type":`...)
	b = appendJSONString(b, c[colType])
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if c[colCampaign] != nil {
		b = append(b, `,"campaign_id":`...)
		b = appendJSONString(b, c[colCampaign])
	}
	b = append(b, `,"actor":`...)
	if actor == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"token_id":`...)
		b = appendJSONString(b, []byte(actor.TokenID))
		if actor.Name != "" {
			b = append(b, `,"name":`...)
			b = appendJSONString(b, []byte(actor.Name))
		}
		b = append(b, '}')
	}
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, c[colRequest])
	for _, m := range []struct {
		name string
		col  int
	}{{`,"correlation_id":`, colCorrelation}, {`,"causation_id":`, colCausation}} {
		if len(c[m.col]) > 0 {
			b = append(b, m.name...)
			b = appendJSONString(b, c[m.col])
		}
	}
	// jsonb's text is valid JSON on one line: strings escape newlines.
	b = append(b, `,"data":`...)
	b = append(b, c[colData]...)
	b = append(b, `,"hash":"`...)
	b = append(b, c[colHash]...)
	b = append(b, '"')
	if len(c[colPrevHash]) > 0 {
		b = append(b, `,"prev_hash":"`...)
		b = append(b, c[colPrevHash]...)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendJSONString writes s as a JSON string, escaped as encoding/json
// escapes it (control characters, quotes, backslashes, U+2028 and U+2029;
// invalid UTF-8 becomes U+FFFD).
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
