package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bellsync/bellsync/engine"
	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

// benchConfig is the demo config with client-side limits lifted, so the
// plan benchmark measures bellsync rather than the 100-per-10s budget
// (which alone makes listing 100k GHL contacts take 20 s: 200 searches).
func benchConfig(b *testing.B, ghlRate, pbRate int) string {
	b.Helper()
	src, err := os.ReadFile(demoConfig)
	if err != nil {
		b.Fatal(err)
	}
	s := strings.Replace(string(src), `rate_limit = tonumber(env("PAPERBELL_RATE_LIMIT", "3000"))`, fmt.Sprintf("rate_limit = %d", pbRate), 1)
	s = strings.Replace(s, `token       = env("GHL_TOKEN")`, fmt.Sprintf("token       = env(\"GHL_TOKEN\")\n  rate_limit  = %d", ghlRate), 1)
	p := filepath.Join(b.TempDir(), "sync.hcl")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

// synthetic seeds n GHL contacts, a third of which already exist in
// Paperbell under a differently-cased email.
func synthetic(b *testing.B, n int) (*ghlemu.Server, *pbemu.Server) {
	b.Helper()
	return syntheticAt(b, n, nil)
}

// syntheticAt is synthetic with a clock for the GHL emulator (nil means
// time.Now), which stamps dateUpdated on every write.
func syntheticAt(b *testing.B, n int, now func() time.Time) (*ghlemu.Server, *pbemu.Server) {
	b.Helper()
	var gs, ps []map[string]any
	for i := range n {
		email := fmt.Sprintf("person%06d@example.com", i)
		gs = append(gs, map[string]any{
			"id": fmt.Sprintf("G%019d", i), "locationId": ghlemu.DefaultLocationID,
			"firstName": "First", "lastName": fmt.Sprintf("Last%d", i), "email": email,
			"phone": fmt.Sprintf("+1415%07d", i), "tags": []string{"lead"},
			"dateAdded": "2025-01-01T00:00:00.000Z", "dateUpdated": "2025-01-02T00:00:00.000Z",
		})
		if i%3 == 0 {
			ps = append(ps, map[string]any{
				"id": fmt.Sprint(10000000 + i), "first_name": "First", "last_name": fmt.Sprintf("Last%d", i),
				"email": strings.ToUpper(email[:1]) + email[1:], "additional_emails": []string{}, "tags": []string{},
				"archived": false, "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
			})
		}
	}
	g := ghlemu.New(ghlemu.Options{RateLimit: 1 << 30, DailyLimit: 1 << 30, Now: now})
	gj, _ := json.Marshal(gs)
	if err := g.LoadContacts(bytes.NewReader(gj)); err != nil {
		b.Fatal(err)
	}
	p := pbemu.New(pbemu.Options{RateLimit: -1})
	dir := b.TempDir()
	pj, _ := json.Marshal(ps)
	if err := os.WriteFile(filepath.Join(dir, "clients.json"), pj, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := p.LoadDir(dir); err != nil {
		b.Fatal(err)
	}
	return g, p
}

func serve(b *testing.B, g *ghlemu.Server, p *pbemu.Server) {
	b.Helper()
	gs, ps := httptest.NewServer(g), httptest.NewServer(p)
	b.Cleanup(gs.Close)
	b.Cleanup(ps.Close)
	b.Setenv("GHL_BASE_URL", gs.URL)
	b.Setenv("GHL_LOCATION_ID", ghlemu.DefaultLocationID)
	b.Setenv("GHL_TOKEN", ghlemu.DefaultToken)
	b.Setenv("PAPERBELL_BASE_URL", ps.URL)
	b.Setenv("PAPERBELL_API_KEY", pbemu.DefaultAPIKey)
	b.Setenv("BELLSYNC_STATE", filepath.Join(b.TempDir(), "state.db"))
}

// peakHeap samples the heap while f runs and returns the largest value.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	return peak.Load()
}

// BenchmarkPlan reports the time and peak heap of a full plan over n GHL
// contacts against a Paperbell account holding a third of them.
func BenchmarkPlan(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) {
			g, p := synthetic(b, n)
			serve(b, g, p)
			cfg := benchConfig(b, 1<<20, 1<<20)
			ctx := context.Background()
			ws, diags := engine.Open(ctx, engine.Options{ConfigPath: cfg, Registry: registry()})
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			defer ws.Close()
			var peak uint64
			b.ResetTimer()
			for range b.N {
				peak = max(peak, peakHeap(func() {
					pl, err := ws.Plan(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if got := pl.Counts().Create + pl.Counts().Link; got != n {
						b.Fatalf("planned %d creates+links, want %d", got, n)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "records/s")
		})
	}
}

// BenchmarkApplyThroughput applies creates against a Paperbell emulator
// whose own limit equals the client's configured rate, and reports the
// achieved rate as a fraction of that ceiling. With L requests allowed per
// minute, the R requests the apply made (listings, writes, reads; counted
// by the emulator) can finish no sooner than (ceil(R/L)-1) minutes, the
// first L going at once; the fraction is that ideal over the time taken.
func BenchmarkApplyThroughput(b *testing.B) {
	const n, perMinute = 600, 300
	for range b.N {
		b.StopTimer()
		g, _ := synthetic(b, n)
		p := pbemu.New(pbemu.Options{RateLimit: perMinute, RateWindow: time.Minute})
		serve(b, g, p)
		cfg := benchConfig(b, 1<<20, perMinute)
		ctx := context.Background()
		ws, diags := engine.Open(ctx, engine.Options{ConfigPath: cfg, Registry: registry()})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		b.StartTimer()
		start := time.Now()
		_, res, err := ws.Apply(ctx, nil, engine.ApplyOptions{Workers: 8})
		elapsed := time.Since(start)
		b.StopTimer()
		ws.Close()
		if err != nil || len(res.Errors) > 0 {
			b.Fatalf("apply: %v %v", err, res.Errors)
		}
		reqs := 0
		for _, v := range p.Stats().Requests {
			reqs += v
		}
		ideal := time.Duration((reqs+perMinute-1)/perMinute-1) * time.Minute
		b.ReportMetric(float64(n)/elapsed.Seconds(), "changes/s")
		b.ReportMetric(float64(reqs), "paperbell-requests")
		b.ReportMetric(float64(p.Stats().RateLimited), "429s")
		b.ReportMetric(ideal.Seconds()/elapsed.Seconds(), "fraction-of-ceiling")
	}
}

// benchSizes are the plan benchmark sizes; BELLSYNC_BENCH_SIZES overrides
// them for profiling ("30000").
func benchSizes() []int {
	v := os.Getenv("BELLSYNC_BENCH_SIZES")
	if v == "" {
		return []int{10_000, 100_000}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		var n int
		fmt.Sscan(f, &n)
		out = append(out, n)
	}
	return out
}
