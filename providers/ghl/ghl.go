// Package ghl is the bellsync provider for one GoHighLevel (LeadConnector)
// location, spoken over the v2 REST API with the Version header pinned to
// 2021-07-28.
//
// It exposes three kinds: "contacts" (listed through POST /contacts/search
// with searchAfter cursors), and "tasks" and "notes", which live under a
// contact. Everything about the wire stays here: auth headers, the
// per-location rate limiter fed by GHL's X-RateLimit-* headers, retries
// (through providers/httpx), tag writes through the add/remove endpoints
// instead of a full replace, and decoding of GHL's error bodies into
// *providers.Error.
//
// The bearer token comes from a [TokenSource]. A Private Integration Token
// is a [StaticToken]; an OAuth source can also implement [Refresher] and is
// then asked for a fresh token once when GHL answers 401 for an invalid or
// expired token.
//
// After every write the echoed record is compared with what was sent (after
// the normalisation GHL is known to apply: phones to E.164, tags lower-cased)
// and fields GHL dropped or changed are reported as [Mismatch] values, see
// [Provider.Mismatches] and [Config.OnMismatch].
package ghl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/bellsync/bellsync/providers/secret"
)

// Name is the provider type as written in sync.hcl.
const Name = "ghl"

// Defaults for the provider block.
const (
	DefaultBaseURL   = "https://services.leadconnectorhq.com"
	DefaultRateLimit = 100
	DefaultPageSize  = 500
	// MaxPageSize is the largest pageLimit POST /contacts/search accepts.
	MaxPageSize = 500
	// APIVersion is the only Version header value bellsync sends.
	APIVersion = "2021-07-28"
	// rateWindow is the window GHL counts its burst limit over.
	rateWindow = 10 * time.Second
)

// TokenSource yields the bearer token for each request. Implementations
// must be safe for concurrent use.
type TokenSource interface {
	Token(ctx context.Context) (secret.String, error)
}

// Refresher is implemented by token sources that can replace a token GHL
// rejected as invalid or expired. stale is the token that was refused, so
// a source shared by concurrent requests refreshes only once for it.
type Refresher interface {
	Refresh(ctx context.Context, stale secret.String) (secret.String, error)
}

// StaticToken is a fixed token, such as a Private Integration Token. The
// embedded secret keeps every printed form redacted.
type StaticToken struct{ secret.String }

// Token returns the token.
func (s StaticToken) Token(context.Context) (secret.String, error) {
	if s.IsZero() {
		return secret.String{}, errors.New("ghl: empty token")
	}
	return s.String, nil
}

// Config configures a client without HCL; tests and other Go callers use
// it with [NewClient].
type Config struct {
	// BaseURL defaults to DefaultBaseURL; it must pass httpx.CheckBaseURL.
	BaseURL    string
	LocationID string
	// TokenSource, when set, wins over Token.
	TokenSource TokenSource
	// Token is a Private Integration Token, used when TokenSource is nil.
	Token secret.String
	// RateLimit is requests per 10 s; 0 means DefaultRateLimit and a
	// negative value disables the client-side limiter.
	RateLimit int
	// PageSize is the search page size; 0 means DefaultPageSize.
	PageSize int
	// HTTPClient is the transport; nil means a client with a 60 s timeout.
	HTTPClient *http.Client
	// Sleep and Jitter are handed to httpx for backoff; tests inject them.
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func() float64
	// Now is the limiter's clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// MaxAttempts bounds retries per call; 0 means the httpx default.
	MaxAttempts int
	// OnMismatch, when set, is called (synchronously) for every write
	// whose echo differs from what was sent.
	OnMismatch func(Mismatch)
}

// Stats counts API traffic since the provider was built.
type Stats struct {
	// Calls is HTTP requests sent, retries included.
	Calls int64
	// RateLimited is 429 responses received.
	RateLimited int64
	// Refreshes is token refreshes after a 401.
	Refreshes int64
	// Mismatches is writes whose echo differed from what was sent.
	Mismatches int64
}

// Mismatch describes a write GHL accepted but echoed differently: fields
// it dropped or changed beyond its known normalisation. It names fields
// only, never values.
type Mismatch struct {
	Kind   string
	ID     string
	Op     string
	Fields []string
}

// maxMismatches bounds the kept history; older entries are dropped.
const maxMismatches = 100

// Provider is one configured GHL location. It is safe for concurrent use.
type Provider struct {
	locationID string
	pageSize   int
	tokens     TokenSource
	http       *httpx.Client
	log        *slog.Logger
	onMismatch func(Mismatch)
	// oauth is set when the provider block has an oauth block.
	oauth *OAuth

	calls, limited, refreshes, mismatchCount atomic.Int64

	// mu guards mismatches.
	mu         sync.Mutex
	mismatches []Mismatch

	contacts *contacts
	tasks    *child
	notes    *child
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Checker  = (*Provider)(nil)
)

// NewClient builds a provider from cfg.
func NewClient(cfg Config) (*Provider, error) {
	if cfg.LocationID == "" {
		return nil, errors.New("ghl: location id is required")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := httpx.CheckBaseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("ghl: base url: %w", err)
	}
	ts := cfg.TokenSource
	if ts == nil {
		if cfg.Token.IsZero() {
			return nil, errors.New("ghl: a token or token source is required")
		}
		ts = StaticToken{cfg.Token}
	}
	pageSize := cfg.PageSize
	switch {
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize < 0 || pageSize > MaxPageSize:
		return nil, fmt.Errorf("ghl: page size %d is outside 1..%d", pageSize, MaxPageSize)
	}
	rate := cfg.RateLimit
	if rate == 0 {
		rate = DefaultRateLimit
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("provider", Name, "location", cfg.LocationID)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	p := &Provider{
		locationID: cfg.LocationID,
		pageSize:   pageSize,
		tokens:     ts,
		log:        log,
		onMismatch: cfg.OnMismatch,
	}
	p.http = &httpx.Client{
		BaseURL:     base,
		HTTP:        hc,
		MaxAttempts: cfg.MaxAttempts,
		Sleep:       cfg.Sleep,
		Jitter:      cfg.Jitter,
		Logger:      log,
		UserAgent:   "bellsync",
	}
	if rate > 0 {
		p.http.Limiter = httpx.NewLimiter(rate, rateWindow, cfg.Now)
	}
	p.http.Observe = p.observe
	p.contacts = &contacts{p: p}
	p.tasks = newTasks(p)
	p.notes = newNotes(p)
	return p, nil
}

// String describes the provider without its credentials. fmt cannot call
// the redacting methods of secrets held in unexported fields, so printing
// the struct itself would show the token.
func (p *Provider) String() string { return "ghl provider for location " + p.locationID }

// GoString keeps %#v from dumping the fields, for the same reason.
func (p *Provider) GoString() string { return p.String() }

// Name returns "ghl".
func (p *Provider) Name() string { return Name }

// LocationID is the location this provider talks to.
func (p *Provider) LocationID() string { return p.locationID }

// Kinds lists the schemas of contacts, tasks and notes.
func (p *Provider) Kinds() []providers.Schema {
	return []providers.Schema{contactSchema, taskSchema, noteSchema}
}

// Resource returns the named kind.
func (p *Provider) Resource(kind string) (providers.Resource, error) {
	switch kind {
	case "contacts":
		return p.contacts, nil
	case "tasks":
		return p.tasks, nil
	case "notes":
		return p.notes, nil
	}
	return nil, fmt.Errorf("ghl: no resource kind %q (kinds: contacts, tasks, notes)", kind)
}

// Stats returns the traffic counters.
func (p *Provider) Stats() Stats {
	return Stats{
		Calls:       p.calls.Load(),
		RateLimited: p.limited.Load(),
		Refreshes:   p.refreshes.Load(),
		Mismatches:  p.mismatchCount.Load(),
	}
}

// Mismatches returns the most recent write mismatches (at most 100),
// oldest first.
func (p *Provider) Mismatches() []Mismatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Mismatch(nil), p.mismatches...)
}

func (p *Provider) reportMismatch(ctx context.Context, m Mismatch) {
	if len(m.Fields) == 0 {
		return
	}
	p.mismatchCount.Add(1)
	p.log.DebugContext(ctx, "write echoed differently", "kind", m.Kind, "id", m.ID, "op", m.Op, "fields", m.Fields)
	p.mu.Lock()
	p.mismatches = append(p.mismatches, m)
	if n := len(p.mismatches); n > maxMismatches {
		p.mismatches = append([]Mismatch(nil), p.mismatches[n-maxMismatches:]...)
	}
	p.mu.Unlock()
	if p.onMismatch != nil {
		p.onMismatch(m)
	}
}
