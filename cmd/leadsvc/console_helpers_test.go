package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/api/console"
)

// consoleSession is a browser without JavaScript: a cookie jar, redirects
// not followed, and the CSRF token of the last page it read, which post
// sends back as the console's forms do.
type consoleSession struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func newConsoleSession(t *testing.T, m *Main) *consoleSession {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleSession{t: t, base: "http://" + m.Addr(), http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// consolePage is one answer of the console.
type consolePage struct {
	t        *testing.T
	req      string
	Status   int
	Location string
	Body     string
	Header   http.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (s *consoleSession) do(req *http.Request) consolePage {
	s.t.Helper()
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	p := consolePage{t: s.t, req: req.Method + " " + req.URL.Path, Status: resp.StatusCode,
		Location: resp.Header.Get("Location"), Body: string(b), Header: resp.Header}
	if m := csrfField.FindStringSubmatch(p.Body); m != nil {
		s.csrf = m[1]
	}
	return p
}

// get reads a console page; path is relative to /console.
func (s *consoleSession) get(path string) consolePage {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+console.Prefix+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.do(req)
}

// post sends a form with the session's CSRF token, unless the form sets
// "csrf" itself (an empty value sends none).
func (s *consoleSession) post(path string, form url.Values) consolePage {
	s.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", s.csrf)
	} else if form.Get("csrf") == "" {
		form.Del("csrf")
	}
	req, err := http.NewRequest(http.MethodPost, s.base+console.Prefix+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

// signIn submits the sign-in form with token.
func (s *consoleSession) signIn(token string) consolePage {
	s.t.Helper()
	s.get("/login").want(http.StatusOK)
	return s.post("/login", url.Values{"token": {token}})
}

// mustSignIn opens a console session with an admin token.
func mustSignIn(t *testing.T, m *Main, token string) *consoleSession {
	t.Helper()
	s := newConsoleSession(t, m)
	s.signIn(token).wantRedirect("/console/campaigns")
	s.get("/campaigns").want(http.StatusOK)
	return s
}

func (p consolePage) want(status int) consolePage {
	p.t.Helper()
	if p.Status != status {
		p.t.Fatalf("%s: status %d, want %d\n%s", p.req, p.Status, status, p.Body)
	}
	return p
}

// wantRedirect checks a 303 to a location starting with prefix.
func (p consolePage) wantRedirect(prefix string) consolePage {
	p.t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, prefix) {
		p.t.Fatalf("%s: status %d to %q, want 303 to %s…\n%s", p.req, p.Status, p.Location, prefix, p.Body)
	}
	return p
}

func (p consolePage) contains(s string) bool { return strings.Contains(p.Body, s) }
