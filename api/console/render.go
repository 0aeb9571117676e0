package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/domain"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// embedded are the console's pages; the templates are part of the
// binary, so a template that does not parse is a bug every test finds.
var embedded = mustLoadPages()

func mustLoadPages() *pages {
	p, err := loadPages()
	if err != nil {
		panic(err)
	}
	return p
}

// pages are the parsed templates, one set per page: the layout and the
// partials with that page's "content".
type pages struct {
	byName map[string]*template.Template
	// assetVersion changes with the assets, so that they can be cached
	// for good under a versioned URL.
	assetVersion string
	static       fs.FS
}

func loadPages() (*pages, error) {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}, assetVersion: hex.EncodeToString(h.Sum(nil))[:12], static: static}
	base, err := template.New("").Funcs(p.funcs()).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, f)
		}
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

func (p *pages) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":        func(name string) string { return Prefix + "/static/" + name + "?v=" + p.assetVersion },
		"fid":          fieldID,
		"fmtTime":      fmtTime,
		"fmtValue":     fmtValue,
		"permLabel":    permLabel,
		"shortID":      func(s fmt.Stringer) string { return s.String()[:8] },
		"joinPerms":    joinPerms,
		"filterLabel":  filterLabel,
		"add":          func(a, b int) int { return a + b },
		"fieldTypes":   func() []domain.FieldType { return domain.FieldTypes },
		"list":         func(s ...string) []string { return s },
		"pathEscape":   url.PathEscape,
		"retireForm":   newRetireForm,
		"slugFoldJSON": slugFoldJSON,
		"typeWord":     typeWord,
	}
}

// static serves the embedded assets; a URL with the current version is
// cached for a year.
func (c *Console) static(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	b, err := fs.ReadFile(c.pages.static, name)
	if err != nil || strings.Contains(name, "..") {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	if r.URL.Query().Get("v") == c.pages.assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(b)
}

// view is what every page template gets.
type view struct {
	Title   string
	Section string // the main navigation entry: campaigns or tokens
	// Campaign, when set, gives the page the campaign's tabs; Tab is the
	// current one.
	Campaign *domain.Campaign
	Tab      string
	Notice   string
	// Problem is a message about the whole request, shown above the page.
	Problem string
	Auth    *auth
	CSRF    string
	// Errors and Form are the submitted form's field errors and values,
	// re-shown next to its inputs; FormName says which form of the page
	// they belong to.
	Errors   *formErrors
	Form     map[string][]string
	FormName string
	// Idem is a fresh idempotency key for a create form: sent twice (a
	// double click, a reload), the form creates one thing.
	Idem string
	Data any
}

// For returns the form state of the page's form name: its submitted values
// and errors when it was the one submitted, defaults otherwise.
func (v *view) For(name string) formView {
	if v.FormName != name {
		return formView{}
	}
	return formView{errs: v.Errors, values: v.Form, submitted: v.Form != nil}
}

// render answers a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	if a := authFrom(r.Context()); a != nil {
		v.Auth, v.CSRF = a, a.csrf
	}
	t, ok := c.pages.byName[page]
	var buf bytes.Buffer
	err := errors.New("no template " + page)
	if ok {
		err = t.ExecuteTemplate(&buf, "layout", v)
	}
	if err != nil {
		c.log.LogAttrs(r.Context(), slog.LevelError, "console: render", slog.String("page", page),
			slog.String("request_id", w.Header().Get("X-Request-Id")), slog.String("err", err.Error()))
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// The console's own failures; the router's are api.ErrRouteNotFound and
// api.ErrMethodNotAllowed.
var (
	errCSRF    = errors.New("the form's security token is missing or is not this session's")
	errBadForm = errors.New("the form could not be read")
)

// failure is how the console answers an error that no form shows: its
// own form errors here, everything else from the API's error table.
func failure(err error) (int, string) {
	switch {
	case errors.Is(err, errCSRF):
		return http.StatusForbidden, "This form has expired or was not sent from this console, so nothing was changed. Go back, reload the page and try again."
	case errors.Is(err, errBadForm):
		return http.StatusBadRequest, "The form could not be read."
	}
	return api.PageFailure(err)
}

// fail answers err with an error page; a 5xx is logged once with the
// request id, never with form values.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := failure(err)
	if status >= 500 {
		id := w.Header().Get("X-Request-Id")
		c.log.LogAttrs(r.Context(), slog.LevelError, "console request failed", slog.String("request_id", id),
			slog.String("method", r.Method), slog.String("err", err.Error()))
		msg = "Something went wrong on our side. If it happens again, quote the request id " + id + "."
	}
	c.render(w, r, status, "error", &view{Title: http.StatusText(status), Problem: msg, Data: status})
}

// retireForm is what the "retire" template shows: a schema item's
// Retire or Restore button.
type retireForm struct {
	Page        *view
	Action      string
	Version     int64
	Retired     bool
	Label, Hint string
}

func newRetireForm(page *view, action string, version int64, retired bool, label, hint string) retireForm {
	return retireForm{Page: page, Action: action, Version: version, Retired: retired, Label: label, Hint: hint}
}
