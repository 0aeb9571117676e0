// Package sessions keeps the admin console's sign-in sessions in
// PostgreSQL (table console_sessions). A session id is 32 random bytes
// handed to the browser once; only its SHA-256 is stored. A session only
// says which token signed in: whoever uses it re-checks that token on
// every request, so revoking the token ends the session at once.
package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is an unknown, malformed, signed-out or expired session id.
var ErrNotFound = errors.New("no such session")

// Defaults of Config's zero values.
const (
	DefaultIdleTimeout = 12 * time.Hour
	DefaultMaxAge      = 24 * time.Hour
	// touchEvery bounds how often a session's last use is written, so
	// that browsing is not a write per page.
	touchEvery = time.Minute
)

// Config wires a Store.
type Config struct {
	Pool *pgxpool.Pool
	// IdleTimeout ends a session unused this long; MaxAge ends any
	// session this long after sign-in.
	IdleTimeout time.Duration
	MaxAge      time.Duration
	Clock       func() time.Time // default time.Now
	Random      io.Reader        // default crypto/rand
}

// Store creates, finds and ends sessions.
type Store struct {
	pool    *pgxpool.Pool
	idle    time.Duration
	maxAge  time.Duration
	now     func() time.Time
	rnd     io.Reader
	idBytes int
}

// New returns a store for cfg, with defaults for zero values.
func New(cfg Config) *Store {
	s := &Store{pool: cfg.Pool, idle: cfg.IdleTimeout, maxAge: cfg.MaxAge, now: cfg.Clock, rnd: cfg.Random, idBytes: 32}
	if s.idle <= 0 {
		s.idle = DefaultIdleTimeout
	}
	if s.maxAge <= 0 {
		s.maxAge = DefaultMaxAge
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rnd == nil {
		s.rnd = rand.Reader
	}
	return s
}

// MaxAge is how long a session lasts at most; the cookie carries it.
func (s *Store) MaxAge() time.Duration { return s.maxAge }

// Session is what a session id stands for.
type Session struct {
	TokenID    uuid.UUID
	AccountID  uuid.UUID
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

func (s *Store) at() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// Create opens a session for a token and returns its id, the only copy of
// which goes to the caller. Expired sessions are swept on the way.
func (s *Store) Create(ctx context.Context, tokenID, accountID uuid.UUID) (string, Session, error) {
	b := make([]byte, s.idBytes)
	if _, err := io.ReadFull(s.rnd, b); err != nil {
		return "", Session{}, fmt.Errorf("session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := s.at()
	sess := Session{TokenID: tokenID, AccountID: accountID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.maxAge)}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2`,
			now, now.Add(-s.idle)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_sessions (id_hash, token_id, account_id, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, hashID(id), tokenID, accountID, now, now, sess.ExpiresAt)
		return err
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	return id, sess, nil
}

// validID accepts only what Create hands out, so that arbitrary cookie
// values never reach a query.
func (s *Store) validID(id string) bool {
	b, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil && len(b) == s.idBytes
}

// Lookup returns the live session of id and records its use (at most once
// a minute). An idle or past-its-age session is ErrNotFound.
func (s *Store) Lookup(ctx context.Context, id string) (Session, error) {
	if !s.validID(id) {
		return Session{}, ErrNotFound
	}
	now := s.at()
	var sess Session
	err := s.pool.QueryRow(ctx, `SELECT token_id, account_id, created_at, last_seen_at, expires_at FROM console_sessions
		WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $3`, hashID(id), now, now.Add(-s.idle)).
		Scan(&sess.TokenID, &sess.AccountID, &sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up session: %w", err)
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if _, err := s.pool.Exec(ctx, `UPDATE console_sessions SET last_seen_at = $2 WHERE id_hash = $1`, hashID(id), now); err != nil {
			return Session{}, fmt.Errorf("touch session: %w", err)
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// Delete ends a session (sign out); an unknown id is not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	if !s.validID(id) {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, hashID(id)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteToken ends every session opened with a token, for a token that no
// longer may sign in.
func (s *Store) DeleteToken(ctx context.Context, tokenID uuid.UUID) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_id = $1`, tokenID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}
