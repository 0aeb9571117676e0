package commands

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A sealed secret is a version byte, the id of the key that sealed it,
// then the nonce and the AES-256-GCM ciphertext. The header is part of
// the additional data, so a value cannot be relabelled with another key
// id. Values sealed before key ids are the nonce and ciphertext alone;
// they still open under any configured key.
const (
	sealVersion   = 1
	keyIDLen      = 8
	sealHeaderLen = 1 + keyIDLen
)

// KeyID names a secret key without revealing it: the first 8 bytes of
// HMAC-SHA256(key, "leadsvc key id"), printed as 16 hex digits.
type KeyID [keyIDLen]byte

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// KeyIDOf returns the id of key.
func KeyIDOf(key []byte) KeyID {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("leadsvc key id"))
	var id KeyID
	copy(id[:], mac.Sum(nil))
	return id
}

type sealingKey struct {
	id   KeyID
	aead cipher.AEAD
}

// Sealer encrypts secrets at rest with AES-256-GCM under its current key
// and opens them under any of its keys. Callers give additional data
// that binds a value to its row (a token or subscription id), so a sealed
// secret copied to another row does not open.
type Sealer struct {
	keys []sealingKey // keys[0] is the current key, the one that seals
}

// NewSealer returns a sealer that seals with current and opens with
// current and each of previous; every key is 32 bytes.
func NewSealer(current []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for i, key := range append([][]byte{current}, previous...) {
		if len(key) != 32 {
			if i == 0 {
				return nil, errors.New("secret key: need 32 bytes")
			}
			return nil, fmt.Errorf("previous secret key %d: need 32 bytes", i)
		}
		id := KeyIDOf(key)
		if s.key(id) != nil {
			continue
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, sealingKey{id: id, aead: aead})
	}
	return s, nil
}

// Current is the id of the key that seals.
func (s *Sealer) Current() KeyID { return s.keys[0].id }

// KeyIDs are the ids of every key that opens, the current one first.
func (s *Sealer) KeyIDs() []KeyID {
	ids := make([]KeyID, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.id
	}
	return ids
}

func (s *Sealer) key(id KeyID) *sealingKey {
	for i := range s.keys {
		if s.keys[i].id == id {
			return &s.keys[i]
		}
	}
	return nil
}

// describeKeys names the sealer's keys for an operator.
func (s *Sealer) describeKeys() string {
	names := make([]string, len(s.keys))
	for i, k := range s.keys {
		names[i] = k.id.String()
		if i == 0 {
			names[i] += " (current)"
		}
	}
	return strings.Join(names, ", ")
}

// header is the version byte and the current key's id.
func header(id KeyID) []byte { return append([]byte{sealVersion}, id[:]...) }

func (s *Sealer) seal(ad []byte, secret string) ([]byte, error) {
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	h := header(k.id)
	out := append(h, nonce...)
	return k.aead.Seal(out, nonce, []byte(secret), append(h[:sealHeaderLen:sealHeaderLen], ad...)), nil
}

// sealedKeyID is the key id stored with sealed; false for a value sealed
// before key ids (or, once in 256, one whose nonce starts like a header:
// open tries both forms).
func sealedKeyID(sealed []byte) (KeyID, bool) {
	var id KeyID
	if len(sealed) < sealHeaderLen || sealed[0] != sealVersion {
		return id, false
	}
	copy(id[:], sealed[1:sealHeaderLen])
	return id, true
}

func (s *Sealer) open(ad, sealed []byte) (string, error) {
	if id, ok := sealedKeyID(sealed); ok {
		if k := s.key(id); k != nil {
			h := sealed[:sealHeaderLen:sealHeaderLen]
			if plain, err := openAEAD(k.aead, append(h, ad...), sealed[sealHeaderLen:]); err == nil {
				return plain, nil
			}
		}
	}
	if _, plain, ok := s.openUnversioned(ad, sealed); ok {
		return plain, nil
	}
	return "", &KeyError{Sealed: sealed, Have: s.describeKeys()}
}

// openUnversioned opens a value sealed before key ids under any key, and
// says which.
func (s *Sealer) openUnversioned(ad, sealed []byte) (KeyID, string, bool) {
	for _, k := range s.keys {
		if plain, err := openAEAD(k.aead, ad, sealed); err == nil {
			return k.id, plain, true
		}
	}
	return KeyID{}, "", false
}

func openAEAD(aead cipher.AEAD, ad, body []byte) (string, error) {
	n := aead.NonceSize()
	if len(body) < n+aead.Overhead() {
		return "", errors.New("sealed secret too short")
	}
	plain, err := aead.Open(nil, body[:n], body[n:], ad)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// KeyError is a sealed secret that none of the configured keys opens.
type KeyError struct {
	Sealed []byte
	Have   string // the configured key ids
}

func (e *KeyError) Error() string {
	if id, ok := sealedKeyID(e.Sealed); ok {
		return fmt.Sprintf("a secret sealed under key id %s cannot be opened with this process's keys (%s)", id, e.Have)
	}
	return fmt.Sprintf("a secret sealed before key ids cannot be opened with this process's keys (%s)", e.Have)
}

// Unwrap makes a KeyError an ErrSecretKeyMismatch.
func (e *KeyError) Unwrap() error { return ErrSecretKeyMismatch }

// ErrSecretKeyMismatch is a secret key that cannot open the secrets
// already stored.
var ErrSecretKeyMismatch = errors.New("the secret key cannot open the secrets already stored")

// ParseKeyID reads a key id as KeyID.String prints it.
func ParseKeyID(s string) (KeyID, error) {
	var id KeyID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != keyIDLen {
		return id, fmt.Errorf("%q is not a key id (16 hex digits, as leadsvc keys status prints)", s)
	}
	copy(id[:], b)
	return id, nil
}
