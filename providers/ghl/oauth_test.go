package ghl

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/ghl/emulator/oauthemu"
	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/secret"
)

// memTokens is an in-memory TokenStore.
type memTokens struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (m *memTokens) LoadToken(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[key]
	if !ok {
		return nil, providers.ErrNotFound
	}
	return bytes.Clone(d), nil
}

func (m *memTokens) SaveToken(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = bytes.Clone(data)
	return nil
}

type oauthEmuEnv struct {
	api *emulator.Server
	o   *oauthemu.Server
	p   *Provider
	// server is the emulators' clock; client is the token source's.
	server, client *fakeClock
}

// newOAuthEmuEnv connects a provider to the emulator in OAuth mode through
// a real consent and code exchange. With shared clocks the token source
// sees expiry coming; without, it learns of it only from a 401.
func newOAuthEmuEnv(t *testing.T, ttl time.Duration, shared bool) *oauthEmuEnv {
	t.Helper()
	server := &fakeClock{now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	client := server
	if !shared {
		client = &fakeClock{now: server.now}
	}
	o := oauthemu.New(oauthemu.Options{ClientID: "cid", ClientSecret: "csecret", LocationID: emulator.DefaultLocationID,
		Scopes: DefaultScopes, AccessTTL: ttl, Now: server.Now})
	api := emulator.New(emulator.Options{Authenticate: emulator.OAuthAuthenticate(o), Now: server.Now, RateLimit: 1 << 20})
	api.MountOAuth(o)
	if err := api.LoadDir(corpusDir); err != nil {
		t.Fatalf("load corpus: %v", err)
	}
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)

	cfg := oauth.Config{ClientID: "cid", ClientSecret: secret.New("csecret"), RedirectURI: "http://127.0.0.1:8765/cb",
		Scopes: DefaultScopes, LocationID: emulator.DefaultLocationID, AuthURL: hs.URL + "/v2/oauth/chooselocation",
		TokenURL: hs.URL + "/oauth/token", HTTPClient: hs.Client(), Now: client.Now, Logger: testLogger(t)}
	hc := hs.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := hc.Get(cfg.AuthorizeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		t.Fatalf("consent: %v", err)
	}
	ctx := context.Background()
	tok, err := oauth.Exchange(ctx, cfg, loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	store := &memTokens{data: map[string][]byte{}}
	if err := oauth.Save(ctx, store, cfg.StoreKey(), tok); err != nil {
		t.Fatal(err)
	}
	src, err := oauth.NewSource(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewClient(Config{BaseURL: hs.URL, LocationID: emulator.DefaultLocationID, TokenSource: src,
		RateLimit: -1, HTTPClient: hs.Client(), Sleep: server.Sleep, Now: server.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &oauthEmuEnv{api: api, o: o, p: p, server: server, client: client}
}

// TestOAuthConcurrentRefresh expires the token under many requests at
// once: exactly one refresh call is made, and every request succeeds.
func TestOAuthConcurrentRefresh(t *testing.T) {
	tests := []struct {
		name   string
		shared bool
		// want401 is whether the requests learn of the expiry from GHL.
		want401 bool
	}{
		{"expiry seen only by the server, refreshed after 401", false, true},
		{"expiry seen by the client, refreshed before use", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newOAuthEmuEnv(t, time.Hour, tt.shared)
			ctx := context.Background()
			res, _ := e.p.Resource("contacts")
			ids := e.api.Contacts()[:8]
			if _, err := res.Get(ctx, "", ids[0].ID()); err != nil {
				t.Fatal(err)
			}
			advanceClock(e.server, time.Hour)
			before := e.o.Stats().RefreshToken
			var wg sync.WaitGroup
			for _, c := range ids {
				wg.Go(func() {
					if _, err := res.Get(ctx, "", c.ID()); err != nil {
						t.Errorf("get %s: %v", c.ID(), err)
					}
				})
			}
			wg.Wait()
			if n := e.o.Stats().RefreshToken - before; n != 1 {
				t.Errorf("%d refresh calls for %d concurrent requests, want 1", n, len(ids))
			}
			if got := e.api.Stats().Statuses[http.StatusUnauthorized] > 0; got != tt.want401 {
				t.Errorf("requests saw a 401: %v, want %v", got, tt.want401)
			}
		})
	}
}

// TestOAuthOutlivesTokens makes requests over ten token lifetimes; the
// source refreshes ahead of each expiry, so no request is ever refused.
func TestOAuthOutlivesTokens(t *testing.T) {
	e := newOAuthEmuEnv(t, time.Hour, true)
	ctx := context.Background()
	res, _ := e.p.Resource("contacts")
	ids := e.api.Contacts()
	for i := range 40 {
		if _, err := res.Get(ctx, "", ids[i].ID()); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		advanceClock(e.server, 15*time.Minute)
	}
	if got := e.api.Stats().Statuses[http.StatusUnauthorized]; got != 0 {
		t.Errorf("%d requests were refused with 401", got)
	}
	// The last request is 9h45m in, so nine tokens expired under it.
	if n := e.o.Stats().RefreshToken; n != 9 {
		t.Errorf("%d refreshes over ten token lifetimes, want 9 (one per expiry)", n)
	}
}

func advanceClock(c *fakeClock, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
