package apply

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/engine/plan"
)

type countHooks struct {
	mu            sync.Mutex
	started, done int
}

func (c *countHooks) Started(int) { c.mu.Lock(); c.started++; c.mu.Unlock() }
func (c *countHooks) Done(plan.Change, Outcome, error) {
	c.mu.Lock()
	c.done++
	c.mu.Unlock()
}

// TestLogHooks: -v shows one record per change with its ids and field
// names, never the record's label or values, and the wrapped hooks still
// run.
func TestLogHooks(t *testing.T) {
	var buf bytes.Buffer
	next := &countHooks{}
	h := LogHooks(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), next)
	ch := plan.Change{Sync: "contacts", Action: plan.Update, Side: plan.Side("target"),
		Source: plan.Ref{ID: "g1"}, Target: plan.Ref{ID: "p1"}, Label: "Ann Lee <ann.lee@example.com>",
		Fields:  []plan.FieldChange{{Field: "email", New: cty.StringVal("ann.lee@example.com")}},
		Reverse: []plan.FieldChange{{Field: "phone", New: cty.StringVal("+14155550190")}}}
	h.Started(2)
	h.Done(ch, Applied, nil)
	h.Done(ch, Failed, errors.New("paperbell: update client p1: status 422"))

	out := buf.String()
	for _, s := range []string{"ann.lee", "Ann Lee", "+1415"} {
		if strings.Contains(out, s) {
			t.Errorf("log holds %q:\n%s", s, out)
		}
	}
	type line struct {
		Msg, Sync, Action, Side, Source, Target, Outcome, Err string
		Fields                                                []string
		Changes                                               int
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		var ln line
		b, _ := json.Marshal(v)
		_ = json.Unmarshal(b, &ln)
		got = append(got, ln)
	}
	want := []line{
		{Msg: "apply started", Changes: 2},
		{Msg: "change", Sync: "contacts", Action: ch.Action.String(), Side: "target", Source: "g1", Target: "p1",
			Fields: []string{"email", "reverse:phone"}, Outcome: "applied"},
		{Msg: "change", Sync: "contacts", Action: ch.Action.String(), Side: "target", Source: "g1", Target: "p1",
			Fields: []string{"email", "reverse:phone"}, Outcome: "failed", Err: "paperbell: update client p1: status 422"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if next.started != 1 || next.done != 2 {
		t.Errorf("wrapped hooks saw %d starts and %d changes, want 1 and 2", next.started, next.done)
	}
}
