package emulator

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero Options fields.
const (
	DefaultToken      = "ghl-emulator-token"
	DefaultLocationID = "LOCbellsyncCorpus001"
	DefaultRateLimit  = 100
	DefaultRateWindow = 10 * time.Second
	DefaultDailyLimit = 200000
	// APIVersion is the only Version header value the emulator accepts.
	APIVersion = "2021-07-28"
	// MaxRequestBody bounds request bodies; larger ones get 413.
	MaxRequestBody = 4 << 20
)

// Options configure a Server. The zero value serves one location with the
// default token and GHL's documented limits.
type Options struct {
	// Token is the accepted Private Integration Token for LocationID.
	// Default DefaultToken.
	Token string
	// LocationID is the location the token belongs to. Default
	// DefaultLocationID.
	LocationID string
	// Tokens maps further static tokens to their location ids, for
	// multi-location tests.
	Tokens map[string]string
	// Authenticate, when set, replaces the static token check (the OAuth
	// emulator plugs in here). It returns the location the bearer token in
	// r belongs to and the token's scopes; nil scopes allow every route.
	// Return ErrInvalidToken (or any error) for a 401 "Invalid token",
	// ErrForbiddenLocation for the 403.
	Authenticate func(r *http.Request) (locationID string, scopes []string, err error)

	// RateLimit is how many requests a location may make per RateWindow
	// (sliding window). Default 100 per 10 s.
	RateLimit  int
	RateWindow time.Duration
	// DailyLimit is the per-location budget per UTC day. Default 200000.
	DailyLimit int

	// AllowDuplicateContact is the location setting of the same name.
	AllowDuplicateContact bool
	// SearchLag is how long a write stays invisible to POST /contacts/search
	// (GET by id sees it at once).
	SearchLag time.Duration
	// NotFoundStatus is the status for unknown contacts, tasks and notes:
	// 400 (default, what integrators observe) or 404.
	NotFoundStatus int

	Faults Faults

	// WebhookURL, when set, receives a signed event for every change made
	// through the API. Deliveries are synchronous with the request that
	// caused them, so tests see them in order without waiting.
	WebhookURL string
	// WebhookClient sends deliveries; default a client with a 5 s timeout.
	WebhookClient *http.Client
	// WebhookEd25519Key signs x-ghl-signature; nil omits the header.
	WebhookEd25519Key ed25519.PrivateKey
	// WebhookRSAKey signs x-wh-signature; nil omits the header.
	WebhookRSAKey *rsa.PrivateKey
	// AppID goes into every webhook body. Default "bellsync-emulator-app".
	AppID string

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand drives fault injection and ids; nil means seeded from the clock.
	Rand   *rand.Rand
	Logger *slog.Logger
}

// Faults inject failures for reliability tests. Rates are fractions in [0,1].
type Faults struct {
	// Latency is added to every response.
	Latency time.Duration
	// ErrorRate answers requests 500/502/503 before doing any work.
	ErrorRate float64
	// Burst429 answers the next N requests 429, then behaves normally.
	Burst429 int
	// DropRate closes the connection without any response, before any work.
	DropRate float64
	// DropAfterWriteRate applies a successful write (POST/PUT/DELETE) and
	// then closes the connection without a response.
	DropAfterWriteRate float64
	// GarbageRate answers 200 with an HTML body instead of doing the work,
	// as a misconfigured proxy would.
	GarbageRate float64
}

// Errors an Authenticate hook may return.
var (
	ErrInvalidToken      = errors.New("invalid token")
	ErrForbiddenLocation = errors.New("token has no access to this location")
)

// Stats counts what the server has served. Keys of Requests are
// "METHOD /pattern" as registered (e.g. "GET /contacts/{contactId}"); a
// request that never reached a route is counted under "unrouted".
type Stats struct {
	Total       int
	Requests    map[string]int
	Statuses    map[int]int
	RateLimited int // 429s from the limiter or Burst429
	Dropped     int // connections closed by DropRate or DropAfterWriteRate
	Errors      int // 5xx from ErrorRate
	Garbage     int
	Webhooks    int // webhook deliveries attempted
}

// Server is an in-memory GHL API v2. It is safe for concurrent use; all
// exported methods may be called while it serves.
type Server struct {
	opts   Options
	log    *slog.Logger
	routes *http.ServeMux
	mounts *http.ServeMux

	// webhookURL is Options.WebhookURL, changeable while serving so a
	// test can point it at a listener bound to a port of its own choosing.
	webhookURL atomic.Pointer[string]

	// ctl guards faults, rng, limiter state and stats.
	ctl     sync.Mutex
	faults  Faults
	rng     *rand.Rand
	windows map[string][]time.Time
	daily   map[string]dayCount
	stats   Stats

	// mu guards contacts, tasks, notes and generation.
	mu       sync.Mutex
	contacts map[string]*contactEntry
	// generation counts contact writes, so search can reuse its sorted
	// index while nothing changed.
	generation int

	// cacheMu guards sorted.
	cacheMu sync.Mutex
	sorted  sortedIndex
	tasks   map[string][]Task
	notes   map[string][]Note

	// hookMu serialises webhook deliveries so they arrive in write order.
	hookMu sync.Mutex
}

type dayCount struct {
	day string
	n   int
}

// New returns a Server with no records.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.LocationID == "" {
		opts.LocationID = DefaultLocationID
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = DefaultRateWindow
	}
	if opts.DailyLimit <= 0 {
		opts.DailyLimit = DefaultDailyLimit
	}
	if opts.NotFoundStatus == 0 {
		opts.NotFoundStatus = http.StatusBadRequest
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AppID == "" {
		opts.AppID = "bellsync-emulator-app"
	}
	rng := opts.Rand
	if rng == nil {
		seed := uint64(opts.Now().UnixNano())
		rng = rand.New(rand.NewPCG(seed, seed>>1|1))
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:     opts,
		log:      log,
		routes:   http.NewServeMux(),
		mounts:   http.NewServeMux(),
		faults:   opts.Faults,
		rng:      rng,
		windows:  map[string][]time.Time{},
		daily:    map[string]dayCount{},
		contacts: map[string]*contactEntry{},
		tasks:    map[string][]Task{},
		notes:    map[string][]Note{},
	}
	s.stats = Stats{Requests: map[string]int{}, Statuses: map[int]int{}}
	s.registerRoutes()
	return s
}

// SetFaults replaces the fault settings; it takes effect on the next request.
func (s *Server) SetFaults(f Faults) {
	s.ctl.Lock()
	s.faults = f
	s.ctl.Unlock()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	st := s.stats
	st.Requests = make(map[string]int, len(s.stats.Requests))
	for k, v := range s.stats.Requests {
		st.Requests[k] = v
	}
	st.Statuses = make(map[int]int, len(s.stats.Statuses))
	for k, v := range s.stats.Statuses {
		st.Statuses[k] = v
	}
	return st
}

// Mount serves h for pattern outside the API pipeline: no auth, Version,
// rate limit or faults. The OAuth emulator mounts its token endpoint here.
func (s *Server) Mount(pattern string, h http.Handler) { s.mounts.Handle(pattern, h) }

func (s *Server) now() time.Time { return s.opts.Now() }

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns a 20-character alphanumeric id like GHL's.
func (s *Server) newID() string {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	b := make([]byte, 20)
	for i := range b {
		b[i] = idAlphabet[s.rng.IntN(len(idAlphabet))]
	}
	return string(b)
}

// reply is a response a handler wants sent; the pipeline decides whether it
// actually is (DropAfterWriteRate).
type reply struct {
	status int
	body   any
}

// call is one request as it moves through the pipeline.
type call struct {
	r        *http.Request
	body     []byte
	location string
	scopes   []string
	traceID  string
}

type handler func(c *call) reply

// routeWriter lets a registered route hand its reply back to the pipeline
// instead of writing it, so the pipeline can still drop the connection.
type routeWriter struct {
	c     *call
	reply *reply
	hdr   http.Header
}

func (w *routeWriter) Header() http.Header { return w.hdr }

// Write and WriteHeader are only reached by the mux's own 404/405 answers,
// which the pipeline replaces with GHL-shaped bodies.
func (w *routeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *routeWriter) WriteHeader(status int) {
	if w.reply == nil {
		w.reply = &reply{status: status}
	}
}

func (s *Server) handle(pattern, scope string, h handler) {
	s.routes.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rw := w.(*routeWriter)
		if !hasScope(rw.c.scopes, scope) {
			rw.reply = &reply{http.StatusUnauthorized, errBody(401, "The token is not authorized for this scope.", "Unauthorized")}
			return
		}
		rw.c.r = r
		rep := h(rw.c)
		rw.reply = &rep
	})
}

func hasScope(scopes []string, want string) bool {
	if scopes == nil || want == "" {
		return true
	}
	for _, sc := range scopes {
		// A write scope implies the matching read one in practice.
		if sc == want || (strings.HasSuffix(want, ".readonly") && sc == strings.TrimSuffix(want, ".readonly")+".write") {
			return true
		}
	}
	return false
}

// ServeHTTP runs the pipeline: faults, Version, auth, rate limit, body
// limit, route, then send (or drop) the reply.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, pat := s.mounts.Handler(r); pat != "" {
		h.ServeHTTP(w, r)
		return
	}
	traceID := newTraceID(s)
	w.Header().Set("X-Trace-Id", traceID)
	f := s.drawFaults()
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case f.drop:
		s.count("unrouted", 0, func(st *Stats) { st.Dropped++ })
		panic(http.ErrAbortHandler)
	case f.errStatus != 0:
		s.count("unrouted", f.errStatus, func(st *Stats) { st.Errors++ })
		if f.errStatus == http.StatusInternalServerError {
			s.send(w, reply{f.errStatus, errBody(500, "Internal server error", "")})
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.errStatus)
		io.WriteString(w, "<html><body><h1>"+strconv.Itoa(f.errStatus)+" "+http.StatusText(f.errStatus)+"</h1></body></html>\n")
		return
	case f.garbage:
		s.count("unrouted", http.StatusOK, func(st *Stats) { st.Garbage++ })
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>\n")
		return
	}

	if rep, ok := checkVersion(r); !ok {
		s.count("unrouted", rep.status, nil)
		s.send(w, rep)
		return
	}
	loc, scopes, rep, ok := s.authenticate(r)
	if !ok {
		s.count("unrouted", rep.status, nil)
		s.send(w, rep)
		return
	}
	if !s.admit(w.Header(), loc, f.burst429) {
		s.count("unrouted", http.StatusTooManyRequests, func(st *Stats) { st.RateLimited++ })
		s.send(w, reply{http.StatusTooManyRequests, errBody(429, "Too many requests", "Too Many Requests")})
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	if err != nil {
		s.count("unrouted", http.StatusBadRequest, nil)
		s.send(w, reply{http.StatusBadRequest, errBody(400, "request body could not be read", "Bad Request")})
		return
	}
	if len(body) > MaxRequestBody {
		s.count("unrouted", http.StatusRequestEntityTooLarge, nil)
		s.send(w, reply{http.StatusRequestEntityTooLarge, errBody(413, "request entity too large", "Payload Too Large")})
		return
	}

	c := &call{r: r, body: body, location: loc, scopes: scopes, traceID: traceID}
	rw := &routeWriter{c: c, hdr: http.Header{}}
	s.routes.ServeHTTP(rw, r)
	out := reply{http.StatusNotFound, map[string]any{"statusCode": 404, "message": "Cannot " + r.Method + " " + r.URL.Path, "error": "Not Found"}}
	pattern := "unrouted"
	if r.Pattern != "" && rw.reply != nil && rw.reply.body != nil {
		out = *rw.reply
		pattern = r.Pattern
	}
	if m, ok := out.body.(map[string]any); ok && out.status < 300 {
		m["traceId"] = traceID
	}
	if f.dropAfterWrite && r.Method != http.MethodGet && out.status < 300 {
		s.count(pattern, 0, func(st *Stats) { st.Dropped++ })
		panic(http.ErrAbortHandler)
	}
	s.count(pattern, out.status, nil)
	s.send(w, out)
}

func (s *Server) send(w http.ResponseWriter, rep reply) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Note bodies are HTML; keep them readable and byte-identical on the wire.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep.body); err != nil {
		s.log.Error("encode response", "err", err)
		rep.status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"statusCode":500,"message":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(rep.status)
	w.Write(buf.Bytes())
}

func (s *Server) count(pattern string, status int, more func(*Stats)) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.stats.Total++
	s.stats.Requests[pattern]++
	if status != 0 {
		s.stats.Statuses[status]++
	}
	if more != nil {
		more(&s.stats)
	}
}

type faultDraw struct {
	latency        time.Duration
	drop           bool
	errStatus      int
	garbage        bool
	burst429       bool
	dropAfterWrite bool
}

// drawFaults decides this request's fate up front so one lock covers the
// random draws and the Burst429 countdown.
func (s *Server) drawFaults() faultDraw {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	f := s.faults
	d := faultDraw{latency: f.Latency}
	hit := func(rate float64) bool { return rate > 0 && s.rng.Float64() < rate }
	switch {
	case hit(f.DropRate):
		d.drop = true
	case hit(f.ErrorRate):
		d.errStatus = []int{500, 502, 503}[s.rng.IntN(3)]
	case hit(f.GarbageRate):
		d.garbage = true
	case s.faults.Burst429 > 0:
		s.faults.Burst429--
		d.burst429 = true
	}
	d.dropAfterWrite = hit(f.DropAfterWriteRate)
	return d
}

func newTraceID(s *Server) string {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	const hex = "0123456789abcdef"
	b := make([]byte, 36)
	for i := range b {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
		default:
			b[i] = hex[s.rng.IntN(16)]
		}
	}
	return string(b)
}

func checkVersion(r *http.Request) (reply, bool) {
	v, ok := r.Header["Version"]
	if !ok || len(v) == 0 {
		return reply{http.StatusUnauthorized, map[string]any{"message": "version header was not found."}}, false
	}
	if v[0] != APIVersion {
		return reply{http.StatusUnauthorized, map[string]any{"message": "version header is invalid"}}, false
	}
	return reply{}, true
}

func invalidToken() reply {
	return reply{http.StatusUnauthorized, errBody(401, "Invalid token: access token is invalid", "Unauthorized")}
}

func forbiddenLocation() reply {
	return reply{http.StatusForbidden, errBody(403, "The token does not have access to this location.", "")}
}

func (s *Server) authenticate(r *http.Request) (string, []string, reply, bool) {
	if s.opts.Authenticate != nil {
		loc, scopes, err := s.opts.Authenticate(r)
		switch {
		case errors.Is(err, ErrForbiddenLocation):
			return "", nil, forbiddenLocation(), false
		case err != nil:
			return "", nil, invalidToken(), false
		}
		return loc, scopes, reply{}, true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", nil, invalidToken(), false
	}
	if tok == s.opts.Token {
		return s.opts.LocationID, nil, reply{}, true
	}
	if loc, ok := s.opts.Tokens[tok]; ok {
		return loc, nil, reply{}, true
	}
	return "", nil, invalidToken(), false
}

// admit applies the sliding-window and daily limits for loc and sets the
// rate-limit headers. Refused requests do not use up budget.
func (s *Server) admit(h http.Header, loc string, forced429 bool) bool {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	now := s.now()
	cutoff := now.Add(-s.opts.RateWindow)
	win := s.windows[loc]
	i := 0
	for i < len(win) && !win[i].After(cutoff) {
		i++
	}
	win = win[i:]
	day := now.UTC().Format("2006-01-02")
	dc := s.daily[loc]
	if dc.day != day {
		dc = dayCount{day: day}
	}
	ok := !forced429 && len(win) < s.opts.RateLimit && dc.n < s.opts.DailyLimit
	if ok {
		win = append(win, now)
		dc.n++
	}
	s.windows[loc] = win
	s.daily[loc] = dc
	remaining := s.opts.RateLimit - len(win)
	if !ok {
		remaining = 0
	}
	h.Set("X-RateLimit-Limit-Daily", strconv.Itoa(s.opts.DailyLimit))
	h.Set("X-RateLimit-Daily-Remaining", strconv.Itoa(max(s.opts.DailyLimit-dc.n, 0)))
	h.Set("X-RateLimit-Interval-Milliseconds", strconv.FormatInt(s.opts.RateWindow.Milliseconds(), 10))
	h.Set("X-RateLimit-Max", strconv.Itoa(s.opts.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	return ok
}

// errBody builds GHL's NestJS-style error object; msg is a string or a
// []string (422).
func errBody(status int, msg any, errText string) map[string]any {
	m := map[string]any{"statusCode": status, "message": msg}
	if errText != "" {
		m["error"] = errText
	}
	return m
}

func badRequest(msg string) reply {
	return reply{http.StatusBadRequest, errBody(400, msg, "Bad Request")}
}

func unprocessable(msgs []string) reply {
	return reply{http.StatusUnprocessableEntity, errBody(422, msgs, "Unprocessable Entity")}
}

func (s *Server) notFound(kind, id string) reply {
	st := s.opts.NotFoundStatus
	if st == http.StatusNotFound {
		return reply{st, errBody(404, kind+" with id "+id+" not found", "Not Found")}
	}
	return reply{st, errBody(st, kind+" with id "+id+" not found", "")}
}

// SetWebhookURL changes where change events are posted; "" stops them.
func (s *Server) SetWebhookURL(url string) { s.webhookURL.Store(&url) }

func (s *Server) hookURL() string {
	if u := s.webhookURL.Load(); u != nil {
		return *u
	}
	return s.opts.WebhookURL
}
