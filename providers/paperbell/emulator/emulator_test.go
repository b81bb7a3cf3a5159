package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a settable clock safe for concurrent reads.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	if err := s.LoadDir("testdata/corpus"); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

type reply struct {
	Status int
	Body   map[string]any
	Header http.Header
}

func call(t *testing.T, hs *httptest.Server, method, path, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, hs.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := reply{Status: res.StatusCode, Header: res.Header}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &out.Body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, path, b)
		}
	}
	return out
}

func errField(r reply, key string) any {
	e, _ := r.Body["error"].(map[string]any)
	return e[key]
}

func TestErrors(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	big := `{"content":"` + strings.Repeat("x", MaxRequestBody) + `"}`
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string
		wantFields               map[string]any
		wantExisting             string
	}{
		{"unknown client", "GET", "/clients/1", "", 404, "not_found", nil, ""},
		{"unknown route", "GET", "/packages", "", 404, "not_found", nil, ""},
		{"malformed json", "POST", "/clients", `{"email":`, 400, "malformed_json", nil, ""},
		{"not an object", "POST", "/clients", `[1]`, 400, "malformed_json", nil, ""},
		{"too large", "POST", "/clients/79212713/notes", big, 413, "too_large", nil, ""},
		{"unknown field", "POST", "/clients", `{"email":"a@b.co","nick":"x"}`, 422, "validation_failed",
			map[string]any{"nick": "unknown field"}, ""},
		{"bad email", "POST", "/clients", `{"email":"not-an-email"}`, 422, "validation_failed",
			map[string]any{"email": "not a valid email address"}, ""},
		{"bad time zone", "PATCH", "/clients/79212713", `{"time_zone":"Mars/Olympus"}`, 422, "validation_failed",
			map[string]any{"time_zone": "not an IANA time zone"}, ""},
		{"bad status", "POST", "/clients/79212713/tasks", `{"title":"x","status":"done"}`, 422, "validation_failed",
			map[string]any{"status": `must be "open" or "completed"`}, ""},
		{"read-only field", "PATCH", "/clients/79212713", `{"updated_at":"2020-01-01T00:00:00Z"}`, 422, "validation_failed",
			map[string]any{"updated_at": "read-only field"}, ""},
		{"limit too high", "GET", "/clients?limit=101", "", 422, "validation_failed",
			map[string]any{"limit": "must be an integer from 1 to 100"}, ""},
		{"bad cursor", "GET", "/clients?cursor=zz", "", 400, "invalid_cursor", nil, ""},
		{"duplicate via additional email, other case", "POST", "/clients", `{"email":" Priya.Work@example.com "}`, 409,
			"duplicate_email", nil, "79212713"},
		{"duplicate on patch", "PATCH", "/clients/31670638", `{"additional_emails":["priya.raman@example.com"]}`, 409,
			"duplicate_email", nil, "79212713"},
		{"task of another client", "PATCH", "/clients/31670638/tasks/81577272", `{"title":"x"}`, 404, "not_found", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, hs, tt.method, tt.path, tt.body)
			got := []any{r.Status, errField(r, "code"), errField(r, "fields"), errField(r, "existing_id")}
			var fields any
			if tt.wantFields != nil {
				fields = tt.wantFields
			}
			var existing any
			if tt.wantExisting != "" {
				existing = tt.wantExisting
			}
			want := []any{tt.wantStatus, tt.wantCode, fields, existing}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status, code, fields, existing_id (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	s, hs := newTestServer(t, Options{APIKey: "right"})
	for _, key := range []string{"", "wrong"} {
		req, _ := http.NewRequest("GET", hs.URL+"/clients", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 401 || strings.Contains(string(b), "wrong") {
			t.Errorf("key %q: got %d %s, want 401 without the key", key, res.StatusCode, b)
		}
	}
	if got := s.Stats().Unauthorized; got != 2 {
		t.Errorf("Unauthorized = %d, want 2", got)
	}
}

// TestPagingTies checks that rows sharing one updated_at are neither
// skipped nor repeated across cursor pages.
func TestPagingTies(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, hs := newTestServer(t, Options{Now: clock.Now})
	for _, c := range s.Clients()[:7] {
		s.PutClient(c)
	}
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"since, ties", "updated_since=2030-01-01T00:00:00Z&limit=2", 7},
		{"all", "limit=100", 369},
		{"since far past", "updated_since=2000-01-01T00:00:00Z&limit=100", 369},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]int{}
			cursor := ""
			for range 100 {
				q := "/clients?" + tc.query
				if cursor != "" {
					q += "&cursor=" + cursor
				}
				r := call(t, hs, "GET", q, "")
				if r.Status != 200 {
					t.Fatalf("GET %s: %d %v", q, r.Status, r.Body)
				}
				for _, d := range r.Body["data"].([]any) {
					seen[d.(map[string]any)["id"].(string)]++
				}
				next, _ := r.Body["next_cursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			if len(seen) != tc.want {
				t.Errorf("saw %d distinct, want %d", len(seen), tc.want)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("client %s listed %d times", id, n)
				}
			}
		})
	}
}

func TestCascadeAndCompletion(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, hs := newTestServer(t, Options{Now: clock.Now})
	r := call(t, hs, "POST", "/clients/79212713/tasks", `{"title":"Call","status":"completed"}`)
	task := r.Body["data"].(map[string]any)
	if task["completed_at"] != "2030-01-01T00:00:00.000Z" {
		t.Errorf("completed_at = %v, want the clock", task["completed_at"])
	}
	clock.Advance(time.Minute)
	r = call(t, hs, "PATCH", "/clients/79212713/tasks/"+task["id"].(string), `{"status":"open"}`)
	got := r.Body["data"].(map[string]any)
	if diff := cmp.Diff([]any{nil, "2030-01-01T00:01:00.000Z"}, []any{got["completed_at"], got["updated_at"]}); diff != "" {
		t.Errorf("after reopen, completed_at and updated_at (-want +got):\n%s", diff)
	}
	if r := call(t, hs, "DELETE", "/clients/79212713", ""); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	if n, m := len(s.Tasks("79212713")), len(s.Notes("79212713")); n+m != 0 {
		t.Errorf("after delete: %d tasks, %d notes remain", n, m)
	}
	if r := call(t, hs, "GET", "/clients/79212713/notes", ""); r.Status != 404 {
		t.Errorf("notes of deleted client: %d, want 404", r.Status)
	}
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, hs := newTestServer(t, Options{Now: clock.Now, RateLimit: 2, RateWindow: 10 * time.Second})
	var got []int
	for range 3 {
		got = append(got, call(t, hs, "GET", "/clients?limit=1", "").Status)
	}
	clock.Advance(3 * time.Second)
	r := call(t, hs, "GET", "/clients?limit=1", "")
	got = append(got, r.Status)
	clock.Advance(7 * time.Second)
	got = append(got, call(t, hs, "GET", "/clients?limit=1", "").Status)
	if diff := cmp.Diff([]int{200, 200, 429, 429, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if ra := r.Header.Get("Retry-After"); ra != "7" {
		t.Errorf("Retry-After = %q, want 7", ra)
	}
	if n := s.Stats().RateLimited; n != 2 {
		t.Errorf("RateLimited = %d, want 2", n)
	}
}

func TestDropAfterWriteApplies(t *testing.T) {
	s, hs := newTestServer(t, Options{Faults: Faults{BurstDropAfterWrite: 1}})
	req, _ := http.NewRequest("POST", hs.URL+"/clients", strings.NewReader(`{"email":"new@example.com"}`))
	req.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
	if res, err := hs.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("got HTTP %d, want a dropped connection", res.StatusCode)
	}
	r := call(t, hs, "GET", "/clients?email=NEW@example.com", "")
	if n := len(r.Body["data"].([]any)); n != 1 {
		t.Errorf("found %d clients by email after the dropped create, want 1", n)
	}
	if st := s.Stats(); st.Faults != 1 || st.Requests["POST /clients"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestLoadDirBadSeed: a seed file that is not valid JSON is named with the
// line and column of the fault.
func TestLoadDirBadSeed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(path, []byte("[\n  {\"id\": \"a\",}\n]"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := New(Options{}).LoadDir(dir)
	want := "load seed " + path + ": line 2, column 14: invalid character '}' looking for beginning of object key string"
	if err == nil || err.Error() != want {
		t.Errorf("LoadDir error:\n got %v\nwant %s", err, want)
	}
}
