package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/leadsvc/leadsvc/api/apidoc"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// DocsConfig is what the public documentation needs.
type DocsConfig struct {
	Queries DocsQueries
	Scopes  Scopes
	// PublicURL is the documents' server and the base of docs_url.
	PublicURL string
	Logger    *slog.Logger
	// Limits is the client addresses' budget of failed requests, shared
	// with the API; nil limits nothing.
	Limits *AddressLimits
}

// Docs serves the public API documentation, without authentication:
//
//	GET /                      the whole API (HTML), /openapi.yaml, /postman.json
//	GET /{docs_id}             one token's documentation, from its campaign's
//	GET /{docs_id}/openapi.yaml  live schema, filter and permissions
//	GET /{docs_id}/postman.json
//
// The docs id is the unguessable id in the token's docs_url. An unknown,
// revoked or expired one answers 404, all three alike. The token, campaign
// and filter are read on every request; only the rendering is cached, keyed
// by everything it reads, so a schema, filter or permission change shows
// on the next request. An unknown docs id costs the client address a unit
// of its budget (AddressLimits); an address with none left is answered
// 429 before any docs id is looked up.
type Docs struct {
	q         DocsQueries
	cmd       Scopes
	publicURL string
	log       *slog.Logger
	limits    *AddressLimits
	cache     *docsCache
	renders   atomic.Int64 // for tests: renderings done, cache misses
	mux       http.Handler
}

// NewDocs returns the documentation handler; mount it at /docs.
func NewDocs(cfg DocsConfig) *Docs {
	d := &Docs{q: cfg.Queries, cmd: cfg.Scopes, publicURL: cfg.PublicURL, log: cfg.Logger, limits: cfg.Limits,
		cache: newDocsCache(docsCacheEntries, docsCacheBytes)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	// Built once: per request it cost 60 allocations, a few percent of a
	// cached answer.
	d.mux = d.router()
	return d
}

// ServeHTTP routes the documentation requests.
func (d *Docs) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

func (d *Docs) router() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { d.fail(w, r, ErrRouteNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { d.fail(w, r, ErrMethodNotAllowed) })
	r.Get("/", d.serve(formatHTML, d.general))
	r.Get("/openapi.yaml", d.serve(formatYAML, d.general))
	r.Get("/postman.json", d.serve(formatPostman, d.general))
	r.Group(func(r chi.Router) {
		r.Use(d.admit)
		r.Get("/{docs_id}", d.serve(formatHTML, d.token))
		r.Get("/{docs_id}/openapi.yaml", d.serve(formatYAML, d.token))
		r.Get("/{docs_id}/postman.json", d.serve(formatPostman, d.token))
	})
	return r
}

// admit answers 429, before the docs id is looked up, when the client
// address has no failure left.
func (d *Docs) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := d.limits.take(w, r, 0); err != nil {
			d.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type docsFormat int

const (
	formatHTML docsFormat = iota
	formatYAML
	formatPostman
)

// errDocsNotFound is every docs id that serves nothing: unknown, revoked,
// expired, malformed.
var errDocsNotFound = errors.New("no documentation here")

func (d *Docs) general(*http.Request) (apidoc.Scope, string, error) {
	return apidoc.Scope{PublicURL: d.publicURL}, "/docs", nil
}

// docsIDPattern matches the ids commands hand out (27 base62 characters)
// with room to change; anything else is not looked up.
var docsIDPattern = regexp.MustCompile(`^[0-9A-Za-z]{16,64}$`)

// token resolves the token of the path's docs id as it is now: its
// campaign's live schema and its current filter and permissions.
func (d *Docs) token(r *http.Request) (apidoc.Scope, string, error) {
	id := chi.URLParam(r, "docs_id")
	if !docsIDPattern.MatchString(id) {
		return apidoc.Scope{}, "", errDocsNotFound
	}
	tok, err := d.q.TokenByDocsID(r.Context(), id)
	if errors.Is(err, domain.ErrTokenNotFound) {
		return apidoc.Scope{}, "", errDocsNotFound
	}
	if err != nil {
		return apidoc.Scope{}, "", err
	}
	t, err := d.tokenDoc(r.Context(), tok)
	if err != nil {
		return apidoc.Scope{}, "", err
	}
	return apidoc.Scope{PublicURL: d.publicURL, Token: t}, "/docs/" + id, nil
}

func (d *Docs) tokenDoc(ctx context.Context, tok commands.TokenInfo) (*apidoc.Token, error) {
	t := &apidoc.Token{Name: tok.Name, Permissions: tok.Permissions}
	if tok.CampaignID == nil {
		return t, nil
	}
	c, err := d.q.Campaign(ctx, tok.AccountID, *tok.CampaignID)
	if err != nil {
		return nil, err
	}
	t.Campaign = &c
	if t.Scope, err = d.cmd.TokenScope(ctx, tok, nil); err != nil {
		return nil, err
	}
	return t, nil
}

// serve answers one format of the documents of the scope resolve finds.
func (d *Docs) serve(format docsFormat, resolve func(*http.Request) (apidoc.Scope, string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scope, base, err := resolve(r)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		page, err := d.page(format, base, scope)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		h := w.Header()
		// Revalidated on every use: a schema change or a revocation shows
		// on the next request, and an unchanged document costs a 304.
		h.Set("Cache-Control", "private, no-cache")
		h.Set("ETag", page.etag)
		// The URL is the capability: keep it out of Referer headers and
		// search indexes.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Robots-Tag", "noindex, nofollow")
		h.Set("X-Content-Type-Options", "nosniff")
		if format == formatHTML {
			h.Set("Content-Security-Policy", apidoc.ContentSecurityPolicy())
		}
		if r.Header.Get("If-None-Match") == page.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", docsContentTypes[format])
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(page.body)
	}
}

var docsContentTypes = [...]string{formatHTML: "text/html; charset=utf-8", formatYAML: "application/yaml",
	formatPostman: "application/json"}

// page returns the rendered document from the cache, rendering it on a
// miss. The ETag is the body's digest, kept with it, so a conditional GET
// of cached documents answers 304 without rendering.
func (d *Docs) page(format docsFormat, base string, scope apidoc.Scope) (docsPage, error) {
	render := func() (docsPage, error) { return d.render(format, base, scope) }
	key, err := docsKeyOf(format, base, scope)
	if err != nil {
		return render() // a scope JSON cannot encode: serve it uncached
	}
	return d.cache.get(key, render)
}

func (d *Docs) render(format docsFormat, base string, scope apidoc.Scope) (docsPage, error) {
	d.renders.Add(1)
	doc := apidoc.Build(scope)
	var body []byte
	var err error
	switch format {
	case formatHTML:
		var buf bytes.Buffer
		err = doc.HTML(&buf, base)
		body = buf.Bytes()
	case formatYAML:
		body, err = doc.OpenAPI()
	case formatPostman:
		body, err = doc.Postman()
	}
	if err != nil {
		return docsPage{}, err
	}
	sum := sha256.Sum256(body)
	return docsPage{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// fail answers a problem: 404 for every docs id that serves nothing (one
// unit of the client address's budget, 429 when none is left), 500
// (logged once) for anything else.
func (d *Docs) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errDocsNotFound) {
		err = ErrRouteNotFound
		if aerr := d.limits.take(w, r, 1); aerr != nil {
			err = aerr
		}
	}
	p := problemFor(err)
	if p.Status >= 500 {
		d.log.LogAttrs(r.Context(), slog.LevelError, "docs request failed",
			slog.String("request_id", requestIDFrom(r.Context())), slog.String("err", err.Error()))
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	writeProblem(w, r, p)
}
