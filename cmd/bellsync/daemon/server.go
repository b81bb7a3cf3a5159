// Package daemon is the HTTP side of `bellsync run`: it takes webhook
// deliveries from GHL and from Paperbell Zaps, authenticates them,
// persists each event before answering, and hands the scheduler a hint
// naming the record to reconcile. It also serves /healthz and /metrics.
//
// It lives beside the command rather than in engine/ because it joins
// provider code (GHL signature checks, Zap parsing) to the engine, and
// the engine must not import providers.
//
// # Answers
//
//	POST PREFIX/ghl
//	  200  accepted (persisted and queued), or authentic but ignored (an
//	       event type bellsync does not act on, or another location)
//	  400  signed, but not a JSON event (no type, no webhookId, ...)
//	  401  unsigned, bad signature, or stale (timestamp over 5 minutes old)
//	  405  not a POST
//	  409  replayed (webhookId seen before)
//	  413  body over max_body
//	  429  shutting down, queue full, or our own failure (state database)
//	POST PREFIX/paperbell
//	  200  accepted;  400 not a Zap event;  401 missing or wrong secret;
//	  404  no paperbell_secret configured;  413, 429 as above
//	GET /healthz   200 "ok", 503 "stopping"
//	GET /metrics   Prometheus text format
//
// 429 is the only status GHL retries, so it is the answer for anything
// that is our fault rather than the sender's. An event is in the state
// database before the 200 goes out; if the daemon then dies, the event is
// replayed at the next start ([Server.Replay]).
package daemon

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/schedule"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers/ghl/webhook"
	"github.com/bellsync/bellsync/providers/paperbell/zap"
	"github.com/bellsync/bellsync/providers/secret"
)

// Defaults for [Options].
const (
	DefaultMaxBody    = 1 << 20
	DefaultPathPrefix = "/webhooks"
	// settledKeep is how long settled events stay in the state database,
	// for `bellsync state dump` and post-mortems.
	settledKeep = 7 * 24 * time.Hour
)

// EventStore persists webhook events and seen ids; *state.SQLite
// implements it.
type EventStore interface {
	PutWebhookEvent(ctx context.Context, ev state.WebhookEvent) (seq int64, dup bool, err error)
	ForgetWebhookEvent(ctx context.Context, seq int64) error
	SettleWebhookEvents(ctx context.Context, seqs []int64, status, errText string) error
	PendingWebhookEvents(ctx context.Context, limit int) ([]state.WebhookEvent, error)
	PruneWebhooks(ctx context.Context, seenBefore, settledBefore time.Time) error
}

var _ EventStore = (*state.SQLite)(nil)

// Queue takes hints; *schedule.Scheduler implements it.
type Queue interface {
	Enqueue(h schedule.Hint, refs ...int64) error
	Accepting() bool
	Len() int
}

var _ Queue = (*schedule.Scheduler)(nil)

// Options configure [New]. Store and Queue are required.
type Options struct {
	Store EventStore
	Queue Queue
	// GHLEd25519 and GHLRSA verify GHL's signatures; nil means the keys
	// GHL publishes.
	GHLEd25519 ed25519.PublicKey
	GHLRSA     *rsa.PublicKey
	// GHLLocationID is the location the config syncs. A signed event
	// about another location (an app installed on several) is answered
	// 200 and ignored; "" takes every location.
	GHLLocationID string
	// PaperbellSecret authenticates Zap deliveries; zero turns the route
	// off (404).
	PaperbellSecret secret.String
	// MaxBody bounds a request body, in bytes; default DefaultMaxBody.
	MaxBody int64
	// PathPrefix is where the webhook routes live; default
	// DefaultPathPrefix.
	PathPrefix string
	// MaxAge is the oldest GHL timestamp accepted; default
	// webhook.DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock for freshness and latency; default time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// Server handles the daemon's HTTP routes. Use [Server.Handler] to serve
// them, and [Server.Hooks] as the scheduler's hooks so events are settled
// when their records are reconciled. It is safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	metrics  *Metrics
	verifier *webhook.Verifier

	// mu guards closing and received.
	mu      sync.Mutex
	closing bool
	// received remembers when each queued event arrived, for the
	// receipt-to-applied latency; entries go when the event settles.
	received map[int64]time.Time
}

// New checks opts and fills in defaults.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Queue == nil {
		return nil, errors.New("daemon: a store and a queue are required")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.PathPrefix == "" {
		opts.PathPrefix = DefaultPathPrefix
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = webhook.DefaultMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(opts.Now)
	}
	opts.Metrics.SetQueue(opts.Queue.Len)
	s := &Server{opts: opts, log: opts.Logger, metrics: opts.Metrics, received: map[int64]time.Time{}}
	// The replay check is not the verifier's: it happens in the same
	// transaction that persists the event (see ghl), so that a failed
	// write never leaves an id marked seen for an event we did not keep.
	s.verifier = &webhook.Verifier{Ed25519: opts.GHLEd25519, RSA: opts.GHLRSA, MaxAge: opts.MaxAge, Now: opts.Now}
	return s, nil
}

// Metrics returns the counters the server reports.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Close makes every later delivery get 429, so GHL tries it again after
// the restart. Call it before stopping the scheduler.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
}

func (s *Server) accepting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing && s.opts.Queue.Accepting()
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(s.opts.PathPrefix+"/ghl", s.ghl)
	mux.HandleFunc(s.opts.PathPrefix+"/paperbell", s.paperbell)
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/metrics", s.serveMetrics)
	return mux
}

// Listen opens a TCP listener on addr with an error that says what to do
// when the port is taken.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &listenError{err: err, msg: fmt.Sprintf("listen on %s: the address is already in use (another bellsync run, or another program); "+
			"stop it, or choose another address with -listen or webhooks { listen = ... }", addr)}
	}
	if err != nil {
		return nil, &listenError{err: err, msg: fmt.Sprintf("listen on %s: %v", addr, opCause(err))}
	}
	return ln, nil
}

// listenError words a listen failure once: net's own text ("listen tcp
// ADDR: bind: ...") would name the address a second time.
type listenError struct {
	err error
	msg string
}

func (e *listenError) Error() string { return e.msg }
func (e *listenError) Unwrap() error { return e.err }

// opCause is what a *net.OpError says without its operation and address.
func opCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// answer is the JSON body of every webhook reply.
type answer struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (s *Server) reply(w http.ResponseWriter, source, outcome string, code int, msg string) {
	s.metrics.Webhook(source, outcome)
	w.Header().Set("Content-Type", "application/json")
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	w.WriteHeader(code)
	a := answer{Status: outcome}
	if code >= 300 {
		a.Error = msg
	}
	_ = json.NewEncoder(w).Encode(a)
}

// readBody reads the exact bytes received, at most max of them. ok is
// false when it already answered.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, source string) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.reply(w, source, "bad_method", http.StatusMethodNotAllowed, "use POST")
		return nil, false
	}
	if !s.accepting() {
		s.reply(w, source, "unavailable", http.StatusTooManyRequests, "shutting down; retry later")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.reply(w, source, "too_large", http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body is over %d bytes (max_body)", s.opts.MaxBody))
		return nil, false
	case err != nil:
		s.reply(w, source, "bad_body", http.StatusBadRequest, "could not read the body")
		return nil, false
	}
	return body, true
}

// ghlOutcomes names metrics outcomes after the verifier's sentinels.
var ghlOutcomes = []struct {
	err     error
	outcome string
}{
	{webhook.ErrUnsigned, "unsigned"},
	{webhook.ErrBadSignature, "bad_signature"},
	{webhook.ErrStale, "stale"},
	{webhook.ErrReplayed, "replayed"},
	{webhook.ErrMalformed, "malformed"},
}

func (s *Server) ghl(w http.ResponseWriter, r *http.Request) {
	const source = "ghl"
	body, ok := s.readBody(w, r, source)
	if !ok {
		return
	}
	ctx := r.Context()
	ev, err := s.verifier.Verify(ctx, r.Header, body)
	if err != nil {
		outcome := "error"
		for _, o := range ghlOutcomes {
			if errors.Is(err, o.err) {
				outcome = o.outcome
			}
		}
		// Rejections say why at debug level only: at info a flood of
		// forgeries would drown the log. The error never holds payload
		// contents beyond ids and timestamps.
		s.log.Debug("webhook rejected", "source", source, "outcome", outcome, "err", err)
		s.reply(w, source, outcome, webhook.HTTPStatus(err), outcome)
		return
	}

	id, parent := ev.RecordID()
	pe := state.WebhookEvent{Source: source, WebhookID: ev.WebhookID, Type: ev.Type, Provider: "ghl",
		Kind: ev.RecordKind(), RecordID: id, ParentID: parent, Deleted: ev.IsDelete(), ReceivedAt: s.opts.Now()}
	var why string
	switch {
	case !ev.Known() || id == "":
		// Still recorded as seen, so a replay of it is a replay.
		pe.Status = state.EventIgnored
	case s.opts.GHLLocationID != "" && ev.LocationID != "" && ev.LocationID != s.opts.GHLLocationID:
		// Authentic, but about a location this config does not sync: the
		// id would be looked up in ours. Answered 2xx so GHL does not
		// retry, and said at info, as it is likely a second install of
		// the app pointed at this daemon. An event without a locationId
		// is taken: it is read through our location's API either way.
		pe.Status = state.EventIgnored
		why = "the event is about location " + ev.LocationID + ", not " + s.opts.GHLLocationID
	}
	s.take(ctx, w, source, pe, schedule.Hint{Provider: "ghl", Kind: pe.Kind, ID: id, ParentID: parent, Deleted: pe.Deleted}, why)
}

func (s *Server) paperbell(w http.ResponseWriter, r *http.Request) {
	const source = "paperbell"
	if s.opts.PaperbellSecret.IsZero() {
		s.reply(w, source, "not_configured", http.StatusNotFound,
			"no paperbell_secret in the webhooks block, so Paperbell events are not taken")
		return
	}
	body, ok := s.readBody(w, r, source)
	if !ok {
		return
	}
	if err := zap.Verify(r.Header, body, s.opts.PaperbellSecret.Reveal()); err != nil {
		outcome, code := "error", http.StatusInternalServerError
		switch {
		case errors.Is(err, zap.ErrUnsigned):
			outcome, code = "unsigned", http.StatusUnauthorized
		case errors.Is(err, zap.ErrBadSecret):
			outcome, code = "bad_secret", http.StatusUnauthorized
		}
		s.log.Debug("webhook rejected", "source", source, "outcome", outcome, "err", err)
		s.reply(w, source, outcome, code, outcome)
		return
	}
	ev, err := zap.Parse(body)
	if err != nil {
		s.log.Debug("webhook rejected", "source", source, "outcome", "malformed", "err", err)
		// The Zap's author reads this in Zapier's task history.
		s.reply(w, source, "malformed", http.StatusBadRequest, err.Error())
		return
	}
	fields, err := json.Marshal(ev.Client)
	if err != nil {
		s.reply(w, source, "error", http.StatusBadRequest, "client fields cannot be encoded")
		return
	}
	if raw, _ := ev.Client["email"].(string); raw != "" {
		if _, _, err := config.NormalizeEmail(raw); err != nil {
			// Still taken (the Zap did its job, and a 4xx would make
			// Zapier pause it), but said now: the email is how the client
			// is found and matched, and a record that cannot be matched
			// is left alone without another word from the reconcile.
			s.log.Warn("Paperbell client in a Zap event has an invalid email; syncs that find or match it by email will leave it alone",
				"source", source, "client_id", ev.ClientID, "field", "client.email", "err", err)
		}
	}
	pe := state.WebhookEvent{Source: source, Type: ev.Kind, Provider: "paperbell", Kind: "contacts",
		RecordID: ev.ClientID, Fields: fields, ReceivedAt: s.opts.Now()}
	s.take(r.Context(), w, source, pe, schedule.Hint{Provider: "paperbell", Kind: "contacts", ID: ev.ClientID, Fields: ev.Client}, "")
}

// take persists an authentic event, queues its hint and answers. why,
// for an ignored event, is logged at info; without it an ignored event
// (a type bellsync does not act on) is only a debug line.
func (s *Server) take(ctx context.Context, w http.ResponseWriter, source string, pe state.WebhookEvent, h schedule.Hint, why string) {
	seq, dup, err := s.opts.Store.PutWebhookEvent(ctx, pe)
	switch {
	case err != nil:
		s.log.Warn("cannot persist webhook event", "source", source, "err", err)
		s.reply(w, source, "error", http.StatusTooManyRequests, "cannot store the event; retry later")
		return
	case dup:
		s.log.Debug("webhook rejected", "source", source, "outcome", "replayed", "webhook_id", pe.WebhookID)
		s.reply(w, source, "replayed", http.StatusConflict, "replayed")
		return
	case pe.Status == state.EventIgnored && why != "":
		s.log.Info("webhook ignored", "source", source, "type", pe.Type, "id", pe.RecordID, "webhook_id", pe.WebhookID, "reason", why)
		s.reply(w, source, "ignored", http.StatusOK, "")
		return
	case pe.Status == state.EventIgnored:
		s.log.Debug("webhook ignored", "source", source, "type", pe.Type)
		s.reply(w, source, "ignored", http.StatusOK, "")
		return
	}

	s.mu.Lock()
	s.received[seq] = pe.ReceivedAt
	s.mu.Unlock()
	if err := s.opts.Queue.Enqueue(h, seq); err != nil {
		s.mu.Lock()
		delete(s.received, seq)
		s.mu.Unlock()
		// Undo the write so that GHL's retry of this webhookId is not
		// taken for a replay.
		if ferr := s.opts.Store.ForgetWebhookEvent(ctx, seq); ferr != nil {
			// It stays persisted and is replayed at the next start, so
			// the sender may consider it delivered.
			s.log.Warn("cannot forget an event the queue refused; it will be replayed at the next start",
				"source", source, "seq", seq, "err", ferr)
			s.reply(w, source, "accepted", http.StatusAccepted, "")
			return
		}
		outcome := "overloaded"
		if errors.Is(err, schedule.ErrStopped) {
			outcome = "unavailable"
		}
		s.log.Info("webhook refused", "source", source, "outcome", outcome, "queue", s.opts.Queue.Len())
		s.reply(w, source, outcome, http.StatusTooManyRequests, outcome+"; retry later")
		return
	}
	s.log.Debug("webhook accepted", "source", source, "type", pe.Type, "kind", pe.Kind, "id", pe.RecordID, "seq", seq)
	s.reply(w, source, "accepted", http.StatusOK, "")
}

// Replay queues the events persisted but not settled by an earlier run,
// oldest first, and returns how many it queued. Events the queue has no
// room for stay pending for the next start; the full pass covers them.
func (s *Server) Replay(ctx context.Context) (int, error) {
	evs, err := s.opts.Store.PendingWebhookEvents(ctx, 0)
	if err != nil {
		return 0, fmt.Errorf("replay webhook events: %w", err)
	}
	n := 0
	for _, ev := range evs {
		h := schedule.Hint{Provider: ev.Provider, Kind: ev.Kind, ID: ev.RecordID, ParentID: ev.ParentID, Deleted: ev.Deleted}
		if len(ev.Fields) > 0 {
			if err := json.Unmarshal(ev.Fields, &h.Fields); err != nil {
				s.log.Warn("dropping a persisted event whose fields do not decode", "seq", ev.Seq, "err", err)
				_ = s.opts.Store.SettleWebhookEvents(ctx, []int64{ev.Seq}, state.EventFailed, err.Error())
				continue
			}
		}
		if err := s.opts.Queue.Enqueue(h, ev.Seq); err != nil {
			s.log.Warn("queue full while replaying webhook events; the rest wait for the next start",
				"replayed", n, "left", len(evs)-n)
			break
		}
		s.mu.Lock()
		s.received[ev.Seq] = ev.ReceivedAt
		s.mu.Unlock()
		n++
	}
	return n, nil
}

// Hooks returns the scheduler hooks that settle events and count
// results.
func (s *Server) Hooks() schedule.Hooks { return hooks{s} }

type hooks struct{ s *Server }

func (h hooks) PassDone(ctx context.Context, kind schedule.PassKind, res schedule.Result, err error) {
	s := h.s
	s.metrics.PassDone(ctx, kind, res, err)
	now := s.opts.Now()
	if perr := s.opts.Store.PruneWebhooks(ctx, now.Add(-(s.opts.MaxAge + webhook.FutureSkew)), now.Add(-settledKeep)); perr != nil && ctx.Err() == nil {
		s.log.Warn("cannot prune old webhook events", "err", perr)
	}
}

func (h hooks) HintDone(ctx context.Context, hint schedule.Hint, refs []int64, res schedule.Result, err error, final bool) {
	s := h.s
	var lat []time.Duration
	if len(res.Errors) > 0 || len(res.Skipped) > 0 {
		// A reconcile can succeed as a whole and still fail records (a
		// write refused, a record left alone): nothing else logs these,
		// and the sender was told 200 long ago.
		email, _ := hint.Fields["email"].(string)
		s.log.Warn("webhook reconcile left problems", "provider", hint.Provider, "kind", hint.Kind, "id", hint.ID,
			"email", email, "run", res.RunID, "errors", res.Errors, "skipped", res.Skipped)
	}
	if final {
		status, text := state.EventDone, ""
		if err != nil {
			status, text = state.EventFailed, err.Error()
		}
		if serr := s.opts.Store.SettleWebhookEvents(ctx, refs, status, text); serr != nil {
			// Left pending: replayed at the next start, which costs a
			// re-read, not a wrong write.
			s.log.Warn("cannot settle webhook events", "err", serr)
		}
		now := s.opts.Now()
		s.mu.Lock()
		for _, r := range refs {
			if t, ok := s.received[r]; ok {
				if err == nil {
					lat = append(lat, now.Sub(t))
				}
				delete(s.received, r)
			}
		}
		s.mu.Unlock()
	}
	s.metrics.hintDone(res, err, lat)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.accepting() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "stopping\n")
		return
	}
	io.WriteString(w, "ok\n")
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = s.metrics.WriteTo(w)
}
