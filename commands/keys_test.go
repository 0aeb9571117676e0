package commands_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

var newKey = []byte("the next key, also 32 bytes long")

// withKeys is another process on e's database with other keys.
func (e *env) withKeys(current []byte, previous ...[]byte) commands.Commands {
	e.t.Helper()
	c, err := commands.New(commands.Config{Store: e.store, SecretKey: current, PreviousSecretKeys: previous,
		Clock: e.clock.now})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// secrets makes n tokens and n webhooks; it returns the tokens' secrets
// by id and the webhook ids.
func (e *env) secrets(n int) (tokens map[uuid.UUID]string, webhooks []uuid.UUID) {
	e.t.Helper()
	p := e.partner()
	tokens = map[uuid.UUID]string{}
	for range n {
		tok, err := e.c.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account.ID, CampaignID: &p.campaign.ID,
			EveryLead: true, Name: "t", Permissions: []domain.Permission{domain.PermRead}})
		if err != nil {
			e.t.Fatal(err)
		}
		tokens[tok.Token.ID] = tok.Secret
		w, err := e.c.CreateWebhook.Handle(e.ctx, commands.CreateWebhook{AccountID: e.account.ID, CampaignID: p.campaign.ID,
			URL: "https://93.184.216.34/hooks"})
		if err != nil {
			e.t.Fatal(err)
		}
		webhooks = append(webhooks, w.Webhook.ID)
	}
	return tokens, webhooks
}

// reveals checks that c shows every token's secret and opens every
// webhook's.
func (e *env) reveals(c commands.Commands, tokens map[uuid.UUID]string, webhooks []uuid.UUID) error {
	for id, want := range tokens {
		got, err := c.RevealToken.Handle(e.ctx, commands.RevealToken{AccountID: e.account.ID, TokenID: id})
		if err != nil {
			return err
		}
		if got.Secret != want {
			return errors.New("Show gave another secret")
		}
	}
	for _, id := range webhooks {
		var sealed []byte
		if err := e.pool.QueryRow(e.ctx, `SELECT secret_sealed FROM webhooks WHERE id = $1`, id).Scan(&sealed); err != nil {
			return err
		}
		if _, err := c.Keys.OpenWebhookSecret(id, sealed); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) status(c commands.Commands) commands.KeyStatus {
	e.t.Helper()
	st, err := c.Keys.KeyStatus(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// counts renders a status as "id:state=n" items, unversioned ones
// marked with a "~".
func counts(st commands.KeyStatus) string {
	var parts []string
	for _, u := range st.Keys {
		id := u.KeyID
		if u.Unversioned {
			id = "~" + id
		}
		parts = append(parts, id+":"+u.State+"="+strconv.FormatInt(u.Secrets, 10))
	}
	return strings.Join(parts, " ")
}

// A sealed secret starts with a version byte and the id of its key.
func TestSealedSecretsCarryTheirKeyID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var sealed []byte
	if err := e.pool.QueryRow(e.ctx, `SELECT secret_sealed FROM tokens`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	id := commands.KeyIDOf(testKey)
	if sealed[0] != 1 || string(sealed[1:9]) != string(id[:]) {
		t.Fatalf("sealed secret starts % x, want 01 and the key id %s", sealed[:9], id)
	}
	if got, want := counts(e.status(e.c)), id.String()+":current=1"; got != want {
		t.Fatalf("status = %s, want %s", got, want)
	}
}

// legacySeal seals as leadsvc did before key ids: nonce and ciphertext.
func legacySeal(t *testing.T, key, ad []byte, secret string) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	return aead.Seal(nonce, nonce, []byte(secret), ad)
}

// Secrets sealed before key ids still open, under the current key or a
// previous one; status counts them apart, and rotation gives them an id.
func TestUnversionedSecretsStillOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokens, webhooks := e.secrets(2)
	webhookSecret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	i := 0
	for id, secret := range tokens {
		key := testKey
		if i%2 == 1 {
			key = newKey
		}
		i++
		if _, err := e.pool.Exec(e.ctx, `UPDATE tokens SET secret_sealed = $2 WHERE id = $1`, id, legacySeal(t, key, id[:], secret)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range webhooks {
		if _, err := e.pool.Exec(e.ctx, `UPDATE webhooks SET secret_sealed = $2 WHERE id = $1`, id,
			legacySeal(t, testKey, append([]byte("webhook "), id[:]...), webhookSecret)); err != nil {
			t.Fatal(err)
		}
	}
	both := e.withKeys(testKey, newKey)
	if err := e.reveals(both, tokens, webhooks); err != nil {
		t.Fatalf("unversioned secrets: %v", err)
	}
	for _, id := range webhooks {
		var sealed []byte
		if err := e.pool.QueryRow(e.ctx, `SELECT secret_sealed FROM webhooks WHERE id = $1`, id).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if got, err := both.Keys.OpenWebhookSecret(id, sealed); err != nil || got != webhookSecret {
			t.Fatalf("OpenWebhookSecret = %q, %v; want the secret sealed before key ids", got, err)
		}
	}
	cur, prev := commands.KeyIDOf(testKey).String(), commands.KeyIDOf(newKey).String()
	// The owner's token (1), the partner's token (1), 2 webhooks and one
	// of the new tokens stay under testKey; the other under newKey.
	if got, want := counts(e.status(both)), cur+":current=2 ~"+cur+":current=3 ~"+prev+":previous=1"; got != want {
		t.Fatalf("status = %s, want %s", got, want)
	}
	if err := e.c.Keys.CheckSecretKey(e.ctx); !errors.Is(err, commands.ErrSecretKeyMismatch) ||
		!strings.Contains(err.Error(), "1 sealed before key ids") {
		t.Fatalf("CheckSecretKey without the key of one unversioned secret: %v", err)
	}
	res, err := both.RotateSecretKey.Handle(e.ctx, commands.RotateSecretKey{Batch: 100})
	if err != nil || res.Resealed != 4 || res.Unopenable != 0 {
		t.Fatalf("RotateSecretKey = %+v, %v; want 4 re-sealed", res, err)
	}
	if got, want := counts(e.status(both)), cur+":current=6"; got != want {
		t.Fatalf("status after rotation = %s, want %s", got, want)
	}
	if err := e.reveals(e.c, tokens, webhooks); err != nil {
		t.Fatalf("after rotation, with the current key alone: %v", err)
	}
}

// The rotation as operators run it: every replica opens with both keys,
// then seals with the new one, then keys rotate re-seals the rest while
// they serve. Replicas keep showing every secret throughout, and the old
// key alone is refused at the end, by name.
func TestRotateWhileReplicasServe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokens, webhooks := e.secrets(6)
	oldFirst := e.withKeys(testKey, newKey) // a replica not yet restarted with the new key current
	newFirst := e.withKeys(newKey, testKey) // a restarted one; keys rotate runs with it too
	var (
		mu      sync.Mutex
		batches int
		fail    error
	)
	res, err := newFirst.RotateSecretKey.Handle(e.ctx, commands.RotateSecretKey{Batch: 3, Progress: func(p commands.RotateProgress) {
		mu.Lock()
		defer mu.Unlock()
		batches++
		for _, replica := range []commands.Commands{oldFirst, newFirst} {
			if err := e.reveals(replica, tokens, webhooks); err != nil && fail == nil {
				fail = err
			}
		}
		// A replica still sealing with the old key writes during the
		// rotation: that value is found by the next run.
		if batches == 1 {
			tok, err := oldFirst.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account.ID, Name: "late",
				Permissions: []domain.Permission{domain.PermRead}})
			if err != nil && fail == nil {
				fail = err
			}
			tokens[tok.Token.ID] = tok.Secret
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if fail != nil {
		t.Fatalf("a replica failed to show a secret during the rotation: %v", fail)
	}
	// 2 tokens of newEnv and partner, 6 tokens, 6 webhooks.
	if res.Resealed < 14 || res.Unopenable != 0 || batches < 5 {
		t.Fatalf("RotateSecretKey = %+v in %d batches, want at least 14 re-sealed in batches of 3", res, batches)
	}
	if _, err := newFirst.RotateSecretKey.Handle(e.ctx, commands.RotateSecretKey{Batch: 3}); err != nil {
		t.Fatal(err)
	}
	newID, oldID := commands.KeyIDOf(newKey).String(), commands.KeyIDOf(testKey).String()
	if got, want := counts(e.status(newFirst)), newID+":current=15"; got != want {
		t.Fatalf("status = %s, want %s", got, want)
	}
	if err := e.reveals(e.withKeys(newKey), tokens, webhooks); err != nil {
		t.Fatalf("the new key alone after the rotation: %v", err)
	}
	err = e.c.Keys.CheckSecretKey(e.ctx)
	if !errors.Is(err, commands.ErrSecretKeyMismatch) || !strings.Contains(err.Error(), "15 under key id "+newID) ||
		!strings.Contains(err.Error(), oldID+" (current)") {
		t.Fatalf("CheckSecretKey with the old key alone: %v; want refused naming %s and %s", err, newID, oldID)
	}
	if err := e.withKeys(newKey).Keys.CheckSecretKey(e.ctx); err != nil {
		t.Fatalf("CheckSecretKey with the new key: %v", err)
	}
}

// An interrupted rotation leaves every secret readable and the next run
// does only what is left; a run with nothing left changes nothing.
func TestRotateIsResumableAndIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokens, webhooks := e.secrets(4)
	rotator := e.withKeys(newKey, testKey)
	ctx, cancel := context.WithCancel(e.ctx)
	_, err := rotator.RotateSecretKey.Handle(ctx, commands.RotateSecretKey{Batch: 2, Progress: func(commands.RotateProgress) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rotation: %v, want context.Canceled", err)
	}
	newID, oldID := commands.KeyIDOf(newKey).String(), commands.KeyIDOf(testKey).String()
	if got, want := counts(e.status(rotator)), newID+":current=2 "+oldID+":previous=8"; got != want {
		t.Fatalf("status after the interruption = %s, want %s", got, want)
	}
	if err := e.reveals(rotator, tokens, webhooks); err != nil {
		t.Fatal(err)
	}
	res, err := rotator.RotateSecretKey.Handle(e.ctx, commands.RotateSecretKey{Batch: 2})
	if err != nil || res.Resealed != 8 {
		t.Fatalf("resumed rotation = %+v, %v; want the 8 left", res, err)
	}
	var before, after []byte
	if err := e.pool.QueryRow(e.ctx, `SELECT string_agg(secret_sealed, '' ORDER BY id) FROM tokens`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	res, err = rotator.RotateSecretKey.Handle(e.ctx, commands.RotateSecretKey{Batch: 2})
	if err != nil || res.Resealed != 0 {
		t.Fatalf("a rotation with nothing left = %+v, %v; want nothing re-sealed", res, err)
	}
	if err := e.pool.QueryRow(e.ctx, `SELECT string_agg(secret_sealed, '' ORDER BY id) FROM tokens`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("a rotation with nothing left rewrote sealed secrets")
	}
	if err := e.reveals(e.withKeys(newKey), tokens, webhooks); err != nil {
		t.Fatal(err)
	}
}

// Secrets no configured key opens are counted under their key id, left
// as they are by a rotation, and reported.
func TestRotateLeavesWhatItCannotOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.secrets(1)
	third := []byte("a third key nobody configured...")
	stranger := e.withKeys(third)
	res, err := stranger.RotateSecretKey.Handle(e.ctx, commands.RotateSecretKey{Batch: 10})
	if err != nil || res.Resealed != 0 || res.Unopenable != 4 {
		t.Fatalf("RotateSecretKey with an unrelated key = %+v, %v; want 4 unopenable", res, err)
	}
	st := e.status(stranger)
	if got, want := counts(st), commands.KeyIDOf(testKey).String()+":unknown=4"; got != want || st.Unopenable() != 4 {
		t.Fatalf("status = %s (%d unopenable), want %s", got, st.Unopenable(), want)
	}
	if err := e.c.Keys.CheckSecretKey(e.ctx); err != nil {
		t.Fatalf("the secrets a rotation could not open changed: %v", err)
	}
	// The key is lost: its secrets are dropped, tokens still authenticate.
	if _, err := stranger.ForgetSecretKey.Handle(e.ctx, commands.ForgetSecretKey{Key: commands.KeyIDOf(third)}); !errors.Is(err, commands.ErrKeyConfigured) {
		t.Fatalf("forgetting a configured key: %v, want ErrKeyConfigured", err)
	}
	if n, err := stranger.ForgetSecretKey.Handle(e.ctx, commands.ForgetSecretKey{Key: commands.KeyIDOf(testKey)}); err != nil || n != 4 {
		t.Fatalf("ForgetSecretKey = %d, %v; want 4 dropped", n, err)
	}
	if err := stranger.Keys.CheckSecretKey(e.ctx); err != nil {
		t.Fatalf("CheckSecretKey after forgetting the lost key: %v", err)
	}
	if _, err := stranger.Auth.Authenticate(e.ctx, e.admin); err != nil {
		t.Fatalf("a token whose sealed secret was dropped: %v", err)
	}
}
