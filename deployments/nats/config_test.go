// Package nats_test checks the NATS cluster configuration in this folder:
// nats-server's own parser reads every file (a typo or an unknown field
// fails), the three nodes agree on one cluster with JetStream flushing
// every write, and, on free loopback ports, they do form a cluster that
// places a stream on all three.
package nats_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

func TestClusterConfiguration(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("n*.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("node files %v, want n1.conf, n2.conf and n3.conf", files)
	}
	var (
		nodes     []*server.Options
		listens   []string   // each node's cluster address
		routeSets [][]string // each node's routes
	)
	seen := map[string]string{}
	unique := func(file, what, value string) {
		if other, ok := seen[what+" "+value]; ok {
			t.Errorf("%s and %s share %s %s", other, file, what, value)
		}
		seen[what+" "+value] = file
	}
	for _, f := range files {
		opts, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !opts.JetStream || opts.StoreDir == "" {
			t.Errorf("%s: JetStream with file storage is off (store_dir %q)", f, opts.StoreDir)
		}
		if !opts.SyncAlways {
			t.Errorf("%s: sync_interval is not always; JetStream would acknowledge before writing to disk", f)
		}
		if opts.Cluster.Name != "leadsvc" {
			t.Errorf("%s: cluster name %q, want leadsvc", f, opts.Cluster.Name)
		}
		var routes []string
		for _, r := range opts.Routes {
			routes = append(routes, r.Host)
		}
		slices.Sort(routes)
		routeSets = append(routeSets, routes)
		listens = append(listens, fmt.Sprintf("%s:%d", opts.Cluster.Host, opts.Cluster.Port))
		unique(f, "server_name", opts.ServerName)
		unique(f, "store_dir", opts.StoreDir)
		unique(f, "client port", fmt.Sprint(opts.Port))
		unique(f, "cluster port", fmt.Sprint(opts.Cluster.Port))
		unique(f, "monitoring port", fmt.Sprint(opts.HTTPPort))
		nodes = append(nodes, opts)
	}
	slices.Sort(listens)
	for i, routes := range routeSets {
		if !slices.Equal(routes, listens) {
			t.Errorf("%s: routes %v, want every node's cluster address %v", files[i], routes, listens)
		}
	}
	if t.Failed() {
		return
	}
	testenv.StartClusterOf(t, nodes)
}
