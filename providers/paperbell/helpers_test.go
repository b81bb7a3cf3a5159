package paperbell

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/paperbell/emulator"
	"github.com/bellsync/bellsync/providers/secret"
	"github.com/zclconf/go-cty/cty"
)

const corpusDir = "emulator/testdata/corpus"

// clock is a fake clock that the injected Sleep advances, so backoff and
// the client-side limiter run without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder remembers every request the provider sent.
type recorder struct {
	next http.RoundTripper

	// mu guards sent.
	mu   sync.Mutex
	sent []sentRequest
}

type sentRequest struct {
	Method, Path, Query, Body string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.sent = append(r.sent, sentRequest{req.Method, req.URL.Path, req.URL.RawQuery, string(body)})
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) take() []sentRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

type harness struct {
	emu   *emulator.Server
	url   string
	p     *Provider
	clock *clock
	rec   *recorder

	// mu guards sleeps.
	mu     sync.Mutex
	sleeps []time.Duration
}

func (h *harness) takeSleeps() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.sleeps
	h.sleeps = nil
	return out
}

// newHarness serves the corpus from an emulator and points a provider at
// it. mod may adjust the provider config.
func newHarness(t *testing.T, eo emulator.Options, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{clock: &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}}
	eo.Now = h.clock.Now
	h.emu = emulator.New(eo)
	if err := h.emu.LoadDir(corpusDir); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.emu)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.rec = &recorder{next: srv.Client().Transport}
	cfg := Config{
		BaseURL:    srv.URL,
		APIKey:     secret.New(emulator.DefaultAPIKey),
		RateLimit:  100000,
		HTTPClient: &http.Client{Transport: h.rec},
		Jitter:     func() float64 { return 0 },
		Now:        h.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			h.sleeps = append(h.sleeps, d)
			h.mu.Unlock()
			h.clock.Advance(d)
			return ctx.Err()
		},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func (h *harness) res(t *testing.T, kind string) providers.Resource {
	t.Helper()
	r, err := h.p.Resource(kind)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func listAll(t *testing.T, r providers.Resource, opts providers.ListOptions) []providers.Record {
	t.Helper()
	var out []providers.Record
	if err := r.List(context.Background(), opts, func(rec providers.Record) error {
		out = append(out, rec)
		return nil
	}); err != nil {
		t.Fatalf("list: %v", err)
	}
	return out
}

func ids(recs []providers.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func str(s string) cty.Value { return cty.StringVal(s) }

func strList(s ...string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(s))
	for i, v := range s {
		vals[i] = cty.StringVal(v)
	}
	return cty.ListVal(vals)
}
