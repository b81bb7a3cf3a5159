package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/engine/schedule"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers/ghl/webhook"
	"github.com/bellsync/bellsync/providers/paperbell/zap"
	"github.com/bellsync/bellsync/providers/secret"
)

var now = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// keys are generated once: RSA key generation is slow.
var keys = sync.OnceValues(func() (pair [2]webhook.Signer, err error) {
	for i := range pair {
		if pair[i], err = webhook.GenerateTestKeys(); err != nil {
			return pair, err
		}
	}
	return pair, nil
})

// fakeQueue records hints; err, when set, refuses them.
type fakeQueue struct {
	mu     sync.Mutex
	hints  []schedule.Hint
	refs   []int64
	err    error
	closed bool
}

func (q *fakeQueue) Enqueue(h schedule.Hint, refs ...int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.hints = append(q.hints, h)
	q.refs = append(q.refs, refs...)
	return nil
}

func (q *fakeQueue) Accepting() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.closed
}

func (q *fakeQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.hints)
}

type fixture struct {
	t     *testing.T
	srv   *Server
	queue *fakeQueue
	store *state.SQLite
	good  webhook.Signer // the keys the server trusts
	other webhook.Signer // someone else's
	log   *bytes.Buffer  // the server's log, at debug
}

const zapSecret = "zap-shared-secret"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pair, err := keys()
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q := &fakeQueue{}
	ed, rsaPub := pair[0].Public()
	var log bytes.Buffer
	srv, err := New(Options{Store: st, Queue: q, GHLEd25519: ed, GHLRSA: rsaPub, GHLLocationID: "LOC1", MaxBody: 4096,
		PaperbellSecret: secret.New(zapSecret), Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, srv: srv, queue: q, store: st, good: pair[0], other: pair[1], log: &log}
}

func (f *fixture) post(path string, hdr http.Header, body []byte) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func ghlEvent(typ, id, whID string, ts time.Time) []byte {
	return fmt.Appendf(nil, `{"type":%q,"locationId":"LOC1","id":%q,"contactId":"C9","webhookId":%q,"timestamp":%q}`,
		typ, id, whID, ts.Format(time.RFC3339Nano))
}

func TestGHLWebhook(t *testing.T) {
	fresh := ghlEvent("ContactCreate", "C1", "wh-1", now.Add(-time.Minute))
	edOnly := func(s webhook.Signer) webhook.Signer { return webhook.Signer{Ed25519: s.Ed25519} }
	rsaOnly := func(s webhook.Signer) webhook.Signer { return webhook.Signer{RSA: s.RSA} }
	for _, tc := range []struct {
		name      string
		sign      func(f *fixture, body []byte) http.Header
		body      []byte
		before    func(f *fixture) // runs before the request
		earlier   int              // events before persists as pending
		want      int
		wantHints []schedule.Hint
		outcome   string
	}{
		{
			name: "ed25519 signed", body: fresh, want: 200, outcome: "accepted",
			sign:      func(f *fixture, b []byte) http.Header { return edOnly(f.good).Sign(b) },
			wantHints: []schedule.Hint{{Provider: "ghl", Kind: "contacts", ID: "C1"}},
		},
		{
			name: "rsa only, the legacy header", body: fresh, want: 200, outcome: "accepted",
			sign:      func(f *fixture, b []byte) http.Header { return rsaOnly(f.good).Sign(b) },
			wantHints: []schedule.Hint{{Provider: "ghl", Kind: "contacts", ID: "C1"}},
		},
		{
			name: "task delete names its contact", body: ghlEvent("TaskDelete", "T1", "wh-2", now), want: 200, outcome: "accepted",
			sign:      func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
			wantHints: []schedule.Hint{{Provider: "ghl", Kind: "tasks", ID: "T1", ParentID: "C9", Deleted: true}},
		},
		{
			name: "forged", body: fresh, want: 401, outcome: "bad_signature",
			sign: func(f *fixture, b []byte) http.Header { return f.other.Sign(b) },
		},
		{
			name: "bad ed25519 does not fall back to a good rsa", body: fresh, want: 401, outcome: "bad_signature",
			sign: func(f *fixture, b []byte) http.Header {
				h := rsaOnly(f.good).Sign(b)
				h.Set(webhook.HeaderEd25519, edOnly(f.other).Sign(b).Get(webhook.HeaderEd25519))
				return h
			},
		},
		{
			name: "unsigned", body: fresh, want: 401, outcome: "unsigned",
			sign: func(*fixture, []byte) http.Header { return http.Header{} },
		},
		{
			name: "stale", body: ghlEvent("ContactCreate", "C1", "wh-3", now.Add(-6*time.Minute)), want: 401, outcome: "stale",
			sign: func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
		},
		{
			name: "replayed", body: fresh, want: 409, outcome: "replayed", earlier: 1,
			sign: func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
			before: func(f *fixture) {
				if rec := f.post("/webhooks/ghl", f.good.Sign(fresh), fresh); rec.Code != 200 {
					f.t.Fatalf("first delivery: %d %s", rec.Code, rec.Body)
				}
				f.queue.hints = nil
			},
		},
		{
			name: "signed but not JSON", body: []byte("type=ContactCreate&id=C1"), want: 400, outcome: "malformed",
			sign: func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
		},
		{
			name: "huge body", body: append(append([]byte(`{"type":"ContactCreate","x":"`), bytes.Repeat([]byte("a"), 5000)...), `"}`...),
			want: 413, outcome: "too_large",
			sign: func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
		},
		{
			name: "authentic but of no interest", body: ghlEvent("OpportunityCreate", "O1", "wh-4", now), want: 200, outcome: "ignored",
			sign: func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
		},
		{
			// Answered 2xx, so GHL does not retry, but neither queued nor
			// left pending.
			name: "authentic but about another location", want: 200, outcome: "ignored",
			body: bytes.Replace(ghlEvent("ContactUpdate", "C1", "wh-5", now), []byte(`"LOC1"`), []byte(`"LOC2"`), 1),
			sign: func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
		},
		{
			name: "no locationId is read through ours", want: 200, outcome: "accepted",
			body:      bytes.Replace(ghlEvent("ContactUpdate", "C1", "wh-6", now), []byte(`"locationId":"LOC1",`), nil, 1),
			sign:      func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
			wantHints: []schedule.Hint{{Provider: "ghl", Kind: "contacts", ID: "C1"}},
		},
		{
			name: "queue full", body: fresh, want: 429, outcome: "overloaded",
			sign:   func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
			before: func(f *fixture) { f.queue.err = schedule.ErrOverloaded },
		},
		{
			name: "shutting down", body: fresh, want: 429, outcome: "unavailable",
			sign:   func(f *fixture, b []byte) http.Header { return f.good.Sign(b) },
			before: func(f *fixture) { f.srv.Close() },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.before != nil {
				tc.before(f)
			}
			rec := f.post("/webhooks/ghl", tc.sign(f, tc.body), tc.body)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d; body %s", rec.Code, tc.want, rec.Body)
			}
			if diff := cmp.Diff(tc.wantHints, f.queue.hints); diff != "" {
				t.Errorf("hints (-want +got):\n%s", diff)
			}
			if !strings.Contains(metricsText(t, f.srv), fmt.Sprintf(`bellsync_webhooks_total{source="ghl",outcome=%q} 1`, tc.outcome)) {
				t.Errorf("metrics do not count one %q delivery:\n%s", tc.outcome, metricsText(t, f.srv))
			}
			pending, err := f.store.PendingWebhookEvents(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(pending) != tc.earlier+len(tc.wantHints) {
				t.Errorf("%d events persisted as pending, want %d", len(pending), tc.earlier+len(tc.wantHints))
			}
		})
	}
}

// TestOtherLocationLogged: an event about another location is said at
// info, naming the location, so a second install of the app is noticed.
func TestOtherLocationLogged(t *testing.T) {
	f := newFixture(t)
	body := bytes.Replace(ghlEvent("ContactUpdate", "C1", "wh-7", now), []byte(`"LOC1"`), []byte(`"LOC2"`), 1)
	if rec := f.post("/webhooks/ghl", f.good.Sign(body), body); rec.Code != 200 {
		t.Fatalf("status %d, want 200", rec.Code)
	}
	want := `level=INFO msg="webhook ignored" source=ghl type=ContactUpdate id=C1 webhook_id=wh-7 reason="the event is about location LOC2, not LOC1"`
	if !strings.Contains(f.log.String(), want) {
		t.Errorf("log lacks\n%s\ngot:\n%s", want, f.log)
	}
	// A replay of it is still a replay.
	if rec := f.post("/webhooks/ghl", f.good.Sign(body), body); rec.Code != 409 {
		t.Errorf("replay: status %d, want 409", rec.Code)
	}
}

// TestZapInvalidEmailWarned: a Zap event whose client email is invalid is
// taken (a 4xx would make Zapier pause the Zap), but a warning names the
// field and the value, since the reconcile will leave such a record alone.
func TestZapInvalidEmailWarned(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"event":"new_client","client__email":"bad@@x","client__first_name":"Bad"}`)
	if rec := f.post("/webhooks/paperbell", http.Header{zap.HeaderSecret: {zapSecret}}, body); rec.Code != 200 {
		t.Fatalf("status %d, want 200; %s", rec.Code, rec.Body)
	}
	if len(f.queue.hints) != 1 {
		t.Errorf("%d hints queued, want 1", len(f.queue.hints))
	}
	for _, want := range []string{"level=WARN", `field=client.email`, `invalid email address \"bad@@x\"`} {
		if !strings.Contains(f.log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, f.log)
		}
	}
	good := []byte(`{"event":"new_client","client__email":"ann@example.com"}`)
	f.log.Reset()
	f.post("/webhooks/paperbell", http.Header{zap.HeaderSecret: {zapSecret}}, good)
	if strings.Contains(f.log.String(), "WARN") {
		t.Errorf("a valid email was warned about:\n%s", f.log)
	}
}

// TestHintProblemsLogged: errors a reconcile reports for a hinted record,
// though the reconcile itself succeeded, reach the log at warn with the
// record they concern.
func TestHintProblemsLogged(t *testing.T) {
	f := newFixture(t)
	h := schedule.Hint{Provider: "paperbell", Kind: "contacts", Fields: map[string]any{"email": "bad@@x"}}
	res := schedule.Result{RunID: "r1", Errors: []string{`sync.contacts ghl.contacts: invalid email address "bad@@x"`}}
	f.srv.Hooks().HintDone(context.Background(), h, nil, res, nil, true)
	for _, want := range []string{"level=WARN", "provider=paperbell", "kind=contacts", "email=bad@@x", "run=r1", `invalid email address`} {
		if !strings.Contains(f.log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, f.log)
		}
	}
	f.log.Reset()
	f.srv.Hooks().HintDone(context.Background(), h, nil, schedule.Result{RunID: "r2"}, nil, true)
	if strings.Contains(f.log.String(), "WARN") {
		t.Errorf("a clean reconcile was warned about:\n%s", f.log)
	}
}

// TestRefusedEventCanComeBack checks that a 429 for a full queue does not
// leave the webhookId marked seen: GHL's retry must be accepted.
func TestRefusedEventCanComeBack(t *testing.T) {
	f := newFixture(t)
	body := ghlEvent("ContactUpdate", "C1", "wh-9", now)
	f.queue.err = schedule.ErrOverloaded
	if rec := f.post("/webhooks/ghl", f.good.Sign(body), body); rec.Code != 429 {
		t.Fatalf("status %d, want 429", rec.Code)
	}
	f.queue.err = nil
	if rec := f.post("/webhooks/ghl", f.good.Sign(body), body); rec.Code != 200 {
		t.Fatalf("retry: status %d, want 200; %s", rec.Code, rec.Body)
	}
}

func TestPaperbellWebhook(t *testing.T) {
	client := []byte(`{"event":"new_client","client":{"id":81,"email":"ann@example.com","first_name":"Ann"}}`)
	for _, tc := range []struct {
		name      string
		hdr       func(body []byte) http.Header
		body      []byte
		noSecret  bool
		want      int
		wantHints []schedule.Hint
	}{
		{
			name: "shared secret", body: client, want: 200,
			hdr: func([]byte) http.Header { return http.Header{zap.HeaderSecret: {zapSecret}} },
			wantHints: []schedule.Hint{{Provider: "paperbell", Kind: "contacts", ID: "81",
				Fields: map[string]any{"id": "81", "email": "ann@example.com", "first_name": "Ann"}}},
		},
		{
			name: "hmac signature", body: client, want: 200,
			hdr: func(b []byte) http.Header { return http.Header{zap.HeaderSignature: {zap.Signature(b, zapSecret)}} },
			wantHints: []schedule.Hint{{Provider: "paperbell", Kind: "contacts", ID: "81",
				Fields: map[string]any{"id": "81", "email": "ann@example.com", "first_name": "Ann"}}},
		},
		{
			name: "wrong secret", body: client, want: 401,
			hdr: func([]byte) http.Header { return http.Header{zap.HeaderSecret: {"guess"}} },
		},
		{
			name: "no secret", body: client, want: 401,
			hdr: func([]byte) http.Header { return http.Header{} },
		},
		{
			name: "form data instead of JSON", body: []byte("event=new_client&client__email=ann@example.com"), want: 400,
			hdr: func([]byte) http.Header { return http.Header{zap.HeaderSecret: {zapSecret}} },
		},
		{
			name: "huge body", body: bytes.Repeat([]byte(" "), 5000), want: 413,
			hdr: func([]byte) http.Header { return http.Header{zap.HeaderSecret: {zapSecret}} },
		},
		{
			name: "route off without a secret", body: client, want: 404, noSecret: true,
			hdr: func([]byte) http.Header { return http.Header{zap.HeaderSecret: {zapSecret}} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.noSecret {
				f.srv.opts.PaperbellSecret = secret.String{}
			}
			rec := f.post("/webhooks/paperbell", tc.hdr(tc.body), tc.body)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d; body %s", rec.Code, tc.want, rec.Body)
			}
			if diff := cmp.Diff(tc.wantHints, f.queue.hints); diff != "" {
				t.Errorf("hints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotPost(t *testing.T) {
	f := newFixture(t)
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/webhooks/ghl", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", rec.Code)
	}
}

// TestReplayAndSettle follows one event from 200 through a crash to the
// next start, where it is queued again and settled once reconciled.
func TestReplayAndSettle(t *testing.T) {
	f := newFixture(t)
	body := ghlEvent("ContactUpdate", "C1", "wh-1", now)
	if rec := f.post("/webhooks/ghl", f.good.Sign(body), body); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	// "Restart": a new server on the same store replays the event.
	q2 := &fakeQueue{}
	srv2, err := New(Options{Store: f.store, Queue: q2, Now: func() time.Time { return now.Add(time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := srv2.Replay(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v; want 1", n, err)
	}
	if diff := cmp.Diff([]schedule.Hint{{Provider: "ghl", Kind: "contacts", ID: "C1"}}, q2.hints); diff != "" {
		t.Errorf("replayed hints (-want +got):\n%s", diff)
	}
	srv2.Hooks().HintDone(context.Background(), q2.hints[0], q2.refs, schedule.Result{Counts: map[string]int{"update": 1}}, nil, true)
	pending, err := f.store.PendingWebhookEvents(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 0 {
		t.Errorf("%d events still pending after the reconcile", len(pending))
	}
	m := metricsText(t, srv2)
	for _, want := range []string{"bellsync_records_changed_total 1", "bellsync_webhook_apply_seconds_count 1",
		"bellsync_webhook_apply_seconds_sum 1\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
}

func metricsText(t *testing.T, s *Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

func TestMetricsExposition(t *testing.T) {
	clock := now
	m := NewMetrics(func() time.Time { return clock })
	m.AddProvider("ghl", func() (int64, int64) { return 12, 2 })
	m.AddProvider("paperbell", func() (int64, int64) { return 5, 0 })
	m.Webhook("ghl", "accepted")
	m.PassDone(context.Background(), schedule.Incremental, schedule.Result{Counts: map[string]int{"create": 2, "unchanged": 9}}, nil)
	m.PassDone(context.Background(), schedule.Full, schedule.Result{Errors: []string{"x"}}, nil)
	clock = clock.Add(90 * time.Second)
	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	var samples []string
	for _, l := range strings.Split(b.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			samples = append(samples, l)
		}
	}
	want := []string{
		`bellsync_passes_total{kind="full",outcome="failed"} 1`,
		`bellsync_passes_total{kind="incremental",outcome="ok"} 1`,
		`bellsync_records_changed_total 2`,
		`bellsync_errors_total 1`,
		`bellsync_api_calls_total{provider="ghl"} 12`,
		`bellsync_api_calls_total{provider="paperbell"} 5`,
		`bellsync_api_429_total{provider="ghl"} 2`,
		`bellsync_api_429_total{provider="paperbell"} 0`,
		`bellsync_webhooks_total{source="ghl",outcome="accepted"} 1`,
		`bellsync_webhook_apply_seconds_sum 0`,
		`bellsync_webhook_apply_seconds_count 0`,
		`bellsync_lag_seconds 90`,
	}
	if diff := cmp.Diff(want, samples); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	get := func() int {
		rec := httptest.NewRecorder()
		f.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return rec.Code
	}
	if c := get(); c != 200 {
		t.Errorf("healthz = %d, want 200", c)
	}
	f.srv.Close()
	if c := get(); c != 503 {
		t.Errorf("healthz while stopping = %d, want 503", c)
	}
}

func TestListenPortTaken(t *testing.T) {
	ctx := context.Background()
	ln, err := Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = Listen(ctx, addr)
	if err == nil {
		t.Fatal("second Listen on a taken port succeeded")
	}
	for _, want := range []string{addr, "already in use", "-listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := strings.Count(err.Error(), addr); n != 1 {
		t.Errorf("error %q names the address %d times, want once", err, n)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %q does not wrap EADDRINUSE", err)
	}
}

// TestListenOtherError: any other failure names the address once too.
func TestListenOtherError(t *testing.T) {
	// A documentation address (RFC 5737) is on no local interface, so
	// binding fails without anything sent anywhere.
	const addr = "192.0.2.1:8080"
	_, err := Listen(context.Background(), addr)
	if err == nil {
		t.Skip("this host has 192.0.2.1 on an interface")
	}
	if n := strings.Count(err.Error(), "192.0.2.1"); n != 1 || !strings.HasPrefix(err.Error(), "listen on "+addr+": ") {
		t.Errorf("error %q, want it to start with the address and name it once", err)
	}
}
