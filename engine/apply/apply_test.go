package apply

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/providertest"
	"github.com/zclconf/go-cty/cty"
)

type nopBinder struct{}

func (nopBinder) Rebase(string, providers.Record, providers.Record) ([]byte, []byte, error) {
	return nil, nil, nil
}

func (nopBinder) FollowUp(string, int, providers.Record, providers.Record) (providers.Resource, map[string]cty.Value, error) {
	return nil, nil, nil
}

// TestStopsWhenTheAPIIsDown: when every write fails on a transient error
// (the API went away), the apply stops after StopAfter of them instead of
// retrying every remaining record, and says how many it did not attempt.
func TestStopsWhenTheAPIIsDown(t *testing.T) {
	schema := providers.Schema{Kind: "contacts", Fields: []providers.Field{{Name: "email", Type: cty.String}},
		Caps: providers.Capabilities{List: true, Get: true, Create: true, Update: true}}
	src, tgt := providertest.NewMemory(schema), providertest.NewMemory(schema)
	down := &providers.Error{Category: providers.ErrTransient, Provider: "memory", Op: "create", Message: "connection refused"}
	tgt.BeforeWrite = func(string, map[string]cty.Value) error { return down }
	st, err := state.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := &plan.Plan{Complete: true}
	for i := range 30 {
		id := "s" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		p.Changes = append(p.Changes, plan.Change{Sync: "people", Action: plan.Create, Side: plan.SideTarget,
			Source: plan.Ref{ID: id}, Fields: []plan.FieldChange{{Field: "email", New: cty.StringVal(id + "@x.com")}}})
	}
	res, err := Apply(context.Background(), p, Options{Sides: map[string]Sides{"people": {Source: src, Target: tgt}},
		Store: st, Binder: nopBinder{}, Workers: 1, StopAfter: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[Failed] != 10 || res.Counts[NotAttempted] != 20 {
		t.Errorf("counts = %v, want 10 failed and 20 not attempted", res.Counts)
	}
	if last := res.Errors[len(res.Errors)-1]; !strings.Contains(last, "stopped after 10 writes in a row") || !strings.Contains(last, "20 changes not attempted") {
		t.Errorf("last error = %q", last)
	}
	if n := tgt.CallCount("create"); n != 10 {
		t.Errorf("%d creates tried, want 10", n)
	}
}

// TestInterruptFinishesWritesInFlight: when the apply is told to stop
// (Ctrl-C) while a write is in flight, that write is finished and
// recorded (journal and link), and nothing else is started.
func TestInterruptFinishesWritesInFlight(t *testing.T) {
	schema := providers.Schema{Kind: "contacts", Fields: []providers.Field{{Name: "email", Type: cty.String}},
		Caps: providers.Capabilities{List: true, Get: true, Create: true, Update: true}}
	src, tgt := providertest.NewMemory(schema), providertest.NewMemory(schema)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writes := 0
	tgt.BeforeWrite = func(string, map[string]cty.Value) error {
		if writes++; writes == 3 {
			cancel() // the interrupt arrives while the third create is in flight
		}
		return nil
	}
	st, err := state.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := &plan.Plan{Complete: true}
	for i := range 10 {
		id := fmt.Sprintf("s%02d", i)
		p.Changes = append(p.Changes, plan.Change{Sync: "people", Action: plan.Create, Side: plan.SideTarget,
			Source: plan.Ref{ID: id}, Fields: []plan.FieldChange{{Field: "email", New: cty.StringVal(id + "@x.com")}}})
	}
	res, err := Apply(ctx, p, Options{Sides: map[string]Sides{"people": {Source: src, Target: tgt}},
		Store: st, Binder: nopBinder{}, Workers: 1})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply error = %v, want context.Canceled", err)
	}
	want := map[Outcome]int{Applied: 3, NotAttempted: 7}
	if diff := cmp.Diff(want, res.Counts); diff != "" || len(res.Errors) > 0 {
		t.Errorf("counts (-want +got):\n%s\nerrors: %v", diff, res.Errors)
	}
	links, err := st.Links(context.Background(), "people")
	if err != nil || len(links) != 3 {
		t.Errorf("%d links recorded (err %v), want 3: the write in flight must be recorded", len(links), err)
	}
	if ops, _ := st.PendingOps(context.Background(), "people"); len(ops) != 0 {
		t.Errorf("%d journal entries left pending, want 0", len(ops))
	}
	if n := len(tgt.All()); n != 3 {
		t.Errorf("target holds %d records, want 3", n)
	}
}

// flakyLinks fails the first PutLink, as a full disk or a locked database
// would, after the record it links was already created.
type flakyLinks struct {
	state.Store
	failed bool
}

func (f *flakyLinks) PutLink(ctx context.Context, l state.Link) error {
	if !f.failed {
		f.failed = true
		return errors.New("disk I/O error")
	}
	return f.Store.PutLink(ctx, l)
}

// TestLinkWriteFailureIsRecovered: a create that landed but whose link
// could not be recorded is left pending in the journal, so the next run
// links the record instead of creating it a second time.
func TestLinkWriteFailureIsRecovered(t *testing.T) {
	ctx := context.Background()
	schema := providers.Schema{Kind: "contacts", Fields: []providers.Field{{Name: "email", Type: cty.String}},
		Caps: providers.Capabilities{List: true, Get: true, Create: true, Update: true}}
	src, tgt := providertest.NewMemory(schema), providertest.NewMemory(schema)
	src.Put(providers.Record{ID: "s1", Fields: map[string]cty.Value{"email": cty.StringVal("a@x.com")}})
	tgt.FindBy = []string{"email"} // how recovery looks the create up, as GHL's duplicate search does
	db, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &flakyLinks{Store: db}
	p := &plan.Plan{Complete: true, Changes: []plan.Change{{Sync: "people", Action: plan.Create, Side: plan.SideTarget,
		Source: plan.Ref{ID: "s1"}, Fields: []plan.FieldChange{{Field: "email", New: cty.StringVal("a@x.com")}}}}}
	sides := Sides{Source: src, Target: tgt}
	res, err := Apply(ctx, p, Options{Sides: map[string]Sides{"people": sides}, Store: st, Binder: nopBinder{}})
	if err != nil || res.Counts[Failed] != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "the next run links it") {
		t.Fatalf("Apply = %v, %v; want one failure that says the next run links the record", res, err)
	}
	if _, err := Recover(ctx, st, "people", sides, nopBinder{}); err != nil {
		t.Fatal(err)
	}
	links, err := st.Links(ctx, "people")
	if err != nil || len(links) != 1 || links[0].SourceID != "s1" {
		t.Errorf("links after recovery = %+v (err %v), want s1 linked", links, err)
	}
	if n := len(tgt.All()); n != 1 || tgt.CallCount("create") != 1 {
		t.Errorf("target holds %d records after %d creates, want 1 and 1", n, tgt.CallCount("create"))
	}
}
