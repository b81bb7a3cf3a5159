package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers"
)

// fakeClock is advanced by the fake listing, so the test says exactly
// when each record arrives.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pacedLister yields n records per call, step apart on the clock (or, with
// a nil clock, after a real pause).
type pacedLister struct {
	providers.Resource
	n     int
	step  time.Duration
	clock *fakeClock
}

func (l pacedLister) List(ctx context.Context, _ providers.ListOptions, fn func(providers.Record) error) error {
	for i := 0; i < l.n; i++ {
		if l.clock != nil {
			l.clock.Add(l.step)
		} else {
			time.Sleep(l.step)
		}
		if err := fn(providers.Record{ID: "r"}); err != nil {
			return err
		}
	}
	return nil
}

type progressLine struct {
	Msg      string `json:"msg"`
	Level    string `json:"level"`
	Sync     string `json:"sync"`
	Kind     string `json:"kind"`
	Records  int    `json:"records"`
	Listings int    `json:"listings"`
	Elapsed  int64  `json:"elapsed"`
	Duration int64  `json:"duration"`
}

func progressLines(t *testing.T, out string) []progressLine {
	t.Helper()
	var got []progressLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var pl progressLine
		if err := json.Unmarshal([]byte(l), &pl); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got = append(got, pl)
	}
	return got
}

// TestListProgress: a listing that takes a while says how far it has got
// every interval, and its total at the end; a quick one says nothing.
func TestListProgress(t *testing.T) {
	sec := int64(time.Second)
	tests := []struct {
		name    string
		n       int
		step    time.Duration
		parents int // 0: one whole listing; else one listing per parent
		wholes  int // whole listings back to back (0 means 1)
		want    []progressLine
	}{
		{name: "whole listings back to back are reads of their own", n: 6, step: time.Second, wholes: 2, want: []progressLine{
			{Msg: "listing", Level: "INFO", Sync: "contacts", Kind: "ghl.contacts", Records: 5, Elapsed: 5 * sec},
			{Msg: "listed", Level: "INFO", Sync: "contacts", Kind: "ghl.contacts", Records: 6, Duration: 6 * sec},
			{Msg: "listing", Level: "INFO", Sync: "contacts", Kind: "ghl.contacts", Records: 5, Elapsed: 5 * sec},
			{Msg: "listed", Level: "INFO", Sync: "contacts", Kind: "ghl.contacts", Records: 6, Duration: 6 * sec},
		}},
		{name: "quick listing is quiet", n: 40, step: 100 * time.Millisecond},
		{name: "long listing", n: 12, step: time.Second, want: []progressLine{
			{Msg: "listing", Level: "INFO", Sync: "contacts", Kind: "ghl.contacts", Records: 5, Elapsed: 5 * sec},
			{Msg: "listing", Level: "INFO", Sync: "contacts", Kind: "ghl.contacts", Records: 10, Elapsed: 10 * sec},
			{Msg: "listed", Level: "INFO", Sync: "contacts", Kind: "ghl.contacts", Records: 12, Duration: 12 * sec},
		}},
		{name: "per-parent listings count as one read", n: 2, step: time.Second, parents: 4, want: []progressLine{
			{Msg: "listing", Level: "INFO", Sync: "contacts", Kind: "ghl.contacts", Records: 5, Listings: 3, Elapsed: 5 * sec},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clock := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
			r := listLogged{Resource: pacedLister{n: tt.n, step: tt.step, clock: clock},
				p: &listProgress{log: slog.New(slog.NewJSONHandler(&buf, nil)), sync: "contacts", kind: "ghl.contacts",
					every: 5 * time.Second, now: clock.Now}}
			ctx := context.Background()
			count := 0
			fn := func(providers.Record) error { count++; return nil }
			if tt.parents == 0 {
				for range max(tt.wholes, 1) {
					if err := r.List(ctx, providers.ListOptions{}, fn); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				for i := 0; i < tt.parents; i++ {
					if err := r.List(ctx, providers.ListOptions{ParentID: "p"}, fn); err != nil {
						t.Fatal(err)
					}
				}
			}
			if want := tt.n * max(tt.parents, 1) * max(tt.wholes, 1); count != want {
				t.Errorf("listing passed on %d records, want %d", count, want)
			}
			if diff := cmp.Diff(tt.want, progressLines(t, buf.String())); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListProgressDuringStall: a listing stuck between pages (a rate
// limit) still reports, though no record arrives to prompt it.
func TestListProgressDuringStall(t *testing.T) {
	var buf safeBuffer
	r := listLogged{Resource: pacedLister{n: 1, step: 300 * time.Millisecond},
		p: &listProgress{log: slog.New(slog.NewJSONHandler(&buf, nil)), sync: "contacts", kind: "ghl.contacts",
			every: 40 * time.Millisecond, now: time.Now}}
	if err := r.List(context.Background(), providers.ListOptions{}, func(providers.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	lines := progressLines(t, buf.String())
	stalled := 0
	for _, l := range lines {
		if l.Msg == "listing" && l.Records == 0 {
			stalled++
		}
	}
	if stalled == 0 {
		t.Errorf("no progress line while the listing stalled:\n%s", buf.String())
	}
	if last := lines[len(lines)-1]; last.Msg != "listed" || last.Records != 1 {
		t.Errorf("last line = %+v, want the listed total of 1", last)
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
