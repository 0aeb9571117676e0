package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/commands"
)

func TestPreviousSecretKeysConfiguration(t *testing.T) {
	t.Parallel()
	a, b := base64.StdEncoding.EncodeToString(make([]byte, 32)), base64.StdEncoding.EncodeToString([]byte("another key, another 32 bytes..!"))
	cfg, err := LoadConfig(only("LEADSVC_SECRET_KEYS_PREVIOUS", a+", "+b))
	if err != nil || len(cfg.SecretKeysPrevious) != 2 || string(cfg.SecretKeysPrevious[1]) != "another key, another 32 bytes..!" {
		t.Fatalf("two keys: %d keys, %v", len(cfg.SecretKeysPrevious), err)
	}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen bytes..."))
	_, err = LoadConfig(only("LEADSVC_SECRET_KEYS_PREVIOUS", a+","+short))
	if err == nil || !strings.Contains(err.Error(), "LEADSVC_SECRET_KEYS_PREVIOUS: key 2 of the list") || strings.Contains(err.Error(), short) {
		t.Fatalf("a short key: %v; want refused by its place in the list, without its value", err)
	}
}

// newKeyVar is a fresh key as LEADSVC_SECRET_KEY takes it, and its id.
func newKeyVar(t *testing.T) (string, string) {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(key), commands.KeyIDOf(key).String()
}

// The rotation of docs/operations.md with two replicas live on one
// database: one still sealing with the old key but opening with both, one
// sealing with the new key. Secrets and list cursors made by either work
// on the other before and after keys rotate; then the old key alone is
// refused at start, naming the key ids, and the new key alone starts.
func TestKeyRotationAcrossLiveReplicas(t *testing.T) {
	t.Parallel()
	oldKey, oldID := newKeyVar(t)
	newKey, newID := newKeyVar(t)
	a := mustRunMain(t, "LEADSVC_SECRET_KEY", oldKey, "LEADSVC_SECRET_KEYS_PREVIOUS", newKey)
	dbURL := a.Config.DatabaseURL
	b := mustRunMain(t, "LEADSVC_SECRET_KEY", newKey, "LEADSVC_SECRET_KEYS_PREVIOUS", oldKey, "DATABASE_URL", dbURL)
	s := mustSetup(t, a)
	on := func(m *Main, c *client) *client { return &client{t: t, base: "http://" + m.Addr(), token: c.token} }
	// A token sealed by each replica.
	tokens := map[string]string{}
	for _, m := range []*Main{a, b} {
		tok := on(m, s.admin).do("POST", "/v1/tokens", map[string]any{"name": "sealed", "campaign_id": s.campaignID,
			"filter_id": nil, "permissions": []string{"read"}}).want(201).obj()
		tokens[str(tok, "id")] = str(tok, "secret")
	}
	abc := s.abc.rw
	_, _ = abc.mustCreateLead(map[string]any{"fields": map[string]any{"name": "One", "source": "partner-abc"}})
	_, pos := abc.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Two", "source": "partner-abc"}})
	everyReplicaWorks := func(when string) {
		t.Helper()
		for _, m := range []*Main{a, b} {
			for id, want := range tokens {
				if got := str(on(m, s.admin).do("POST", "/v1/tokens/"+id+"/reveal", nil).want(200).obj(), "secret"); got != want {
					t.Fatalf("%s: Show on %s gave another secret", when, m.Addr())
				}
			}
			// A cursor signed by one replica pages on the other.
			var page leadPage
			on(m, abc).do("GET", "/v1/leads?limit=1", nil, "Leadsvc-Min-Position", pos).want(200).into(&page)
			if page.NextCursor == nil {
				t.Fatalf("%s: one lead of two and no next_cursor", when)
			}
			for _, other := range []*Main{a, b} {
				on(other, abc).do("GET", "/v1/leads?limit=1&cursor="+url.QueryEscape(*page.NextCursor), nil).want(200)
			}
		}
	}
	everyReplicaWorks("before keys rotate")
	// A console form shown by one replica posts to the other: the
	// sign-in form of the new key's, the sign-out of the old key's.
	browser := newConsoleSession(t, b)
	browser.get("/login").want(200)
	browser.base = "http://" + a.Addr()
	browser.post("/login", url.Values{"token": {s.admin.token}}).wantRedirect("/console/campaigns")
	browser.get("/campaigns").want(200)
	browser.base = "http://" + b.Addr()
	browser.post("/logout", nil).wantRedirect("/console/login")

	env := func(vars ...string) func(string) string {
		m := map[string]string{"DATABASE_URL": dbURL, "LEADSVC_DATA_DIR": t.TempDir(), "LEADSVC_LOG_LEVEL": "warn"}
		for i := 0; i+1 < len(vars); i += 2 {
			m[vars[i]] = vars[i+1]
		}
		return func(k string) string { return m[k] }
	}
	both := env("LEADSVC_SECRET_KEY", newKey, "LEADSVC_SECRET_KEYS_PREVIOUS", oldKey)
	code, out, errOut := runCLI(t, both, "keys", "status")
	if code != 0 || !strings.Contains(out, newID+"  current   1") || !strings.Contains(out, oldID+"  previous  6") {
		t.Fatalf("keys status before: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, both, "keys", "rotate", "--batch", "2")
	if code != 0 || !strings.Contains(errOut, "keys rotate: tokens.secret_sealed: 2/6 re-sealed, 0 unopenable\n") ||
		!strings.Contains(errOut, "keys rotate: tokens.secret_sealed: 6/6 re-sealed") ||
		out != "keys rotate: 6 secrets re-sealed under key id "+newID+", 0 left that no configured key opens\n" {
		t.Fatalf("keys rotate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	everyReplicaWorks("after keys rotate")
	code, out, errOut = runCLI(t, both, "keys", "rotate")
	if code != 0 || !strings.Contains(out, " 0 secrets re-sealed") || errOut != "" {
		t.Fatalf("keys rotate again: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, both, "keys", "status", "--json")
	if code != 0 || out != `{"current":"`+newID+`","keys":[{"key_id":"`+newID+`","unversioned":false,"state":"current","secrets":7}]}`+"\n" {
		t.Fatalf("keys status --json after: exit %d: %s", code, out)
	}

	// The old key alone cannot open what is stored: serve refuses to
	// start and says which key ids it found and which it has.
	code, out, errOut = runProcess(t, t.TempDir(), map[string]string{"DATABASE_URL": dbURL, "LEADSVC_SECRET_KEY": oldKey,
		"LEADSVC_DATA_DIR": t.TempDir(), "LEADSVC_ADDR": "127.0.0.1:0", "LEADSVC_LOG_LEVEL": "warn"}, "serve")
	if code != 1 || !strings.Contains(errOut, "7 under key id "+newID) || !strings.Contains(errOut, "has key ids "+oldID+" (current)") {
		t.Fatalf("serve with the old key alone: exit %d, stdout %q, stderr %q; want exit 1 naming %s and %s", code, out, errOut, newID, oldID)
	}
	code, out, errOut = runCLI(t, env("LEADSVC_SECRET_KEY", oldKey), "keys", "status")
	if code != 1 || !strings.Contains(out, newID+"  unknown  7") || !strings.Contains(errOut, "LEADSVC_SECRET_KEYS_PREVIOUS") {
		t.Fatalf("keys status with the old key alone: exit %d\n%s%s", code, out, errOut)
	}
	c := mustRunMain(t, "LEADSVC_SECRET_KEY", newKey, "DATABASE_URL", dbURL)
	for id, want := range tokens {
		if got := str(on(c, s.admin).do("POST", "/v1/tokens/"+id+"/reveal", nil).want(200).obj(), "secret"); got != want {
			t.Fatal("Show with the new key alone gave another secret")
		}
	}

	// Were the new key lost, forgetting it lets the old one start again.
	oldOnly := env("LEADSVC_SECRET_KEY", oldKey)
	if code, _, errOut := runCLI(t, oldOnly, "keys", "forget", newID); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("keys forget without --yes: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, env("LEADSVC_SECRET_KEY", newKey), "keys", "forget", newID, "--yes"); code != 1 ||
		!strings.Contains(errOut, "configured here") {
		t.Fatalf("keys forget of a configured key: exit %d: %s", code, errOut)
	}
	code, out, errOut = runCLI(t, oldOnly, "keys", "forget", newID, "--yes")
	if code != 0 || out != "keys forget: 7 secrets sealed under key id "+newID+" dropped\n" {
		t.Fatalf("keys forget: exit %d: %s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, oldOnly, "account", "create", "--name", "After"); code != 0 {
		t.Fatalf("account create with the old key after forgetting the new one: exit %d: %s", code, errOut)
	}
}
