package main

import (
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/benchresults"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// Concurrent uploads of BenchmarkConcurrentUploads.
const (
	benchUploads     = 12
	benchUploadBytes = 10 << 20
)

// BenchmarkConcurrentUploads sends 12 uploads of 10 MiB at once to a
// leadsvc process of its own (every one stored: the per-account cap is
// raised to 12) and reports the process's peak resident set (VmHWM),
// beside its resident set before. The aim is a peak of at most 100 MB: an
// upload streams to a temporary file and from there to the database in
// chunks, never held whole in memory.
func BenchmarkConcurrentUploads(b *testing.B) {
	testenv.Integration(b)
	results := testenv.Results(b)
	bin := testenv.BuildBinary(b, b.TempDir(), "github.com/leadsvc/leadsvc/cmd/leadsvc")
	natsURL, nc := benchNATS(b)
	stream := testenv.RandomName("BENCH_")
	b.Cleanup(func() {
		if js, err := nc.JetStream(); err == nil {
			_ = js.DeleteStream(stream)
		}
	})
	key := make([]byte, 32)
	_, _ = crand.Read(key)
	addr := testenv.FreeAddr(b)
	base := "http://" + addr
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + testenv.Schema(b),
		"LEADSVC_ADDR=" + addr, "LEADSVC_DATA_DIR=" + b.TempDir(), "LEADSVC_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key),
		"NATS_URL=" + natsURL, "LEADSVC_NATS_STREAM=" + stream, "LEADSVC_NATS_SUBJECT_PREFIX=" + testenv.RandomName("bench"),
		"LEADSVC_LOG_LEVEL=error", "LEADSVC_LOG_FORMAT=json", "LEADSVC_RATE_LIMIT=1000000",
		"LEADSVC_UPLOADS_PER_ACCOUNT=" + fmt.Sprint(benchUploads), "LEADSVC_UPLOAD_QUOTA_BYTES=" + fmt.Sprint(int64(1)<<40)}
	svc := &leadsvcService{bin: bin, env: env}
	var acct struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(svc.cli(b, "account", "create", "--name", "Bench", "--json"), &acct); err != nil {
		b.Fatal(err)
	}
	proc := testenv.StartProcess(b, "leadsvc", bin, env, testenv.HTTPReady(base+"/livez"), "serve")
	admin := apiClient{base: base, token: acct.Token, hc: newHTTPClient()}
	camp := admin.mustDo(b, "POST", "/v1/campaigns", benchCampaign(), 201)
	lead := admin.mustDo(b, "POST", "/v1/leads", map[string]any{"campaign_id": camp["id"],
		"fields": map[string]any{"name": "Files", "source": "website"}}, 201)
	path := "/v1/leads/" + lead["id"].(string) + "/files"
	// Random bytes, which no compression shrinks, generated once: the
	// load generator shares the machine.
	block := make([]byte, 1<<20)
	_, _ = crand.Read(block)
	before, err := proc.RSSBytes()
	if err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	start := time.Now()
	for range b.N {
		var wg sync.WaitGroup
		errs := make(chan error, benchUploads)
		for i := range benchUploads {
			wg.Go(func() { errs <- benchUpload(admin, path, block, i) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	peak, err := proc.MemoryField("VmHWM:")
	if err != nil {
		b.Fatal(err)
	}
	peakMB, beforeMB := float64(peak)/(1<<20), float64(before)/(1<<20)
	mbPerSec := float64(b.N*benchUploads*benchUploadBytes) / (1 << 20) / elapsed.Seconds()
	b.ReportMetric(peakMB, "peak_rss_MB")
	b.ReportMetric(beforeMB, "rss_before_MB")
	b.ReportMetric(mbPerSec, "MiB/s")
	testenv.Record(b, results, benchresults.Record{Metric: "peak_rss_bytes", Service: "leadsvc", Clients: benchUploads,
		Value: float64(peak), Unit: "bytes"})
	testenv.Record(b, results, benchresults.Record{Metric: "upload_mib_per_s", Service: "leadsvc", Clients: benchUploads,
		Value: mbPerSec, Unit: "MiB/s"})
	mark := "✘"
	if peakMB <= 100 {
		mark = "✔"
	}
	b.Logf("aim %s peak RSS (VmHWM) for %d concurrent uploads of %d MiB: %.0f MB (%.0f MB before) ≤ 100 MB; %.0f MiB/s",
		mark, benchUploads, benchUploadBytes>>20, peakMB, beforeMB, mbPerSec)
}

// benchUpload streams one upload of benchUploadBytes, block over and
// over from an offset of its own, and checks it was stored.
func benchUpload(c apiClient, path string, block []byte, i int) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", fmt.Sprintf("upload-%d.bin", i))
		for left, off := benchUploadBytes, i*4099%len(block); err == nil && left > 0; off = 0 {
			n := min(left, len(block)-off)
			_, err = part.Write(block[off : off+n])
			left -= n
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, c.base+path, pr)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("upload %d: %d %.300s", i, resp.StatusCode, body)
	}
	return nil
}
