package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestNATSURLMayListEveryNodeOfACluster: deployments name every node of
// the NATS cluster in NATS_URL (deployments/compose), so that the client
// fails over; the service must accept the list and relay through a live
// node while another listed one is down.
func TestNATSURLMayListEveryNodeOfACluster(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	m := mustRunMain(t,
		"NATS_URL", "nats://"+testenv.FreeAddr(t)+","+n.URL(),
		"LEADSVC_NATS_STREAM", testenv.RandomName("LISTED"),
		"LEADSVC_NATS_SUBJECT_PREFIX", testenv.RandomName("listed"))
	mustAccount(t, m, "Listed")
	events := countEvents(t, m)
	testenv.CheckFor(t, 20*time.Second, func() error {
		resp, err := http.Get("http://" + m.Addr() + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var ready struct {
			Checks map[string]struct {
				Status string `json:"status"`
				Detail struct {
					Position int64 `json:"position"`
				} `json:"detail"`
			} `json:"checks"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil {
			return err
		}
		if nc, relay := ready.Checks["nats"], ready.Checks["relay"]; nc.Status != "ok" || relay.Detail.Position < int64(events) {
			return fmt.Errorf("nats %+v, relay %+v; want connected and %d events relayed", nc, relay, events)
		}
		return nil
	})
}
