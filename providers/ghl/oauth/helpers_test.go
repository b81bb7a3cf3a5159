package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bellsync/bellsync/providers/ghl/emulator/oauthemu"
	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/secret"
)

const (
	testClientID = "client-123"
	testSecret   = "client-secret-do-not-print"
	testLocation = "loc-1"
	testCompany  = "comp-1"
)

var testScopes = []string{"contacts.readonly", "contacts.write"}

// clock is a settable time shared by the emulator and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

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

// memStore is an in-memory TokenStore that remembers every value saved,
// so tests can scan them and make saves fail.
type memStore struct {
	mu      sync.Mutex
	data    map[string][]byte
	history [][]byte
	// failSaves makes the next n saves fail.
	failSaves int
}

func newMemStore() *memStore { return &memStore{data: map[string][]byte{}} }

func (m *memStore) LoadToken(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.data[key]), nil
}

func (m *memStore) SaveToken(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSaves > 0 {
		m.failSaves--
		return errors.New("disk full")
	}
	m.data[key] = bytes.Clone(data)
	m.history = append(m.history, bytes.Clone(data))
	return nil
}

// secrets returns every raw token ever saved.
func (m *memStore) secrets(t *testing.T) []string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, d := range m.history {
		tok, err := oauth.Unmarshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.AccessToken.Reveal())
		if !tok.RefreshToken.IsZero() {
			out = append(out, tok.RefreshToken.Reveal())
		}
	}
	return out
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one emulator and a client config pointing at it.
type env struct {
	clock *clock
	emu   *oauthemu.Server
	srv   *httptest.Server
	store *memStore
	logs  *syncBuffer
	cfg   oauth.Config
}

func newEnv(t *testing.T, ttl time.Duration) *env {
	t.Helper()
	c := newClock()
	emu := oauthemu.New(oauthemu.Options{
		ClientID: testClientID, ClientSecret: testSecret,
		LocationID: testLocation, CompanyID: testCompany, Scopes: testScopes,
		AccessTTL: ttl, Now: c.Now,
	})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	h := slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	e := &env{clock: c, emu: emu, srv: srv, store: newMemStore(), logs: logs}
	e.cfg = oauth.Config{
		ClientID: testClientID, ClientSecret: secret.New(testSecret),
		RedirectURI: "http://127.0.0.1:1/callback", // replaced by connect
		Scopes:      testScopes, LocationID: testLocation, CompanyID: testCompany,
		AuthURL:    srv.URL + "/v2/oauth/chooselocation",
		TokenURL:   srv.URL + "/oauth/token",
		HTTPClient: srv.Client(), Now: c.Now, Logger: slog.New(h),
	}
	return e
}

// listener opens a loopback listener on a free port and returns a redirect
// URI for it and a Listen func that hands it out.
func listener(t *testing.T) (string, func(string, string) (net.Listener, error)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String() + "/callback", func(network, addr string) (net.Listener, error) {
		if addr != ln.Addr().String() {
			return nil, errors.New("listen on unexpected address " + addr)
		}
		return ln, nil
	}
}

// page is what the fake browser saw at the end.
type page struct {
	status int
	body   string
	err    error
}

// browser returns an OpenBrowser func that, like a browser, loads the URL
// in the background and follows redirects, and a channel with the final
// page. tamper, when set, rewrites each redirect target first.
func browser(tamper func(*http.Request)) (func(string) error, <-chan page) {
	done := make(chan page, 1)
	hc := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if tamper != nil {
			tamper(req)
		}
		return nil
	}}
	return func(u string) error {
		go func() {
			res, err := hc.Get(u)
			if err != nil {
				done <- page{err: err}
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			done <- page{status: res.StatusCode, body: string(b)}
		}()
		return nil
	}, done
}

// connect runs the whole Authorize flow and returns the stored token.
func (e *env) connect(t *testing.T) oauth.Token {
	t.Helper()
	redirect, listen := listener(t)
	e.cfg.RedirectURI = redirect
	open, pages := browser(nil)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := oauth.Authorize(ctx, e.cfg, e.store, oauth.AuthorizeOptions{OpenBrowser: open, Out: &out, Listen: listen})
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if p := <-pages; p.status != http.StatusOK || !strings.Contains(p.body, "close this tab") {
		t.Fatalf("browser saw %d %q (err %v), want 200 and a close-this-tab page", p.status, p.body, p.err)
	}
	return tok
}

func (e *env) source(t *testing.T) *oauth.Source {
	t.Helper()
	s, err := oauth.NewSource(e.cfg, e.store)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkNoLeak fails if any raw secret appears in any of the texts.
func checkNoLeak(t *testing.T, secrets []string, texts map[string]string) {
	t.Helper()
	for name, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s contains a raw secret (%.8s…)", name, s)
			}
		}
	}
}
