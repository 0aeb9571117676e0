package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// streamReplicas waits until the stream exists and returns its replicas.
func streamReplicas(t *testing.T, nc *nats.Conn, stream string, want int) {
	t.Helper()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckFor(t, 30*time.Second, func() error {
		info, err := js.StreamInfo(stream)
		if err != nil {
			return err
		}
		if info.Config.Replicas != want {
			return fmt.Errorf("stream %s has %d replicas, want %d", stream, info.Config.Replicas, want)
		}
		return nil
	})
}

func TestRelayChoosesOneReplicaOnASingleServer(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	nc := testenv.StartNATS(t).Connect()
	cfg := relayConfig()
	if _, err := s.Append(context.Background(), appendN("single", eventstore.AnyVersion, 1)); err != nil {
		t.Fatal(err)
	}
	startRelay(t, s, nc, cfg)
	checkExactlyOnceInOrder(t, s, nc, cfg, 1)
	streamReplicas(t, nc, cfg.Stream, 1)
}

func TestRelayRefusesReplicasOutOfRange(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	nc := testenv.StartNATS(t).Connect()
	for _, n := range []int{-1, 6} {
		cfg := relayConfig()
		cfg.Replicas = n
		if _, err := eventstore.NewRelay(cfg, s, nc, quietLogger()); err == nil || !strings.Contains(err.Error(), "replicas") {
			t.Errorf("replicas %d: %v, want a refusal", n, err)
		}
	}
}

// TestRelayChoosesThreeReplicasOnACluster creates one stream on a
// three-node cluster and raises another, made with one replica, to three.
func TestRelayChoosesThreeReplicasOnACluster(t *testing.T) {
	t.Parallel()
	urls := testenv.StartCluster(t, 3)
	nc, err := nats.Connect(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}

	// relayOne relays one event of a fresh log to cfg's stream.
	relayOne := func(cfg eventstore.RelayConfig) {
		s, _ := newStore(t)
		if _, err := s.Append(context.Background(), appendN("clustered", eventstore.AnyVersion, 1)); err != nil {
			t.Fatal(err)
		}
		startRelay(t, s, nc, cfg)
		streamReplicas(t, nc, cfg.Stream, 3)
		checkExactlyOnceInOrder(t, s, nc, cfg, 1)
	}
	relayOne(relayConfig())

	raised := relayConfig()
	if _, err := js.AddStream(&nats.StreamConfig{Name: raised.Stream, Subjects: []string{raised.SubjectPrefix + ".>"},
		Storage: nats.FileStorage, Replicas: 1, Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	relayOne(raised)
}
