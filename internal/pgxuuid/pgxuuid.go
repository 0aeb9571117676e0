// Package pgxuuid teaches pgx to send and read github.com/google/uuid
// values as PostgreSQL's 16 binary bytes. Left to itself pgx treats
// uuid.UUID as a database/sql Valuer and Scanner: every parameter becomes
// text, fails a binary encoding (building an error on the way), is parsed
// back and encoded again; every column is formatted to text and parsed.
// For an array of ids that is the cost of each element, and it was a fifth
// of the event store's CPU time in a group commit.
package pgxuuid

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Register makes m encode and scan uuid.UUID natively, for uuid and
// uuid[] alike; every other Go type keeps pgx's own uuid handling. Where
// a parameter's type is unknown (the simple protocol) uuid.UUID and
// []uuid.UUID are taken for uuid and uuid[].
func Register(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: codec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
	m.RegisterDefaultPgType(uuid.UUID{}, "uuid")
	m.RegisterDefaultPgType([]uuid.UUID(nil), "_uuid")
}

// Registered reports whether Register has been applied to m.
func Registered(m *pgtype.Map) bool {
	t, ok := m.TypeForOID(pgtype.UUIDOID)
	if !ok {
		return false
	}
	_, ours := t.Codec.(codec)
	return ours
}

// AfterConnect is Register for pgxpool.Config.AfterConnect.
func AfterConnect(_ context.Context, conn *pgx.Conn) error {
	Register(conn.TypeMap())
	return nil
}

type codec struct{ pgtype.UUIDCodec }

func (c codec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok {
		switch format {
		case pgtype.BinaryFormatCode:
			return encodeBinary{}
		case pgtype.TextFormatCode:
			return encodeText{}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c codec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok {
		switch format {
		case pgtype.BinaryFormatCode:
			return scanBinary{}
		case pgtype.TextFormatCode:
			return scanText{}
		}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeBinary struct{}

func (encodeBinary) Encode(value any, buf []byte) ([]byte, error) {
	id := value.(uuid.UUID)
	return append(buf, id[:]...), nil
}

type encodeText struct{}

func (encodeText) Encode(value any, buf []byte) ([]byte, error) {
	return append(buf, value.(uuid.UUID).String()...), nil
}

type scanBinary struct{}

func (scanBinary) Scan(src []byte, dst any) error {
	id := dst.(*uuid.UUID)
	if src == nil {
		// As uuid.UUID's own Scan does: NULL leaves the value as it was.
		return id.Scan(nil)
	}
	if len(src) != len(id) {
		return fmt.Errorf("uuid: %d bytes, want %d", len(src), len(id))
	}
	copy(id[:], src)
	return nil
}

type scanText struct{}

func (scanText) Scan(src []byte, dst any) error {
	id := dst.(*uuid.UUID)
	if src == nil {
		return id.Scan(nil)
	}
	parsed, err := uuid.ParseBytes(src)
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}
