package commands_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/leadsvc/leadsvc/commands"
)

// fixedResolver answers names from a table, as a DNS server would;
// nothing is sent anywhere.
type fixedResolver map[string][]netip.Addr

func (r fixedResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("no such host %s", host)
}

// mapped is an IPv4 address as Go's resolver returns an A record: in its
// IPv4-mapped IPv6 form.
func mapped(s string) netip.Addr { return netip.AddrFrom16(netip.MustParseAddr(s).As16()) }

// A subscription's host is checked as written when it is an address, and
// every address it resolves to otherwise; a public name works, one
// address in a forbidden range refuses it.
func TestWebhookTargetsAreCheckedAsResolved(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	c, err := commands.New(commands.Config{Store: e.store, SecretKey: testKey, Webhooks: commands.WebhookTargets{
		Resolver: fixedResolver{
			"public.example":  {mapped("93.184.216.34"), netip.MustParseAddr("2606:2800:220:1:248:1893:25c8:1946")},
			"private.example": {mapped("93.184.216.34"), mapped("10.0.0.7")},
			"nat64.example":   {netip.MustParseAddr("64:ff9b:1::a00:7")},
			"teredo.example":  {netip.MustParseAddr("2001:0:4136:e378:8000:63bf:3fff:fdd2")},
			"compat.example":  {netip.MustParseAddr("::10.0.0.7")},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateWebhook.Handle(e.ctx, commands.CreateWebhook{AccountID: e.account.ID, CampaignID: p.campaign.ID,
		URL: "https://public.example/hooks"}); err != nil {
		t.Fatalf("a public name: %v", err)
	}
	for _, u := range []string{
		"https://private.example/h", "https://nat64.example/h", "https://teredo.example/h", "https://compat.example/h",
		"https://unknown.example/h",
		"https://[::ffff:8.8.8.8]/h", "https://[::8.8.8.8]/h", "https://[64:ff9b::808:808]/h", "https://[64:ff9b:1::a00:1]/h",
		"https://[2001::1]/h", "https://[100::1]/h", "https://[2001:10::1]/h", "https://[2002:808:808::1]/h", "https://[2001:db8::1]/h",
		"https://[fd00::1]/h", "https://[fe80::1%25eth0]/h",
	} {
		e.unchanged(func() {
			_, err := c.CreateWebhook.Handle(e.ctx, commands.CreateWebhook{AccountID: e.account.ID, CampaignID: p.campaign.ID, URL: u})
			wantValidation(t, err, "url", "invalid_value")
		})
	}
}
