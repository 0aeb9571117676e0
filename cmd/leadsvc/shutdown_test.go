package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestShutdownFailsReadinessThenKeepsServingThenDrains follows what a
// load balancer sees when `leadsvc serve` is told to stop: /readyz turns
// 503 at once, /livez and the API still answer for LEADSVC_SHUTDOWN_DELAY,
// then connections are refused, and a request already under way when the
// listener closed still gets its answer.
func TestShutdownFailsReadinessThenKeepsServingThenDrains(t *testing.T) {
	t.Parallel()
	const delay = 3 * time.Second
	m := mustRunMain(t, "LEADSVC_SHUTDOWN_DELAY", delay.String())
	c := mustAccount(t, m, "Draining")
	base := "http://" + m.Addr()
	status := func(path string) (int, error) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := status("/readyz"); err != nil || code != 200 {
		t.Fatalf("readyz before shutdown: %d %v", code, err)
	}

	ctx, signal := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- m.serveUntil(ctx) }()
	signalled := time.Now()
	signal() // what SIGTERM does to serve's context

	testenv.CheckFor(t, time.Second, func() error {
		if code, err := status("/readyz"); err != nil || code != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz after the signal: %d %v, want 503", code, err)
		}
		return nil
	})
	if code, err := status("/livez"); err != nil || code != 200 {
		t.Fatalf("livez during the delay: %d %v", code, err)
	}
	c.do("POST", "/v1/campaigns", campaignBody).want(201)
	// A request whose body is still arriving when the listener closes.
	late := maps.Clone(campaignBody)
	late["name"] = "Late"
	body, err := json.Marshal(late)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /v1/campaigns HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		m.Addr(), c.token, len(body), body[:half])
	if elapsed := time.Since(signalled); elapsed >= delay {
		t.Fatalf("the checks took %v, longer than the delay of %v; nothing was proved", elapsed, delay)
	}

	testenv.CheckFor(t, delay+5*time.Second, func() error {
		if _, err := net.DialTimeout("tcp", m.Addr(), time.Second); err == nil {
			return fmt.Errorf("still accepting connections")
		}
		return nil
	})
	if elapsed := time.Since(signalled); elapsed < delay {
		t.Fatalf("the listener closed after %v, before the delay of %v", elapsed, delay)
	}
	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatalf("finishing the request under way: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request under way got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("the request under way: %d, want 201", resp.StatusCode)
	}
	if !resp.Close {
		t.Error("a response while draining lacks Connection: close, so its client would keep the connection")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after the drain")
	}
}

// TestServeProcessStopsAtOnceOnASecondSignal runs `leadsvc serve` as a
// process: SIGTERM fails readiness while the long delay keeps it serving,
// and a second SIGTERM ends it at once.
func TestServeProcessStopsAtOnceOnASecondSignal(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const delay = time.Minute
	cmd := exec.Command(exe, "serve")
	cmd.Env = []string{"LEADSVC_TEST_MAIN=1", "LEADSVC_ADDR=" + addr, "LEADSVC_SHUTDOWN_DELAY=" + delay.String()}
	for _, k := range []string{"DATABASE_URL", "LEADSVC_DATA_DIR", "LEADSVC_LOG_LEVEL"} {
		cmd.Env = append(cmd.Env, k+"="+env(k))
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	status := func(path string) (int, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	testenv.CheckFor(t, 30*time.Second, func() error {
		if code, err := status("/readyz"); err != nil || code != 200 {
			return fmt.Errorf("readyz %d %v", code, err)
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testenv.CheckFor(t, 5*time.Second, func() error {
		if code, err := status("/readyz"); err != nil || code != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz after SIGTERM: %d %v, want 503", code, err)
		}
		return nil
	})
	if code, err := status("/livez"); err != nil || code != 200 {
		t.Fatalf("livez during the delay: %d %v", code, err)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waited := time.Since(sent); waited > 10*time.Second {
			t.Fatalf("the process ended %v after the second signal", waited)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after a second SIGTERM, within the %v delay; stderr:\n%s", delay, stderr.String())
	}
}
