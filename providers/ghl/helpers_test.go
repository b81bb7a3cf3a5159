package ghl

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bellsync/bellsync/providers/secret"
)

const (
	testToken    = "pit-test-0000"
	testLocation = "LOCtest000000000001"
)

// seen is one request as the fake API received it.
type seen struct {
	Method string
	Path   string
	Query  string
	Body   string
}

// fakeAPI is an httptest server that checks the headers GHL requires on
// every request and records what it was sent.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server
	// mu guards reqs.
	mu   sync.Mutex
	reqs []seen
}

func newFakeAPI(t *testing.T, h func(w http.ResponseWriter, r *http.Request, body []byte)) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if got := r.Header.Get("Version"); got != APIVersion {
			t.Errorf("%s %s: Version header = %q, want %q", r.Method, r.URL.Path, got, APIVersion)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("%s %s: Accept header = %q", r.Method, r.URL.Path, got)
		}
		if got, ok := r.Header["Authorization"]; !ok || len(got) != 1 || got[0][:7] != "Bearer " {
			t.Errorf("%s %s: Authorization header = %q", r.Method, r.URL.Path, got)
		}
		if len(body) > 0 && r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type = %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body)})
		f.mu.Unlock()
		h(w, r, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// fakeClock is a manual clock; the injected Sleep advances it, so the
// limiter's pauses end exactly when the backoff would have.
type fakeClock struct {
	// mu guards now and slept.
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// testLogger writes to t.Log, so output shows with the failing test only.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// newTestProvider builds a provider aimed at f with a fake clock and no
// real sleeping; mod may adjust the config.
func newTestProvider(t *testing.T, f *fakeAPI, mod func(*Config)) (*Provider, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := Config{
		BaseURL:    f.srv.URL,
		LocationID: testLocation,
		Token:      secret.New(testToken),
		HTTPClient: f.srv.Client(),
		Sleep:      clk.Sleep,
		Jitter:     func() float64 { return 0 },
		Now:        clk.Now,
		Logger:     testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return p, clk
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
