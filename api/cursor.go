package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/projections/leads"
)

// A list cursor is the last (updated_at, id) of a page, signed with
// HMAC-SHA256 over that key and the token and query it was issued for. A
// cursor that was altered, or is replayed by another token or with other
// filters, fails the signature and is refused as a bad cursor (400), so
// it can never move a list outside the query that made it.
const (
	cursorVersion = 1
	cursorKeyLen  = 1 + 8 + 16 // version, updated_at in µs, id
	cursorMACLen  = 16
)

// cursorBinding is what a cursor is only valid for: the token and every
// list parameter except limit.
func cursorBinding(tokenID uuid.UUID, q listQuery) []byte {
	b := append([]byte{}, tokenID[:]...)
	b = append(b, q.status...)
	b = append(b, 0)
	if q.updatedSince != nil {
		b = append(b, q.updatedSince.UTC().Format(time.RFC3339Nano)...)
	}
	b = append(b, 0)
	if q.campaignID != nil {
		b = append(b, q.campaignID[:]...)
	}
	return b
}

func cursorMAC(macKey, key, binding []byte) []byte {
	mac := hmac.New(sha256.New, macKey)
	mac.Write(key)
	mac.Write(binding)
	return mac.Sum(nil)[:cursorMACLen]
}

func (a *API) encodeCursor(k leads.Key, binding []byte) string {
	b := make([]byte, cursorKeyLen, cursorKeyLen+cursorMACLen)
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(k.UpdatedAt.UnixMicro()))
	copy(b[9:], k.ID[:])
	return base64.RawURLEncoding.EncodeToString(append(b, cursorMAC(a.cursorKeys[0], b, binding)...))
}

func (a *API) decodeCursor(s string, binding []byte) (leads.Key, error) {
	bad := badRequest("cursor", CodeInvalidCursor, "the cursor is not one this token was given for this query; start again without it")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorKeyLen+cursorMACLen || b[0] != cursorVersion {
		return leads.Key{}, bad
	}
	if !slices.ContainsFunc(a.cursorKeys, func(macKey []byte) bool {
		return hmac.Equal(b[cursorKeyLen:], cursorMAC(macKey, b[:cursorKeyLen], binding))
	}) {
		return leads.Key{}, bad
	}
	var id uuid.UUID
	copy(id[:], b[9:cursorKeyLen])
	return leads.Key{UpdatedAt: time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC(), ID: id}, nil
}
