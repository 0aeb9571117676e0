package commands

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// Sealer encrypts token secrets at rest with AES-256-GCM. The token id is
// the additional data, so a sealed secret copied to another row does not
// open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("secret key: need 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

func (s *Sealer) seal(tokenID uuid.UUID, secret string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(secret), tokenID[:]), nil
}

func (s *Sealer) open(tokenID uuid.UUID, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], tokenID[:])
	if err != nil {
		return "", fmt.Errorf("open sealed secret (was LEADSVC_SECRET_KEY changed?): %w", err)
	}
	return string(plain), nil
}

// ErrSecretKeyMismatch is a secret key that cannot open the secrets
// already stored.
var ErrSecretKeyMismatch = errors.New("the secret key cannot open the secrets already stored")

// CheckSecretKey opens the newest stored token secret and webhook signing
// secret with the handlers' key. A process running with another key
// (another data directory's, a changed LEADSVC_SECRET_KEY) would fail
// every "Show" and seal secrets that the first key cannot open. With
// nothing stored there is nothing to check.
func (c *Commands) CheckSecretKey(ctx context.Context) error {
	for _, probe := range []struct {
		what, query string
		open        func(uuid.UUID, []byte) (string, error)
	}{
		{"token", `SELECT id, secret_sealed FROM tokens WHERE secret_sealed IS NOT NULL ORDER BY created_at DESC, id LIMIT 1`,
			c.sealer.open},
		{"webhook", `SELECT id, secret_sealed FROM webhooks WHERE secret_sealed IS NOT NULL ORDER BY created_at DESC, id LIMIT 1`,
			c.OpenWebhookSecret},
	} {
		var (
			id     uuid.UUID
			sealed []byte
		)
		err := c.pool.QueryRow(ctx, probe.query).Scan(&id, &sealed)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check the secret key: %w", err)
		}
		if _, err := probe.open(id, sealed); err != nil {
			return fmt.Errorf("%w (the %s secret of %s)", ErrSecretKeyMismatch, probe.what, id)
		}
	}
	return nil
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Why a replayed answer shows no secret (TokenSecretResult.Withheld,
// WebhookSecretResult.Withheld).
const (
	SecretRotated = "rotated" // a rotation made another secret since
	SecretRevoked = "revoked" // the token was revoked: its secret is gone
	SecretDeleted = "deleted" // the webhook was deleted with its secrets
)

// errSecretChanged stops a replay from showing a secret that is no longer
// the one its first answer carried.
var errSecretChanged = errors.New("the secret changed since the first answer")

// sameSecret reports whether a stored secret's hash is the one recorded
// with a first answer.
func sameSecret(hash, recorded []byte) bool {
	return len(recorded) == sha256.Size && subtle.ConstantTimeCompare(hash, recorded) == 1
}

// newSecret returns a fresh token secret: 256 bits from rnd.
func newSecret(rnd io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("token secret: %w", err)
	}
	return domain.FormatTokenSecret(b), nil
}

const docsIDAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// newDocsID returns the unguessable id of a token's public documentation:
// 27 base62 characters (about 160 bits), unrelated to the secret.
func newDocsID(rnd io.Reader) (string, error) {
	b := make([]byte, 27)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("docs id: %w", err)
	}
	for i := range b {
		// 256 % 62 = 8: a slight bias over 27 characters leaves well over
		// 128 bits of entropy.
		b[i] = docsIDAlphabet[int(b[i])%len(docsIDAlphabet)]
	}
	return string(b), nil
}
