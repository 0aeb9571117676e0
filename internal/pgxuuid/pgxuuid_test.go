package pgxuuid_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/leadsvc/leadsvc/internal/pgxuuid"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

func connect(t *testing.T, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	testenv.Integration(t)
	cfg, err := pgx.ParseConfig(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	pgxuuid.Register(conn.TypeMap())
	return conn
}

// Postgres itself reads and prints the ids, so a codec that agreed only
// with itself would fail here.
func TestUUIDsReachPostgresAsTheyAre(t *testing.T) {
	for name, mode := range map[string]pgx.QueryExecMode{
		"binary (cached statements)": pgx.QueryExecModeCacheStatement,
		"text (simple protocol)":     pgx.QueryExecModeSimpleProtocol,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			conn := connect(t, mode)
			id := uuid.New()

			var text string
			if err := conn.QueryRow(ctx, `SELECT $1::uuid::text`, id).Scan(&text); err != nil {
				t.Fatal(err)
			}
			if text != id.String() {
				t.Fatalf("Postgres read %s as %s", id, text)
			}

			var back uuid.UUID
			if err := conn.QueryRow(ctx, `SELECT $1::text::uuid`, id.String()).Scan(&back); err != nil {
				t.Fatal(err)
			}
			if back != id {
				t.Fatalf("scanned %s, want %s", back, id)
			}

			ids := []uuid.UUID{uuid.New(), uuid.Nil, uuid.New()}
			var joined string
			if err := conn.QueryRow(ctx, `SELECT array_to_string($1::uuid[], ',')`, ids).Scan(&joined); err != nil {
				t.Fatal(err)
			}
			if want := ids[0].String() + "," + ids[1].String() + "," + ids[2].String(); joined != want {
				t.Fatalf("Postgres read the array as %s, want %s", joined, want)
			}
			var arr []uuid.UUID
			if err := conn.QueryRow(ctx, `SELECT string_to_array($1, ',')::uuid[]`, joined).Scan(&arr); err != nil {
				t.Fatal(err)
			}
			if len(arr) != 3 || arr[0] != ids[0] || arr[1] != ids[1] || arr[2] != ids[2] {
				t.Fatalf("scanned array %v, want %v", arr, ids)
			}
		})
	}
}

func TestNullsAndOtherUUIDTypesKeepTheirMeaning(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, pgx.QueryExecModeCacheStatement)

	var isNull bool
	if err := conn.QueryRow(ctx, `SELECT $1::uuid IS NULL`, (*uuid.UUID)(nil)).Scan(&isNull); err != nil || !isNull {
		t.Fatalf("a nil *uuid.UUID: null %v, err %v", isNull, err)
	}
	id := uuid.New()
	var text string
	if err := conn.QueryRow(ctx, `SELECT $1::uuid::text`, &id).Scan(&text); err != nil || text != id.String() {
		t.Fatalf("a *uuid.UUID: %q, %v", text, err)
	}

	// NULL into a uuid.UUID leaves it as it was (as uuid.UUID.Scan does);
	// into a **uuid.UUID or a pgtype.UUID it says NULL.
	kept := id
	var ptr = &id
	var pg pgtype.UUID
	if err := conn.QueryRow(ctx, `SELECT NULL::uuid, NULL::uuid, NULL::uuid`).Scan(&kept, &ptr, &pg); err != nil {
		t.Fatal(err)
	}
	if kept != id || ptr != nil || pg.Valid {
		t.Fatalf("NULL scanned as %v, %v, %v", kept, ptr, pg)
	}
	if err := conn.QueryRow(ctx, `SELECT $1::uuid`, pgtype.UUID{Bytes: id, Valid: true}).Scan(&pg); err != nil || pg.Bytes != id {
		t.Fatalf("pgtype.UUID: %v, %v", pg, err)
	}
}

func TestRegisterReplacesTheValuerRoundTrip(t *testing.T) {
	m := pgtype.NewMap()
	before := m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, uuid.UUID{})
	if pgxuuid.Registered(m) {
		t.Fatal("a new map reports Registered")
	}
	pgxuuid.Register(m)
	if !pgxuuid.Registered(m) {
		t.Fatal("Registered is false after Register")
	}
	after := m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, uuid.UUID{})
	id := uuid.New()
	buf, err := after.Encode(id, nil)
	if err != nil || string(buf) != string(id[:]) {
		t.Fatalf("encoded %x, %v; want the 16 bytes %x", buf, err, id[:])
	}
	// Without Register, pgx goes through database/sql's Valuer.
	if plan := fmt.Sprintf("%T", before); plan != "*pgtype.encodePlanDriverValuer" {
		t.Fatalf("pgx's own plan for uuid.UUID is %s; this package may no longer be needed", plan)
	}
}
