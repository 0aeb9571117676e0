package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// `leadsvc token create` mints a token for an existing account through
// the same command as the API: an admin token that works at once, and
// campaign tokens that must say their breadth. Each is token.created with
// the command line's request id; the secret is printed once and never
// logged.
func TestTokenCreateCommand(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	if code, _, errOut := runCLI(t, env, "demo"); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errOut)
	}
	demo := readDemo(t, env("LEADSVC_DATA_DIR"))
	account, campaign, filter := demo.AccountID.String(), demo.CampaignID.String(), demo.FilterID.String()
	pool := testenv.Pool(t, env("DATABASE_URL"))

	code, out, errOut := runCLI(t, env, "token", "create", "--account", account, "--name", "Recovery admin",
		"--permissions", "admin,read", "--permissions", "write,audit", "--json")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	var admin struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
		CampaignID  *string  `json:"campaign_id"`
		DocsURL     string   `json:"docs_url"`
		Secret      string   `json:"secret"`
	}
	if err := json.Unmarshal([]byte(out), &admin); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if !domain.ValidTokenSecretFormat(admin.Secret) || admin.Name != "Recovery admin" || admin.CampaignID != nil ||
		strings.Join(admin.Permissions, ",") != "admin,audit,read,write" || !strings.Contains(admin.DocsURL, "/docs/") {
		t.Fatalf("token create --json = %s", out)
	}
	if strings.Contains(errOut, admin.Secret) {
		t.Fatal("the secret was logged")
	}

	code, out, errOut = runCLI(t, env, "token", "create", "--account", account, "--name", "Partner ABC again",
		"--permissions", "read", "--campaign", campaign, "--filter", filter)
	secrets := regexp.MustCompile(`lsk_[0-9A-Za-z]{49}`).FindAllString(out, -1)
	if code != 0 || len(secrets) != 1 || !strings.Contains(out, "filter "+filter) || !strings.Contains(out, "/docs/") {
		t.Fatalf("token create --filter: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	filtered := secrets[0]
	code, out, errOut = runCLI(t, env, "token", "create", "--account", account, "--name", "Everything",
		"--permissions", "read", "--campaign", campaign, "--no-filter")
	secrets = regexp.MustCompile(`lsk_[0-9A-Za-z]{49}`).FindAllString(out, -1)
	if code != 0 || len(secrets) != 1 || !strings.Contains(out, "every lead") {
		t.Fatalf("token create --no-filter: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	everything := secrets[0]

	before := logLength(t, pool)
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--name", "N", "--permissions", "read", "--campaign", campaign}, 2, "--no-filter"},
		{[]string{"--name", "N", "--permissions", "read", "--filter", filter}, 2, "--campaign"},
		{[]string{"--name", "N", "--permissions", "read", "--campaign", campaign, "--filter", filter, "--no-filter"}, 2, "none of the others"},
		{[]string{"--name", "N", "--permissions", "root"}, 2, "permissions"},
		{[]string{"--name", "N", "--permissions", "admin", "--campaign", campaign, "--no-filter"}, 2, "permissions"},
		{[]string{"--permissions", "read"}, 2, `"name"`},
		{[]string{"--name", " ", "--permissions", "read"}, 2, "name"},
		{[]string{"--name", "N"}, 2, `"permissions"`},
		{[]string{"--name", "N", "--permissions", "read", "--campaign", "nope", "--no-filter"}, 2, "--campaign"},
		{[]string{"--name", "N", "--permissions", "read", "--campaign", campaign, "--filter", account}, 2, "filter"},
		{[]string{"--name", "N", "--permissions", "read", "--campaign", account, "--no-filter"}, 1, "campaign"},
	} {
		args := append([]string{"token", "create", "--account", account}, tc.args...)
		if code, out, errOut := runCLI(t, env, args...); code != tc.code || out != "" || !strings.Contains(errOut, tc.says) {
			t.Errorf("leadsvc %s: exit %d, stdout %q, stderr %q; want %d saying %s", strings.Join(args, " "), code, out, errOut, tc.code, tc.says)
		}
	}
	unknown := "00000000-0000-0000-0000-00000000abcd"
	if code, _, errOut := runCLI(t, env, "token", "create", "--account", unknown, "--name", "N", "--permissions", "admin"); code != 1 ||
		!strings.Contains(errOut, "no account "+unknown) {
		t.Errorf("an unknown account: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "token", "create", "--account", "x", "--name", "N", "--permissions", "admin"); code != 2 ||
		!strings.Contains(errOut, "--account") {
		t.Errorf("a malformed account id: exit %d, %q", code, errOut)
	}
	if after := logLength(t, pool); after != before {
		t.Fatalf("refused token creates wrote %d events", after-before)
	}

	// The tokens work through the API, and the log says who made them.
	m := mustRunMain(t, "DATABASE_URL", env("DATABASE_URL"), "LEADSVC_DATA_DIR", env("LEADSVC_DATA_DIR"))
	api := &client{t: t, base: "http://" + m.Addr(), token: admin.Secret}
	api.do("GET", "/v1/tokens", nil).want(200)
	var last int64
	if err := pool.QueryRow(context.Background(), `SELECT max(position) FROM events`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	pos := fmt.Sprint(last)
	if got := len(api.as(filtered).listAll("", pos)); got != 2 {
		t.Errorf("the filtered token sees %d leads, want the filter's 2", got)
	}
	if got := len(api.as(everything).listAll("", pos)); got != 3 {
		t.Errorf("the --no-filter token sees %d leads, want all 3", got)
	}
	var history struct {
		Data []struct {
			Type      string          `json:"type"`
			RequestID string          `json:"request_id"`
			Actor     json.RawMessage `json:"actor"`
		} `json:"data"`
	}
	api.do("GET", "/v1/audit/tokens/"+admin.ID+"/events", nil).want(200).into(&history)
	if len(history.Data) == 0 || history.Data[0].Type != "token.created" || history.Data[0].RequestID != "cli" ||
		string(history.Data[0].Actor) != "null" {
		t.Fatalf("the token's history = %+v, want token.created by the command line", history.Data)
	}
}
