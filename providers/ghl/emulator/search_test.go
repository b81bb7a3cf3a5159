package emulator

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pageAll walks a search with searchAfter cursors and returns ids in order.
func pageAll(t *testing.T, e *env, base map[string]any, limit int) []string {
	t.Helper()
	var ids []string
	var after any
	for page := 0; page < 1000; page++ {
		body := map[string]any{"locationId": DefaultLocationID, "pageLimit": limit}
		for k, v := range base {
			body[k] = v
		}
		if after != nil {
			body["searchAfter"] = after
		}
		r := e.do("POST", "/contacts/search", body)
		if r.status != 200 {
			t.Fatalf("search: %d %s", r.status, r.raw)
		}
		contacts, _ := r.body["contacts"].([]any)
		for _, c := range contacts {
			m := c.(map[string]any)
			ids = append(ids, m["id"].(string))
			after = m["searchAfter"]
		}
		if len(contacts) < limit {
			return ids
		}
	}
	t.Fatal("search never ended")
	return nil
}

func TestSearchPagingCoversCorpusOnce(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadCorpus()
	var want []string
	for _, c := range e.s.Contacts() {
		want = append(want, c.ID())
	}
	sort.Strings(want)
	sorts := map[string]any{
		"default":          nil,
		"dateUpdated asc":  []any{map[string]any{"field": "dateUpdated", "direction": "asc"}},
		"dateUpdated desc": []any{map[string]any{"field": "dateUpdated", "direction": "desc"}},
		"dateAdded asc":    []any{map[string]any{"field": "dateAdded", "direction": "asc"}},
	}
	for name, srt := range sorts {
		for _, limit := range []int{100, 500, 33} {
			t.Run(fmt.Sprintf("%s/%d", name, limit), func(t *testing.T) {
				base := map[string]any{}
				if srt != nil {
					base["sort"] = srt
				}
				got := pageAll(t, e, base, limit)
				sort.Strings(got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ids seen (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestSearchSharedTimestampCursor(t *testing.T) {
	// 18 corpus contacts share one dateUpdated; pages of 5 split them.
	e := newEnv(t, Options{})
	e.loadCorpus()
	filt := []any{map[string]any{"field": "dateUpdated", "operator": "eq", "value": "2026-03-05T17:04:05.250Z"}}
	srt := []any{map[string]any{"field": "dateUpdated", "direction": "asc"}}
	got := pageAll(t, e, map[string]any{"filters": filt, "sort": srt}, 5)
	if len(got) != 18 {
		t.Fatalf("got %d contacts, want 18", len(got))
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("%s served twice", id)
		}
		seen[id] = true
	}
	r := e.do("POST", "/contacts/search", map[string]any{"locationId": DefaultLocationID, "pageLimit": 1, "filters": filt, "sort": srt})
	first := r.body["contacts"].([]any)[0].(map[string]any)
	wantCursor := []any{float64(time.Date(2026, 3, 5, 17, 4, 5, 250e6, time.UTC).UnixMilli()), first["id"]}
	if diff := cmp.Diff(wantCursor, first["searchAfter"]); diff != "" {
		t.Errorf("searchAfter (-want +got):\n%s", diff)
	}
	if r.body["total"] != 18.0 {
		t.Errorf("total = %v, want 18", r.body["total"])
	}
}

func TestSearchFilters(t *testing.T) {
	e := newEnv(t, Options{})
	a := createContact(t, e, map[string]any{"firstName": "Ann", "email": "ann@example.com", "phone": "+14155550001", "tags": []any{"vip", "lead"}})
	e.clock.Advance(time.Hour)
	b := createContact(t, e, map[string]any{"firstName": "Bob", "email": "bob@example.org", "tags": []any{"lead"}})
	e.clock.Advance(time.Hour)
	c := createContact(t, e, map[string]any{"firstName": "Cy", "phone": "+14155550003", "dnd": true})
	ids := func(cs ...map[string]any) []string {
		out := []string{}
		for _, x := range cs {
			out = append(out, x["id"].(string))
		}
		sort.Strings(out)
		return out
	}
	t1 := time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		filters []any
		query   string
		want    []string
	}{
		{"email eq case-insensitive", []any{flt("email", "eq", "ANN@example.com")}, "", ids(a)},
		{"email not_eq", []any{flt("email", "not_eq", "ann@example.com")}, "", ids(b, c)},
		{"phone eq formatted", []any{flt("phone", "eq", "(415) 555-0003")}, "", ids(c)},
		{"tags eq", []any{flt("tags", "eq", "vip")}, "", ids(a)},
		{"tags eq any of", []any{flt("tags", "eq", []any{"vip", "lead"})}, "", ids(a, b)},
		{"contains", []any{flt("email", "contains", "example.org")}, "", ids(b)},
		{"not_contains", []any{flt("email", "not_contains", "example")}, "", ids(c)},
		{"exists", []any{map[string]any{"field": "phone", "operator": "exists"}}, "", ids(a, c)},
		{"not_exists", []any{map[string]any{"field": "email", "operator": "not_exists"}}, "", ids(c)},
		{"dnd eq", []any{flt("dnd", "eq", true)}, "", ids(c)},
		{"firstNameLowerCase", []any{flt("firstNameLowerCase", "eq", "bob")}, "", ids(b)},
		{"range ISO", []any{flt("dateUpdated", "range", map[string]any{"gte": "2026-03-10T13:00:00.000Z"})}, "", ids(b, c)},
		{"range epoch ms", []any{flt("dateAdded", "range", map[string]any{"gt": t1.UnixMilli()})}, "", ids(c)},
		{"range lt", []any{flt("dateAdded", "range", map[string]any{"lt": t1.UnixMilli()})}, "", ids(a)},
		{"OR group", []any{map[string]any{"group": "OR", "filters": []any{flt("email", "eq", "ann@example.com"), flt("dnd", "eq", true)}}}, "", ids(a, c)},
		{"query", nil, "bo", ids(b)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"locationId": DefaultLocationID, "pageLimit": 100}
			if tt.filters != nil {
				body["filters"] = tt.filters
			}
			if tt.query != "" {
				body["query"] = tt.query
			}
			r := e.do("POST", "/contacts/search", body)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			got := []string{}
			for _, c := range r.body["contacts"].([]any) {
				got = append(got, c.(map[string]any)["id"].(string))
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func flt(field, op string, v any) map[string]any {
	return map[string]any{"field": field, "operator": op, "value": v}
}

func TestSearchErrors(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantMsg    any
	}{
		{"missing pageLimit", map[string]any{"locationId": DefaultLocationID}, 422, []any{"pageLimit must be a number conforming to the specified constraints"}},
		{"pageLimit too big", map[string]any{"locationId": DefaultLocationID, "pageLimit": 501}, 422, []any{"pageLimit must not be greater than 500"}},
		{"missing locationId", map[string]any{"pageLimit": 10}, 422, []any{"locationId should not be empty"}},
		{"unknown property", map[string]any{"locationId": DefaultLocationID, "pageLimit": 10, "limit": 5}, 422, []any{"property limit should not exist"}},
		{"invalid field", map[string]any{"locationId": DefaultLocationID, "pageLimit": 10, "filters": []any{flt("additional_phones", "eq", "1")}}, 400, "Invalid field additional_phones"},
		{"invalid operator", map[string]any{"locationId": DefaultLocationID, "pageLimit": 10, "filters": []any{flt("email", "like", "1")}}, 400, "Invalid operator like"},
		{"page with searchAfter", map[string]any{"locationId": DefaultLocationID, "pageLimit": 10, "page": 2, "searchAfter": []any{1, "x"}}, 400, "page and searchAfter cannot be used together"},
		{"beyond 10000", map[string]any{"locationId": DefaultLocationID, "pageLimit": 500, "page": 21}, 400, "page and pageLimit reach beyond 10000 records; use searchAfter"},
		{"other location", map[string]any{"locationId": "LOCelsewhere", "pageLimit": 10}, 403, "The token does not have access to this location."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/contacts/search", tt.body)
			if r.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", r.status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantMsg, r.body["message"]); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearchPageNumbers(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadCorpus()
	seen := map[string]bool{}
	for page := 1; page <= 10; page++ {
		r := e.do("POST", "/contacts/search", map[string]any{"locationId": DefaultLocationID, "pageLimit": 100, "page": page})
		for _, c := range r.body["contacts"].([]any) {
			id := c.(map[string]any)["id"].(string)
			if seen[id] {
				t.Errorf("page %d repeats %s", page, id)
			}
			seen[id] = true
		}
	}
	if len(seen) != 968 {
		t.Errorf("pages covered %d contacts, want 968", len(seen))
	}
}

func TestSearchLag(t *testing.T) {
	e := newEnv(t, Options{SearchLag: 5 * time.Second})
	count := func(email string) int {
		t.Helper()
		r := e.do("POST", "/contacts/search", map[string]any{"locationId": DefaultLocationID, "pageLimit": 10, "filters": []any{flt("email", "eq", email)}})
		return len(r.body["contacts"].([]any))
	}
	id := createContact(t, e, map[string]any{"email": "lag@example.com"})["id"].(string)
	if r := e.do("GET", "/contacts/"+id, nil); r.status != 200 {
		t.Errorf("GET right after create: %d", r.status)
	}
	steps := []struct {
		name    string
		advance time.Duration
		act     func()
		email   string
		want    int
	}{
		{"invisible at once", 0, nil, "lag@example.com", 0},
		{"still invisible before lag", 4999 * time.Millisecond, nil, "lag@example.com", 0},
		{"visible after lag", time.Millisecond, nil, "lag@example.com", 1},
		{"old value stays during lag after update", 0, func() { e.do("PUT", "/contacts/"+id, map[string]any{"email": "new@example.com"}) }, "lag@example.com", 1},
		{"new value not yet", 0, nil, "new@example.com", 0},
		{"new value after lag", 5 * time.Second, nil, "new@example.com", 1},
		{"delete lags too", 0, func() { e.do("DELETE", "/contacts/"+id, nil) }, "new@example.com", 1},
		{"delete indexed", 5 * time.Second, nil, "new@example.com", 0},
	}
	for _, st := range steps {
		e.clock.Advance(st.advance)
		if st.act != nil {
			st.act()
		}
		if got := count(st.email); got != st.want {
			t.Errorf("%s: %d hits, want %d", st.name, got, st.want)
		}
	}
	e.s.mu.Lock()
	n := len(e.s.contacts)
	e.s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d entries left after indexed delete", n)
	}
}
