package main

import (
	"context"
	"testing"

	"github.com/bellsync/bellsync/engine"
	"github.com/bellsync/bellsync/engine/schedule"
)

// TestWebhookCostIsPerRecord: with contacts, tasks and notes synced (the
// full mission), one webhook about one edited contact costs a handful of
// API calls: that contact, its counterpart, the write, and the children
// under those two. Not a re-read of every task bellsync ever wrote.
func TestWebhookCostIsPerRecord(t *testing.T) {
	h := newSeededHarness(t, fullConfig, smallSeed(t, 200, 5))
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	ctx := context.Background()
	ws, diags := engine.Open(ctx, engine.Options{ConfigPath: h.config, Registry: registry()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	defer ws.Close()

	var id string
	for s := range h.links("contacts") {
		id = s
		break
	}
	c, ok := h.ghl.Contact(id)
	if !ok {
		t.Fatalf("contact %s not in the emulator", id)
	}
	c["companyName"] = "Edited By Webhook Test"
	h.ghl.PutContact(c)

	before := apiCalls(h.ghl, h.pb)
	res, err := ws.Record(ctx, schedule.Hint{Provider: "ghl", Kind: "contacts", ID: id})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("Record: %v %v", err, res.Errors)
	}
	after := apiCalls(h.ghl, h.pb)
	calls := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			calls[k] = d
		}
	}
	// The contact and its client (2), the child listings under both for
	// tasks and notes (4, a few pages at most), and a write or two.
	if n := sum(calls); n > 15 {
		t.Errorf("one webhook cost %d API calls, want a handful:\n%v", n, calls)
	}
	t.Logf("one webhook: %d calls %v", sum(calls), calls)
}
