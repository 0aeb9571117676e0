package api_test

import (
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/api"
)

func TestMemoryLimiterSpendsAllOrNoneAndRefills(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := api.NewMemoryLimiter(api.Policy{Name: "default", Quota: 3, Window: 3 * time.Second}, 0, func() time.Time { return now })
	if d := l.Take("k", 0); !d.OK || d.Remaining != 3 || api.LimiterKeys(l) != 0 {
		t.Fatalf("asking about a new key = %+v (%d keys), want a full budget and nothing kept", d, api.LimiterKeys(l))
	}
	if d := l.Take("k", 2); !d.OK || d.Remaining != 1 {
		t.Fatalf("take 2 of 3 = %+v", d)
	}
	if d := l.Take("k", 2); d.OK || d.Remaining != 1 || d.Retry != time.Second {
		t.Fatalf("take 2 of 1 = %+v, want refused with 1 s to wait", d)
	}
	if d := l.Take("k", 1); !d.OK || d.Remaining != 0 {
		t.Fatalf("take the last = %+v", d)
	}
	if d := l.Take("k", 0); d.OK || d.Retry != time.Second || d.Reset != 3*time.Second {
		t.Fatalf("asking about an empty budget = %+v", d)
	}
	now = now.Add(time.Second)
	if d := l.Take("k", 0); !d.OK || d.Remaining != 1 {
		t.Fatalf("a second later = %+v, want one unit back", d)
	}
}

func TestMemoryLimiterHoldsAtMostMaxKeys(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := api.NewMemoryLimiter(api.Policy{Name: "address", Quota: 5, Window: time.Minute}, 100, func() time.Time { return now })
	for i := range 10_000 {
		if d := l.Take(strconv.Itoa(i), 1); !d.OK {
			t.Fatalf("key %d: %+v", i, d)
		}
		if n := api.LimiterKeys(l); n > 100 {
			t.Fatalf("%d keys held after %d, want at most 100", n, i+1)
		}
	}
}

func TestClientAddresses(t *testing.T) {
	t.Parallel()
	trusted, err := api.ParseTrustedProxies("10.0.0.0/8, 192.0.2.7, ::ffff:198.51.100.0/120, 2001:db8:ffff::/48,")
	if err != nil {
		t.Fatal(err)
	}
	xff := api.ClientAddresses{Trusted: trusted, Header: api.HeaderXForwardedFor}
	fwd := api.ClientAddresses{Trusted: trusted, Header: api.HeaderForwarded}
	for _, tc := range []struct {
		name    string
		clients api.ClientAddresses
		peer    string
		header  string
		value   string
		want    string
	}{
		{"no proxies configured", api.ClientAddresses{}, "10.1.1.1:5000", "X-Forwarded-For", "203.0.113.1", "10.1.1.1"},
		{"an untrusted peer", xff, "203.0.113.9:5000", "X-Forwarded-For", "198.51.100.1", "203.0.113.9"},
		{"a trusted proxy", xff, "10.1.1.1:5000", "X-Forwarded-For", "203.0.113.1", "203.0.113.1"},
		{"a client's own claim on the left", xff, "10.1.1.1:5000", "X-Forwarded-For", "1.2.3.4, 203.0.113.1", "203.0.113.1"},
		{"a chain of trusted proxies", xff, "192.0.2.7:5000", "X-Forwarded-For", "203.0.113.1, 10.9.9.9", "203.0.113.1"},
		{"every hop trusted", xff, "10.1.1.1:5000", "X-Forwarded-For", "10.2.2.2", "10.2.2.2"},
		{"no header", xff, "10.1.1.1:5000", "", "", "10.1.1.1"},
		{"an unreadable hop", xff, "10.1.1.1:5000", "X-Forwarded-For", "203.0.113.1, garbage", "10.1.1.1"},
		{"a hop with a port", xff, "10.1.1.1:5000", "X-Forwarded-For", "203.0.113.1:443", "203.0.113.1"},
		{"an IPv4-mapped peer", xff, "[::ffff:10.1.1.1]:5000", "X-Forwarded-For", "203.0.113.1", "203.0.113.1"},
		{"a mapped prefix", xff, "198.51.100.20:5000", "X-Forwarded-For", "203.0.113.1", "203.0.113.1"},
		{"an IPv6 proxy", xff, "[2001:db8:ffff::1]:5000", "X-Forwarded-For", "2001:db8::5", "2001:db8::5"},
		{"Forwarded", fwd, "10.1.1.1:5000", "Forwarded", `for=1.2.3.4, for="[2001:db8::7]:4711";proto=https`, "2001:db8::7"},
		{"Forwarded unknown", fwd, "10.1.1.1:5000", "Forwarded", "for=203.0.113.1, for=unknown", "10.1.1.1"},
		{"X-Forwarded-For when Forwarded is configured", fwd, "10.1.1.1:5000", "X-Forwarded-For", "203.0.113.1", "10.1.1.1"},
		{"Forwarded when X-Forwarded-For is configured", xff, "10.1.1.1:5000", "Forwarded", "for=203.0.113.1", "10.1.1.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.header != "" {
			r.Header.Set(tc.header, tc.value)
		}
		if got := tc.clients.Of(r); got != netip.MustParseAddr(tc.want) {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "::1/129", "10.0.0.1, nope"} {
		if _, err := api.ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
}
