package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

func TestDebugAddrConfiguration(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"6060", "localhost", "127.0.0.1:port"} {
		if _, err := LoadConfig(only("LEADSVC_DEBUG_ADDR", v)); err == nil || !strings.Contains(err.Error(), "LEADSVC_DEBUG_ADDR") {
			t.Errorf("LEADSVC_DEBUG_ADDR=%s: %v", v, err)
		}
	}
}

// TestProfilesAreServedOnlyOnTheDebugAddress: LEADSVC_DEBUG_ADDR serves
// Go's profiles there, and the API's own address never does.
func TestProfilesAreServedOnlyOnTheDebugAddress(t *testing.T) {
	t.Parallel()
	debug := testenv.FreeAddr(t)
	m := mustRunMain(t, "LEADSVC_DEBUG_ADDR", debug)
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("http://" + debug + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ on LEADSVC_DEBUG_ADDR: %d %.200s", code, body)
	}
	if code, _ := get("http://" + debug + "/debug/pprof/heap?debug=1"); code != http.StatusOK {
		t.Errorf("GET /debug/pprof/heap on LEADSVC_DEBUG_ADDR: %d", code)
	}
	if code, _ := get("http://" + m.Addr() + "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ on the API's address: %d, want 404", code)
	}
}
