package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildBinary builds pkg (a package path of this module) into dir with go
// build and returns the binary's path: tests and benchmarks that run
// services as processes run what `make build` would.
func BuildBinary(t testing.TB, dir, pkg string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building %s needs go on PATH: %v", pkg, err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command(gobin, "build", "-o", out, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// FreeAddr is a loopback address with a port nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// Process is a program a test runs, its output kept in a file of the
// test's temporary directory. Restart runs it again with the same
// arguments and environment.
type Process struct {
	Name  string
	bin   string
	args  []string
	env   []string
	ready func() error
	t     testing.TB
	cmd   *exec.Cmd
	log   string
	done  chan struct{} // closed when it exits
}

// StartProcess runs bin with exactly env and waits until ready returns
// nil; a process that exits first, or is not ready within two minutes,
// fails the test with the end of its output. It is stopped when the test
// ends.
func StartProcess(t testing.TB, name, bin string, env []string, ready func() error, args ...string) *Process {
	t.Helper()
	p := &Process{Name: name, bin: bin, args: args, env: env, ready: ready, t: t}
	t.Cleanup(p.Stop)
	p.Restart()
	return p
}

// HTTPReady is a readiness check for StartProcess: GET url answers 200.
func HTTPReady(url string) func() error {
	return func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
		}
		return nil
	}
}

// Restart starts the process again (it must have exited) and waits
// until it is ready, as StartProcess does.
func (p *Process) Restart() {
	p.t.Helper()
	logf, err := os.CreateTemp(p.t.TempDir(), p.Name+"-*.log")
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = p.env, logf, logf
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.log, p.done = cmd, logf.Name(), done
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-done:
			p.t.Fatalf("%s exited before it was ready: %s", p.Name, p.Tail())
		default:
		}
		err := p.ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready after 2 minutes (%v): %s", p.Name, err, p.Tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pid is the process id of the current run.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop ends the process with SIGTERM (SIGKILL after 30 s); stopping a
// stopped process does nothing.
func (p *Process) Stop() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill ends the process with SIGKILL, as a crash would, and returns once
// it is gone.
func (p *Process) Kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && p.Running() {
		p.t.Fatalf("kill %s: %v", p.Name, err)
	}
	<-p.done
}

// Tail is the end of the process's output.
func (p *Process) Tail() string {
	out, _ := os.ReadFile(p.log)
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	return string(out)
}

// RSSBytes is the process's resident set (VmRSS of /proc/PID/status).
func (p *Process) RSSBytes() (int64, error) { return p.MemoryField("VmRSS:") }

// MemoryField is a field in kB of /proc/PID/status (VmRSS:, VmHWM:), in
// bytes.
func (p *Process) MemoryField(name string) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no " + name + " in /proc status")
}
