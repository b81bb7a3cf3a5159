package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Values a log must never show: the credential goes in a header, the
// email in the query, the phone in the body.
const (
	testToken = "tok-Sup3rSecret"
	testEmail = "ann.lee@example.com"
	testPhone = "+14155550190"
)

// syncBuffer is a bytes.Buffer safe for the handler to write from the
// goroutines net/http runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type logLine struct {
	Level   string `json:"level"`
	Msg     string `json:"msg"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Status  int    `json:"status"`
	Attempt int    `json:"attempt"`
	Err     string `json:"err"`
	// Duration is only checked for presence: its value is the clock's.
	Duration *float64 `json:"duration"`
}

func parseLog(t *testing.T, out string) []logLine {
	t.Helper()
	var lines []logLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var ll logLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, ll)
	}
	return lines
}

func testClient(t *testing.T, base string, log *slog.Logger) *Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{
		BaseURL: u, Logger: log, MaxAttempts: 3,
		Sleep: func(context.Context, time.Duration) error { return nil },
		Decorate: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+testToken)
			r.Header.Set("X-Api-Key", testToken)
			return nil
		},
	}
}

func assertNoSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{testToken, testEmail, url.QueryEscape(testEmail), testPhone, "email=", "Authorization", "Bearer"} {
		if strings.Contains(out, s) {
			t.Errorf("log holds %q:\n%s", s, out)
		}
	}
}

// TestDebugLogOneRecordPerCall: -v shows every API call, one record per
// attempt, with the path but never the query, headers or body.
func TestDebugLogOneRecordPerCall(t *testing.T) {
	var mu sync.Mutex
	tries := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries[r.URL.Path]++
		n := tries[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/v1/missing":
			w.WriteHeader(http.StatusNotFound)
		case r.URL.Path == "/v1/flaky" && n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(`{"email":"` + testEmail + `"}`))
	}))
	defer srv.Close()

	var buf syncBuffer
	c := testClient(t, srv.URL+"/v1", slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := context.Background()
	q := url.Values{"email": {testEmail}, "api_key": {testToken}}
	calls := []Request{
		{Method: http.MethodGet, Path: "/clients", Query: q, Idempotent: true},
		{Method: http.MethodPost, Path: "/missing", JSON: map[string]string{"phone": testPhone, "token": testToken}},
		{Method: http.MethodGet, Path: "/flaky", Query: q, Idempotent: true},
	}
	for _, r := range calls {
		if _, err := c.Do(ctx, r); err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
	}

	out := buf.String()
	var got []logLine
	for _, l := range parseLog(t, out) {
		if l.Duration == nil && l.Msg == "http call" {
			t.Errorf("record %+v has no duration", l)
		}
		l.Duration = nil
		got = append(got, l)
	}
	want := []logLine{
		{Level: "DEBUG", Msg: "http call", Method: "GET", Path: "/v1/clients", Status: 200, Attempt: 1},
		{Level: "DEBUG", Msg: "http call", Method: "POST", Path: "/v1/missing", Status: 404, Attempt: 1},
		{Level: "DEBUG", Msg: "http call", Method: "GET", Path: "/v1/flaky", Status: 503, Attempt: 1},
		{Level: "DEBUG", Msg: "retrying after status", Method: "GET", Path: "/v1/flaky", Status: 503, Attempt: 1},
		{Level: "DEBUG", Msg: "http call", Method: "GET", Path: "/v1/flaky", Status: 200, Attempt: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log records (-want +got):\n%s\n%s", diff, out)
	}
	assertNoSecrets(t, out)
}

// TestTransportErrorsRedacted: a call that gets no response is logged, and
// reported, without the query the failed URL carried.
func TestTransportErrorsRedacted(t *testing.T) {
	// A port nothing listens on: take one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var buf syncBuffer
	c := testClient(t, "http://"+addr, slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	_, err = c.Do(context.Background(), Request{Method: http.MethodGet, Path: "/contacts/search/duplicate",
		Query: url.Values{"email": {testEmail}}, Idempotent: true})
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a *TransportError", err)
	}
	if strings.Contains(err.Error(), testEmail) || strings.Contains(err.Error(), url.QueryEscape(testEmail)) {
		t.Errorf("error text holds the query: %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("err = %v: the *url.Error must stay reachable for callers", err)
	}
	out := buf.String()
	var calls []logLine
	for _, l := range parseLog(t, out) {
		if l.Msg == "http call" {
			l.Duration = nil
			calls = append(calls, l)
		}
	}
	if len(calls) != 3 {
		t.Fatalf("want 3 http call records (MaxAttempts), got %d:\n%s", len(calls), out)
	}
	for i, l := range calls {
		if l.Attempt != i+1 || l.Err == "" || l.Status != 0 || l.Path != "/contacts/search/duplicate" {
			t.Errorf("record %d = %+v, want attempt %d with an err and no status", i, l, i+1)
		}
	}
	assertNoSecrets(t, out)
}

// TestInfoLoggerQuiet: without -v nothing is logged per call.
func TestInfoLoggerQuiet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	var buf syncBuffer
	c := testClient(t, srv.URL, slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if _, err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: "/x"}); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); out != "" {
		t.Errorf("info logger got:\n%s", out)
	}
}
