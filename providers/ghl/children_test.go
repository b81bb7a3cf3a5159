package ghl

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/providers"
)

func TestTaskWrites(t *testing.T) {
	const task = `{"task":{"id":"t1","contactId":"c1","title":"Call","dueDate":"2026-03-02T09:00:00.000Z","completed":true}}`
	tests := []struct {
		name string
		do   func(p *Provider) error
		want []seen
	}{
		{"create", func(p *Provider) error {
			_, err := p.tasks.Create(context.Background(), "c1", map[string]cty.Value{
				"title": cty.StringVal("Call"), "dueDate": cty.StringVal("2026-03-02T10:00:00+01:00"),
				"completed": cty.True, "body": cty.NullVal(cty.String)})
			return err
		}, []seen{{Method: "POST", Path: "/contacts/c1/tasks",
			Body: `{"completed":true,"dueDate":"2026-03-02T09:00:00.000Z","title":"Call"}`}}},
		{"completion only", func(p *Provider) error {
			_, err := p.tasks.Update(context.Background(), "c1", "t1", []providers.Change{
				{Field: "completed", Old: cty.False, New: cty.True}})
			return err
		}, []seen{{Method: "PUT", Path: "/contacts/c1/tasks/t1/completed", Body: `{"completed":true}`}}},
		{"title and completion", func(p *Provider) error {
			_, err := p.tasks.Update(context.Background(), "c1", "t1", []providers.Change{
				{Field: "completed", Old: cty.False, New: cty.True},
				{Field: "title", Old: cty.StringVal("x"), New: cty.StringVal("Call")}})
			return err
		}, []seen{
			{Method: "PUT", Path: "/contacts/c1/tasks/t1", Body: `{"title":"Call"}`},
			{Method: "PUT", Path: "/contacts/c1/tasks/t1/completed", Body: `{"completed":true}`},
		}},
		{"delete", func(p *Provider) error { return p.tasks.Delete(context.Background(), "c1", "t1") },
			[]seen{{Method: "DELETE", Path: "/contacts/c1/tasks/t1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				status := 200
				if r.Method == http.MethodPost {
					status = 201
				}
				writeRaw(w, status, task)
			})
			p, _ := newTestProvider(t, f, nil)
			if err := tt.do(p); err != nil {
				t.Fatalf("call: %v", err)
			}
			if d := cmp.Diff(tt.want, f.requests()); d != "" {
				t.Errorf("requests (-want +got):\n%s", d)
			}
			if m := p.Mismatches(); len(m) != 0 {
				t.Errorf("unexpected mismatches %v", m)
			}
		})
	}
}

func TestNotesListEveryContact(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.URL.Path {
		case "/contacts/search":
			writeRaw(w, 200, `{"contacts":[{"id":"c1","searchAfter":[1,"c1"]},{"id":"c2","searchAfter":[2,"c2"]}],"total":2}`)
		case "/contacts/c1/notes":
			writeRaw(w, 200, `{"notes":[{"id":"n1","body":"hi","dateAdded":"2026-01-01T00:00:00.000Z","pinned":true}]}`)
		case "/contacts/c2/notes":
			writeRaw(w, 200, `{"notes":[{"id":"n2","contactId":"c2","body":"<p>x</p>","title":"T"}]}`)
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
	})
	p, _ := newTestProvider(t, f, nil)
	var got []providers.Record
	err := p.notes.List(context.Background(), providers.ListOptions{}, func(r providers.Record) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	null := cty.NullVal(cty.String)
	want := []providers.Record{
		{ID: "n1", ParentID: "c1", Fields: map[string]cty.Value{"body": cty.StringVal("hi"), "title": null, "userId": null,
			"dateAdded": cty.StringVal("2026-01-01T00:00:00.000Z"), "pinned": cty.True, "color": null}},
		{ID: "n2", ParentID: "c2", Fields: map[string]cty.Value{"body": cty.StringVal("<p>x</p>"), "title": cty.StringVal("T"),
			"userId": null, "dateAdded": null, "pinned": cty.NullVal(cty.Bool), "color": null}},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

func TestCheck(t *testing.T) {
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.URL.Path {
		case "/locations/" + testLocation:
			writeRaw(w, 200, `{"location":{"id":"`+testLocation+`","name":"Coaching","settings":{"allowDuplicateContact":false}}}`)
		case "/contacts/search":
			if string(body) != `{"locationId":"`+testLocation+`","pageLimit":1}` {
				t.Errorf("search body = %s", body)
			}
			writeRaw(w, 200, `{"contacts":[{"id":"c1"}],"total":968}`)
		}
	})
	p, _ := newTestProvider(t, f, nil)
	want := []providers.CheckResult{
		{Name: "token", OK: true},
		{Name: "location", OK: true, Detail: "Coaching (" + testLocation + ")"},
		{Name: "contacts", OK: true, Detail: "968 contacts"},
	}
	if d := cmp.Diff(want, p.Check(context.Background())); d != "" {
		t.Errorf("Check (-want +got):\n%s", d)
	}
}
