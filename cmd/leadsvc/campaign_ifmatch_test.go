package main

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// TestConcurrentCampaignChangesWithOneIfMatchHaveOneWinner: If-Match on a
// campaign holds at the append, not only when the request is read, so of
// two changes naming the same version exactly one lands and the other is
// the same 412 as a stale If-Match sent alone (invariant 2).
func TestConcurrentCampaignChangesWithOneIfMatchHaveOneWinner(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	path := "/v1/campaigns/" + str(admin.do("POST", "/v1/campaigns", campaignBody).want(201).obj(), "id")
	// Several rounds: one round may happen not to overlap.
	for round := range 8 {
		etag := admin.do("GET", path, nil).want(200).Header.Get("ETag")
		var wg sync.WaitGroup
		replies := make([]reply, 2)
		start := make(chan struct{})
		for i := range replies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				replies[i] = admin.do("PATCH", path, map[string]any{"name": fmt.Sprintf("Round %d writer %d", round, i)}, "If-Match", etag)
			}()
		}
		close(start)
		wg.Wait()
		var won, lost []reply
		for _, r := range replies {
			switch r.Status {
			case 200:
				won = append(won, r)
			case 412:
				lost = append(lost, r)
			default:
				t.Fatalf("round %d: %s: status %d: %s", round, r.req, r.Status, r.Body)
			}
		}
		if len(won) != 1 || len(lost) != 1 {
			t.Fatalf("round %d: %d won and %d lost with If-Match %s, want 1 and 1", round, len(won), len(lost), etag)
		}
		v, err := strconv.Atoi(etag[1 : len(etag)-1])
		if err != nil {
			t.Fatalf("ETag %s: %v", etag, err)
		}
		if got, want := won[0].Header.Get("ETag"), strconv.Quote(strconv.Itoa(v+1)); got != want {
			t.Fatalf("round %d: winner's ETag %s, want %s", round, got, want)
		}
		got := lost[0].problem(412)
		want := admin.do("PATCH", path, map[string]any{"name": "Stale"}, "If-Match", etag).problem(412)
		if got.Type != want.Type || got.Title != want.Title || got.Detail != want.Detail || len(got.Errors) != 0 {
			t.Fatalf("round %d: concurrent loser's problem %+v, want as a stale If-Match: %+v", round, got, want)
		}
	}
}
