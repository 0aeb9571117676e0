package main

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// connectNATS connects to NATS_URL or, when it is unset, starts an embedded
// JetStream server under the data directory. The embedded server takes only
// in-process connections unless LEADSVC_NATS_LISTEN names an address, so it
// never collides with a NATS already listening on 4222.
func connectNATS(cfg Config, logger *slog.Logger) (*nats.Conn, *server.Server, error) {
	opts := []nats.Option{
		nats.Name("leadsvc"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { logger.Info("nats reconnected") }),
	}
	if cfg.NATSURL != "" {
		// RetryOnFailedConnect: a NATS that is down at start delays fan-out,
		// it does not stop the service from taking writes (invariant 1).
		nc, err := nats.Connect(cfg.NATSURL, append(opts, nats.RetryOnFailedConnect(true))...)
		if err != nil {
			return nil, nil, fmt.Errorf("connect to NATS_URL: %w", err)
		}
		return nc, nil, nil
	}
	dir, err := cfg.dataDir()
	if err != nil {
		return nil, nil, fmt.Errorf("NATS_URL is unset and %w", err)
	}
	sopts := &server.Options{
		ServerName: "leadsvc-embedded",
		JetStream:  true,
		StoreDir:   filepath.Join(dir, "nats"),
		NoSigs:     true,
		NoLog:      true,
		DontListen: cfg.NATSListen == "",
	}
	if cfg.NATSListen != "" {
		host, port, _ := net.SplitHostPort(cfg.NATSListen)
		sopts.Host = host
		sopts.Port, _ = strconv.Atoi(port)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("embedded nats: not ready after 15s (store dir %s)", sopts.StoreDir)
	}
	nc, err := nats.Connect("", append(opts, nats.InProcessServer(srv))...)
	if err != nil {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("embedded nats: connect: %w", err)
	}
	logger.Info("embedded nats started", "store_dir", sopts.StoreDir, "listen", cfg.NATSListen)
	return nc, srv, nil
}
