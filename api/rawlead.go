package api

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/projections/leads"
)

// appendRawLead appends the lead of a view row as leadOut and writeJSON
// would encode it, without decoding its fields: the stored JSON is copied
// with its members in the same (sorted) order and no whitespace. Strings
// keep PostgreSQL's escaping, which is valid JSON with the same values.
// It reports false, having appended nothing, for a row it cannot copy
// (attached files, an escaped member name): such a row is decoded.
func appendRawLead(dst []byte, rl leads.RawLead) ([]byte, bool) {
	if !bytes.Equal(rl.Files, []byte("[]")) || !plainText(rl.Status) {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, `{"id":"`...)
	dst = appendUUID(dst, rl.ID)
	dst = append(dst, `","campaign_id":"`...)
	dst = appendUUID(dst, rl.CampaignID)
	dst = append(dst, `","status":`...)
	dst = strconv.AppendQuote(dst, rl.Status)
	dst = append(dst, `,"fields":`...)
	var ok bool
	if dst, ok = appendSortedObject(dst, rl.Fields); !ok {
		return dst[:start], false
	}
	dst = append(dst, `,"files":[],"version":`...)
	dst = strconv.AppendInt(dst, rl.Version, 10)
	dst = append(dst, `,"created_at":"`...)
	dst = rl.CreatedAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","updated_at":"`...)
	dst = rl.UpdatedAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `"}`...), true
}

// plainText reports whether strconv.Quote writes s as JSON would: printable
// ASCII without the characters JSON or HTML escaping treat specially.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendSortedObject appends the JSON object src with its top-level
// members sorted by name (encoding/json's order for a map) and the
// whitespace outside strings removed. src is PostgreSQL's text of a jsonb
// object, so it is well-formed; anything unexpected reports false.
func appendSortedObject(dst, src []byte) ([]byte, bool) {
	type member struct{ name, value []byte }
	var members []member
	i := skipSpace(src, 0)
	if i >= len(src) || src[i] != '{' {
		return dst, false
	}
	i = skipSpace(src, i+1)
	for i < len(src) && src[i] != '}' {
		end, escaped := stringEnd(src, i)
		if end < 0 || escaped {
			return dst, false
		}
		name := src[i:end]
		i = skipSpace(src, end)
		if i >= len(src) || src[i] != ':' {
			return dst, false
		}
		i = skipSpace(src, i+1)
		vend := valueEnd(src, i)
		if vend < 0 {
			return dst, false
		}
		members = append(members, member{name, src[i:vend]})
		i = skipSpace(src, vend)
		if i < len(src) && src[i] == ',' {
			i = skipSpace(src, i+1)
		}
	}
	if i >= len(src) {
		return dst, false
	}
	// By the names inside their quotes: a quote sorts before a space.
	slices.SortFunc(members, func(a, b member) int { return bytes.Compare(a.name[1:len(a.name)-1], b.name[1:len(b.name)-1]) })
	dst = append(dst, '{')
	for k, m := range members {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m.name...)
		dst = append(dst, ':')
		dst = appendCompact(dst, m.value)
	}
	return append(dst, '}'), true
}

func skipSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\t' || src[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at src[i] and
// whether it holds an escape; -1 when src[i] does not start one.
func stringEnd(src []byte, i int) (int, bool) {
	if i >= len(src) || src[i] != '"' {
		return -1, false
	}
	escaped := false
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, false
}

// valueEnd returns the index after the value starting at src[i].
func valueEnd(src []byte, i int) int {
	depth := 0
	for j := i; j < len(src); j++ {
		switch c := src[j]; c {
		case '"':
			end, _ := stringEnd(src, j)
			if end < 0 {
				return -1
			}
			if depth == 0 {
				return end
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j
			}
			depth--
			if depth == 0 {
				return j + 1
			}
		case ',':
			if depth == 0 {
				return j
			}
		case ' ', '\n', '\t', '\r':
			if depth == 0 {
				return j
			}
		}
	}
	if depth == 0 {
		return len(src)
	}
	return -1
}

// appendCompact appends a well-formed JSON value without the whitespace
// outside its strings.
func appendCompact(dst, v []byte) []byte {
	for j := 0; j < len(v); j++ {
		switch c := v[j]; c {
		case ' ', '\n', '\t', '\r':
		case '"':
			end, _ := stringEnd(v, j)
			if end < 0 {
				return append(dst, v[j:]...)
			}
			dst = append(dst, v[j:end]...)
			j = end - 1
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendUUID appends id in its canonical text form, as uuid.UUID's
// String does, without allocating.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], id[10:])
	return append(dst, buf[:]...)
}
