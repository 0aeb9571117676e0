package commands_test

import (
	"errors"
	"testing"

	"github.com/leadsvc/leadsvc/commands"
)

// CheckSecretKey opens the newest stored token secret and webhook signing
// secret: the key they were sealed with passes, another is refused, by
// the webhook's secret once no token secret is left.
func TestCheckSecretKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	if _, err := e.c.CreateWebhook.Handle(e.ctx, commands.CreateWebhook{AccountID: e.account.ID, CampaignID: p.campaign.ID,
		URL: "https://93.184.216.34/hooks"}); err != nil {
		t.Fatal(err)
	}
	other, err := commands.New(commands.Config{Store: e.store, SecretKey: []byte("another key, another 32 bytes..!")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.Keys.CheckSecretKey(e.ctx); err != nil {
		t.Fatalf("the key the secrets were sealed with: %v", err)
	}
	if err := other.Keys.CheckSecretKey(e.ctx); !errors.Is(err, commands.ErrSecretKeyMismatch) {
		t.Fatalf("another key: %v, want ErrSecretKeyMismatch", err)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE tokens SET secret_sealed = NULL`); err != nil {
		t.Fatal(err)
	}
	if err := other.Keys.CheckSecretKey(e.ctx); !errors.Is(err, commands.ErrSecretKeyMismatch) {
		t.Fatalf("another key, only a webhook secret stored: %v, want ErrSecretKeyMismatch", err)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE webhooks SET secret_sealed = NULL`); err != nil {
		t.Fatal(err)
	}
	if err := other.Keys.CheckSecretKey(e.ctx); err != nil {
		t.Fatalf("nothing stored to open: %v", err)
	}
}
