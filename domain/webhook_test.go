package domain_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

var hookID = uuid.MustParse("00000000-0000-0000-0000-0000000000e1")

func webhookCreated(mutate func(*domain.WebhookCreated)) domain.WebhookCreated {
	e := domain.WebhookCreated{WebhookID: hookID, AccountID: acct, CampaignID: campID, URL: "https://hooks.example.com/leads", At: t0}
	if mutate != nil {
		mutate(&e)
	}
	return e
}

func TestCreateWebhookDecisions(t *testing.T) {
	t.Parallel()
	fid := filterID
	create := func(mutate func(*domain.NewWebhook)) func(domain.Webhook) ([]domain.Event, error) {
		n := domain.NewWebhook{ID: hookID, AccountID: acct, CampaignID: campID, URL: "https://hooks.example.com/leads"}
		if mutate != nil {
			mutate(&n)
		}
		return func(domain.Webhook) ([]domain.Event, error) { return domain.CreateWebhook(n, t0) }
	}
	runDecisions(t, domain.FoldWebhook, []decision[domain.Webhook]{
		{name: "every event type", when: create(nil), then: []domain.Event{webhookCreated(nil)}},
		{name: "a filter of the campaign and event types, sorted without repeats",
			when: create(func(n *domain.NewWebhook) {
				n.Filter = liveFilter(filterID, campID, acct)
				n.EventTypes = []string{"lead.updated", "lead.left_scope", "lead.updated"}
			}),
			then: []domain.Event{webhookCreated(func(e *domain.WebhookCreated) {
				e.FilterID, e.EventTypes = &fid, []string{"lead.left_scope", "lead.updated"}
			})}},
		{name: "plain http with a port", when: create(func(n *domain.NewWebhook) { n.URL = "http://hooks.example.com:8080/x?a=1" }),
			then: []domain.Event{webhookCreated(func(e *domain.WebhookCreated) { e.URL = "http://hooks.example.com:8080/x?a=1" })}},
		{name: "a filter of another campaign", when: create(func(n *domain.NewWebhook) { n.Filter = liveFilter(filterID, otherID, acct) }),
			invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
		{name: "a filter of another account", when: create(func(n *domain.NewWebhook) { n.Filter = liveFilter(filterID, campID, otherAcc) }),
			invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
		{name: "unknown and log-only event types",
			when:    create(func(n *domain.NewWebhook) { n.EventTypes = []string{"lead.created", "lead.deleted", "token.created"} }),
			invalid: []fc{{"event_types[1]", domain.CodeInvalidValue}, {"event_types[2]", domain.CodeInvalidValue}}},
		{name: "ftp", when: create(func(n *domain.NewWebhook) { n.URL = "ftp://example.com/x" }),
			invalid: []fc{{"url", domain.CodeInvalidValue}}},
	})
}

func TestWebhookURLForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, code string
	}{
		{"", domain.CodeInvalidFormat},
		{" https://example.com", domain.CodeInvalidFormat},
		{"example.com/hook", domain.CodeInvalidFormat},
		{"mailto:ops@example.com", domain.CodeInvalidFormat},
		{"file:///etc/passwd", domain.CodeInvalidValue},
		{"https:///path", domain.CodeInvalidFormat},
		{"https://user:pass@example.com/h", domain.CodeInvalidValue},
		{"https://example.com/h#frag", domain.CodeInvalidValue},
		{"https://example.com:0/h", domain.CodeInvalidValue},
		{"https://example.com:70000/h", domain.CodeInvalidValue},
		{"https://example.com/" + strings.Repeat("a", domain.MaxWebhookURL), domain.CodeInvalidValue},
		{"https://example.com/ok", ""},
		{"https://[2001:4860::8888]:8443/ok", ""},
	} {
		v := &domain.ValidationError{}
		got := domain.ValidWebhookURL(v, "url", tc.url)
		if tc.code == "" {
			if err := v.Err(); err != nil || got != tc.url {
				t.Errorf("ValidWebhookURL(%q) = %q, %v; want it as is", tc.url, got, err)
			}
			continue
		}
		if got != "" || len(v.Errors) != 1 || v.Errors[0].Code != tc.code {
			t.Errorf("ValidWebhookURL(%q) = %q, %+v; want one %s", tc.url, got, v.Errors, tc.code)
		}
	}
}

// TestForbiddenWebhookAddress is the guard's table: every address a
// webhook may not reach, by the range that forbids it, and public
// addresses that stay allowed. Nothing is sent anywhere.
func TestForbiddenWebhookAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr, why string
		want      bool
	}{
		{"127.0.0.1", "IPv4 loopback", true},
		{"127.8.9.10", "IPv4 loopback", true},
		{"10.1.2.3", "IPv4 private", true},
		{"172.16.0.1", "IPv4 private", true},
		{"192.168.1.1", "IPv4 private", true},
		{"169.254.169.254", "IPv4 link-local (cloud metadata)", true},
		{"0.0.0.0", "IPv4 this network", true},
		{"0.1.2.3", "IPv4 this network", true},
		{"100.64.0.1", "IPv4 shared address space (CGNAT)", true},
		{"192.0.0.8", "IPv4 IETF protocol assignments", true},
		{"192.0.2.1", "IPv4 documentation", true},
		{"192.88.99.1", "IPv4 6to4 relay anycast", true},
		{"198.18.0.1", "IPv4 benchmarking", true},
		{"198.51.100.7", "IPv4 documentation", true},
		{"203.0.113.9", "IPv4 documentation", true},
		{"224.0.0.1", "IPv4 multicast", true},
		{"239.255.255.250", "IPv4 multicast", true},
		{"240.0.0.1", "IPv4 reserved", true},
		{"255.255.255.255", "IPv4 broadcast", true},
		{"::", "IPv6 unspecified", true},
		{"::1", "IPv6 loopback", true},
		{"::ffff:127.0.0.1", "IPv4-mapped loopback", true},
		{"::ffff:10.0.0.1", "IPv4-mapped private", true},
		{"::ffff:8.8.8.8", "IPv4-mapped, even of a public address", true},
		{"::127.0.0.1", "IPv4-compatible", true},
		{"::8.8.8.8", "IPv4-compatible, even of a public address", true},
		{"::ffff:0:a9fe:a9fe", "IPv4-translated (SIIT)", true},
		{"64:ff9b::a9fe:a9fe", "NAT64 well-known prefix", true},
		{"64:ff9b::808:808", "NAT64 well-known prefix, even of a public address", true},
		{"64:ff9b:1::a00:1", "NAT64 local-use prefix", true},
		{"64:ff9b:1:ffff::808:808", "NAT64 local-use prefix", true},
		{"100::1", "IPv6 discard-only", true},
		{"100::ffff:ffff:ffff:ffff", "IPv6 discard-only", true},
		{"2001::1", "Teredo", true},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo (wraps 192.0.2.45)", true},
		{"2001:2::1", "IPv6 benchmarking", true},
		{"2001:10::1", "ORCHID", true},
		{"2001:1f::1", "ORCHID", true},
		{"2001:20::1", "ORCHIDv2", true},
		{"2001:db8::1", "IPv6 documentation", true},
		{"2001:db8:ffff::1", "IPv6 documentation", true},
		{"3fff::1", "IPv6 documentation (2024)", true},
		{"2002:7f00:1::", "6to4 of loopback", true},
		{"2002:808:808::1", "6to4, even of a public address", true},
		{"5f00::1", "SRv6 segment identifiers", true},
		{"fc00::1", "IPv6 unique local", true},
		{"fd12:3456:789a::1", "IPv6 unique local", true},
		{"fe80::1", "IPv6 link-local", true},
		{"fe80::1%eth0", "IPv6 link-local with a zone", true},
		{"fec0::1", "IPv6 site-local (deprecated)", true},
		{"ff02::1", "IPv6 multicast", true},
		{"ff0e::1", "IPv6 multicast", true},
		{"4000::1", "outside IPv6 global unicast", true},
		{"2606:4700:4700::1111%eth0", "a zone: only meaningful on a link", true},

		{"93.184.216.34", "public IPv4", false},
		{"8.8.8.8", "public IPv4", false},
		{"172.32.0.1", "public IPv4 beside 172.16/12", false},
		{"100.128.0.1", "public IPv4 beside 100.64/10", false},
		{"2606:4700:4700::1111", "public IPv6", false},
		{"2a00:1450:4001:80b::200e", "public IPv6", false},
		{"2001:200::1", "public IPv6 beside 2001::/23", false},
		{"2003::1", "public IPv6 beside 2002::/16", false},
	} {
		if got := domain.ForbiddenWebhookAddress(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("ForbiddenWebhookAddress(%s) = %v, want %v (%s)", tc.addr, got, tc.want, tc.why)
		}
	}
}

func TestUpdateWebhookDecisions(t *testing.T) {
	t.Parallel()
	fid, other := filterID, uuid.MustParse("00000000-0000-0000-0000-0000000000f2")
	given := []domain.Event{webhookCreated(func(e *domain.WebhookCreated) { e.FilterID, e.EventTypes = &fid, []string{"lead.created"} })}
	disabled := append(append([]domain.Event{}, given...), domain.WebhookDisabled{WebhookID: hookID, Reason: "failing", At: t0})
	deleted := append(append([]domain.Event{}, given...), domain.WebhookDeleted{WebhookID: hookID, At: t0})
	on, off := true, false
	update := func(c domain.WebhookChanges) func(domain.Webhook) ([]domain.Event, error) {
		return func(w domain.Webhook) ([]domain.Event, error) { return w.Update(c, t1) }
	}
	runDecisions(t, domain.FoldWebhook, []decision[domain.Webhook]{
		{name: "nothing changes", given: given, when: update(domain.WebhookChanges{URL: ptr("https://hooks.example.com/leads"),
			Filter: liveFilter(filterID, campID, acct), EventTypes: &[]string{"lead.created"}, Enabled: &on})},
		{name: "new URL, another filter, every type", given: given,
			when: update(domain.WebhookChanges{URL: ptr("https://example.org/h"), Filter: liveFilter(other, campID, acct), EventTypes: &[]string{}}),
			then: []domain.Event{domain.WebhookUpdated{WebhookID: hookID, URL: ptr("https://example.org/h"), FilterID: &other,
				EventTypes: &[]string{}, At: t1}}},
		{name: "clear the filter", given: given, when: update(domain.WebhookChanges{ClearFilter: true}),
			then: []domain.Event{domain.WebhookUpdated{WebhookID: hookID, ClearFilter: true, At: t1}}},
		{name: "disable by hand", given: given, when: update(domain.WebhookChanges{Enabled: &off}),
			then: []domain.Event{domain.WebhookDisabled{WebhookID: hookID, Reason: domain.WebhookDisabledManually, At: t1}}},
		{name: "enable a disabled one", given: disabled, when: update(domain.WebhookChanges{Enabled: &on}),
			then: []domain.Event{domain.WebhookEnabled{WebhookID: hookID, At: t1}}},
		{name: "bad URL and type together", given: given,
			when:    update(domain.WebhookChanges{URL: ptr("gopher://x"), EventTypes: &[]string{"nope"}}),
			invalid: []fc{{"url", domain.CodeInvalidValue}, {"event_types[0]", domain.CodeInvalidValue}}},
		{name: "deleted", given: deleted, when: update(domain.WebhookChanges{Enabled: &on}), sentinel: domain.ErrWebhookNotFound},
		{name: "never created", when: update(domain.WebhookChanges{}), sentinel: domain.ErrWebhookNotFound},
	})
}

func TestWebhookLifecycleDecisions(t *testing.T) {
	t.Parallel()
	given := []domain.Event{webhookCreated(nil)}
	disabled := append(append([]domain.Event{}, given...), domain.WebhookDisabled{WebhookID: hookID, Reason: "gone", At: t0})
	runDecisions(t, domain.FoldWebhook, []decision[domain.Webhook]{
		{name: "rotate without a grace stops the old secret at once", given: given,
			when: func(w domain.Webhook) ([]domain.Event, error) { return w.RotateSecret(0, t1) },
			then: []domain.Event{domain.WebhookSecretRotated{WebhookID: hookID, PreviousValidUntil: t1, At: t1}}},
		{name: "rotate with a grace", given: given,
			when: func(w domain.Webhook) ([]domain.Event, error) { return w.RotateSecret(24*time.Hour, t1) },
			then: []domain.Event{domain.WebhookSecretRotated{WebhookID: hookID, PreviousValidUntil: t1.Add(24 * time.Hour), At: t1}}},
		{name: "rotate with too long a grace", given: given,
			when:    func(w domain.Webhook) ([]domain.Event, error) { return w.RotateSecret(8*24*time.Hour, t1) },
			invalid: []fc{{"grace_period", domain.CodeInvalidValue}}},
		{name: "disable for failing", given: given,
			when: func(w domain.Webhook) ([]domain.Event, error) {
				return w.Disable(domain.WebhookDisabledFailing, "failing since 2026-03-01", t1)
			},
			then: []domain.Event{domain.WebhookDisabled{WebhookID: hookID, Reason: "failing", Detail: "failing since 2026-03-01", At: t1}}},
		{name: "disable twice keeps the first reason", given: disabled,
			when: func(w domain.Webhook) ([]domain.Event, error) {
				return w.Disable(domain.WebhookDisabledFailing, "", t1)
			}},
		{name: "an unknown reason", given: given,
			when:    func(w domain.Webhook) ([]domain.Event, error) { return w.Disable("bored", "", t1) },
			invalid: []fc{{"reason", domain.CodeInvalidValue}}},
		{name: "delete", given: disabled, when: func(w domain.Webhook) ([]domain.Event, error) { return w.Delete(t1) },
			then: []domain.Event{domain.WebhookDeleted{WebhookID: hookID, At: t1}}},
	})
	w := domain.FoldWebhook(append(disabled, domain.WebhookEnabled{WebhookID: hookID, At: t1}))
	if w.Disabled || w.DisabledReason != "" || w.Version != 3 || !w.UpdatedAt.Equal(t1) || !w.Wants("lead.left_scope") {
		t.Fatalf("after enable: %+v", w)
	}
}

func TestWebhookSecretFormat(t *testing.T) {
	t.Parallel()
	var random [32]byte
	for i := range random {
		random[i] = byte(i * 7)
	}
	s := domain.FormatWebhookSecret(random)
	key, err := domain.WebhookSigningKey(s)
	if !strings.HasPrefix(s, "whsec_") || err != nil || string(key) != string(random[:]) {
		t.Fatalf("secret %q → key %x, %v", s, key, err)
	}
	for _, bad := range []string{"", "whsec_", "lsk_" + s[6:], "whsec_!!!!", "whsec_" + s[10:]} {
		if _, err := domain.WebhookSigningKey(bad); err == nil {
			t.Errorf("WebhookSigningKey(%q) accepted", bad)
		}
	}
}
