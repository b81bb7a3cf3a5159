package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bellsync/bellsync/engine/schedule"
	"github.com/bellsync/bellsync/engine/state"
)

// latencyHooks records when each hint was reconciled, next to the
// server's own hooks.
type latencyHooks struct {
	schedule.Hooks
	mu   sync.Mutex
	done map[string]time.Time
	all  chan struct{}
	want int
}

func (l *latencyHooks) HintDone(ctx context.Context, h schedule.Hint, refs []int64, res schedule.Result, err error, final bool) {
	l.Hooks.HintDone(ctx, h, refs, res, err, final)
	if !final {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done[h.ID] = time.Now()
	if len(l.done) == l.want {
		close(l.all)
	}
}

// BenchmarkWebhookToApplied posts signed GHL events at a steady rate to
// the real handler, state database and scheduler, with a reconciler that
// takes recordCost per record (standing in for a GET and a write on
// loopback emulators), and reports the receipt-to-applied latency.
//
//	go test -run '^$' -bench WebhookToApplied ./cmd/bellsync/daemon/
func BenchmarkWebhookToApplied(b *testing.B) {
	for _, tc := range []struct {
		rate       int // events per second
		recordCost time.Duration
	}{
		{rate: 20, recordCost: 2 * time.Millisecond},
		{rate: 100, recordCost: 2 * time.Millisecond},
	} {
		b.Run(fmt.Sprintf("rate=%d/s", tc.rate), func(b *testing.B) {
			pair, err := keys()
			if err != nil {
				b.Fatal(err)
			}
			st, err := state.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "state.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			rec := reconcilerFunc(func(ctx context.Context, h schedule.Hint) error {
				// The cost of a record reconcile, not a timing assumption.
				t := time.NewTimer(tc.recordCost)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				return nil
			})
			const events = 200
			hooks := &latencyHooks{done: map[string]time.Time{}, all: make(chan struct{}), want: events}
			sched, err := schedule.New(schedule.Options{Reconciler: rec, NoStartPass: true, Hooks: hooks})
			if err != nil {
				b.Fatal(err)
			}
			ed, rsaPub := pair[0].Public()
			srv, err := New(Options{Store: st, Queue: sched, GHLEd25519: ed, GHLRSA: rsaPub})
			if err != nil {
				b.Fatal(err)
			}
			hooks.Hooks = srv.Hooks()
			ts := httptest.NewServer(srv.Handler())
			defer ts.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go sched.Run(ctx)

			var lat []time.Duration
			for range b.N {
				sent := map[string]time.Time{}
				tick := time.NewTicker(time.Second / time.Duration(tc.rate))
				hooks.mu.Lock()
				hooks.done, hooks.all = map[string]time.Time{}, make(chan struct{})
				hooks.mu.Unlock()
				run := time.Now().UnixNano()
				for i := range events {
					<-tick.C
					id := fmt.Sprintf("C%d-%d", run, i)
					body := ghlEvent("ContactUpdate", id, "wh-"+id, time.Now())
					req, _ := http.NewRequest(http.MethodPost, ts.URL+"/webhooks/ghl", bytes.NewReader(body))
					for k, v := range pair[0].Sign(body) {
						req.Header[k] = v
					}
					sent[id] = time.Now()
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
				tick.Stop()
				<-hooks.all
				hooks.mu.Lock()
				for id, t := range sent {
					lat = append(lat, hooks.done[id].Sub(t))
				}
				hooks.mu.Unlock()
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

type reconcilerFunc func(ctx context.Context, h schedule.Hint) error

func (f reconcilerFunc) Pass(context.Context, schedule.PassKind) (schedule.Result, error) {
	return schedule.Result{}, nil
}

func (f reconcilerFunc) Record(ctx context.Context, h schedule.Hint) (schedule.Result, error) {
	return schedule.Result{Kind: "webhook"}, f(ctx, h)
}
