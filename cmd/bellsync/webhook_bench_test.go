package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bellsync/bellsync/engine"
	"github.com/bellsync/bellsync/engine/schedule"
	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/ghl/webhook"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

// appliedHooks records when each hint was reconciled and signals every
// finished pass.
type appliedHooks struct {
	passes chan error

	// mu guards done and failed.
	mu     sync.Mutex
	done   map[string]time.Time
	failed map[string]error
}

func (a *appliedHooks) PassDone(_ context.Context, _ schedule.PassKind, _ schedule.Result, err error) {
	select {
	case a.passes <- err:
	default:
	}
}

func (a *appliedHooks) HintDone(_ context.Context, h schedule.Hint, _ []int64, _ schedule.Result, err error, final bool) {
	if !final {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done[h.ID] = time.Now()
	if err != nil {
		a.failed[h.ID] = err
	}
}

// BenchmarkWebhookToAppliedReal is BenchmarkWebhookToApplied of the daemon
// package end to end: `bellsync run` in-process with the engine's own
// Record, against the emulators on loopback. Contacts are created through
// the GHL emulator's API at a steady rate; the emulator delivers each
// ContactCreate webhook, signed, to the daemon, which reconciles it into a
// Paperbell client. Latency runs from the create request to the hint's
// reconcile finishing (after which the client exists; that is checked).
//
//	go test -run '^$' -bench WebhookToAppliedReal -benchtime 1x ./cmd/bellsync/
func BenchmarkWebhookToAppliedReal(b *testing.B) {
	signer, err := webhook.GenerateTestKeys()
	if err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	g := ghlemu.New(ghlemu.Options{RateLimit: 1 << 30, DailyLimit: 1 << 30,
		WebhookURL: "http://" + addr + "/webhooks/ghl", WebhookEd25519Key: signer.Ed25519, WebhookRSAKey: signer.RSA})
	if err := g.LoadDir(filepath.Join(seedDir, "ghl")); err != nil {
		b.Fatal(err)
	}
	p := pbemu.New(pbemu.Options{RateLimit: -1})
	if err := p.LoadDir(filepath.Join(seedDir, "paperbell")); err != nil {
		b.Fatal(err)
	}
	serve(b, g, p)
	cfg := benchConfig(b, 1<<20, 1<<20)
	writeKeys(b, filepath.Dir(cfg), signer)
	src, err := os.ReadFile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	src = fmt.Appendf(src, "%s\nwebhooks {\n  listen = %q\n  ghl_public_key = file(\"ed.pem\")\n  ghl_rsa_public_key = file(\"rsa.pem\")\n}\n", quietSchedule, addr)
	if err := os.WriteFile(cfg, src, 0o600); err != nil {
		b.Fatal(err)
	}

	hooks := &appliedHooks{passes: make(chan error, 1), done: map[string]time.Time{}, failed: map[string]error{}}
	listening := make(chan net.Addr, 1)
	observe, onListening = hooks, func(a net.Addr) { listening <- a }
	b.Cleanup(func() { observe, onListening = nil, nil })
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	ws, diags := engine.Open(ctx, engine.Options{ConfigPath: cfg, Registry: registry(), Logger: log})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	defer ws.Close()
	stopped := make(chan error, 1)
	go func() {
		stopped <- runDaemon(ctx, ws, runFlags{common: common{config: cfg}, stopTimeout: 5 * time.Second}, log)
	}()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			b.Errorf("bellsync run: %v", err)
		}
	}()
	for _, wait := range []func() error{
		func() error { <-listening; return nil },
		func() error { return <-hooks.passes }, // the first full pass
	} {
		select {
		case err := <-stopped:
			b.Fatalf("bellsync run stopped early: %v", err)
		case err := <-waitFor(wait):
			if err != nil {
				b.Fatalf("first pass: %v", err)
			}
		case <-time.After(failAfter):
			b.Fatal("bellsync run did not start")
		}
	}

	round := 0
	for _, rate := range []int{10, 20, 50} {
		b.Run(fmt.Sprintf("rate=%d/s", rate), func(b *testing.B) {
			events := 4 * rate // four seconds at the rate
			var lat []time.Duration
			for range b.N {
				round++
				sent := map[string]time.Time{}
				emails := map[string]string{}
				tick := time.NewTicker(time.Second / time.Duration(rate))
				for i := range events {
					<-tick.C
					email := fmt.Sprintf("latency-%d-%d@example.com", round, i)
					at := time.Now()
					id := createContact(b, email)
					sent[id], emails[id] = at, email
				}
				tick.Stop()
				deadline := time.Now().Add(failAfter)
				for !hooks.reconciled(sent) {
					if time.Now().After(deadline) {
						b.Fatalf("not every webhook was reconciled within %s", failAfter)
					}
					time.Sleep(5 * time.Millisecond) // polls the hooks; not a timing assumption
				}
				b.StopTimer()
				have := map[string]bool{}
				for _, c := range p.Clients() {
					have[strings.ToLower(c.Email)] = true
				}
				hooks.mu.Lock()
				for id, at := range sent {
					if err := hooks.failed[id]; err != nil {
						b.Fatalf("reconcile of %s: %v", id, err)
					}
					if !have[emails[id]] {
						b.Fatalf("no Paperbell client for %s after its webhook was reconciled", emails[id])
					}
					lat = append(lat, hooks.done[id].Sub(at))
				}
				hooks.mu.Unlock()
				b.StartTimer()
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func waitFor(f func() error) <-chan error {
	c := make(chan error, 1)
	go func() { c <- f() }()
	return c
}

// reconciled reports whether every id in sent has had its final HintDone.
func (a *appliedHooks) reconciled(sent map[string]time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range sent {
		if _, ok := a.done[id]; !ok {
			return false
		}
	}
	return true
}

// createContact creates a contact through the GHL emulator's API, which
// delivers ContactCreate to the daemon before it answers.
func createContact(b *testing.B, email string) string {
	b.Helper()
	body := fmt.Sprintf(`{"locationId":%q,"firstName":"Lat","lastName":"Ency","email":%q}`, ghlemu.DefaultLocationID, email)
	req, err := http.NewRequest(http.MethodPost, os.Getenv("GHL_BASE_URL")+"/contacts/", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ghlemu.DefaultToken)
	req.Header.Set("Version", ghlemu.APIVersion)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Contact struct {
			ID string `json:"id"`
		} `json:"contact"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated || out.Contact.ID == "" {
		b.Fatalf("create contact: %s %v", resp.Status, err)
	}
	return out.Contact.ID
}
