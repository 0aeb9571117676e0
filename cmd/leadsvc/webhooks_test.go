package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// hookReceiver records the JSON bodies and headers an endpoint gets.
type hookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []map[string]any
	head []http.Header
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		m["raw"] = string(b)
		r.mu.Lock()
		r.got, r.head = append(r.got, m), append(r.head, req.Header.Clone())
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// wait returns the n-th body (from 1) once it has come.
func (r *hookReceiver) wait(t *testing.T, n int) (map[string]any, http.Header) {
	t.Helper()
	testenv.CheckFor(t, 15*time.Second, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.got) < n {
			return fmt.Errorf("%d webhooks, want %d", len(r.got), n)
		}
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[n-1], r.head[n-1]
}

func (r *hookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// signedBy reports whether one v1 signature of h is the HMAC-SHA256 of
// "id.timestamp.body" under the whsec_ secret (Standard Webhooks).
func signedBy(secret string, h http.Header, body string) bool {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return strings.Contains(" "+h.Get("webhook-signature")+" ", " "+want+" ")
}

func TestWebhooksThroughTheAPI(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true")
	s := mustSetup(t, m)
	rcv := newHookReceiver(t)
	create := map[string]any{"url": rcv.srv.URL + "/hooks", "campaign_id": s.campaignID, "filter_id": s.abc.filterID}
	created := s.admin.do("POST", "/v1/webhooks", create, "Idempotency-Key", "hook-1").want(201)
	hook := created.obj()
	id, secret := str(hook, "id"), str(hook, "secret")
	if !strings.HasPrefix(secret, "whsec_") || created.Header.Get("Location") == "" || hook["enabled"] != true {
		t.Fatalf("created %v, headers %v", hook, created.Header)
	}
	replay := s.admin.do("POST", "/v1/webhooks", create, "Idempotency-Key", "hook-1").want(201)
	if again := replay.obj(); str(again, "id") != id || str(again, "secret") != secret || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed create %v", again)
	}

	abcLead, _ := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	s.xyz.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Outside"}})
	body, h := rcv.wait(t, 1)
	if str(body, "type") != "lead.created" || str(body, "subject") != abcLead.ID || !signedBy(secret, h, str(body, "raw")) {
		t.Fatalf("webhook %v, headers %v", body, h)
	}

	got := s.admin.do("GET", "/v1/webhooks/"+id, nil).want(200).obj()
	if _, ok := got["secret"]; ok || str(got, "url") != rcv.srv.URL+"/hooks" || str(got, "filter_id") != s.abc.filterID {
		t.Fatalf("GET webhook %v", got)
	}
	var list struct {
		Data []map[string]any `json:"data"`
	}
	s.admin.do("GET", "/v1/webhooks?campaign_id="+s.campaignID, nil).want(200).into(&list)
	if len(list.Data) != 1 || str(list.Data[0], "id") != id {
		t.Fatalf("list %v", list.Data)
	}
	var deliveries struct {
		Data       []map[string]any `json:"data"`
		NextCursor *string          `json:"next_cursor"`
	}
	testenv.CheckFor(t, 10*time.Second, func() error {
		s.admin.do("GET", "/v1/webhooks/"+id+"/deliveries", nil).want(200).into(&deliveries)
		if len(deliveries.Data) != 1 || deliveries.Data[0]["success"] != true {
			return fmt.Errorf("deliveries %v", deliveries.Data)
		}
		return nil
	})
	d := deliveries.Data[0]
	if d["status"] != 204.0 || str(d, "event_id") != h.Get("webhook-id") || d["attempt"] != 1.0 || str(d, "message_state") != "delivered" {
		t.Fatalf("delivery %v", d)
	}

	// Send a test event, then all since a time again.
	test := s.admin.do("POST", "/v1/webhooks/"+id+"/test", nil).want(202).obj()
	if body, _ := rcv.wait(t, 2); str(body, "type") != "webhook.test" || str(body, "id") != str(test, "event_id") {
		t.Fatalf("test webhook %v", body)
	}
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	// Both messages delivered (redelivery takes those no longer pending).
	testenv.CheckFor(t, 10*time.Second, func() error {
		s.admin.do("GET", "/v1/webhooks/"+id+"/deliveries?limit=2", nil).want(200).into(&deliveries)
		if len(deliveries.Data) != 2 || str(deliveries.Data[0], "message_state") != "delivered" ||
			str(deliveries.Data[1], "message_state") != "delivered" {
			return fmt.Errorf("newest %v", deliveries.Data)
		}
		return nil
	})
	if s.admin.do("GET", "/v1/webhooks/"+id+"/deliveries?limit=1", nil).want(200).into(&deliveries); deliveries.NextCursor == nil {
		t.Fatalf("a page of one of two deliveries has no next_cursor: %v", deliveries.Data)
	}
	re := s.admin.do("POST", "/v1/webhooks/"+id+"/redeliver", map[string]any{"since": since}).want(202).obj()
	if re["messages"] != 2.0 {
		t.Fatalf("redeliver %v", re)
	}
	if body, _ := rcv.wait(t, 4); str(body, "id") != h.Get("webhook-id") && str(body, "id") != str(test, "event_id") {
		t.Fatalf("redelivered %v", body)
	}
	p := s.admin.do("POST", "/v1/webhooks/"+id+"/redeliver", map[string]any{"since": since, "event_id": test["event_id"]}).problem(422)
	if !p.hasError("body", "invalid_value") {
		t.Fatalf("two selectors: %+v", p)
	}

	rotated := s.admin.do("POST", "/v1/webhooks/"+id+"/rotate-secret", map[string]any{"grace_period": "1h"}).want(200).obj()
	if next := str(rotated, "secret"); !strings.HasPrefix(next, "whsec_") || next == secret || rotated["previous_secret_valid_until"] == nil {
		t.Fatalf("rotated %v", rotated)
	}

	off := s.admin.do("PATCH", "/v1/webhooks/"+id, map[string]any{"enabled": false}).want(200).obj()
	if off["enabled"] != false || str(off, "disabled_reason") != "manual" {
		t.Fatalf("disabled %v", off)
	}
	if p := s.admin.do("POST", "/v1/webhooks/"+id+"/test", nil).problem(409); !strings.HasSuffix(p.Type, "webhook-disabled") {
		t.Fatalf("test while disabled: %+v", p)
	}
	on := s.admin.do("PATCH", "/v1/webhooks/"+id, map[string]any{"enabled": true, "event_types": []string{"lead.updated"},
		"filter_id": nil}).want(200).obj()
	if on["enabled"] != true || on["filter_id"] != nil || fmt.Sprint(on["event_types"]) != "[lead.updated]" {
		t.Fatalf("enabled %v", on)
	}
	if p := s.admin.do("PATCH", "/v1/webhooks/"+id, map[string]any{"event_types": []string{"lead.teleported"}}).problem(422); !p.hasError("event_types[0]", "invalid_value") {
		t.Fatalf("bad type: %+v", p)
	}
	if p := s.admin.do("PATCH", "/v1/webhooks/"+id, map[string]any{"url": "ftp://example.com"}).problem(422); !p.hasError("url", "invalid_value") {
		t.Fatalf("bad url: %+v", p)
	}

	other := mustAccount(t, m, "Other")
	other.do("GET", "/v1/webhooks/"+id, nil).problem(404)
	other.do("GET", "/v1/webhooks/"+id+"/deliveries", nil).problem(404)
	s.abc.rw.do("GET", "/v1/webhooks", nil).problem(403)

	s.admin.do("DELETE", "/v1/webhooks/"+id, nil).want(204)
	s.admin.do("GET", "/v1/webhooks/"+id, nil).problem(404)
	// A live subscription is the witness: once it has the lead, the
	// deleted one would have had it too.
	witness := newHookReceiver(t)
	s.admin.do("POST", "/v1/webhooks", map[string]any{"url": witness.srv.URL + "/hooks", "campaign_id": s.campaignID,
		"filter_id": s.abc.filterID}).want(201)
	before := rcv.count()
	after, _ := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "After"}})
	if body, _ := witness.wait(t, 1); str(body, "subject") != after.ID {
		t.Fatalf("the witness got %v", body)
	}
	if rcv.count() != before {
		t.Fatal("a deleted subscription still receives")
	}
}

func TestWebhookPrivateTargetsRefusedByDefault(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	for _, u := range []string{"http://127.0.0.1:9/hooks", "http://localhost/hooks", "http://169.254.169.254/latest",
		// IPv6 forms that embed or translate to an IPv4 address.
		"http://[64:ff9b:1::a00:1]/h", "http://[::127.0.0.1]/h", "http://[2001::1]/h", "http://[100::1]/h",
		"http://[2001:10::1]/h", "http://[::ffff:8.8.8.8]/h"} {
		p := s.admin.do("POST", "/v1/webhooks", map[string]any{"url": u, "campaign_id": s.campaignID}).problem(422)
		if !p.hasError("url", "invalid_value") {
			t.Errorf("%s: %+v", u, p)
		}
	}
	if p := s.admin.do("POST", "/v1/webhooks", map[string]any{"url": "https://example.com/h"}).problem(422); !p.hasError("campaign_id", "required") {
		t.Errorf("no campaign: %+v", p)
	}
}

func TestWebhooksAllowPrivateIsABoolean(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"": false, "true": true, "false": false, "1": true} {
		cfg, err := LoadConfig(func(k string) string {
			if k == "LEADSVC_WEBHOOKS_ALLOW_PRIVATE" {
				return v
			}
			return ""
		})
		if err != nil || cfg.WebhooksAllowPrivate != want {
			t.Errorf("%q: %v, %v", v, cfg.WebhooksAllowPrivate, err)
		}
	}
	if _, err := LoadConfig(func(k string) string {
		if k == "LEADSVC_WEBHOOKS_ALLOW_PRIVATE" {
			return "maybe"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "LEADSVC_WEBHOOKS_ALLOW_PRIVATE") {
		t.Fatalf("maybe: %v", err)
	}
}
