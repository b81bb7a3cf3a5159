package paperbell

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/paperbell/emulator"
	"github.com/bellsync/bellsync/providers/secret"
	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

var ctx = context.Background()

func TestListContacts(t *testing.T) {
	h := newHarness(t, emulator.Options{}, nil)
	recs := listAll(t, h.res(t, "contacts"), providers.ListOptions{})
	count := map[string]int{}
	for _, r := range recs {
		count[r.ID]++
	}
	var want []string
	for _, c := range h.emu.Clients() {
		want = append(want, c.ID)
	}
	got := ids(recs)
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed ids (-want +got):\n%s", diff)
	}
	if len(recs) != 369 {
		t.Errorf("listed %d, want 369", len(recs))
	}
	if n := h.emu.Stats().Requests["GET /clients"]; n != 4 {
		t.Errorf("made %d list requests, want 4 pages of 100", n)
	}

	var priya providers.Record
	for _, r := range recs {
		if r.ID == "79212713" {
			priya = r
		}
	}
	want2 := map[string]cty.Value{
		"first_name":        str("Priya"),
		"last_name":         str("Raman"),
		"email":             str("priya.raman@example.com"),
		"additional_emails": strList("priya.work@example.com"),
		"phone":             str("(415) 555-0190"),
		"time_zone":         str("America/Los_Angeles"),
		"tags":              strList(),
		"archived":          cty.False,
		"created_at":        str("2026-01-10T10:00:00Z"),
		"updated_at":        str("2026-02-01T10:00:00Z"),
	}
	if diff := cmp.Diff(want2, priya.Fields, ctyCmp); diff != "" {
		t.Errorf("client 79212713 fields (-want +got):\n%s", diff)
	}
	if !priya.UpdatedAt.Equal(time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("UpdatedAt = %v", priya.UpdatedAt)
	}
}

var ctyCmp = cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })

func TestListSince(t *testing.T) {
	h := newHarness(t, emulator.Options{}, nil)
	since := h.clock.Now()
	var touched []string
	for _, c := range h.emu.Clients()[10:15] {
		touched = append(touched, h.emu.PutClient(c).ID)
	}
	task, err := h.emu.PutTask(emulator.Task{ClientID: touched[0], Title: "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind string
		want []string
	}{
		{"contacts", touched},
		{"tasks", []string{task.ID}},
		{"notes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			got := ids(listAll(t, h.res(t, tt.kind), providers.ListOptions{Since: since}))
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" {
				t.Errorf("changed since (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFind(t *testing.T) {
	h := newHarness(t, emulator.Options{}, nil)
	f := h.res(t, "contacts").(providers.Finder)
	tests := []struct {
		name   string
		fields map[string]cty.Value
		want   []string
	}{
		{"additional email", map[string]cty.Value{"email": str("priya.work@example.com")}, []string{"79212713"}},
		{"primary in other case, via additional_emails", map[string]cty.Value{
			"email":             cty.NullVal(cty.String),
			"additional_emails": strList(" PRIYA.RAMAN@example.com"),
		}, []string{"79212713"}},
		{"two addresses, one client", map[string]cty.Value{
			"email": str("priya.raman@example.com"), "additional_emails": strList("priya.work@example.com"),
		}, []string{"79212713"}},
		{"NFC accented name's email", map[string]cty.Value{"email": str("jose.garcia@example.es")}, []string{"31670638"}},
		{"unknown", map[string]cty.Value{"email": str("nobody@example.com")}, nil},
		{"phone only", map[string]cty.Value{"phone": str("(415) 555-0190")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := f.Find(ctx, "", tt.fields)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if len(recs) > 0 {
				got = ids(recs)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("found (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateUpdateArchive(t *testing.T) {
	h := newHarness(t, emulator.Options{}, nil)
	r := h.res(t, "contacts")
	rec, err := r.Create(ctx, "", map[string]cty.Value{
		"first_name": str("Ana 🌱"),
		"email":      str("ana@example.com"),
		"tags":       strList("vip", "lead"),
		"phone":      cty.NullVal(cty.String),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Fields["first_name"].AsString(); got != "Ana 🌱" || rec.ID == "" {
		t.Errorf("created %q %q", rec.ID, got)
	}
	if sent := h.rec.take(); len(sent) != 1 || sent[0].Body != `{"email":"ana@example.com","first_name":"Ana 🌱","tags":["vip","lead"]}` {
		t.Errorf("create sent %+v", sent)
	}

	_, err = r.Create(ctx, "", map[string]cty.Value{"email": str("Priya.Work@Example.com")})
	pe, ok := providers.AsError(err)
	if !errors.Is(err, providers.ErrDuplicate) || !ok || pe.ExistingID != "79212713" {
		t.Fatalf("duplicate create: %v, want ErrDuplicate with existing id 79212713", err)
	}

	_, err = r.Create(ctx, "", map[string]cty.Value{"email": str("no-at-sign")})
	if pe, _ := providers.AsError(err); !errors.Is(err, providers.ErrValidation) || pe == nil || !slices.Equal(pe.Fields, []string{"email"}) {
		t.Errorf("invalid email: %v, want ErrValidation on email", err)
	}
	h.rec.take()

	tests := []struct {
		name     string
		changes  []providers.Change
		wantBody string
		check    func(providers.Record) string
	}{
		{"only changed fields", []providers.Change{
			{Field: "last_name", Old: cty.NullVal(cty.String), New: str("Silva")},
			{Field: "email", Old: str("ana@example.com"), New: str("ana@example.com")},
			{Field: "tags", Old: strList("vip", "lead"), New: strList("lead", "vip")},
		}, `{"last_name":"Silva"}`, func(r providers.Record) string { return r.Fields["last_name"].AsString() }},
		{"archive", []providers.Change{{Field: "archived", Old: cty.False, New: cty.True}},
			`{"archived":true}`, func(r providers.Record) string { return r.Fields["archived"].GoString() }},
		{"clear phone, old unknown to the engine", []providers.Change{{Field: "phone", New: cty.NullVal(cty.String)}},
			`{"phone":null}`, func(r providers.Record) string { return r.Fields["phone"].GoString() }},
	}
	want := []string{"Silva", "cty.True", "cty.NullVal(cty.String)"}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Update(ctx, "", rec.ID, tt.changes)
			if err != nil {
				t.Fatal(err)
			}
			sent := h.rec.take()
			if diff := cmp.Diff([]sentRequest{{Method: "PATCH", Path: "/clients/" + rec.ID, Body: tt.wantBody}}, sent); diff != "" {
				t.Errorf("sent (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want[i], tt.check(got)); diff != "" {
				t.Errorf("echoed (-want +got):\n%s", diff)
			}
		})
	}
	if c, _ := h.emu.Client(rec.ID); !c.Archived {
		t.Errorf("client not archived in the emulator")
	}
	_, err = r.Update(ctx, "", rec.ID, []providers.Change{{Field: "updated_at", New: str("x")}})
	if !errors.Is(err, providers.ErrValidation) {
		t.Errorf("read-only update: %v, want ErrValidation", err)
	}
}

func TestDeleteCascades(t *testing.T) {
	h := newHarness(t, emulator.Options{}, nil)
	const id = "79212713"
	if len(h.emu.Notes(id)) == 0 {
		t.Fatal("corpus client has no notes")
	}
	if err := h.res(t, "contacts").Delete(ctx, "", id); err != nil {
		t.Fatal(err)
	}
	if n := len(h.emu.Notes(id)) + len(h.emu.Tasks(id)); n != 0 {
		t.Errorf("%d children left", n)
	}
	err := h.res(t, "notes").List(ctx, providers.ListOptions{ParentID: id}, func(providers.Record) error { return nil })
	if !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("list notes of deleted client: %v, want ErrNotFound", err)
	}
	if _, err := h.res(t, "contacts").Get(ctx, "", id); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("get deleted client: %v, want ErrNotFound", err)
	}
	if err := h.res(t, "contacts").Delete(ctx, "", id); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("delete twice: %v, want ErrNotFound", err)
	}
}

func TestTasksAndNotes(t *testing.T) {
	h := newHarness(t, emulator.Options{}, nil)
	const cid = "31670638"
	tests := []struct {
		kind   string
		create map[string]cty.Value
		change providers.Change
		want   map[string]string // field -> GoString after the change
	}{
		{"tasks", map[string]cty.Value{
			"title": str("Welcome José"), "due_date": str("2030-01-04T12:00:00Z"),
		}, providers.Change{Field: "status", Old: str("open"), New: str("completed")}, map[string]string{
			"status":       `cty.StringVal("completed")`,
			"completed_at": `cty.StringVal("2030-01-01T12:00:00Z")`,
			"due_date":     `cty.StringVal("2030-01-04T12:00:00Z")`,
			"description":  `cty.NullVal(cty.String)`,
		}},
		{"notes", map[string]cty.Value{"content": str("first call")},
			providers.Change{Field: "visibility", Old: str("private"), New: str("shared")}, map[string]string{
				"visibility": `cty.StringVal("shared")`,
				"content":    `cty.StringVal("first call")`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			r := h.res(t, tt.kind)
			if _, err := r.Create(ctx, "", tt.create); !errors.Is(err, providers.ErrValidation) {
				t.Errorf("create without parent: %v, want ErrValidation", err)
			}
			rec, err := r.Create(ctx, cid, tt.create)
			if err != nil {
				t.Fatal(err)
			}
			if rec.ParentID != cid {
				t.Errorf("ParentID = %q", rec.ParentID)
			}
			if _, err := r.Update(ctx, cid, rec.ID, []providers.Change{tt.change}); err != nil {
				t.Fatal(err)
			}
			got, err := r.Get(ctx, cid, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			gotS := map[string]string{}
			for f := range tt.want {
				gotS[f] = got.Fields[f].GoString()
			}
			if diff := cmp.Diff(tt.want, gotS); diff != "" {
				t.Errorf("after update (-want +got):\n%s", diff)
			}
			all := ids(listAll(t, r, providers.ListOptions{}))
			if !slices.Contains(all, rec.ID) {
				t.Errorf("account-wide list lacks %s", rec.ID)
			}
			if err := r.Delete(ctx, cid, rec.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Get(ctx, cid, rec.ID); !errors.Is(err, providers.ErrNotFound) {
				t.Errorf("get after delete: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestNotesByteForByte(t *testing.T) {
	h := newHarness(t, emulator.Options{}, nil)
	raw, err := os.ReadFile(corpusDir + "/notes.json")
	if err != nil {
		t.Fatal(err)
	}
	var corpus []struct{ ID, Content string }
	if err := json.Unmarshal(raw, &corpus); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, n := range corpus {
		if n.ID == "15838879" || n.ID == "48063842" {
			want[n.ID] = n.Content
		}
	}
	if len(want["15838879"]) < 50000 || !strings.HasPrefix(want["48063842"], "<p>") {
		t.Fatalf("corpus notes changed: %d bytes, %q", len(want["15838879"]), want["48063842"])
	}
	r := h.res(t, "notes")
	for id, content := range want {
		t.Run(id, func(t *testing.T) {
			got, err := r.Get(ctx, "79212713", id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(content, got.Fields["content"].AsString()); diff != "" {
				t.Errorf("read (-want +got):\n%s", diff)
			}
			made, err := r.Create(ctx, "31670638", map[string]cty.Value{"content": str(content)})
			if err != nil {
				t.Fatal(err)
			}
			stored := ""
			for _, n := range h.emu.Notes("31670638") {
				if n.ID == made.ID {
					stored = n.Content
				}
			}
			if stored != content || made.Fields["content"].AsString() != content {
				t.Errorf("written note differs: stored %d bytes, echoed %d, want %d", len(stored), len(made.Fields["content"].AsString()), len(content))
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Run("5xx retried for GET", func(t *testing.T) {
		h := newHarness(t, emulator.Options{Faults: emulator.Faults{Burst5xx: 2}}, nil)
		if _, err := h.res(t, "contacts").Get(ctx, "", "79212713"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]time.Duration{125 * time.Millisecond, 250 * time.Millisecond}, h.takeSleeps()); diff != "" {
			t.Errorf("backoff (-want +got):\n%s", diff)
		}
	})
	t.Run("5xx on create is not retried and may be applied", func(t *testing.T) {
		h := newHarness(t, emulator.Options{Faults: emulator.Faults{Burst5xx: 1}}, nil)
		_, err := h.res(t, "contacts").Create(ctx, "", map[string]cty.Value{"email": str("x@example.com")})
		if !errors.Is(err, providers.ErrTransient) || !providers.MaybeApplied(err) {
			t.Errorf("got %v, want transient and maybe applied", err)
		}
		if n := len(h.rec.take()); n != 1 {
			t.Errorf("sent %d requests, want 1", n)
		}
	})
	t.Run("dropped create is maybe applied and found", func(t *testing.T) {
		h := newHarness(t, emulator.Options{Faults: emulator.Faults{BurstDropAfterWrite: 1}}, nil)
		r := h.res(t, "contacts")
		fields := map[string]cty.Value{"email": str("Dropped@Example.com"), "first_name": str("Drop")}
		_, err := r.Create(ctx, "", fields)
		if !errors.Is(err, providers.ErrTransient) || !providers.MaybeApplied(err) {
			t.Fatalf("got %v, want transient and maybe applied", err)
		}
		found, err := r.(providers.Finder).Find(ctx, "", fields)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].Fields["first_name"].AsString() != "Drop" {
			t.Errorf("found %v, want the dropped client", ids(found))
		}
	})
	t.Run("429 Retry-After honoured", func(t *testing.T) {
		h := newHarness(t, emulator.Options{Faults: emulator.Faults{Burst429: 1, RetryAfter: 7 * time.Second}}, nil)
		if _, err := h.res(t, "notes").Create(ctx, "31670638", map[string]cty.Value{"content": str("hi")}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]time.Duration{7 * time.Second}, h.takeSleeps()); diff != "" {
			t.Errorf("sleeps (-want +got):\n%s", diff)
		}
	})
	t.Run("429 from the server's own limit, waited out", func(t *testing.T) {
		h := newHarness(t, emulator.Options{RateLimit: 1, RateWindow: time.Hour}, nil)
		r := h.res(t, "contacts")
		for range 2 {
			if _, err := r.Get(ctx, "", "79212713"); err != nil {
				t.Fatal(err)
			}
		}
		if got := h.takeSleeps(); len(got) != 1 || got[0] != time.Hour {
			t.Errorf("sleeps = %v, want one of an hour", got)
		}
	})
	t.Run("429 with retries exhausted", func(t *testing.T) {
		h := newHarness(t, emulator.Options{RateLimit: 1, RateWindow: time.Hour}, func(c *Config) { c.MaxAttempts = 1 })
		r := h.res(t, "contacts")
		if _, err := r.Get(ctx, "", "79212713"); err != nil {
			t.Fatal(err)
		}
		_, err := r.Get(ctx, "", "79212713")
		pe, _ := providers.AsError(err)
		if !errors.Is(err, providers.ErrRateLimited) || pe == nil || pe.RetryAfter != time.Hour {
			t.Errorf("got %v, want ErrRateLimited with RetryAfter", err)
		}
	})
	t.Run("garbage body", func(t *testing.T) {
		h := newHarness(t, emulator.Options{Faults: emulator.Faults{BurstGarbage: 1}}, nil)
		err := h.res(t, "contacts").List(ctx, providers.ListOptions{}, func(providers.Record) error { return nil })
		want := `paperbell: list clients: HTTP 200: response is not JSON (37 bytes: "<html><body>Bad gateway</body></html>")`
		if !errors.Is(err, providers.ErrTransient) || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
	})
}

func TestWrongKey(t *testing.T) {
	const key = "sk-live-do-not-print"
	h := newHarness(t, emulator.Options{}, func(c *Config) { c.APIKey = secret.New(key) })
	_, err := h.res(t, "contacts").Get(ctx, "", "79212713")
	if !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("got %v, want ErrAuth", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "paperbell: get client: HTTP 401") || strings.Contains(msg, key) {
		t.Errorf("message %q: want it to name the provider and not hold the key", msg)
	}
	res := h.p.Check(ctx)
	if len(res) != 1 || res[0].OK || strings.Contains(res[0].Detail, key) {
		t.Errorf("check = %+v", res)
	}
}

func TestResourceNames(t *testing.T) {
	h := newHarness(t, emulator.Options{}, nil)
	_, err := h.p.Resource("appointments")
	want := `paperbell: no resource kind "appointments"; kinds are contacts, notes, tasks`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	var kinds []string
	for _, s := range h.p.Kinds() {
		kinds = append(kinds, s.Kind+"/"+s.Parent)
	}
	if diff := cmp.Diff([]string{"contacts/", "tasks/contacts", "notes/contacts"}, kinds); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}

func TestCallCounts(t *testing.T) {
	h := newHarness(t, emulator.Options{RateLimit: 1, RateWindow: time.Hour}, nil)
	if c, l := h.p.CallCounts(); c != 0 || l != 0 {
		t.Fatalf("CallCounts() = %d, %d before any request, want 0, 0", c, l)
	}
	r := h.res(t, "contacts")
	for range 2 {
		// The second Get is answered 429, waits the window out and retries.
		if _, err := r.Get(ctx, "", "79212713"); err != nil {
			t.Fatal(err)
		}
	}
	calls, limited := h.p.CallCounts()
	if sent := int64(len(h.rec.take())); calls != 3 || limited != 1 || sent != calls {
		t.Errorf("CallCounts() = %d, %d (%d requests on the wire), want 3 calls, 1 rate-limited", calls, limited, sent)
	}
}
