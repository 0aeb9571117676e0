package benchcrud

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Server is the baseline's HTTP API: POST /v1/leads and GET /v1/leads
// (limit, cursor, updated_since), in the shapes leadsvc answers with.
type Server struct {
	pool      *pgxpool.Pool
	cursorKey []byte
	logger    *slog.Logger
}

// NewServer serves the leads of pool; cursorKey signs list cursors.
func NewServer(pool *pgxpool.Pool, cursorKey []byte, logger *slog.Logger) *Server {
	return &Server{pool: pool, cursorKey: cursorKey, logger: logger}
}

// Handler is the router of s.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/livez", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Post("/v1/leads", s.authenticated(s.create))
	r.Get("/v1/leads", s.authenticated(s.list))
	return r
}

type leadJSON struct {
	ID         uuid.UUID       `json:"id"`
	CampaignID uuid.UUID       `json:"campaign_id"`
	Status     string          `json:"status"`
	Fields     json.RawMessage `json:"fields"`
	Version    int64           `json:"version"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

func (p *problem) Error() string { return p.Title + ": " + p.Detail }

func fail(status int, title, detail string) error {
	return &problem{Status: status, Title: title, Detail: detail}
}

// authenticated looks the bearer token up by its SHA-256 on every
// request, as a plain service does.
func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, Token) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := func() error {
			secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || secret == "" {
				return fail(http.StatusUnauthorized, "Unauthorized", "a Bearer token is required")
			}
			hash := sha256.Sum256([]byte(secret))
			var (
				t      Token
				src    *string
				lo, hi *float64
			)
			err := s.pool.QueryRow(r.Context(), `SELECT id, campaign_id, can_write, source, statuses, budget_min::float8, budget_max::float8
				FROM tokens WHERE hash = $1`, hash[:]).Scan(&t.ID, &t.CampaignID, &t.Write, &src, &t.Filter.Statuses, &lo, &hi)
			if errors.Is(err, pgx.ErrNoRows) {
				return fail(http.StatusUnauthorized, "Unauthorized", "unknown token")
			}
			if err != nil {
				return err
			}
			if src != nil {
				t.Filter.Source = *src
			}
			t.Filter.BudgetMin, t.Filter.BudgetMax = lo, hi
			return h(w, r, t)
		}()
		if err != nil {
			s.writeError(w, err)
		}
	}
}

func (s *Server) writeError(w http.ResponseWriter, err error) {
	var p *problem
	if !errors.As(err, &p) {
		s.logger.Error("request failed", "err", err)
		p = &problem{Status: http.StatusInternalServerError, Title: "Internal Server Error"}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// create inserts one lead in the token's campaign; a lead outside the
// token's filter is refused.
func (s *Server) create(w http.ResponseWriter, r *http.Request, t Token) error {
	if !t.Write {
		return fail(http.StatusForbidden, "Forbidden", "this token cannot write")
	}
	var in struct {
		Status *string        `json:"status"`
		Fields map[string]any `json:"fields"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return fail(http.StatusBadRequest, "Bad Request", "the body is not a lead: "+err.Error())
	}
	if name, _ := in.Fields["name"].(string); name == "" {
		return fail(http.StatusUnprocessableEntity, "Unprocessable Content", "fields.name is required")
	}
	l := Lead{ID: uuid.New(), CampaignID: t.CampaignID, Status: "new", Fields: in.Fields, Version: 1}
	if in.Status != nil {
		l.Status = *in.Status
	}
	if !slices.Contains(Statuses, l.Status) {
		return fail(http.StatusUnprocessableEntity, "Unprocessable Content", "status is not one of "+strings.Join(Statuses, ", "))
	}
	if b, ok := in.Fields["budget"]; ok {
		if _, ok := b.(float64); !ok {
			return fail(http.StatusUnprocessableEntity, "Unprocessable Content", "fields.budget must be a number")
		}
	}
	if source, budget := sourceBudget(in.Fields); !t.Filter.Matches(source, l.Status, budget) {
		return fail(http.StatusUnprocessableEntity, "Unprocessable Content", "the lead would be outside this token's filter")
	}
	l.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	l.UpdatedAt = l.CreatedAt
	vals, err := l.values()
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(r.Context(), `INSERT INTO leads (`+strings.Join(leadColumns, ", ")+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, vals...); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/leads/"+l.ID.String())
	writeJSON(w, http.StatusCreated, leadJSON{ID: l.ID, CampaignID: l.CampaignID, Status: l.Status,
		Fields: vals[5].(json.RawMessage), Version: l.Version, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt})
	return nil
}

// list answers one page of the token's leads in (updated_at, id) order
// with one keyset SELECT; the token's filter is its WHERE.
func (s *Server) list(w http.ResponseWriter, r *http.Request, t Token) error {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fail(http.StatusBadRequest, "Bad Request", "limit must be 1 to 1000")
		}
		limit = n
	}
	var since *time.Time
	if v := q.Get("updated_since"); v != "" {
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fail(http.StatusBadRequest, "Bad Request", "updated_since must be an RFC 3339 date-time")
		}
		since = &ts
	}
	binding := append(t.ID[:], q.Get("updated_since")...)
	var (
		sb   strings.Builder
		args []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	sb.WriteString(`SELECT id, campaign_id, status, fields, version, created_at, updated_at FROM leads WHERE campaign_id = ` + arg(t.CampaignID))
	if f := t.Filter; f.Source != "" {
		sb.WriteString(` AND source = ` + arg(f.Source))
	}
	if f := t.Filter; f.Statuses != nil {
		sb.WriteString(` AND status = ANY(` + arg(f.Statuses) + `)`)
	}
	if f := t.Filter; f.BudgetMin != nil {
		sb.WriteString(` AND budget BETWEEN ` + arg(*f.BudgetMin) + ` AND ` + arg(*f.BudgetMax))
	}
	if since != nil {
		sb.WriteString(` AND updated_at >= ` + arg(*since))
	}
	if c := q.Get("cursor"); c != "" {
		at, id, err := s.decodeCursor(c, binding)
		if err != nil {
			return err
		}
		sb.WriteString(` AND (updated_at, id) > (` + arg(at) + `, ` + arg(id) + `)`)
	}
	sb.WriteString(` ORDER BY updated_at, id LIMIT ` + arg(limit))
	rows, err := s.pool.Query(r.Context(), sb.String(), args...)
	if err != nil {
		return err
	}
	out := struct {
		Data       []leadJSON `json:"data"`
		NextCursor *string    `json:"next_cursor"`
	}{Data: make([]leadJSON, 0, limit)}
	for rows.Next() {
		var l leadJSON
		if err := rows.Scan(&l.ID, &l.CampaignID, &l.Status, &l.Fields, &l.Version, &l.CreatedAt, &l.UpdatedAt); err != nil {
			rows.Close()
			return err
		}
		l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
		out.Data = append(out.Data, l)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(out.Data) == limit {
		last := out.Data[limit-1]
		c := s.encodeCursor(last.UpdatedAt, last.ID, binding)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// A cursor is the last (updated_at, id) of a page and an HMAC over it,
// the token and the query, so that it is opaque and cannot be forged.
const cursorKeyLen = 8 + 16

func (s *Server) cursorMAC(key, binding []byte) []byte {
	mac := hmac.New(sha256.New, s.cursorKey)
	mac.Write(key)
	mac.Write(binding)
	return mac.Sum(nil)[:16]
}

func (s *Server) encodeCursor(at time.Time, id uuid.UUID, binding []byte) string {
	b := make([]byte, cursorKeyLen, cursorKeyLen+16)
	binary.BigEndian.PutUint64(b, uint64(at.UnixMicro()))
	copy(b[8:], id[:])
	return base64.RawURLEncoding.EncodeToString(append(b, s.cursorMAC(b, binding)...))
}

func (s *Server) decodeCursor(c string, binding []byte) (time.Time, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != cursorKeyLen+16 || !hmac.Equal(b[cursorKeyLen:], s.cursorMAC(b[:cursorKeyLen], binding)) {
		return time.Time{}, uuid.Nil, fail(http.StatusBadRequest, "Bad Request", "not a cursor of this list")
	}
	var id uuid.UUID
	copy(id[:], b[8:cursorKeyLen])
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC(), id, nil
}

// Serve answers on addr until ctx ends, then drains for up to 10 s.
func (s *Server) Serve(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("benchcrud serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
