package commands

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/leadsvc/leadsvc/domain"
)

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
