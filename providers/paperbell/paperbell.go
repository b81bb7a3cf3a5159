// Package paperbell is the bellsync provider for Paperbell, a platform for
// coaches. Paperbell publishes no API, so this client speaks the REST model
// of MODEL.md (kept beside this file): bearer auth, cursor paging with
// updated_since, {"data": ...} envelopes and typed error bodies. The base
// URL always comes from the user; paths can be overridden in sync.hcl.
//
// Three resource kinds are exposed: "contacts" (Paperbell clients; named so
// that configs read paperbell.contacts like ghl.contacts), and "tasks" and
// "notes", which are children of a contact. Contacts implement
// [providers.Finder] by email, the only lookup the API offers.
//
// Timestamps (created_at, updated_at, due_date, completed_at) are
// normalised on read to RFC 3339 in UTC without trailing zero fractions,
// so they compare equal to what HCL's timeadd and friends produce.
package paperbell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/bellsync/bellsync/providers/secret"
)

// Name is the provider type as written in sync.hcl.
const Name = "paperbell"

// DefaultRateLimit is the client-side budget in requests per minute. The
// real limit is unknown; this is the conservative default of MODEL.md.
const DefaultRateLimit = 60

// pageSize is the largest page the API serves.
const pageSize = 100

// Paths are the API's collection paths, relative to the base URL. Child
// collections of one client sit under Clients + "/{id}", so the default
// task list of a client is /clients/{id}/tasks.
type Paths struct {
	// Clients defaults to "/clients".
	Clients string
	// Tasks defaults to "/tasks".
	Tasks string
	// Notes defaults to "/notes".
	Notes string
}

func (p Paths) withDefaults() Paths {
	if p.Clients == "" {
		p.Clients = "/clients"
	}
	if p.Tasks == "" {
		p.Tasks = "/tasks"
	}
	if p.Notes == "" {
		p.Notes = "/notes"
	}
	return p
}

// Config configures a Provider built in Go (tests, the demo) rather than
// from sync.hcl.
type Config struct {
	// BaseURL is required and has no default: https, or http to loopback.
	BaseURL string
	// APIKey is sent as a bearer token and never printed.
	APIKey secret.String
	// RateLimit is requests per minute; 0 means DefaultRateLimit, negative
	// means no client-side limit.
	RateLimit int
	// MaxAttempts bounds retries per request; 0 means the httpx default.
	MaxAttempts int
	// HTTPClient nil means a fresh client with a 60s timeout.
	HTTPClient *http.Client
	// Sleep, Jitter and Now are passed to httpx for backoff and the rate
	// limiter; nil means real time and randomness.
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func() float64
	Now    func() time.Time
	// Logger nil discards.
	Logger *slog.Logger
	Paths  Paths
}

// Provider is one configured Paperbell account. It is safe for concurrent
// use.
type Provider struct {
	http  *httpx.Client
	log   *slog.Logger
	paths Paths
	kinds map[string]providers.Resource
	// calls counts HTTP requests sent, retries included; limited counts
	// the 429 answers among them.
	calls, limited atomic.Int64
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Checker  = (*Provider)(nil)
	_ providers.Factory  = New
	_ providers.Finder   = (*contacts)(nil)
)

// NewClient builds a provider from cfg. The error says what is wrong with
// cfg and never contains the key.
func NewClient(cfg Config) (*Provider, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("paperbell: base URL is required")
	}
	u, err := httpx.CheckBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("paperbell: base URL: %w", err)
	}
	if cfg.APIKey.IsZero() {
		return nil, errors.New("paperbell: API key is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("provider", Name)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	rate := cfg.RateLimit
	if rate == 0 {
		rate = DefaultRateLimit
	}
	var lim *httpx.Limiter
	if rate > 0 {
		lim = httpx.NewLimiter(rate, time.Minute, cfg.Now)
	}
	key := cfg.APIKey
	p := &Provider{
		log:   log,
		paths: cfg.Paths.withDefaults(),
		http: &httpx.Client{
			BaseURL:     u,
			HTTP:        hc,
			Limiter:     lim,
			MaxAttempts: cfg.MaxAttempts,
			Sleep:       cfg.Sleep,
			Jitter:      cfg.Jitter,
			Logger:      log,
			UserAgent:   "bellsync-paperbell",
		},
	}
	// Decorate runs once per attempt, so retries are counted too.
	p.http.Decorate = func(r *http.Request) error {
		p.calls.Add(1)
		r.Header.Set("Authorization", "Bearer "+key.Reveal())
		return nil
	}
	p.http.Observe = func(r *http.Response) {
		if r.StatusCode == http.StatusTooManyRequests {
			p.limited.Add(1)
		}
	}
	p.kinds = map[string]providers.Resource{
		"contacts": &contacts{resource{p: p, spec: contactSpec}},
		"tasks":    &resource{p: p, spec: taskSpec},
		"notes":    &resource{p: p, spec: noteSpec},
	}
	return p, nil
}

// CallCounts reports the provider's API traffic since it was built: HTTP
// requests sent (retries included) and how many of them were answered 429.
// It is safe to call while requests are in flight.
func (p *Provider) CallCounts() (calls, rateLimited int64) {
	return p.calls.Load(), p.limited.Load()
}

// Name returns "paperbell".
func (p *Provider) Name() string { return Name }

// Kinds returns the schemas of contacts, tasks and notes.
func (p *Provider) Kinds() []providers.Schema {
	return []providers.Schema{contactSpec.schema, taskSpec.schema, noteSpec.schema}
}

// Resource returns one resource kind.
func (p *Provider) Resource(kind string) (providers.Resource, error) {
	if r, ok := p.kinds[kind]; ok {
		return r, nil
	}
	names := make([]string, 0, len(p.kinds))
	for k := range p.kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("paperbell: no resource kind %q; kinds are %s", kind, strings.Join(names, ", "))
}

// Check reads one client, which proves the URL, the key and read access.
func (p *Provider) Check(ctx context.Context) []providers.CheckResult {
	q := url.Values{"limit": {"1"}}
	_, err := p.call(ctx, "check connection", httpx.Request{Method: http.MethodGet, Path: p.paths.Clients, Query: q, Idempotent: true}, false)
	if err != nil {
		return []providers.CheckResult{{Name: "api key", OK: false, Detail: err.Error()}}
	}
	return []providers.CheckResult{{Name: "api key", OK: true, Detail: "clients are readable"}}
}
