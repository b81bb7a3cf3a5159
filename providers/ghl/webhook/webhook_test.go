package webhook_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bellsync/bellsync/providers/ghl/webhook"
	"github.com/google/go-cmp/cmp"
)

// testNow is the fixed clock every test verifies against.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	// Key generation is slow enough under -race to do once per binary.
	testSigner  = sync.OnceValues(webhook.GenerateTestKeys)
	otherSigner = sync.OnceValues(webhook.GenerateTestKeys)
)

func signers(t testing.TB) (webhook.Signer, webhook.Signer) {
	t.Helper()
	s, err := testSigner()
	if err != nil {
		t.Fatalf("GenerateTestKeys: %v", err)
	}
	o, err := otherSigner()
	if err != nil {
		t.Fatalf("GenerateTestKeys: %v", err)
	}
	return s, o
}

func newVerifier(t testing.TB, seen webhook.ReplayStore) *webhook.Verifier {
	t.Helper()
	s, _ := signers(t)
	ed, rs := s.Public()
	return &webhook.Verifier{
		Ed25519: ed,
		RSA:     rs,
		Now:     func() time.Time { return testNow },
		Seen:    seen,
	}
}

// payload builds a delivery body dated offset from testNow.
func payload(typ, webhookID string, offset time.Duration) []byte {
	ts := testNow.Add(offset).Format("2006-01-02T15:04:05.000Z07:00")
	return fmt.Appendf(nil, `{"type":%q,"locationId":"LOC1","id":"TSK1","contactId":"CON1",`+
		`"webhookId":%q,"appId":"APP1","timestamp":%q,"title":"Onboarding"}`, typ, webhookID, ts)
}

func only(h http.Header, name string) http.Header {
	return http.Header{name: h.Values(name)}
}

func TestDefaultKeys(t *testing.T) {
	ed, err := webhook.DefaultEd25519Key()
	if err != nil {
		t.Fatalf("DefaultEd25519Key: %v", err)
	}
	if got, want := len(ed), 32; got != want {
		t.Errorf("ed25519 key has %d bytes, want %d", got, want)
	}
	rs, err := webhook.DefaultRSAKey()
	if err != nil {
		t.Fatalf("DefaultRSAKey: %v", err)
	}
	if got, want := rs.N.BitLen(), 4096; got != want {
		t.Errorf("rsa key has %d bits, want %d", got, want)
	}
}

func pemOf(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkix(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey: %v", err)
	}
	return pemOf(t, "PUBLIC KEY", der)
}

func TestParsePublicKey(t *testing.T) {
	s, _ := signers(t)
	ed, rs := s.Public()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa key: %v", err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("rsa key: %v", err)
	}

	tests := []struct {
		name    string
		in      []byte
		want    string // %T of the key, or "" for an error
		wantErr bool
	}{
		{name: "ed25519 pkix", in: pkix(t, ed), want: "ed25519.PublicKey"},
		{name: "rsa pkix", in: pkix(t, rs), want: "*rsa.PublicKey"},
		{name: "rsa pkcs1", in: pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(rs)), want: "*rsa.PublicKey"},
		{name: "leading text", in: append([]byte("GHL key:\n"), pkix(t, ed)...), want: "ed25519.PublicKey"},
		{name: "not pem", in: []byte("MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg="), wantErr: true},
		{name: "empty", in: nil, wantErr: true},
		{name: "private key block", in: pemOf(t, "PRIVATE KEY", []byte{1, 2, 3}), wantErr: true},
		{name: "garbage der", in: pemOf(t, "PUBLIC KEY", []byte{1, 2, 3}), wantErr: true},
		{name: "ecdsa", in: pkix(t, &ec.PublicKey), wantErr: true},
		{name: "short rsa", in: pkix(t, &small.PublicKey), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := webhook.ParsePublicKey(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParsePublicKey succeeded with %T, want error", k)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKey: %v", err)
			}
			if got := fmt.Sprintf("%T", k); got != tt.want {
				t.Errorf("key type = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	s, other := signers(t)
	good := payload(webhook.TaskComplete, "WH1", -time.Minute)
	goodEvent := webhook.Event{
		Type:       webhook.TaskComplete,
		LocationID: "LOC1",
		ID:         "TSK1",
		ContactID:  "CON1",
		WebhookID:  "WH1",
		AppID:      "APP1",
		Timestamp:  testNow.Add(-time.Minute),
		Raw:        good,
	}
	// The same event with keys reordered and spaces added: equal as
	// JSON, different as bytes.
	var m map[string]any
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	reencoded, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		t.Fatal(err)
	}

	type tc struct {
		name    string
		header  http.Header
		body    []byte
		maxAge  time.Duration
		want    webhook.Event
		wantErr error
	}
	signed := func(name string, body []byte) tc {
		return tc{name: name, header: s.Sign(body), body: body, wantErr: webhook.ErrMalformed}
	}
	tests := []tc{
		{name: "both signatures", header: s.Sign(good), body: good, want: goodEvent},
		{name: "ed25519 only", header: only(s.Sign(good), webhook.HeaderEd25519), body: good, want: goodEvent},
		{name: "rsa only", header: only(s.Sign(good), webhook.HeaderRSA), body: good, want: goodEvent},
		{
			name: "valid ed25519 ignores bad rsa",
			header: http.Header{
				webhook.HeaderEd25519: s.Sign(good).Values(webhook.HeaderEd25519),
				webhook.HeaderRSA:     {"AAAA"},
			},
			body: good, want: goodEvent,
		},
		{
			name: "wrong ed25519 with valid rsa does not fall back",
			header: http.Header{
				webhook.HeaderEd25519: other.Sign(good).Values(webhook.HeaderEd25519),
				webhook.HeaderRSA:     s.Sign(good).Values(webhook.HeaderRSA),
			},
			body: good, wantErr: webhook.ErrBadSignature,
		},
		{
			name: "empty ed25519 with valid rsa does not fall back",
			header: http.Header{
				webhook.HeaderEd25519: {""},
				webhook.HeaderRSA:     s.Sign(good).Values(webhook.HeaderRSA),
			},
			body: good, wantErr: webhook.ErrBadSignature,
		},
		{
			name:   "two ed25519 headers",
			header: http.Header{webhook.HeaderEd25519: {s.Sign(good).Get(webhook.HeaderEd25519), "AAAA"}},
			body:   good, wantErr: webhook.ErrBadSignature,
		},
		{
			name:   "ed25519 not base64",
			header: http.Header{webhook.HeaderEd25519: {"not base64!"}},
			body:   good, wantErr: webhook.ErrBadSignature,
		},
		{name: "wrong rsa", header: only(other.Sign(good), webhook.HeaderRSA), body: good, wantErr: webhook.ErrBadSignature},
		{name: "re-encoded body", header: s.Sign(good), body: reencoded, wantErr: webhook.ErrBadSignature},
		{
			name:   "re-encoded body rsa",
			header: only(s.Sign(good), webhook.HeaderRSA),
			body:   reencoded, wantErr: webhook.ErrBadSignature,
		},
		{name: "unsigned", header: http.Header{}, body: good, wantErr: webhook.ErrUnsigned},
		{name: "nil header", body: good, wantErr: webhook.ErrUnsigned},
		{
			name:   "stale",
			header: s.Sign(payload(webhook.TaskComplete, "WH1", -6*time.Minute)),
			body:   payload(webhook.TaskComplete, "WH1", -6*time.Minute), wantErr: webhook.ErrStale,
		},
		{
			name:   "stale under a shorter max age",
			header: s.Sign(good), body: good, maxAge: 30 * time.Second, wantErr: webhook.ErrStale,
		},
		{
			name:   "exactly max age",
			header: s.Sign(payload(webhook.TaskComplete, "WH1", -webhook.DefaultMaxAge)),
			body:   payload(webhook.TaskComplete, "WH1", -webhook.DefaultMaxAge),
			want: webhook.Event{
				Type: webhook.TaskComplete, LocationID: "LOC1", ID: "TSK1", ContactID: "CON1",
				WebhookID: "WH1", AppID: "APP1", Timestamp: testNow.Add(-webhook.DefaultMaxAge),
				Raw: payload(webhook.TaskComplete, "WH1", -webhook.DefaultMaxAge),
			},
		},
		{
			name:   "slightly in the future",
			header: s.Sign(payload(webhook.TaskComplete, "WH1", 30*time.Second)),
			body:   payload(webhook.TaskComplete, "WH1", 30*time.Second),
			want: webhook.Event{
				Type: webhook.TaskComplete, LocationID: "LOC1", ID: "TSK1", ContactID: "CON1",
				WebhookID: "WH1", AppID: "APP1", Timestamp: testNow.Add(30 * time.Second),
				Raw: payload(webhook.TaskComplete, "WH1", 30*time.Second),
			},
		},
		{
			name:   "too far in the future",
			header: s.Sign(payload(webhook.TaskComplete, "WH1", 2*time.Minute)),
			body:   payload(webhook.TaskComplete, "WH1", 2*time.Minute), wantErr: webhook.ErrStale,
		},
		{
			name: "unknown type",
			header: s.Sign([]byte(`{"type":"OpportunityCreate","locationId":"LOC1","id":"OPP1",` +
				`"webhookId":"WH2","timestamp":"2026-03-01T11:59:00Z"}`)),
			body: []byte(`{"type":"OpportunityCreate","locationId":"LOC1","id":"OPP1",` +
				`"webhookId":"WH2","timestamp":"2026-03-01T11:59:00Z"}`),
			want: webhook.Event{
				Type: "OpportunityCreate", LocationID: "LOC1", ID: "OPP1", WebhookID: "WH2",
				Timestamp: testNow.Add(-time.Minute),
				Raw: []byte(`{"type":"OpportunityCreate","locationId":"LOC1","id":"OPP1",` +
					`"webhookId":"WH2","timestamp":"2026-03-01T11:59:00Z"}`),
			},
		},
		{
			name:    "missing timestamp",
			header:  s.Sign([]byte(`{"type":"NoteCreate","webhookId":"WH1"}`)),
			body:    []byte(`{"type":"NoteCreate","webhookId":"WH1"}`),
			wantErr: webhook.ErrStale,
		},
		signed("not json", []byte("type=NoteCreate")),
		signed("empty body", []byte{}),
		signed("json array", []byte(`[{"type":"NoteCreate"}]`)),
		signed("json null", []byte(`null`)),
		signed("missing type", []byte(`{"webhookId":"WH1","timestamp":"2026-03-01T11:59:00Z"}`)),
		signed("timestamp without zone", []byte(`{"type":"NoteCreate","webhookId":"WH1","timestamp":"2026-03-01T11:59:00"}`)),
		signed("timestamp as number", []byte(`{"type":"NoteCreate","webhookId":"WH1","timestamp":1772366340000}`)),
		signed("missing webhookId", []byte(`{"type":"NoteCreate","timestamp":"2026-03-01T11:59:00Z"}`)),
		signed("id as number", []byte(`{"type":"NoteCreate","id":7,"webhookId":"WH1","timestamp":"2026-03-01T11:59:00Z"}`)),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, webhook.NewMemoryStore(0, 0))
			v.MaxAge = tt.maxAge
			got, err := v.Verify(context.Background(), tt.header, tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyDefaultKeysRejectTestSignatures(t *testing.T) {
	s, _ := signers(t)
	body := payload(webhook.ContactCreate, "WH1", 0)
	v := &webhook.Verifier{Now: func() time.Time { return testNow }}
	for _, name := range []string{webhook.HeaderEd25519, webhook.HeaderRSA} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), only(s.Sign(body), name), body)
			if !errors.Is(err, webhook.ErrBadSignature) {
				t.Errorf("Verify error = %v, want %v", err, webhook.ErrBadSignature)
			}
		})
	}
}

func TestVerifyKeepsRawCopy(t *testing.T) {
	s, _ := signers(t)
	body := payload(webhook.NoteCreate, "WH1", 0)
	want := string(body)
	ev, err := newVerifier(t, nil).Verify(context.Background(), s.Sign(body), body)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	clear(body) // as a server reusing its read buffer would
	if got := string(ev.Raw); got != want {
		t.Errorf("Raw = %s, want %s", got, want)
	}
}

func TestVerifyReplay(t *testing.T) {
	s, _ := signers(t)
	body := payload(webhook.ContactUpdate, "WH1", 0)
	v := newVerifier(t, webhook.NewMemoryStore(0, 0))

	if _, err := v.Verify(context.Background(), s.Sign(body), body); err != nil {
		t.Fatalf("first Verify: %v", err)
	}
	_, err := v.Verify(context.Background(), s.Sign(body), body)
	if !errors.Is(err, webhook.ErrReplayed) {
		t.Fatalf("second Verify error = %v, want %v", err, webhook.ErrReplayed)
	}
	if got, want := webhook.HTTPStatus(err), http.StatusConflict; got != want {
		t.Errorf("HTTPStatus = %d, want %d", got, want)
	}

	other := payload(webhook.ContactUpdate, "WH2", 0)
	if _, err := v.Verify(context.Background(), s.Sign(other), other); err != nil {
		t.Errorf("Verify of a new webhookId: %v", err)
	}
}

// TestVerifyRejectedNotRecorded checks that a delivery rejected before
// the replay check does not burn its webhookId.
func TestVerifyRejectedNotRecorded(t *testing.T) {
	s, other := signers(t)
	body := payload(webhook.ContactUpdate, "WH1", 0)
	v := newVerifier(t, webhook.NewMemoryStore(0, 0))
	if _, err := v.Verify(context.Background(), other.Sign(body), body); !errors.Is(err, webhook.ErrBadSignature) {
		t.Fatalf("forged Verify error = %v, want %v", err, webhook.ErrBadSignature)
	}
	if _, err := v.Verify(context.Background(), s.Sign(body), body); err != nil {
		t.Errorf("genuine Verify after a forgery: %v", err)
	}
}

type failingStore struct{ err error }

func (f failingStore) SeenBefore(context.Context, string, time.Time) (bool, error) {
	return false, f.err
}

func TestVerifyStoreFailure(t *testing.T) {
	s, _ := signers(t)
	body := payload(webhook.ContactUpdate, "WH1", 0)
	storeErr := errors.New("database is locked")
	_, err := newVerifier(t, failingStore{storeErr}).Verify(context.Background(), s.Sign(body), body)
	if !errors.Is(err, storeErr) {
		t.Fatalf("Verify error = %v, want it to wrap %v", err, storeErr)
	}
	if got, want := webhook.HTTPStatus(err), http.StatusTooManyRequests; got != want {
		t.Errorf("HTTPStatus = %d, want %d", got, want)
	}
}

// TestVerifyConcurrentDuplicates delivers one event from many
// goroutines at once: exactly one may pass.
func TestVerifyConcurrentDuplicates(t *testing.T) {
	s, _ := signers(t)
	body := payload(webhook.NoteUpdate, "WH1", 0)
	h := s.Sign(body)
	v := newVerifier(t, webhook.NewMemoryStore(0, 0))

	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = v.Verify(context.Background(), h, body) })
	}
	wg.Wait()
	var ok, replayed int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, webhook.ErrReplayed):
			replayed++
		default:
			t.Errorf("Verify: %v", err)
		}
	}
	if ok != 1 || replayed != n-1 {
		t.Errorf("got %d accepted and %d replayed, want 1 and %d", ok, replayed, n-1)
	}
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "nil", err: nil, want: http.StatusOK},
		{name: "unsigned", err: &webhook.Error{Kind: webhook.ErrUnsigned}, want: http.StatusUnauthorized},
		{name: "bad signature", err: &webhook.Error{Kind: webhook.ErrBadSignature}, want: http.StatusUnauthorized},
		{name: "stale", err: &webhook.Error{Kind: webhook.ErrStale}, want: http.StatusUnauthorized},
		{name: "replayed", err: &webhook.Error{Kind: webhook.ErrReplayed}, want: http.StatusConflict},
		{name: "malformed", err: &webhook.Error{Kind: webhook.ErrMalformed}, want: http.StatusBadRequest},
		{
			name: "wrapped",
			err:  fmt.Errorf("handle delivery: %w", &webhook.Error{Kind: webhook.ErrMalformed}),
			want: http.StatusBadRequest,
		},
		{name: "other", err: errors.New("disk full"), want: http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webhook.HTTPStatus(tt.err); got != tt.want {
				t.Errorf("HTTPStatus(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	err := &webhook.Error{Kind: webhook.ErrMalformed, Detail: "missing type"}
	if got, want := err.Error(), "ghl webhook: malformed payload: missing type"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestEventHelpers(t *testing.T) {
	type result struct {
		Known    bool
		Kind     string
		ID       string
		Parent   string
		IsDelete bool
	}
	tests := []struct {
		typ  string
		want result
	}{
		{webhook.ContactCreate, result{true, "contacts", "X1", "", false}},
		{webhook.ContactUpdate, result{true, "contacts", "X1", "", false}},
		{webhook.ContactDelete, result{true, "contacts", "X1", "", true}},
		{webhook.ContactTagUpdate, result{true, "contacts", "X1", "", false}},
		{webhook.ContactDndUpdate, result{true, "contacts", "X1", "", false}},
		{webhook.NoteCreate, result{true, "notes", "X1", "CON1", false}},
		{webhook.NoteUpdate, result{true, "notes", "X1", "CON1", false}},
		{webhook.NoteDelete, result{true, "notes", "X1", "CON1", true}},
		{webhook.TaskCreate, result{true, "tasks", "X1", "CON1", false}},
		{webhook.TaskComplete, result{true, "tasks", "X1", "CON1", false}},
		{webhook.TaskDelete, result{true, "tasks", "X1", "CON1", true}},
		{"OpportunityCreate", result{}},
		{"", result{}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			ev := webhook.Event{Type: tt.typ, ID: "X1", ContactID: "CON1"}
			id, parent := ev.RecordID()
			got := result{ev.Known(), ev.RecordKind(), id, parent, ev.IsDelete()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("helpers mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMemoryStore(t *testing.T) {
	type step struct {
		id   string
		at   time.Duration // after testNow
		want bool
	}
	tests := []struct {
		name  string
		ttl   time.Duration
		size  int
		steps []step
		// wantLen is how many ids remain remembered after the steps.
		wantLen int
	}{
		{
			name: "duplicate within ttl",
			ttl:  time.Minute, size: 10,
			steps:   []step{{"a", 0, false}, {"a", 59 * time.Second, true}, {"b", 59 * time.Second, false}},
			wantLen: 2,
		},
		{
			name: "forgotten after ttl",
			ttl:  time.Minute, size: 10,
			steps:   []step{{"a", 0, false}, {"b", 30 * time.Second, false}, {"a", time.Minute, false}},
			wantLen: 2,
		},
		{
			name: "duplicate does not extend ttl",
			ttl:  time.Minute, size: 10,
			steps:   []step{{"a", 0, false}, {"a", 50 * time.Second, true}, {"a", 70 * time.Second, false}},
			wantLen: 1,
		},
		{
			name: "bounded: oldest evicted",
			ttl:  time.Hour, size: 2,
			steps:   []step{{"a", 0, false}, {"b", 1, false}, {"c", 2, false}, {"b", 3, true}, {"a", 4, false}},
			wantLen: 2,
		},
		{
			name: "defaults",
			steps: []step{
				{"a", 0, false},
				{"a", webhook.DefaultMaxAge + webhook.FutureSkew - time.Second, true},
				{"a", webhook.DefaultMaxAge + webhook.FutureSkew, false},
			},
			wantLen: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := webhook.NewMemoryStore(tt.ttl, tt.size)
			for i, st := range tt.steps {
				got, err := s.SeenBefore(context.Background(), st.id, testNow.Add(st.at))
				if err != nil {
					t.Fatalf("step %d: SeenBefore: %v", i, err)
				}
				if got != st.want {
					t.Errorf("step %d: SeenBefore(%q, +%s) = %t, want %t", i, st.id, st.at, got, st.want)
				}
			}
			if got := s.Len(); got != tt.wantLen {
				t.Errorf("Len = %d, want %d", got, tt.wantLen)
			}
		})
	}
}

func TestSignerNilKeys(t *testing.T) {
	if h := (webhook.Signer{}).Sign([]byte("{}")); len(h) != 0 {
		t.Errorf("Sign with no keys set headers %v", h)
	}
	s, _ := signers(t)
	h := webhook.Signer{Ed25519: s.Ed25519}.Sign([]byte("{}"))
	if got := h.Get(webhook.HeaderRSA); got != "" {
		t.Errorf("Sign without an RSA key set %s", webhook.HeaderRSA)
	}
	sig, err := base64.StdEncoding.DecodeString(h.Get(webhook.HeaderEd25519))
	if err != nil || len(sig) != 64 {
		t.Errorf("%s = %q, want a base64 64-byte signature", webhook.HeaderEd25519, h.Get(webhook.HeaderEd25519))
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := signers(f)
	good := payload(webhook.TaskCreate, "WH1", 0)
	sig := s.Sign(good)
	f.Add(good, true, "", "")
	f.Add(good, false, sig.Get(webhook.HeaderEd25519), "")
	f.Add(good, false, "", sig.Get(webhook.HeaderRSA))
	f.Add(good, false, "AAAA", sig.Get(webhook.HeaderRSA))
	f.Add([]byte(`{"type":"x","webhookId":"w","timestamp":"2026-03-01T12:00:00Z"}`), true, "", "")
	f.Add([]byte(`{"type":1}`), true, "", "")
	f.Add([]byte(`{"type":"x","timestamp":"9999-99-99T99:99:99Z"}`), true, "", "")
	f.Add([]byte(`{"type":"x","timestamp":"2026-03-01T12:00:00+99:00","webhookId":"w"}`), true, "", "")
	f.Add([]byte(`[`), true, "", "")
	f.Add([]byte{}, false, "", "")
	f.Add([]byte("\xff\xfe"), false, "====", "%%%%")

	f.Fuzz(func(t *testing.T, body []byte, sign bool, edSig, rsaSig string) {
		h := http.Header{}
		if sign {
			// Signing lets the fuzzer reach the JSON and timestamp checks.
			h = s.Sign(body)
		} else {
			if edSig != "" {
				h.Set(webhook.HeaderEd25519, edSig)
			}
			if rsaSig != "" {
				h.Set(webhook.HeaderRSA, rsaSig)
			}
		}
		v := newVerifier(t, webhook.NewMemoryStore(0, 8))
		ev, err := v.Verify(context.Background(), h, body)
		if err != nil {
			var we *webhook.Error
			if !errors.As(err, &we) {
				t.Fatalf("Verify returned a non-rejection error: %v", err)
			}
			return
		}
		if ev.Type == "" || ev.WebhookID == "" || ev.Timestamp.IsZero() {
			t.Errorf("Verify accepted an incomplete event: %+v", ev)
		}
		if string(ev.Raw) != string(body) {
			t.Errorf("Raw differs from body")
		}
	})
}
