// Package emulator is an offline Paperbell API: an http.Handler that serves
// the REST model bellsync assumes (providers/paperbell/MODEL.md) over an
// in-memory store, with the auth, validation, duplicate, paging, rate-limit
// and error behaviour the client has to cope with, plus fault injection for
// reliability tests. See README.md for what is modelled and what is assumed.
//
// A Server is safe for concurrent use; the inspection helpers (Clients,
// PutClient, Stats, ...) may be called while it serves requests.
package emulator

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DefaultAPIKey is the key the emulator accepts when Options.APIKey is empty.
const DefaultAPIKey = "paperbell-emulator-key"

// Defaults of the emulator's own rate limit. The real limit is unknown; the
// emulator's is generous so that a demo on loopback runs fast, and tests that
// want 429s set a small one.
const (
	DefaultRateLimit  = 600
	DefaultRateWindow = time.Minute
)

// MaxRequestBody bounds a request body; larger ones are answered 413.
const MaxRequestBody = 1 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// APIKey is the bearer token accepted; empty means DefaultAPIKey.
	APIKey string
	// RateLimit is how many requests are allowed per RateWindow (a fixed
	// window); 0 means DefaultRateLimit, negative means no limit.
	RateLimit int
	// RateWindow is 0 for DefaultRateWindow.
	RateWindow time.Duration
	// Faults are injected from the first request on; see SetFaults.
	Faults Faults
	// Now is the clock for timestamps and the rate window; nil means
	// time.Now.
	Now func() time.Time
	// Rand drives ids and fault rates; nil means a fixed seed, so runs are
	// repeatable.
	Rand *rand.Rand
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
}

// Faults describe misbehaviour to inject. Rates are probabilities in [0,1]
// rolled per request; Burst counts affect the next that many requests and
// count down, which is what deterministic tests want.
type Faults struct {
	// Latency is added before every request is handled.
	Latency time.Duration
	// ErrorRate answers 500 before doing any work.
	ErrorRate float64
	// Burst5xx answers the next N requests 500 before doing any work.
	Burst5xx int
	// Burst429 answers the next N requests 429 with Retry-After.
	Burst429 int
	// RetryAfter is the Retry-After sent with Burst429 answers; 0 means 1s.
	RetryAfter time.Duration
	// DropRate and BurstDrop close the connection before doing any work.
	DropRate  float64
	BurstDrop int
	// DropAfterWriteRate and BurstDropAfterWrite apply a write (POST, PATCH,
	// DELETE) and then close the connection without answering: the case
	// where a client cannot know whether its write happened.
	DropAfterWriteRate  float64
	BurstDropAfterWrite int
	// GarbageRate and BurstGarbage answer 200 with an HTML body before
	// doing any work.
	GarbageRate  float64
	BurstGarbage int
}

// Stats counts what the server has seen.
type Stats struct {
	// Requests counts requests by route pattern ("GET /clients/{id}");
	// requests matching no route count under "unmatched".
	Requests map[string]int
	// RateLimited counts 429 answers, injected or earned.
	RateLimited int
	// Unauthorized counts 401 answers.
	Unauthorized int
	// Faults counts injected 5xx, drops and garbage answers.
	Faults int
}

// Server is the emulated API. Create it with New.
type Server struct {
	apiKey string
	limit  int
	window time.Duration
	now    func() time.Time
	log    *slog.Logger
	mux    *http.ServeMux

	// mu guards every field below.
	mu          sync.Mutex
	rnd         *rand.Rand
	faults      Faults
	clients     map[string]*Client
	tasks       map[string]*Task
	notes       map[string]*Note
	windowStart time.Time
	windowCount int
	stats       Stats
}

// New returns a server with an empty store.
func New(opts Options) *Server {
	s := &Server{
		apiKey:  opts.APIKey,
		limit:   opts.RateLimit,
		window:  opts.RateWindow,
		now:     opts.Now,
		log:     opts.Logger,
		rnd:     opts.Rand,
		faults:  opts.Faults,
		clients: map[string]*Client{},
		tasks:   map[string]*Task{},
		notes:   map[string]*Note{},
		stats:   Stats{Requests: map[string]int{}},
	}
	if s.apiKey == "" {
		s.apiKey = DefaultAPIKey
	}
	if s.limit == 0 {
		s.limit = DefaultRateLimit
	}
	if s.window <= 0 {
		s.window = DefaultRateWindow
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.rnd == nil {
		s.rnd = rand.New(rand.NewPCG(1, 2))
	}
	s.routes()
	return s
}

// SetFaults replaces the faults to inject, burst counters included.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = make(map[string]int, len(s.stats.Requests))
	for k, v := range s.stats.Requests {
		st.Requests[k] = v
	}
	return st
}

// fault is what the dice decided for one request.
type fault int

const (
	faultNone fault = iota
	faultDrop
	fault5xx
	faultGarbage
	fault429
	faultDropAfterWrite
)

// ServeHTTP answers one request: injected faults first (the real server
// would fail before doing work), then auth, the rate limit, and the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	f, latency, retryAfter := s.admit(pattern, r.Method)
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "route", pattern)
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	switch f {
	case faultDrop:
		panic(http.ErrAbortHandler)
	case fault5xx:
		writeError(w, http.StatusInternalServerError, "internal", "injected server error", nil)
		return
	case faultGarbage:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html><body>Bad gateway</body></html>"))
		return
	case fault429:
		s.tooMany(w, retryAfter)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		// The message never echoes the key that was sent.
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid API key", nil)
		return
	}
	if wait, ok := s.take(); !ok {
		s.tooMany(w, wait)
		return
	}
	if pattern == "" {
		writeError(w, http.StatusNotFound, "not_found", "no such route", nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBody)
	if f == faultDropAfterWrite {
		s.mux.ServeHTTP(&discardWriter{h: http.Header{}}, r)
		panic(http.ErrAbortHandler)
	}
	s.mux.ServeHTTP(w, r)
}

// admit counts the request and rolls the fault dice.
func (s *Server) admit(pattern, method string) (fault, time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pattern == "" {
		pattern = "unmatched"
	}
	s.stats.Requests[pattern]++
	f := &s.faults
	retryAfter := f.RetryAfter
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	got := faultNone
	switch {
	case s.burst(&f.BurstDrop) || s.roll(f.DropRate):
		got = faultDrop
	case s.burst(&f.Burst5xx) || s.roll(f.ErrorRate):
		got = fault5xx
	case s.burst(&f.BurstGarbage) || s.roll(f.GarbageRate):
		got = faultGarbage
	case s.burst(&f.Burst429):
		s.stats.RateLimited++
		return fault429, f.Latency, retryAfter
	case method != http.MethodGet && (s.burst(&f.BurstDropAfterWrite) || s.roll(f.DropAfterWriteRate)):
		got = faultDropAfterWrite
	}
	if got != faultNone {
		s.stats.Faults++
	}
	return got, f.Latency, retryAfter
}

// burst counts one down. s.mu must be held.
func (s *Server) burst(n *int) bool {
	if *n <= 0 {
		return false
	}
	*n--
	return true
}

// roll reports true with probability p. s.mu must be held.
func (s *Server) roll(p float64) bool { return p > 0 && s.rnd.Float64() < p }

// take spends one request of the window's budget, or says how long until
// the window resets.
func (s *Server) take() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit < 0 {
		return 0, true
	}
	now := s.now()
	if now.Sub(s.windowStart) >= s.window || now.Before(s.windowStart) {
		s.windowStart, s.windowCount = now, 0
	}
	if s.windowCount >= s.limit {
		s.stats.RateLimited++
		return s.windowStart.Add(s.window).Sub(now), false
	}
	s.windowCount++
	return 0, true
}

func (s *Server) tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests", nil)
}

// discardWriter swallows the answer to a write whose connection is about
// to be dropped.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// apiError is the error body of MODEL.md.
type apiError struct {
	Code       string            `json:"code"`
	Message    string            `json:"message"`
	Fields     map[string]string `json:"fields,omitempty"`
	ExistingID string            `json:"existing_id,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg, Fields: fields}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Note content is HTML in places; keep it readable on the wire. The
	// decoded bytes are the same either way.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// newID returns an unused numeric-looking id. s.mu must be held.
func (s *Server) newID() string {
	for {
		id := fmt.Sprintf("%08d", 10000000+s.rnd.IntN(90000000))
		_, c := s.clients[id]
		_, t := s.tasks[id]
		_, n := s.notes[id]
		if !c && !t && !n {
			return id
		}
	}
}

// stamp is the current time as stored.
func (s *Server) stamp() time.Time { return normTime(s.now()) }
