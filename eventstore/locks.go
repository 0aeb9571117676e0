package eventstore

import (
	"context"
	"time"
)

// WithTryLock runs fn while holding the session-level advisory lock
// named key (mixed with the schema, like the relay's) on a connection of
// its own; when another session holds it, fn does not run and locked is
// false. Background jobs that several processes run use it so that one
// process at a time works on one thing; the lock dies with the
// connection, so a process that stops frees it.
func (s *Store) WithTryLock(ctx context.Context, key string, fn func(context.Context) error) (locked bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	const lockKey = `hashtextextended($1, 0) # hashtextextended(coalesce(current_schema(), ''), 0)`
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKey+`)`, key).Scan(&locked); err != nil || !locked {
		return false, err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock(`+lockKey+`)`, key); uerr != nil {
			// The session is unusable; closing it is what frees the lock.
			_ = conn.Conn().Close(uctx)
		}
	}()
	return true, fn(ctx)
}
