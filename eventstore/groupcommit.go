package eventstore

import (
	"context"
	"sync"
	"time"
)

// groupCommitter gathers concurrent single-stream appends into shared
// transactions. Under load, appends queue while a commit is in flight and
// the next commit takes them all, so the fsync per commit is shared; an
// idle store commits a lone append at once.
type groupCommitter struct {
	maxBatch int
	maxWait  time.Duration
	reqs     chan *groupReq
	quit     chan struct{}
	wg       sync.WaitGroup
}

type groupReq struct {
	ctx  context.Context
	enc  encoded
	recs []Record
	err  error
	done chan struct{}
}

// committers is how many group transactions may be in flight at once:
// two keep the database busy while a commit waits for fsync, and make
// bigger groups than more would (2: 1.85x, 4: 1.63x, 8: 1.55x the raw
// INSERT rate at 64 writers on a 2-core machine; docs/benchmarks.md).
const committers = 2

func (g *groupCommitter) start(s *Store) {
	g.reqs = make(chan *groupReq, g.maxBatch*committers)
	g.quit = make(chan struct{})
	for range committers {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.loop(s)
		}()
	}
}

func (g *groupCommitter) stop() {
	close(g.quit)
	g.wg.Wait()
}

func (g *groupCommitter) submit(ctx context.Context, e encoded) ([]Record, error) {
	r := &groupReq{ctx: ctx, enc: e, done: make(chan struct{})}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-g.quit:
		return nil, errStoreClosed
	}
	// Wait for the outcome even if ctx ends: the append may be committing,
	// and the caller must not be told it failed when it did not.
	<-r.done
	return r.recs, r.err
}

func (g *groupCommitter) loop(s *Store) {
	for {
		var first *groupReq
		select {
		case first = <-g.reqs:
		case <-g.quit:
			// Drain what is queued so no submitted append is left waiting.
			for {
				select {
				case r := <-g.reqs:
					g.commit(s, []*groupReq{r})
				default:
					return
				}
			}
		}
		batch := []*groupReq{first}
		var timeout <-chan time.Time
		if g.maxWait > 0 {
			timeout = time.After(g.maxWait)
		}
	gather:
		for len(batch) < g.maxBatch {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				if timeout == nil {
					break gather
				}
				select {
				case r := <-g.reqs:
					batch = append(batch, r)
				case <-timeout:
					break gather
				}
			}
		}
		g.commit(s, batch)
	}
}

// commit writes the batch in one round trip on the pool: a pgx batch
// outside an explicit transaction runs as one implicit transaction (its
// statements share one Sync), so all of it commits or none, without a
// BEGIN and a COMMIT round trip of their own. A version conflict fails
// only its own append (neither statement raises on one); any other error
// retries the members one by one so each gets its true outcome.
func (g *groupCommitter) commit(s *Store, batch []*groupReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	live := batch[:0:0]
	for _, r := range batch {
		if r.ctx.Err() != nil {
			r.err = r.ctx.Err()
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.WithoutCancel(live[0].ctx)
	encs := make([]encoded, len(live))
	for i, r := range live {
		encs[i] = r.enc
	}
	recs, errs, err := s.sendAppends(ctx, s.pool, encs)
	if err == nil {
		for i, r := range live {
			r.recs, r.err = recs[i], errs[i]
		}
		return
	}
	for _, r := range live {
		r.recs, r.err = s.appendDirect(context.WithoutCancel(r.ctx), r.enc)
	}
}
