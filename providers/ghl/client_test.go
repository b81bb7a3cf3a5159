package ghl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/secret"
)

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		create bool
		want   providers.Error
	}{
		{
			name: "422 message array", status: 422, create: true,
			body: `{"statusCode":422,"message":["property additionalEmails should not exist","email must be an email","phone should not be empty"],"error":"Unprocessable Entity","traceId":"tr-1"}`,
			want: providers.Error{Category: providers.ErrValidation, Status: 422, TraceID: "tr-1", MaybeApplied: true,
				Message: "property additionalEmails should not exist; email must be an email; phone should not be empty",
				Fields:  []string{"additionalEmails", "email", "phone"}},
		},
		{
			name: "duplicate 400", status: 400, create: true,
			body: `{"statusCode":400,"message":"This location does not allow duplicated contacts.","meta":{"contactId":"EXIST01","contactName":"Ann","matchingField":"email"}}`,
			want: providers.Error{Category: providers.ErrDuplicate, Status: 400, ExistingID: "EXIST01", Fields: []string{"email"},
				Message: "This location does not allow duplicated contacts."},
		},
		{
			name: "bad search field 400", status: 400,
			body: `{"message":"Invalid field additional_phones","error":"Bad Request","statusCode":400}`,
			want: providers.Error{Category: providers.ErrValidation, Status: 400, Message: "Invalid field additional_phones", Fields: []string{"additional_phones"}},
		},
		{
			name: "not found 400", status: 400,
			body: `{"statusCode":400,"message":"Contact with id abc not found"}`,
			want: providers.Error{Category: providers.ErrNotFound, Status: 400, Message: "Contact with id abc not found"},
		},
		{
			name: "not found 404", status: 404, body: `{"statusCode":404,"message":"Not Found"}`,
			want: providers.Error{Category: providers.ErrNotFound, Status: 404, Message: "Not Found"},
		},
		{
			name: "version header 401 is terminal", status: 401,
			body: `{"statusCode":401,"message":"version header was not found."}`,
			want: providers.Error{Category: providers.ErrTerminal, Status: 401, Message: "version header was not found."},
		},
		{
			name: "scope 401 names the scope", status: 401,
			body: `{"statusCode":401,"message":"The token is not authorized for this scope.","error":"Unauthorized"}`,
			want: providers.Error{Category: providers.ErrAuth, Status: 401, Scope: "contacts.write",
				Message: "The token is not authorized for this scope. (update contact needs scope contacts.write)"},
		},
		{
			name: "invalid token 401", status: 401,
			body: `{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`,
			want: providers.Error{Category: providers.ErrAuth, Status: 401, Message: "Invalid token: access token is invalid",
				Hint: "check the provider's token (a sub-account Private Integration Token) or run `bellsync auth ghl`"},
		},
		{
			name: "403 location", status: 403,
			body: `{"statusCode":403,"message":"The token does not have access to this location."}`,
			want: providers.Error{Category: providers.ErrAuth, Status: 403, Scope: "location " + testLocation,
				Message: "The token does not have access to this location."},
		},
		{
			name: "429 with interval", status: 429,
			header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Interval-Milliseconds": "10000"},
			body:   `{"statusCode":429,"message":"Too many requests"}`,
			want: providers.Error{Category: providers.ErrRateLimited, Status: 429, RetryAfter: 10 * time.Second,
				Message: "Too many requests"},
		},
		{
			name: "5xx on create", status: 502, create: true, body: `{"statusCode":502,"message":"Bad Gateway"}`,
			want: providers.Error{Category: providers.ErrTransient, Status: 502, Message: "Bad Gateway", MaybeApplied: true},
		},
		{
			name: "non-JSON body", status: 500, body: "<html><body>upstream connect error " + strings.Repeat("x", 300) + "</body></html>",
			want: providers.Error{Category: providers.ErrTransient, Status: 500, MaybeApplied: true,
				Message: "non-JSON response: <html><body>upstream connect error " + strings.Repeat("x", 85) + "…"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				writeRaw(w, tt.status, tt.body)
			})
			// One attempt, so retryable statuses come straight back.
			p, _ := newTestProvider(t, f, func(c *Config) { c.MaxAttempts = 1 })
			var err error
			if tt.create {
				_, err = p.contacts.Create(context.Background(), "", map[string]cty.Value{"email": cty.StringVal("a@b.c")})
			} else {
				_, err = p.contacts.Update(context.Background(), "", "c1", []providers.Change{{Field: "email", New: cty.StringVal("a@b.c")}})
			}
			pe, ok := providers.AsError(err)
			if !ok {
				t.Fatalf("error %v is not a *providers.Error", err)
			}
			want := tt.want
			want.Provider = Name
			want.Op = pe.Op
			if d := cmp.Diff(want, *pe, cmpopts.EquateErrors()); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if !errors.Is(err, tt.want.Category) {
				t.Errorf("errors.Is(err, %v) = false", tt.want.Category)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error text leaks the token: %s", err)
			}
		})
	}
}

func TestValidationFields(t *testing.T) {
	tests := []struct {
		msgs []string
		want []string
	}{
		{[]string{"property gender should not exist"}, []string{"gender"}},
		{[]string{"dueDate must be a valid ISO 8601 date string", "title should not be empty", "title must be a string"}, []string{"dueDate", "title"}},
		{[]string{"pageLimit must not be greater than 500"}, []string{"pageLimit"}},
		{[]string{"Unprocessable Entity"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.msgs, "|"), func(t *testing.T) {
			if d := cmp.Diff(tt.want, validationFields(tt.msgs)); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
		})
	}
}

// refreshingSource counts refreshes and hands out "fresh" afterwards.
type refreshingSource struct {
	// mu guards tok and stale.
	mu    sync.Mutex
	tok   string
	stale []string
}

func (s *refreshingSource) Token(context.Context) (secret.String, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return secret.New(s.tok), nil
}

func (s *refreshingSource) Refresh(_ context.Context, stale secret.String) (secret.String, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stale = append(s.stale, stale.Reveal())
	s.tok = "fresh"
	return secret.New(s.tok), nil
}

func TestRefreshOn401(t *testing.T) {
	tests := []struct {
		name        string
		firstBody   string
		wantStale   []string
		wantErr     error
		wantBearers []string
	}{
		{"expired token refreshes once", `{"statusCode":401,"message":"Invalid JWT"}`, []string{"old"}, nil,
			[]string{"Bearer old", "Bearer fresh"}},
		{"version header does not refresh", `{"statusCode":401,"message":"version header is invalid"}`, nil, providers.ErrTerminal,
			[]string{"Bearer old"}},
		{"scope does not refresh", `{"statusCode":401,"message":"The token is not authorized for this scope."}`, nil, providers.ErrAuth,
			[]string{"Bearer old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var bearers []string
			f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				mu.Lock()
				bearers = append(bearers, r.Header.Get("Authorization"))
				mu.Unlock()
				if r.Header.Get("Authorization") != "Bearer fresh" {
					writeRaw(w, 401, tt.firstBody)
					return
				}
				writeRaw(w, 200, `{"contact":{"id":"c1"}}`)
			})
			src := &refreshingSource{tok: "old"}
			p, _ := newTestProvider(t, f, func(c *Config) { c.TokenSource = src })
			_, err := p.contacts.Get(context.Background(), "", "c1")
			if !errors.Is(err, tt.wantErr) && !(tt.wantErr == nil && err == nil) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if d := cmp.Diff(tt.wantStale, src.stale); d != "" {
				t.Errorf("refreshed stale tokens (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantBearers, bearers); d != "" {
				t.Errorf("bearers (-want +got):\n%s", d)
			}
			if got := p.Stats().Refreshes; got != int64(len(tt.wantStale)) {
				t.Errorf("Stats().Refreshes = %d", got)
			}
		})
	}
}

func Test429BackoffHonoursServerInterval(t *testing.T) {
	var mu sync.Mutex
	n := 0
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Interval-Milliseconds", "2000")
			writeRaw(w, 429, `{"statusCode":429,"message":"Too many requests"}`)
			return
		}
		w.Header().Set("X-RateLimit-Remaining", "99")
		writeRaw(w, 200, `{"contact":{"id":"c1"}}`)
	})
	p, clk := newTestProvider(t, f, nil)
	// Create is not idempotent, but a 429 is answered before any work.
	rec, err := p.contacts.Create(context.Background(), "", map[string]cty.Value{"email": cty.StringVal("a@b.c")})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if rec.ID != "c1" {
		t.Errorf("ID = %q", rec.ID)
	}
	slept := clk.Slept()
	if len(slept) != 1 || slept[0] < 2*time.Second {
		t.Errorf("slept %v, want one wait of at least 2s", slept)
	}
	if d := cmp.Diff(Stats{Calls: 2, RateLimited: 1, Mismatches: 1}, p.Stats()); d != "" {
		t.Errorf("Stats (-want +got):\n%s", d)
	}
}

func TestObservePausesLimiterWhenBudgetSpent(t *testing.T) {
	tests := []struct {
		name      string
		remaining string
		wantPause bool
	}{
		{"budget left", "5", false},
		{"budget spent", "0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, func(http.ResponseWriter, *http.Request, []byte) {})
			p, _ := newTestProvider(t, f, nil)
			h := http.Header{}
			h.Set("X-RateLimit-Remaining", tt.remaining)
			h.Set("X-RateLimit-Interval-Milliseconds", "10000")
			p.observe(&http.Response{StatusCode: 200, Header: h})
			// A cancelled ctx makes Wait return at once: nil when it may
			// send now, the ctx error when it would have to wait.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			paused := p.http.Limiter.Wait(ctx) != nil
			if paused != tt.wantPause {
				t.Errorf("paused = %v, want %v", paused, tt.wantPause)
			}
		})
	}
}

func TestCreateWithoutAnswerIsMaybeApplied(t *testing.T) {
	tests := []struct {
		name      string
		handler   func(w http.ResponseWriter)
		wantCalls int
	}{
		{"dropped connection", func(w http.ResponseWriter) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
		}, 1},
		{"500", func(w http.ResponseWriter) { writeRaw(w, 500, `{"statusCode":500,"message":"Internal"}`) }, 1},
		{"garbled 201", func(w http.ResponseWriter) { writeRaw(w, 201, `{"contact":`) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) { tt.handler(w) })
			p, _ := newTestProvider(t, f, nil)
			_, err := p.contacts.Create(context.Background(), "", map[string]cty.Value{"email": cty.StringVal("a@b.c")})
			if !providers.MaybeApplied(err) || !errors.Is(err, providers.ErrTransient) {
				t.Errorf("error = %v, want transient and MaybeApplied", err)
			}
			if n := len(f.requests()); n != tt.wantCalls {
				t.Errorf("sent %d requests, want %d (a create is never retried blindly)", n, tt.wantCalls)
			}
		})
	}
}

func TestReadsRetryTransientFailures(t *testing.T) {
	var mu sync.Mutex
	n := 0
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k < 3 {
			writeRaw(w, 503, `{"statusCode":503,"message":"busy"}`)
			return
		}
		writeRaw(w, 200, `{"contacts":[],"total":0}`)
	})
	p, clk := newTestProvider(t, f, nil)
	if err := p.contacts.List(context.Background(), providers.ListOptions{}, func(providers.Record) error { return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := len(clk.Slept()); got != 2 {
		t.Errorf("backoff sleeps = %d, want 2", got)
	}
}

func TestProviderNeverPrintsToken(t *testing.T) {
	f := newFakeAPI(t, func(http.ResponseWriter, *http.Request, []byte) {})
	p, _ := newTestProvider(t, f, nil)
	tok := StaticToken{secret.New(testToken)}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", p, p, p, p), fmt.Sprintf("%v %+v %#v", tok, tok, tok)} {
		if strings.Contains(s, testToken) {
			t.Errorf("token printed: %s", s)
		}
	}
}
