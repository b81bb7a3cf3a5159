package state

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWebhookEvents(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clk := newClock(t0)
	s := openTemp(t, WithClock(clk.Now))

	put := func(ev WebhookEvent) (int64, bool) {
		t.Helper()
		seq, dup, err := s.PutWebhookEvent(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return seq, dup
	}
	a := WebhookEvent{Source: "ghl", WebhookID: "wh-1", Type: "ContactCreate", Provider: "ghl", Kind: "contacts", RecordID: "c1"}
	seqA, dup := put(a)
	if dup {
		t.Fatal("first delivery reported as a replay")
	}
	if _, dup := put(a); !dup {
		t.Error("second delivery of wh-1 not reported as a replay")
	}
	// Paperbell events have no id and are never replays of each other.
	zap := WebhookEvent{Source: "paperbell", Type: "new_client", Provider: "paperbell", Kind: "contacts",
		Fields: []byte(`{"email":"a@example.com"}`)}
	seqZ1, _ := put(zap)
	seqZ2, dup := put(zap)
	if dup {
		t.Error("an event without a webhook id was reported as a replay")
	}
	put(WebhookEvent{Source: "ghl", WebhookID: "wh-x", Type: "OpportunityCreate", Status: EventIgnored})

	// A delivery we answered 429 for comes back with the same id.
	seqB, _ := put(WebhookEvent{Source: "ghl", WebhookID: "wh-2", Type: "ContactUpdate", Provider: "ghl", Kind: "contacts", RecordID: "c2"})
	if err := s.ForgetWebhookEvent(ctx, seqB); err != nil {
		t.Fatal(err)
	}
	if _, dup := put(WebhookEvent{Source: "ghl", WebhookID: "wh-2", Type: "ContactUpdate", Provider: "ghl", Kind: "contacts", RecordID: "c2"}); dup {
		t.Error("a forgotten delivery came back as a replay")
	}

	if err := s.SettleWebhookEvents(ctx, []int64{seqA, seqZ1}, EventDone, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SettleWebhookEvents(ctx, []int64{seqZ2}, EventFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	pending, err := s.PendingWebhookEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []WebhookEvent{{Seq: seqB + 1, Source: "ghl", WebhookID: "wh-2", Type: "ContactUpdate", Provider: "ghl",
		Kind: "contacts", RecordID: "c2", ReceivedAt: t0, Status: EventPending}}
	if diff := cmp.Diff(want, pending); diff != "" {
		t.Errorf("pending (-want +got):\n%s", diff)
	}

	// Pruning forgets old ids and settled events, never pending ones.
	clk.Advance(time.Hour)
	if err := s.PruneWebhooks(ctx, clk.Now().Add(-6*time.Minute), clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, dup := put(a); dup {
		t.Error("wh-1 still remembered after pruning")
	}
	pending, err = s.PendingWebhookEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 {
		t.Errorf("%d pending after prune, want wh-2 and the new wh-1", len(pending))
	}
}
