// Package console serves the admin console: server-rendered pages under
// /console where an account admin sets up campaigns, filters, API tokens
// and webhooks, previews what a token's partner sees, and reads a lead's
// history. It has no write path of its own: every change is a command of
// package commands, the same (and so the same events) as the REST API's,
// with the signed-in token as the actor.
//
// Sign-in exchanges an account-level token with admin for a session
// (eventstore/views/sessions); each request re-reads that token, so revoking it
// ends the session at once. Every POST carries a CSRF token tied to the
// session. Templates and assets are embedded; nothing is fetched from
// elsewhere.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/audit"
	"github.com/leadsvc/leadsvc/eventstore/views/sessions"
	"github.com/leadsvc/leadsvc/projections/leads"
	"github.com/leadsvc/leadsvc/queries"
)

// Prefix is where the console is mounted; links and the cookie path use it.
const Prefix = "/console"

// Cookie names. The session cookie holds the session id; the sign-in
// cookie holds the nonce that protects the sign-in form itself.
const (
	SessionCookie = "leadsvc_console"
	loginCookie   = "leadsvc_console_login"
)

// maxFormBytes bounds a form body.
const maxFormBytes = 1 << 20

// PreviewFunc lists a page of leads exactly as a token's GET /v1/leads
// would (api.API.VisibleLeads).
type PreviewFunc func(ctx context.Context, tok commands.TokenInfo, q leads.Query) (api.LeadPage, error)

// Config is what the console needs.
type Config struct {
	Commands *commands.Commands
	Queries  *queries.Queries
	Sessions *sessions.Store
	Leads    *leads.Reader
	// Audit gives lead pages their history; nil shows none.
	Audit   *audit.Reader
	Preview PreviewFunc
	// PublicURL is the base of docs links; an https one makes the cookies
	// Secure.
	PublicURL string
	// SecretKey is the service's key; the CSRF tokens are MACs under a
	// key derived from it.
	SecretKey []byte
	// PreviousSecretKeys still validate the forms they signed, so that a
	// form shown by a replica with a rotated key posts to any other.
	PreviousSecretKeys [][]byte
	// SignIns spends the client address's budget for each sign-in
	// attempt (api.AddressLimits); nil limits nothing.
	SignIns SignInLimiter
	Logger  *slog.Logger
	Clock   func() time.Time
}

// SignInLimiter weighs a sign-in attempt against its client address's
// budget; when none is left it sets Retry-After on w and says how long to
// wait.
type SignInLimiter interface {
	Attempt(w http.ResponseWriter, r *http.Request) (ok bool, retry time.Duration)
}

// Console is the console's HTTP handler.
type Console struct {
	cmd       *commands.Commands
	q         *queries.Queries
	sessions  *sessions.Store
	leads     *leads.Reader
	audit     *audit.Reader
	preview   PreviewFunc
	publicURL string
	secure    bool
	csrfKeys  [][]byte // the first signs
	signIns   SignInLimiter
	log       *slog.Logger
	now       func() time.Time
	pages     *pages
	handler   http.Handler
}

// New returns the console for cfg; mount it at Prefix. Commands,
// Queries, Sessions, Leads, Preview and SecretKey are required.
func New(cfg Config) *Console {
	c := &Console{cmd: cfg.Commands, q: cfg.Queries, sessions: cfg.Sessions, leads: cfg.Leads, audit: cfg.Audit, preview: cfg.Preview,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"), signIns: cfg.SignIns, log: cfg.Logger, now: cfg.Clock}
	if u, err := url.Parse(c.publicURL); err == nil && u.Scheme == "https" {
		c.secure = true
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	// Derived keys: a CSRF token reveals nothing usable against the
	// token secrets the same key seals.
	for _, key := range append([][]byte{cfg.SecretKey}, cfg.PreviousSecretKeys...) {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte("leadsvc console csrf v1"))
		c.csrfKeys = append(c.csrfKeys, mac.Sum(nil))
	}
	c.pages = embedded
	c.handler = c.routes()
	return c
}

// ServeHTTP serves the console; r's path is relative to Prefix.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

func (c *Console) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(c.headers)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { c.fail(w, r, api.ErrRouteNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { c.fail(w, r, api.ErrMethodNotAllowed) })
	r.Get("/static/*", c.static)
	r.Get("/login", c.loginForm)
	r.Post("/login", c.login)
	r.Group(func(r chi.Router) {
		r.Use(c.signedIn)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) { redirect(w, r, "/campaigns") })
		r.Post("/logout", c.logout)

		r.Get("/campaigns", c.h(c.listCampaigns))
		r.Get("/campaigns/new", c.h(c.newCampaign))
		r.Post("/campaigns", c.h(c.createCampaign))
		r.Get("/campaigns/{id}", c.h(c.showCampaign))
		r.Post("/campaigns/{id}/rename", c.h(c.renameCampaign))
		r.Post("/campaigns/{id}/fields", c.h(c.addField))
		r.Post("/campaigns/{id}/selects", c.h(c.addSelect))
		r.Post("/campaigns/{id}/selects/{key}/options", c.h(c.addOption))
		r.Post("/campaigns/{id}/statuses", c.h(c.addStatus))
		r.Post("/campaigns/{id}/selects/{key}/options/{value}", c.h(c.editOption))
		r.Post("/campaigns/{id}/fields/{key}", c.h(c.editField))
		r.Post("/campaigns/{id}/statuses/{slug}", c.h(c.editStatus))

		r.Get("/campaigns/{id}/filters", c.h(c.listFilters))
		r.Get("/campaigns/{id}/filters/new", c.h(c.newFilter))
		r.Post("/campaigns/{id}/filters", c.h(c.createFilter))
		r.Get("/filters/{id}", c.h(c.editFilter))
		r.Post("/filters/{id}", c.h(c.updateFilter))
		r.Get("/filters/{id}/delete", c.h(c.confirmDeleteFilter))
		r.Post("/filters/{id}/delete", c.h(c.deleteFilter))

		r.Get("/tokens", c.h(c.listAccountTokens))
		r.Get("/tokens/new", c.h(c.newAccountToken))
		r.Post("/tokens", c.h(c.createAccountToken))
		r.Get("/campaigns/{id}/tokens", c.h(c.listCampaignTokens))
		r.Get("/campaigns/{id}/tokens/new", c.h(c.newCampaignToken))
		r.Post("/campaigns/{id}/tokens", c.h(c.createCampaignToken))
		r.Get("/tokens/{id}/edit", c.h(c.editToken))
		r.Post("/tokens/{id}", c.h(c.updateToken))
		r.Post("/tokens/{id}/reveal", c.h(c.revealToken))
		r.Get("/tokens/{id}/rotate", c.h(c.confirmRotateToken))
		r.Post("/tokens/{id}/rotate", c.h(c.rotateToken))
		r.Get("/tokens/{id}/revoke", c.h(c.confirmRevokeToken))
		r.Post("/tokens/{id}/revoke", c.h(c.revokeToken))
		r.Get("/tokens/{id}/preview", c.h(c.previewToken))

		r.Get("/campaigns/{id}/leads", c.h(c.listLeads))
		r.Get("/leads/{id}", c.h(c.showLead))
		r.Get("/leads/{id}/files/{file_id}", c.h(c.downloadFile))

		r.Get("/campaigns/{id}/webhooks", c.h(c.listWebhooks))
		r.Get("/campaigns/{id}/webhooks/new", c.h(c.newWebhook))
		r.Post("/campaigns/{id}/webhooks", c.h(c.createWebhook))
		r.Get("/webhooks/{id}", c.h(c.showWebhook))
		r.Post("/webhooks/{id}/test", c.h(c.testWebhook))
		r.Post("/webhooks/{id}/redeliver", c.h(c.redeliverWebhook))
		r.Post("/webhooks/{id}/enabled", c.h(c.enableWebhook))
		r.Get("/webhooks/{id}/rotate-secret", c.h(c.confirmRotateWebhookSecret))
		r.Post("/webhooks/{id}/rotate-secret", c.h(c.rotateWebhookSecret))
		r.Get("/webhooks/{id}/delete", c.h(c.confirmDeleteWebhook))
		r.Post("/webhooks/{id}/delete", c.h(c.deleteWebhook))
	})
	return r
}

// h adapts a handler that returns its failure, so that one place answers
// every error.
func (c *Console) h(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			c.fail(w, r, err)
		}
	}
}

// headers: pages hold personal data and secrets, so nothing caches them,
// no other site frames them and they load nothing from elsewhere.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// auth is the signed-in admin of a request.
type auth struct {
	sessionID string
	token     commands.TokenInfo
	account   domain.Account
	csrf      string
}

// AccountName is the signed-in account's name, shown in the page header.
func (a *auth) AccountName() string { return a.account.Name }

// TokenName is the name of the token signed in with.
func (a *auth) TokenName() string { return a.token.Name }

type authKey struct{}

func authFrom(ctx context.Context) *auth {
	a, _ := ctx.Value(authKey{}).(*auth)
	return a
}

// account is the signed-in account: every read and command is scoped to it.
func account(r *http.Request) domain.Account { return authFrom(r.Context()).account }

// meta records the signed-in token as the actor of a command, with the
// request id the API's edge middleware gave the request.
func meta(w http.ResponseWriter, r *http.Request) commands.Meta {
	id := w.Header().Get("X-Request-Id")
	if id == "" {
		id = randomHex(16)
		w.Header().Set("X-Request-Id", id)
	}
	return commands.Meta{ActorTokenID: authFrom(r.Context()).token.ID.String(), RequestID: id}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// canSignIn reports why a token may not open a console session, "" when
// it may: only a live account-level token with admin.
func canSignIn(t commands.TokenInfo, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "This token is revoked."
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "This token has expired."
	case t.CampaignID != nil:
		return "This is a campaign token: it reads and writes leads through the API but cannot sign in. Use an account-level token with the admin permission."
	case !t.Can(domain.PermAdmin):
		return "This token lacks the admin permission, which signing in to the console needs."
	}
	return ""
}

// signedIn admits requests with a live session of a token that may still
// sign in, and checks the CSRF token of every POST.
func (c *Console) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(SessionCookie)
		if err != nil {
			c.toLogin(w, r, "")
			return
		}
		sess, err := c.sessions.Lookup(r.Context(), ck.Value)
		if errors.Is(err, sessions.ErrNotFound) {
			c.toLogin(w, r, "expired")
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		// The token is read again on every request: revoking it, taking
		// admin away or its expiry ends the session now.
		tok, err := c.q.Token(r.Context(), sess.AccountID, sess.TokenID)
		if err == nil && canSignIn(tok, c.now()) != "" {
			err = domain.ErrTokenNotFound
		}
		if errors.Is(err, domain.ErrTokenNotFound) {
			if err := c.sessions.DeleteToken(r.Context(), sess.TokenID); err != nil {
				c.fail(w, r, err)
				return
			}
			c.clearCookie(w, SessionCookie)
			c.toLogin(w, r, "ended")
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		acct, err := c.q.Account(r.Context(), sess.AccountID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		a := &auth{sessionID: ck.Value, token: tok, account: acct, csrf: c.csrfToken("session", ck.Value)}
		r = r.WithContext(context.WithValue(r.Context(), authKey{}, a))
		if r.Method == http.MethodPost {
			if err := c.readForm(w, r); err != nil {
				c.fail(w, r, err)
				return
			}
			if !c.validCSRF(r, "session", ck.Value) {
				c.fail(w, r, errCSRF)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// csrfToken is the synchronizer token of a session (or of a sign-in
// nonce): a MAC of its id, so it needs no storage and another session's
// token never matches.
func (c *Console) csrfToken(purpose, id string) string { return csrfMAC(c.csrfKeys[0], purpose, id) }

func csrfMAC(key []byte, purpose, id string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// validCSRF checks the form's token for purpose and id under any of the
// keys, and refuses what the browser says came from another site.
func (c *Console) validCSRF(r *http.Request, purpose, id string) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	got := r.PostForm.Get("csrf")
	if got == "" {
		return false
	}
	for _, key := range c.csrfKeys {
		if hmac.Equal([]byte(got), []byte(csrfMAC(key, purpose, id))) {
			return true
		}
	}
	return false
}

func (c *Console) readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return errBadForm
	}
	return nil
}

// toLogin sends a request without a usable session to the sign-in page;
// a GET comes back to where it was after signing in.
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request, reason string) {
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	if r.Method == http.MethodGet {
		q.Set("next", r.URL.RequestURI())
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	redirect(w, r, target)
}

// redirect answers 303 to a console path (relative to Prefix).
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, Prefix+path, http.StatusSeeOther)
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: int(maxAge / time.Second),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

func (c *Console) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

// safeNext keeps a post-sign-in destination inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, Prefix+"//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return strings.TrimPrefix(next, Prefix)
}

var loginReasons = map[string]string{
	"expired":   "Your session has ended. Please sign in again.",
	"ended":     "The token of your session was revoked, has expired or lost its admin permission. Please sign in with another token.",
	"signedout": "You are signed out.",
}

// loginView is the sign-in page's data.
type loginView struct {
	Next string
}

// loginForm shows the sign-in form with a fresh nonce: the form's CSRF
// token is tied to the nonce cookie, since there is no session yet.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	c.renderLogin(w, r, http.StatusOK, r.URL.Query().Get("next"), loginReasons[r.URL.Query().Get("reason")], nil)
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, notice string, errs *formErrors) {
	nonce := randomHex(16)
	c.setCookie(w, loginCookie, nonce, time.Hour)
	if next = safeNext(next); next != "" {
		next = Prefix + next
	}
	v := &view{Title: "Sign in", CSRF: c.csrfToken("login", nonce), Notice: notice, Errors: errs, Data: loginView{Next: next}}
	c.render(w, r, status, "login", v)
}

// login exchanges an account-level admin token for a session. The token
// itself is never stored by the console, only the new session's hash.
// Every attempt costs the client address a unit of its budget; past it,
// the form answers 429 without looking the token up.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := c.readForm(w, r); err != nil {
		c.fail(w, r, err)
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !c.validCSRF(r, "login", ck.Value) {
		c.fail(w, r, errCSRF)
		return
	}
	next := r.PostForm.Get("next")
	refuse := func(status int, msg string) {
		c.renderLogin(w, r, status, next, "", fieldError("token", msg))
	}
	if c.signIns != nil {
		if ok, retry := c.signIns.Attempt(w, r); !ok {
			refuse(http.StatusTooManyRequests, fmt.Sprintf("Too many sign-in attempts from your network. Try again in %d seconds.",
				max(1, int(retry.Seconds()))))
			return
		}
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	if secret == "" {
		refuse(http.StatusUnprocessableEntity, "Paste an account-level API token (lsk_…).")
		return
	}
	tok, err := c.cmd.Auth.Authenticate(r.Context(), secret)
	switch {
	case errors.Is(err, commands.ErrUnauthenticated):
		refuse(http.StatusUnauthorized, "This token is not valid: it is unknown, mistyped or revoked.")
		return
	case errors.Is(err, commands.ErrTokenExpired):
		refuse(http.StatusUnauthorized, "This token has expired.")
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	if why := canSignIn(tok, c.now()); why != "" {
		refuse(http.StatusForbidden, why)
		return
	}
	id, _, err := c.sessions.Create(r.Context(), tok.ID, tok.AccountID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.cmd.Auth.TouchLastUsed(r.Context(), tok.ID); err != nil {
		c.log.LogAttrs(r.Context(), slog.LevelWarn, "console: record token use", slog.String("err", err.Error()))
	}
	c.clearCookie(w, loginCookie)
	c.setCookie(w, SessionCookie, id, c.sessions.MaxAge())
	dest := safeNext(next)
	if dest == "" {
		dest = "/campaigns"
	}
	redirect(w, r, dest)
}

// logout ends the session (its CSRF token was checked by signedIn).
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if err := c.sessions.Delete(r.Context(), authFrom(r.Context()).sessionID); err != nil {
		c.fail(w, r, err)
		return
	}
	c.clearCookie(w, SessionCookie)
	redirect(w, r, "/login?reason=signedout")
}
