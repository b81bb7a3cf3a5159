package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func rateHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"X-RateLimit-Limit-Daily", "X-RateLimit-Daily-Remaining", "X-RateLimit-Interval-Milliseconds", "X-RateLimit-Max", "X-RateLimit-Remaining"} {
		out[k] = h.Get(k)
	}
	return out
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 3, RateWindow: 10 * time.Second, DailyLimit: 5})
	get := func() resp { return e.do("GET", "/locations/"+DefaultLocationID, nil) }
	hdr := func(dailyRemaining, remaining string) map[string]string {
		return map[string]string{
			"X-RateLimit-Limit-Daily": "5", "X-RateLimit-Daily-Remaining": dailyRemaining,
			"X-RateLimit-Interval-Milliseconds": "10000", "X-RateLimit-Max": "3", "X-RateLimit-Remaining": remaining,
		}
	}
	steps := []struct {
		name       string
		advance    time.Duration
		wantStatus int
		wantHdr    map[string]string
	}{
		{"first", 0, 200, hdr("4", "2")},
		{"second", 3 * time.Second, 200, hdr("3", "1")},
		{"third", 3 * time.Second, 200, hdr("2", "0")},
		{"over burst", 0, 429, hdr("2", "0")},
		// The first request leaves the window 10 s after it was made.
		{"one slot back", 4 * time.Second, 200, hdr("1", "0")},
		{"still full", 0, 429, hdr("1", "0")},
		{"window slid", 10 * time.Second, 200, hdr("0", "2")},
		{"daily budget gone", 0, 429, hdr("0", "0")},
		{"next UTC day", 24 * time.Hour, 200, hdr("4", "2")},
	}
	for _, st := range steps {
		e.clock.Advance(st.advance)
		r := get()
		if r.status != st.wantStatus {
			t.Errorf("%s: status %d, want %d", st.name, r.status, st.wantStatus)
		}
		if diff := cmp.Diff(st.wantHdr, rateHeaders(r.header)); diff != "" {
			t.Errorf("%s: headers (-want +got):\n%s", st.name, diff)
		}
		if r.status == 429 {
			want := map[string]any{"statusCode": 429.0, "message": "Too many requests", "error": "Too Many Requests"}
			if diff := cmp.Diff(want, r.body); diff != "" {
				t.Errorf("%s: 429 body (-want +got):\n%s", st.name, diff)
			}
		}
	}
	if got := e.s.Stats().RateLimited; got != 3 {
		t.Errorf("Stats.RateLimited = %d, want 3", got)
	}
}

func TestRateLimitPerLocation(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 1, Tokens: map[string]string{"other-token": "LOCother"}})
	if r := e.do("GET", "/locations/"+DefaultLocationID, nil); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}
	other := func(r *http.Request) { r.Header.Set("Authorization", "Bearer other-token") }
	if r := e.do("GET", "/locations/LOCother", nil, other); r.status != 200 {
		t.Errorf("other location shares the budget: %d", r.status)
	}
	if r := e.do("GET", "/locations/"+DefaultLocationID, nil); r.status != 429 {
		t.Errorf("second for default location: %d, want 429", r.status)
	}
}

func TestBurst429(t *testing.T) {
	e := newEnv(t, Options{Faults: Faults{Burst429: 2}})
	var got []int
	for range 4 {
		got = append(got, e.do("GET", "/locations/"+DefaultLocationID, nil).status)
	}
	if diff := cmp.Diff([]int{429, 429, 200, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	e.s.SetFaults(Faults{Burst429: 1})
	if r := e.do("GET", "/locations/"+DefaultLocationID, nil); r.status != 429 || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("after SetFaults: %d remaining=%q", r.status, r.header.Get("X-RateLimit-Remaining"))
	}
}

// rawDo sends a request and returns the transport error, if any.
func rawDo(e *env, method, path, body string) (*http.Response, []byte, error) {
	req, _ := http.NewRequest(method, e.hs.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	req.Header.Set("Version", APIVersion)
	res, err := e.hs.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return res, buf.Bytes(), nil
}

func TestFaults(t *testing.T) {
	createBody := `{"locationId":"` + DefaultLocationID + `","email":"fault@example.com"}`
	tests := []struct {
		name        string
		faults      Faults
		method      string
		body        string
		wantErr     bool
		wantStatus  []int
		wantJSON    bool
		wantCreated bool
		stat        func(Stats) int
	}{
		{"error rate", Faults{ErrorRate: 1}, "POST", createBody, false, []int{500, 502, 503}, false, false, func(s Stats) int { return s.Errors }},
		{"drop", Faults{DropRate: 1}, "POST", createBody, true, nil, false, false, func(s Stats) int { return s.Dropped }},
		{"drop after write", Faults{DropAfterWriteRate: 1}, "POST", createBody, true, nil, false, true, func(s Stats) int { return s.Dropped }},
		{"drop after write spares reads", Faults{DropAfterWriteRate: 1}, "GET", "", false, []int{200}, true, false, func(Stats) int { return 1 }},
		{"garbage", Faults{GarbageRate: 1}, "POST", createBody, false, []int{200}, false, false, func(s Stats) int { return s.Garbage }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{Faults: tt.faults})
			path := "/contacts/"
			if tt.method == "GET" {
				path = "/locations/" + DefaultLocationID
			}
			res, body, err := rawDo(e, tt.method, path, tt.body)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if res != nil {
				ok := false
				for _, s := range tt.wantStatus {
					ok = ok || res.StatusCode == s
				}
				if !ok {
					t.Errorf("status %d, want one of %v", res.StatusCode, tt.wantStatus)
				}
				if isJSON := bytes.HasPrefix(body, []byte("{")); isJSON != tt.wantJSON && res.StatusCode != 500 {
					t.Errorf("body %q: JSON = %v, want %v", body, isJSON, tt.wantJSON)
				}
			}
			if created := len(e.s.Contacts()) == 1; created != tt.wantCreated {
				t.Errorf("contact created = %v, want %v", created, tt.wantCreated)
			}
			if n := tt.stat(e.s.Stats()); n < 1 {
				t.Errorf("fault not counted in stats: %+v", e.s.Stats())
			}
		})
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, Options{})
	e.do("GET", "/contacts/abc", nil)
	e.do("GET", "/contacts/def", nil)
	e.do("POST", "/contacts/search", map[string]any{"locationId": DefaultLocationID, "pageLimit": 1})
	e.do("GET", "/nowhere", nil)
	st := e.s.Stats()
	want := map[string]int{"GET /contacts/{contactId}": 2, "POST /contacts/search": 1, "unrouted": 1}
	if diff := cmp.Diff(want, st.Requests); diff != "" {
		t.Errorf("Requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[int]int{400: 2, 200: 1, 404: 1}, st.Statuses); diff != "" {
		t.Errorf("Statuses (-want +got):\n%s", diff)
	}
}

func TestMount(t *testing.T) {
	e := newEnv(t, Options{})
	e.s.Mount("POST /oauth/token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	res, _, err := rawDo(e, "POST", "/oauth/token", "")
	if err != nil || res.StatusCode != http.StatusTeapot {
		t.Errorf("mounted route: %v %v", res, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadCorpus()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"locationId":%q,"email":"c%d@example.com"}`, DefaultLocationID, i)
			if res, _, err := rawDo(e, "POST", "/contacts/", body); err != nil || res.StatusCode != 201 {
				t.Errorf("create %d: %v %v", i, res, err)
			}
			rawDo(e, "POST", "/contacts/search", fmt.Sprintf(`{"locationId":%q,"pageLimit":50}`, DefaultLocationID))
			e.s.Contacts()
			e.s.Stats()
		}()
	}
	wg.Wait()
	if n := len(e.s.Contacts()); n != 968+16 {
		t.Errorf("%d contacts, want %d", n, 968+16)
	}
}
