package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// env is a running emulator plus a client that speaks to it.
type env struct {
	t     *testing.T
	s     *Server
	hs    *httptest.Server
	clock *fakeClock
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := newClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tlogWriter{t}, nil))
	}
	if opts.RateLimit == 0 {
		// Most tests make more than 100 calls within one frozen instant.
		opts.RateLimit = 1 << 20
	}
	s := New(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &env{t: t, s: s, hs: hs, clock: clock}
}

func (e *env) loadCorpus() {
	e.t.Helper()
	if err := e.s.LoadDir("../../../examples/demo/seed/ghl"); err != nil {
		e.t.Fatalf("LoadDir: %v", err)
	}
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do sends an authenticated request with the Version header; body is
// marshalled unless it is a string (sent as is) or nil.
func (e *env) do(method, path string, body any, mod ...func(*http.Request)) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.hs.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	req.Header.Set("Version", APIVersion)
	req.Header.Set("Content-Type", "application/json")
	for _, m := range mod {
		m(req)
	}
	res, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return r
}

// obj returns body[key] as an object.
func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is not an object in %v", key, m)
	}
	return o
}

// withoutTrace drops traceId so bodies compare exactly.
func withoutTrace(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if k != "traceId" {
			out[k] = v
		}
	}
	return out
}

func createContact(t *testing.T, e *env, fields map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{"locationId": DefaultLocationID}
	for k, v := range fields {
		body[k] = v
	}
	r := e.do("POST", "/contacts/", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create contact: status %d: %s", r.status, r.raw)
	}
	return obj(t, r.body, "contact")
}

// jsonRoundTrip returns v as a client would decode it.
func jsonRoundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return m
}
