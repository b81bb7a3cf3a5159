package ghl

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/secret"
)

const corpusDir = "../../examples/demo/seed/ghl"

// emuEnv is the emulator loaded with the corpus and a provider aimed at
// it. Both share one fake clock, advanced only by the client's backoff
// sleeps, so rate-limit windows pass without real waiting. The client's
// own limiter is off: it would wait on real timers.
type emuEnv struct {
	srv *emulator.Server
	p   *Provider
	clk *fakeClock
}

func newEmuEnv(t *testing.T, opts emulator.Options, mod func(*Config)) *emuEnv {
	t.Helper()
	clk := &fakeClock{now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	opts.Now = clk.Now
	opts.Rand = rand.New(rand.NewPCG(7, 11))
	if opts.RateLimit == 0 {
		opts.RateLimit = 1 << 20
	}
	srv := emulator.New(opts)
	if err := srv.LoadDir(corpusDir); err != nil {
		t.Fatalf("load corpus: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg := Config{
		BaseURL:    hs.URL,
		LocationID: emulator.DefaultLocationID,
		Token:      secret.New(emulator.DefaultToken),
		RateLimit:  -1,
		HTTPClient: hs.Client(),
		Sleep:      clk.Sleep,
		Jitter:     func() float64 { return 0.5 },
		Now:        clk.Now,
		Logger:     testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return &emuEnv{srv: srv, p: p, clk: clk}
}

func TestEmulatorListCorpus(t *testing.T) {
	e := newEmuEnv(t, emulator.Options{}, func(c *Config) { c.PageSize = 100 })
	want := len(e.srv.Contacts())
	ids := map[string]bool{}
	var focus cty.Value
	err := e.p.contacts.List(context.Background(), providers.ListOptions{}, func(r providers.Record) error {
		if ids[r.ID] {
			t.Errorf("contact %s listed twice", r.ID)
		}
		ids[r.ID] = true
		if cf := r.Fields["customFields"]; cf.Type().IsObjectType() && cf.Type().HasAttribute("FFMFoNYvGQncIUBil7eb") {
			focus = cf.GetAttr("FFMFoNYvGQncIUBil7eb")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(ids) != want || want != 968 {
		t.Errorf("listed %d contacts, emulator holds %d, corpus 968", len(ids), want)
	}
	if d := cmp.Diff([]string{"mindset", "nutrition"}, stringsOf(focus)); d != "" {
		t.Errorf("customFields[FFMFoNYvGQncIUBil7eb] (-want +got):\n%s", d)
	}
}

func TestEmulatorListSince(t *testing.T) {
	e := newEmuEnv(t, emulator.Options{}, func(c *Config) { c.PageSize = 7 })
	since := time.Date(2026, 3, 5, 17, 4, 5, 250e6, time.UTC)
	want := 0
	for _, c := range e.srv.Contacts() {
		if !c.DateUpdated().Before(since) {
			want++
		}
	}
	got := 0
	err := e.p.contacts.List(context.Background(), providers.ListOptions{Since: since}, func(r providers.Record) error {
		if r.UpdatedAt.Before(since) {
			t.Errorf("contact %s updated %v, before %v", r.ID, r.UpdatedAt, since)
		}
		got++
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got != want || want == 0 {
		t.Errorf("changed-since listing returned %d, want %d (>0)", got, want)
	}
}

func TestEmulatorContactLifecycle(t *testing.T) {
	e := newEmuEnv(t, emulator.Options{}, nil)
	ctx := context.Background()
	r := e.p.contacts
	created, err := r.Create(ctx, "", map[string]cty.Value{
		"firstName": cty.StringVal("Zoë"),
		"email":     cty.StringVal("zoe.lifecycle@example.org"),
		"phone":     cty.StringVal("+1 (415) 555-0199"),
		"tags":      cty.ListVal([]cty.Value{cty.StringVal("New-Client")}),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := created.Fields["phone"]; got.IsNull() || got.AsString() != "+14155550199" {
		t.Errorf("phone echoed as %#v", got)
	}
	if m := e.p.Mismatches(); len(m) != 0 {
		t.Errorf("normalisation reported as mismatch: %+v", m)
	}

	found, err := r.Find(ctx, "", map[string]cty.Value{"email": cty.StringVal("zoe.lifecycle@example.org"), "phone": cty.StringVal("+14155550199")})
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if len(found) != 1 || found[0].ID != created.ID {
		t.Errorf("Find = %+v, want just %s", found, created.ID)
	}

	_, err = r.Create(ctx, "", map[string]cty.Value{"email": cty.StringVal("zoe.lifecycle@example.org")})
	if pe, ok := providers.AsError(err); !errors.Is(err, providers.ErrDuplicate) || !ok || pe.ExistingID != created.ID {
		t.Errorf("second create: error = %v, want ErrDuplicate with ExistingID %s", err, created.ID)
	}

	updated, err := r.Update(ctx, "", created.ID, []providers.Change{
		{Field: "tags", Old: created.Fields["tags"], New: cty.ListVal([]cty.Value{cty.StringVal("client"), cty.StringVal("coaching")})},
		{Field: "city", Old: cty.NullVal(cty.String), New: cty.StringVal("Lyon")},
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := map[string]any{"tags": stringsOf(updated.Fields["tags"]), "city": updated.Fields["city"].AsString()}
	want := map[string]any{"tags": []string{"client", "coaching"}, "city": "Lyon"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("updated (-want +got):\n%s", d)
	}
	if _, err := r.Update(ctx, "", created.ID, []providers.Change{{Field: "companyName", New: cty.StringVal("X")}}); !errors.Is(err, providers.ErrValidation) {
		t.Errorf("companyName update: error = %v, want ErrValidation", err)
	}

	if err := r.Delete(ctx, "", created.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := r.Get(ctx, "", created.ID); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Get after delete: error = %v, want ErrNotFound", err)
	}
}

func TestEmulatorTasksAndNotes(t *testing.T) {
	e := newEmuEnv(t, emulator.Options{}, nil)
	ctx := context.Background()
	const contactID = "Esa1KA9XSZ71YP2RYGyF"
	var before []string
	err := e.p.tasks.List(ctx, providers.ListOptions{ParentID: contactID}, func(r providers.Record) error {
		before = append(before, r.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("List tasks: %v", err)
	}
	if d := cmp.Diff([]string{"Q77y9vVmziuDzUPlyiOm"}, before); d != "" {
		t.Errorf("tasks (-want +got):\n%s", d)
	}
	task, err := e.p.tasks.Create(ctx, contactID, map[string]cty.Value{
		"title": cty.StringVal("Welcome Andrew"), "dueDate": cty.StringVal("2026-03-13T12:00:00Z"), "completed": cty.False})
	if err != nil {
		t.Fatalf("Create task: %v", err)
	}
	done, err := e.p.tasks.Update(ctx, contactID, task.ID, []providers.Change{{Field: "completed", Old: cty.False, New: cty.True}})
	if err != nil {
		t.Fatalf("complete task: %v", err)
	}
	if !done.Fields["completed"].True() {
		t.Errorf("task not completed: %#v", done.Fields)
	}
	if err := e.p.tasks.Delete(ctx, contactID, task.ID); err != nil {
		t.Fatalf("Delete task: %v", err)
	}

	note, err := e.p.notes.Create(ctx, contactID, map[string]cty.Value{"body": cty.StringVal("<p>Intake done</p>"), "title": cty.StringVal("Intake")})
	if err != nil {
		t.Fatalf("Create note: %v", err)
	}
	got, err := e.p.notes.Update(ctx, contactID, note.ID, []providers.Change{{Field: "pinned", Old: cty.NullVal(cty.Bool), New: cty.True}})
	if err != nil {
		t.Fatalf("Update note: %v", err)
	}
	if !got.Fields["pinned"].True() || got.Fields["body"].AsString() != "<p>Intake done</p>" {
		t.Errorf("note after update: %#v", got.Fields)
	}
	if m := e.p.Mismatches(); len(m) != 0 {
		t.Errorf("mismatches: %+v", m)
	}

	// The listing without a parent visits every contact.
	n := 0
	if err := e.p.notes.List(ctx, providers.ListOptions{}, func(providers.Record) error { n++; return nil }); err != nil {
		t.Fatalf("List all notes: %v", err)
	}
	want := 0
	for _, c := range e.srv.Contacts() {
		want += len(e.srv.Notes(c.ID()))
	}
	if n != want || n == 0 {
		t.Errorf("listed %d notes, emulator holds %d", n, want)
	}
}

func TestEmulatorFaults(t *testing.T) {
	t.Run("429 burst is retried", func(t *testing.T) {
		e := newEmuEnv(t, emulator.Options{Faults: emulator.Faults{Burst429: 2}}, nil)
		if _, err := e.p.contacts.Get(context.Background(), "", "Esa1KA9XSZ71YP2RYGyF"); err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got := e.p.Stats(); got.RateLimited != 2 || got.Calls != 3 {
			t.Errorf("Stats = %+v, want 2 rate-limited of 3 calls", got)
		}
	})
	t.Run("rate window is honoured", func(t *testing.T) {
		e := newEmuEnv(t, emulator.Options{RateLimit: 5}, nil)
		for i := range 12 {
			if _, err := e.p.contacts.Get(context.Background(), "", "Esa1KA9XSZ71YP2RYGyF"); err != nil {
				t.Fatalf("Get %d: %v", i, err)
			}
		}
		if e.p.Stats().RateLimited == 0 || len(e.clk.Slept()) == 0 {
			t.Errorf("expected 429s and backoff, got %+v", e.p.Stats())
		}
	})
	t.Run("dropped create is MaybeApplied and findable", func(t *testing.T) {
		e := newEmuEnv(t, emulator.Options{Faults: emulator.Faults{DropAfterWriteRate: 1}}, nil)
		fields := map[string]cty.Value{"email": cty.StringVal("dropped@example.org")}
		_, err := e.p.contacts.Create(context.Background(), "", fields)
		if !providers.MaybeApplied(err) {
			t.Fatalf("error = %v, want MaybeApplied", err)
		}
		e.srv.SetFaults(emulator.Faults{})
		found, err := e.p.contacts.Find(context.Background(), "", fields)
		if err != nil || len(found) != 1 {
			t.Errorf("Find after drop = %v, %v; want the created contact", found, err)
		}
	})
	t.Run("garbage body", func(t *testing.T) {
		e := newEmuEnv(t, emulator.Options{Faults: emulator.Faults{GarbageRate: 1}}, func(c *Config) { c.MaxAttempts = 1 })
		_, err := e.p.contacts.Get(context.Background(), "", "Esa1KA9XSZ71YP2RYGyF")
		if !errors.Is(err, providers.ErrTransient) {
			t.Errorf("error = %v, want ErrTransient", err)
		}
	})
}

func TestEmulatorAuthAndCheck(t *testing.T) {
	e := newEmuEnv(t, emulator.Options{}, nil)
	for _, c := range e.p.Check(context.Background()) {
		if !c.OK {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
	}
	bad := newEmuEnv(t, emulator.Options{}, func(c *Config) { c.Token = secret.New("wrong") })
	_, err := bad.p.contacts.Get(context.Background(), "", "Esa1KA9XSZ71YP2RYGyF")
	if !errors.Is(err, providers.ErrAuth) {
		t.Errorf("wrong token: error = %v, want ErrAuth", err)
	}
	other := newEmuEnv(t, emulator.Options{}, func(c *Config) { c.LocationID = "LOCsomewhereElse0001" })
	results := other.p.Check(context.Background())
	if last := results[len(results)-1]; last.OK || last.Name != "location" {
		t.Errorf("check for a foreign location = %+v, want a failed location line", results)
	}
}
