package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bellsync/bellsync/engine"
	"github.com/bellsync/bellsync/engine/schedule"
	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

// apiCalls is what both emulators have served, by route ("ghl POST
// /contacts/search").
func apiCalls(g *ghlemu.Server, p *pbemu.Server) map[string]int {
	out := map[string]int{}
	for k, v := range g.Stats().Requests {
		out["ghl "+k] += v
	}
	for k, v := range p.Stats().Requests {
		out["paperbell "+k] += v
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// minIncrementalCalls is the fewest API calls that can carry n changed
// GHL contacts to their linked Paperbell clients: the searches that list
// them (500 a page), one read of each counterpart to compare with, one
// write each. No call can be skipped without guessing: the counterpart
// may already hold the new values.
func minIncrementalCalls(n int) int {
	return (n+ghlSearchPage-1)/ghlSearchPage + n + n
}

// ghlSearchPage is the largest page POST /contacts/search serves.
const ghlSearchPage = 500

// BenchmarkIncrementalPass links 10k synthetic GHL contacts to Paperbell
// with a full pass, then changes n of them and times one incremental pass,
// reporting the API calls it made against the minimum.
//
//	go test -run '^$' -bench IncrementalPass -benchtime 3x ./cmd/bellsync/
//
// The engine and the GHL emulator share a clock that jumps 10 minutes
// before each batch of changes, so a pass re-reads only its own batch and
// not the previous one (the cursor is kept 2 minutes behind).
func BenchmarkIncrementalPass(b *testing.B) {
	const contacts = 10_000
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	jump := func() { offset.Add(int64(10 * time.Minute)) }

	g, p := syntheticAt(b, contacts, now)
	serve(b, g, p)
	cfg := benchConfig(b, 1<<20, 1<<20)
	ctx := context.Background()
	ws, diags := engine.Open(ctx, engine.Options{ConfigPath: cfg, Registry: registry(), Now: now})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	defer ws.Close()
	res, err := ws.Pass(ctx, schedule.Full)
	if err != nil || len(res.Errors) > 0 {
		b.Fatalf("full pass: %v %v", err, res.Errors)
	}
	links, err := ws.Store.Links(ctx, "contacts")
	if err != nil {
		b.Fatal(err)
	}
	if len(links) != contacts {
		b.Fatalf("%d links after the full pass, want %d", len(links), contacts)
	}
	clientOf := map[string]string{}
	for _, l := range links {
		clientOf[l.SourceID] = l.TargetID
	}
	ids := slices.Sorted(maps.Keys(clientOf))

	round := 0
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("changed=%d", n), func(b *testing.B) {
			var calls int
			var byRoute map[string]int
			for range b.N {
				b.StopTimer()
				round++
				jump()
				want := map[string]string{} // Paperbell id -> new last name
				for i, id := range ids[:n] {
					c, ok := g.Contact(id)
					if !ok {
						b.Fatalf("contact %s is gone", id)
					}
					c["lastName"] = fmt.Sprintf("Round%d-%d", round, i)
					g.PutContact(c)
					want[clientOf[id]] = c["lastName"].(string)
				}
				before := apiCalls(g, p)
				b.StartTimer()
				res, err := ws.Pass(ctx, schedule.Incremental)
				b.StopTimer()
				if err != nil || len(res.Errors) > 0 {
					b.Fatalf("incremental pass: %v %v", err, res.Errors)
				}
				after := apiCalls(g, p)
				byRoute = map[string]int{}
				for k, v := range after {
					if d := v - before[k]; d > 0 {
						byRoute[k] = d
					}
				}
				calls += sum(byRoute)
				for pid, last := range want {
					if c, ok := p.Client(pid); !ok || c.LastName != last {
						b.Fatalf("Paperbell client %s has last name %q after the pass, want %q", pid, c.LastName, last)
					}
				}
				b.StartTimer()
			}
			per := float64(calls) / float64(b.N)
			min := float64(minIncrementalCalls(n))
			b.ReportMetric(per, "api-calls")
			b.ReportMetric(min, "min-calls")
			b.ReportMetric(per/min, "calls/min")
			b.Logf("n=%d calls by route (last pass): %s", n, routes(byRoute))
		})
	}
}

func routes(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
