package ghl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/providers"
)

// searchServer answers POST /contacts/search over contacts sorted by
// (dateUpdated, id), the way GHL's cursor [sortValue, id] works.
func searchServer(t *testing.T, contacts []map[string]any) func(http.ResponseWriter, *http.Request, []byte) {
	sorted := append([]map[string]any(nil), contacts...)
	key := func(c map[string]any) (int64, string) {
		ts, _ := time.Parse(time.RFC3339Nano, c["dateUpdated"].(string))
		return ts.UnixMilli(), c["id"].(string)
	}
	sort.Slice(sorted, func(i, j int) bool {
		ti, ii := key(sorted[i])
		tj, ij := key(sorted[j])
		return ti < tj || (ti == tj && ii < ij)
	})
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/contacts/search" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			writeRaw(w, 404, `{"statusCode":404,"message":"no route"}`)
			return
		}
		var req struct {
			LocationID  string `json:"locationId"`
			PageLimit   int    `json:"pageLimit"`
			SearchAfter []any  `json:"searchAfter"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("search body: %v", err)
		}
		if req.LocationID != testLocation {
			t.Errorf("locationId = %q", req.LocationID)
		}
		start := 0
		if req.SearchAfter != nil {
			ms, id := int64(req.SearchAfter[0].(float64)), req.SearchAfter[1].(string)
			for start < len(sorted) {
				tm, ti := key(sorted[start])
				if tm > ms || (tm == ms && ti > id) {
					break
				}
				start++
			}
		}
		end := min(start+req.PageLimit, len(sorted))
		page := []map[string]any{}
		for _, c := range sorted[start:end] {
			ms, id := key(c)
			cc := map[string]any{"searchAfter": []any{ms, id}}
			for k, v := range c {
				cc[k] = v
			}
			page = append(page, cc)
		}
		writeJSON(w, 200, map[string]any{"contacts": page, "total": len(sorted)})
	}
}

func contact(id, updated string) map[string]any {
	return map[string]any{"id": id, "locationId": testLocation, "firstName": "F" + id, "dateUpdated": updated,
		"tags": []string{"lead"}, "customFields": []any{}}
}

func TestListPagesWithSearchAfter(t *testing.T) {
	// Several contacts share one dateUpdated, so the cursor's id part
	// decides where each page starts.
	tie := "2026-03-05T17:04:05.250Z"
	var all []map[string]any
	for i, u := range []string{"2026-01-01T00:00:00.000Z", tie, tie, tie, tie, "2026-04-01T00:00:00.000Z", tie} {
		all = append(all, contact(fmt.Sprintf("c%02d", i), u))
	}
	for _, pageSize := range []int{1, 2, 3, 7, 500} {
		t.Run(fmt.Sprint("page size ", pageSize), func(t *testing.T) {
			f := newFakeAPI(t, searchServer(t, all))
			p, _ := newTestProvider(t, f, func(c *Config) { c.PageSize = pageSize })
			r, _ := p.Resource("contacts")
			var got []string
			err := r.List(context.Background(), providers.ListOptions{}, func(rec providers.Record) error {
				got = append(got, rec.ID)
				return nil
			})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			want := []string{"c00", "c01", "c02", "c03", "c04", "c06", "c05"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			wantCalls := len(all)/pageSize + 1
			if n := len(f.requests()); n != wantCalls {
				t.Errorf("made %d search calls, want %d", n, wantCalls)
			}
			first := f.requests()[0].Body
			if strings.Contains(first, "searchAfter") || strings.Contains(first, `"page"`) {
				t.Errorf("first search body %s carries a cursor or page", first)
			}
		})
	}
}

func TestListSinceFiltersAndSorts(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 200, map[string]any{"contacts": []any{}, "total": 0})
	})
	p, _ := newTestProvider(t, f, nil)
	since := time.Date(2026, 3, 5, 17, 0, 0, 0, time.FixedZone("x", 3600))
	err := p.contacts.List(context.Background(), providers.ListOptions{Since: since}, func(providers.Record) error { return nil })
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"locationId": testLocation,
		"pageLimit":  float64(500),
		"filters":    []any{map[string]any{"field": "dateUpdated", "operator": "range", "value": map[string]any{"gte": "2026-03-05T16:00:00.000Z"}}},
		"sort":       []any{map[string]any{"field": "dateUpdated", "direction": "asc"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("search body (-want +got):\n%s", d)
	}
}

func TestListRepeatedCursorIsAnError(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeRaw(w, 200, `{"contacts":[{"id":"a","searchAfter":[1,"a"]},{"id":"b","searchAfter":[1,"b"]}],"total":9}`)
	})
	p, _ := newTestProvider(t, f, func(c *Config) { c.PageSize = 2 })
	n := 0
	err := p.contacts.List(context.Background(), providers.ListOptions{}, func(providers.Record) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "same cursor") {
		t.Fatalf("List error = %v, want a repeated-cursor error", err)
	}
	if n != 2 {
		t.Errorf("records delivered = %d, want 2 (repeats dropped)", n)
	}
}

func TestContactRecordDecoding(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeRaw(w, 200, `{"contact":{"id":"c1","locationId":"L","firstName":"Ann","phone":"+15555550123",
			"tags":["vip","lead"],"dnd":true,"postalCode":12345,"additionalEmails":["a@x.org"],
			"dateUpdated":"2026-03-05T17:04:05.250Z",
			"customFields":[{"id":"c22i4cIBh7QBgpvb4QVM","value":"Run a marathon"},
			{"id":"FFMFoNYvGQncIUBil7eb","value":["mindset","nutrition"]},{"id":"num","value":7}]}}`)
	})
	p, _ := newTestProvider(t, f, nil)
	rec, err := p.contacts.Get(context.Background(), "", "c1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if d := cmp.Diff(seen{Method: "GET", Path: "/contacts/c1"}, f.requests()[0]); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
	if want := time.Date(2026, 3, 5, 17, 4, 5, 250e6, time.UTC); !rec.UpdatedAt.Equal(want) {
		t.Errorf("UpdatedAt = %v, want %v", rec.UpdatedAt, want)
	}
	cf := rec.Fields["customFields"]
	got := map[string]string{
		"goal":       cf.GetAttr("c22i4cIBh7QBgpvb4QVM").GoString(),
		"focus":      cf.GetAttr("FFMFoNYvGQncIUBil7eb").GoString(),
		"num":        cf.GetAttr("num").GoString(),
		"tags":       rec.Fields["tags"].GoString(),
		"dnd":        rec.Fields["dnd"].GoString(),
		"postalCode": rec.Fields["postalCode"].GoString(),
		"email":      rec.Fields["email"].GoString(),
		"additional": rec.Fields["additionalEmails"].GoString(),
	}
	want := map[string]string{
		"goal":       `cty.StringVal("Run a marathon")`,
		"focus":      `cty.TupleVal([]cty.Value{cty.StringVal("mindset"), cty.StringVal("nutrition")})`,
		"num":        `cty.NumberIntVal(7)`,
		"tags":       `cty.ListVal([]cty.Value{cty.StringVal("vip"), cty.StringVal("lead")})`,
		"dnd":        `cty.True`,
		"postalCode": `cty.StringVal("12345")`,
		"email":      `cty.NullVal(cty.String)`,
		"additional": `cty.ListVal([]cty.Value{cty.StringVal("a@x.org")})`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if len(rec.Fields) != len(contactSchema.Fields) {
		t.Errorf("record has %d fields, schema %d", len(rec.Fields), len(contactSchema.Fields))
	}
}

func TestUpdateTagsUsesAddAndRemove(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.Method {
		case http.MethodPost:
			writeRaw(w, 201, `{"tags":["b","c"]}`)
		case http.MethodDelete:
			writeRaw(w, 200, `{"tags":["b","c"]}`)
		case http.MethodGet:
			writeRaw(w, 200, `{"contact":{"id":"c1","tags":["b","c"]}}`)
		}
	})
	p, _ := newTestProvider(t, f, nil)
	rec, err := p.contacts.Update(context.Background(), "", "c1", []providers.Change{{
		Field: "tags",
		Old:   cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("B")}),
		New:   cty.ListVal([]cty.Value{cty.StringVal("b"), cty.StringVal("C")}),
	}})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := []seen{
		{Method: "POST", Path: "/contacts/c1/tags", Body: `{"tags":["C"]}`},
		{Method: "DELETE", Path: "/contacts/c1/tags", Body: `{"tags":["a"]}`},
		{Method: "GET", Path: "/contacts/c1"},
	}
	if d := cmp.Diff(want, f.requests()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	if got := stringsOf(rec.Fields["tags"]); !cmp.Equal(got, []string{"b", "c"}) {
		t.Errorf("tags = %v", got)
	}
	if m := p.Mismatches(); len(m) != 0 {
		t.Errorf("lower-cased tags reported as a mismatch: %v", m)
	}
}

func TestUpdatePutsOnlyChangedFields(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		// GHL drops the city, normalises the phone.
		writeRaw(w, 200, `{"succeded":true,"contact":{"id":"c1","firstName":"Ann","phone":"+15555550123",
			"customFields":[{"id":"f1","value":["x","y"]}]}}`)
	})
	var hooked []Mismatch
	p, _ := newTestProvider(t, f, func(c *Config) { c.OnMismatch = func(m Mismatch) { hooked = append(hooked, m) } })
	_, err := p.contacts.Update(context.Background(), "", "c1", []providers.Change{
		{Field: "firstName", Old: cty.StringVal("An"), New: cty.StringVal("Ann")},
		{Field: "phone", Old: cty.NullVal(cty.String), New: cty.StringVal("(555) 555-0123")},
		{Field: "city", Old: cty.NullVal(cty.String), New: cty.StringVal("Lyon")},
		{Field: "customFields",
			Old: cty.ObjectVal(map[string]cty.Value{"f1": cty.StringVal("x"), "f2": cty.StringVal("keep"), "f3": cty.StringVal("gone")}),
			New: cty.ObjectVal(map[string]cty.Value{"f1": cty.TupleVal([]cty.Value{cty.StringVal("x"), cty.StringVal("y")}), "f2": cty.StringVal("keep")})},
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Method != "PUT" || reqs[0].Path != "/contacts/c1" {
		t.Fatalf("requests = %+v, want one PUT", reqs)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"firstName": "Ann", "phone": "(555) 555-0123", "city": "Lyon",
		"customFields": []any{
			map[string]any{"id": "f1", "fieldValue": []any{"x", "y"}},
			map[string]any{"id": "f3", "fieldValue": nil},
		},
	}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("PUT body (-want +got):\n%s", d)
	}
	wantM := []Mismatch{{Kind: "contacts", ID: "c1", Op: "update contact", Fields: []string{"city"}}}
	if d := cmp.Diff(wantM, p.Mismatches()); d != "" {
		t.Errorf("Mismatches (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantM, hooked); d != "" {
		t.Errorf("OnMismatch (-want +got):\n%s", d)
	}
}

func TestWriteRefusesFieldsGHLRejects(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		t.Errorf("no request expected, got %s %s", r.Method, r.URL.Path)
	})
	p, _ := newTestProvider(t, f, nil)
	tests := []struct {
		name string
		do   func() error
		want []string
	}{
		{"update companyName", func() error {
			_, err := p.contacts.Update(context.Background(), "", "c1", []providers.Change{
				{Field: "companyName", New: cty.StringVal("X")}, {Field: "dateAdded", New: cty.StringVal("X")}})
			return err
		}, []string{"companyName", "dateAdded"}},
		{"create type", func() error {
			_, err := p.contacts.Create(context.Background(), "", map[string]cty.Value{"type": cty.StringVal("lead")})
			return err
		}, []string{"type"}},
		{"task missing required", func() error {
			_, err := p.tasks.Create(context.Background(), "c1", map[string]cty.Value{"title": cty.StringVal("x")})
			return err
		}, []string{"dueDate", "completed"}},
		{"note without parent", func() error {
			_, err := p.notes.Create(context.Background(), "", map[string]cty.Value{"body": cty.StringVal("x")})
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if !errors.Is(err, providers.ErrValidation) {
				t.Fatalf("error = %v, want ErrValidation", err)
			}
			pe, _ := providers.AsError(err)
			if d := cmp.Diff(tt.want, pe.Fields); d != "" {
				t.Errorf("Fields (-want +got):\n%s", d)
			}
		})
	}
}

func TestCreateContact(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeRaw(w, 201, `{"contact":{"id":"new1","email":"ann@example.org","tags":["vip"],"phone":"+15555550123",
			"dateAdded":"2026-03-01T12:00:00.000Z","dateUpdated":"2026-03-01T12:00:00.000Z"}}`)
	})
	p, _ := newTestProvider(t, f, nil)
	rec, err := p.contacts.Create(context.Background(), "", map[string]cty.Value{
		"email":   cty.StringVal("Ann@Example.org"),
		"phone":   cty.StringVal("+1 555-555-0123"),
		"tags":    cty.ListVal([]cty.Value{cty.StringVal("VIP")}),
		"website": cty.StringVal("https://ann.example.org"),
		"city":    cty.NullVal(cty.String),
		"customFields": cty.ObjectVal(map[string]cty.Value{
			"FFMFoNYvGQncIUBil7eb": cty.ListVal([]cty.Value{cty.StringVal("mindset")})}),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if rec.ID != "new1" {
		t.Errorf("ID = %q", rec.ID)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"locationId": testLocation, "email": "Ann@Example.org", "phone": "+1 555-555-0123",
		"tags": []any{"VIP"}, "website": "https://ann.example.org",
		"customFields": []any{map[string]any{"id": "FFMFoNYvGQncIUBil7eb", "fieldValue": []any{"mindset"}}},
	}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("POST body (-want +got):\n%s", d)
	}
	if f.requests()[0].Path != "/contacts/" {
		t.Errorf("path = %q", f.requests()[0].Path)
	}
	wantM := []Mismatch{{Kind: "contacts", ID: "new1", Op: "create contact", Fields: []string{"customFields", "website"}}}
	if d := cmp.Diff(wantM, p.Mismatches()); d != "" {
		t.Errorf("Mismatches (-want +got):\n%s", d)
	}
}

func TestFind(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		q := r.URL.Query()
		switch {
		case q.Get("email") == "ann@example.org":
			writeRaw(w, 200, `{"contact":{"id":"c1","email":"ann@example.org"}}`)
		case q.Get("number") == "+15555550123":
			writeRaw(w, 200, `{"contact":{"id":"c2","phone":"+15555550123"}}`)
		default:
			writeRaw(w, 200, `{"contact":null}`)
		}
	})
	p, _ := newTestProvider(t, f, nil)
	tests := []struct {
		name    string
		fields  map[string]cty.Value
		want    []string
		queries []string
	}{
		{"both", map[string]cty.Value{"email": cty.StringVal("ann@example.org"), "phone": cty.StringVal("+15555550123")},
			[]string{"c1", "c2"},
			[]string{"email=ann%40example.org&locationId=" + testLocation, "locationId=" + testLocation + "&number=%2B15555550123"}},
		{"none found", map[string]cty.Value{"email": cty.StringVal("x@y.z")}, nil,
			[]string{"email=x%40y.z&locationId=" + testLocation}},
		{"nothing to look up", map[string]cty.Value{"email": cty.NullVal(cty.String), "phone": cty.StringVal("")}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.requests())
			recs, err := p.contacts.Find(context.Background(), "", tt.fields)
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.ID)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			var queries []string
			for _, r := range f.requests()[before:] {
				if r.Path != "/contacts/search/duplicate" {
					t.Errorf("path = %q", r.Path)
				}
				queries = append(queries, r.Query)
			}
			if d := cmp.Diff(tt.queries, queries); d != "" {
				t.Errorf("queries (-want +got):\n%s", d)
			}
		})
	}
}

func TestDeleteContact(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeRaw(w, 200, `{"succeded":true}`)
	})
	p, _ := newTestProvider(t, f, nil)
	if err := p.contacts.Delete(context.Background(), "", "c1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := p.contacts.Delete(context.Background(), "", "../c1"); !errors.Is(err, providers.ErrValidation) {
		t.Errorf("Delete of a path-like id: error = %v, want ErrValidation", err)
	}
	want := []seen{{Method: "DELETE", Path: "/contacts/c1"}}
	if d := cmp.Diff(want, f.requests()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}
