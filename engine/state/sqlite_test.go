package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers"
)

// t0 is an arbitrary fixed instant; every test clock starts here.
var t0 = time.Date(2025, 3, 4, 14, 2, 11, 0, time.UTC)

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openAt opens a store at path and closes it when the test ends.
func openAt(t *testing.T, path string, opts ...Option) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTemp opens a fresh store in a temp dir with a fake clock at t0.
func openTemp(t *testing.T, opts ...Option) *SQLite {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	return openAt(t, path, append([]Option{WithClock(newClock(t0).Now)}, opts...)...)
}

func TestLinks(t *testing.T) {
	ctx := context.Background()
	link := func(source, target string) Link {
		return Link{Sync: "contacts", SourceID: source, TargetID: target,
			SourceBase: []byte(`{"email":"a@example.com"}`), TargetBase: []byte(`{"email":"a@example.com"}`),
			Status: LinkActive, CreatedAt: t0, UpdatedAt: t0}
	}
	later := t0.Add(time.Hour)

	tests := []struct {
		name    string
		put     []Link
		delete  []string // source ids of sync "contacts"
		want    []Link
		wantErr error
	}{
		{
			name: "put and list in source order",
			put:  []Link{link("s2", "t2"), link("s1", "t1")},
			want: []Link{link("s1", "t1"), link("s2", "t2")},
		},
		{
			name: "replace keeps created time",
			put: []Link{link("s1", "t1"), func() Link {
				l := link("s1", "t9")
				l.Status, l.CreatedAt, l.UpdatedAt = LinkSuspended, later, later
				return l
			}()},
			want: []Link{func() Link {
				l := link("s1", "t9")
				l.Status, l.UpdatedAt = LinkSuspended, later
				return l
			}()},
		},
		{
			name: "defaults fill status and times",
			put:  []Link{{Sync: "contacts", SourceID: "s1", TargetID: "t1"}},
			want: []Link{{Sync: "contacts", SourceID: "s1", TargetID: "t1", Status: LinkActive,
				CreatedAt: t0, UpdatedAt: t0}},
		},
		{
			name:   "delete forgets, twice is fine",
			put:    []Link{link("s1", "t1"), link("s2", "t2")},
			delete: []string{"s1", "s1", "never"},
			want:   []Link{link("s2", "t2")},
		},
		{
			name:    "second source for one target is refused",
			put:     []Link{link("s1", "t1"), link("s2", "t1")},
			want:    []Link{link("s1", "t1")},
			wantErr: ErrTargetLinked,
		},
		{
			name: "the target can move once the old link is gone",
			put:  []Link{link("s1", "t1"), link("s1", "t2"), link("s2", "t1")},
			want: []Link{link("s1", "t2"), link("s2", "t1")},
		},
		{
			name: "empty target ids do not collide",
			put:  []Link{link("s1", ""), link("s2", "")},
			want: []Link{link("s1", ""), link("s2", "")},
		},
		{
			name: "other syncs are separate",
			put: []Link{link("s1", "t1"), func() Link {
				l := link("s2", "t1")
				l.Sync = "tasks"
				return l
			}()},
			want: []Link{link("s1", "t1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			var err error
			for _, l := range tt.put {
				if err = s.PutLink(ctx, l); err != nil {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PutLink error = %v, want %v", err, tt.wantErr)
			}
			for _, id := range tt.delete {
				if err := s.DeleteLink(ctx, "contacts", id); err != nil {
					t.Fatalf("DeleteLink(%s): %v", id, err)
				}
			}
			got, err := s.Links(ctx, "contacts")
			if err != nil {
				t.Fatalf("Links: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Links mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTargetLinkedError(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if err := s.PutLink(ctx, Link{Sync: "contacts", SourceID: "s1", TargetID: "t1"}); err != nil {
		t.Fatal(err)
	}
	err := s.PutLink(ctx, Link{Sync: "contacts", SourceID: "s2", TargetID: "t1"})
	var got *TargetLinkedError
	if !errors.As(err, &got) {
		t.Fatalf("PutLink error = %v, want a *TargetLinkedError", err)
	}
	want := &TargetLinkedError{Sync: "contacts", TargetID: "t1", SourceID: "s2", LinkedSourceID: "s1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error mismatch (-want +got):\n%s", diff)
	}
	const wantMsg = `state: put link: sync "contacts": target "t1" is already linked to source "s1", ` +
		`cannot also link source "s2"`
	if err.Error() != wantMsg {
		t.Errorf("message = %q, want %q", err.Error(), wantMsg)
	}
}

func TestLinkLookups(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	l := Link{Sync: "contacts", SourceID: "s1", TargetID: "t1", Status: LinkActive, CreatedAt: t0, UpdatedAt: t0}
	if err := s.PutLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		lookup  func() (Link, error)
		want    Link
		wantErr error
	}{
		{"by source", func() (Link, error) { return s.Link(ctx, "contacts", "s1") }, l, nil},
		{"by target", func() (Link, error) { return s.LinkByTarget(ctx, "contacts", "t1") }, l, nil},
		{"missing source", func() (Link, error) { return s.Link(ctx, "contacts", "t1") }, Link{}, ErrNotFound},
		{"missing target", func() (Link, error) { return s.LinkByTarget(ctx, "tasks", "t1") }, Link{}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.lookup()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("link mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPutLinks(t *testing.T) {
	ctx := context.Background()
	mk := func(source, target string) Link {
		return Link{Sync: "contacts", SourceID: source, TargetID: target, Status: LinkActive,
			CreatedAt: t0, UpdatedAt: t0}
	}
	tests := []struct {
		name    string
		batch   []Link
		want    []Link
		wantErr error
	}{
		{
			name:  "all written",
			batch: []Link{mk("s1", "t1"), mk("s2", "t2"), mk("s3", "t3")},
			want:  []Link{mk("s0", "t0"), mk("s1", "t1"), mk("s2", "t2"), mk("s3", "t3")},
		},
		{
			name:    "a conflict rolls back the whole batch",
			batch:   []Link{mk("s1", "t1"), mk("s2", "t0")},
			want:    []Link{mk("s0", "t0")},
			wantErr: ErrTargetLinked,
		},
		{
			name:    "an invalid link rolls back the whole batch",
			batch:   []Link{mk("s1", "t1"), {Sync: "contacts", SourceID: "s2", Status: "gone"}},
			want:    []Link{mk("s0", "t0")},
			wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if err := s.PutLink(ctx, mk("s0", "t0")); err != nil {
				t.Fatal(err)
			}
			err := s.PutLinks(ctx, tt.batch)
			if !matches(err, tt.wantErr) {
				t.Fatalf("PutLinks error = %v, want %v", err, tt.wantErr)
			}
			got, err := s.Links(ctx, "contacts")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Links mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// errAny, as a wanted error, accepts any non-nil error.
var errAny = errors.New("any error")

func matches(err, want error) bool {
	if want == errAny {
		return err != nil
	}
	return errors.Is(err, want)
}

func TestJournal(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	begin := func(sync, key string) int64 {
		t.Helper()
		id, err := s.BeginOp(ctx, Op{RunID: "r1", Sync: sync, Action: "create", Side: "target",
			Key: key, Intent: []byte(`{"name":"` + key + `"}`), Status: OpDone})
		if err != nil {
			t.Fatalf("BeginOp: %v", err)
		}
		return id
	}
	a := begin("contacts", "a")
	b := begin("contacts", "b")
	c := begin("contacts", "c")
	other := begin("tasks", "x")

	finishes := []struct {
		name     string
		id       int64
		status   string
		recordID string
		errText  string
		wantErr  error
	}{
		{name: "done", id: b, status: OpDone, recordID: "t-b"},
		{name: "failed", id: other, status: OpFailed, errText: "boom"},
		{name: "twice", id: b, status: OpDone, wantErr: errAny},
		{name: "unknown id", id: 999, status: OpDone, wantErr: ErrNotFound},
		{name: "bad status", id: a, status: OpPending, wantErr: errAny},
	}
	for _, f := range finishes {
		t.Run(f.name, func(t *testing.T) {
			err := s.FinishOp(ctx, f.id, f.status, f.recordID, f.errText)
			if !matches(err, f.wantErr) {
				t.Errorf("FinishOp error = %v, want %v", err, f.wantErr)
			}
		})
	}

	pendingOp := func(id int64, key string) Op {
		return Op{ID: id, RunID: "r1", Sync: "contacts", Action: "create", Side: "target", Key: key,
			Intent: []byte(`{"name":"` + key + `"}`), Status: OpPending, StartedAt: t0}
	}
	tests := []struct {
		sync string
		want []Op
	}{
		{"contacts", []Op{pendingOp(a, "a"), pendingOp(c, "c")}},
		{"tasks", nil},
		{"nothing", nil},
	}
	for _, tt := range tests {
		t.Run("pending "+tt.sync, func(t *testing.T) {
			got, err := s.PendingOps(ctx, tt.sync)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PendingOps mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarkFiredOnceUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	// Two handles stand in for two processes.
	stores := []*SQLite{openAt(t, path), openAt(t, path)}

	const callers = 40
	var wg sync.WaitGroup
	won := make(chan string, callers)
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			id := fmt.Sprintf("task-%d", i)
			ok, err := stores[i%2].MarkFired(ctx, "welcome", "contact-1", id)
			if err != nil {
				errs <- err
			}
			if ok {
				won <- id
			}
		})
	}
	wg.Wait()
	close(won)
	close(errs)
	for err := range errs {
		t.Errorf("MarkFired: %v", err)
	}
	var winners []string
	for id := range won {
		winners = append(winners, id)
	}
	if len(winners) != 1 {
		t.Fatalf("%d callers won, want exactly 1: %v", len(winners), winners)
	}

	tests := []struct {
		rule, key string
		want      bool
	}{
		{"welcome", "contact-1", true},
		{"welcome", "contact-2", false},
		{"other", "contact-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.key, func(t *testing.T) {
			got, err := stores[0].Fired(ctx, tt.rule, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Fired = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCursors(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	tests := []struct {
		name string
		set  map[string]string
		get  string
		want string
	}{
		{name: "missing is empty", get: "contacts/source", want: ""},
		{name: "set then get", set: map[string]string{"contacts/source": "c1"}, get: "contacts/source", want: "c1"},
		{name: "overwrite", set: map[string]string{"contacts/source": "c2"}, get: "contacts/source", want: "c2"},
		{name: "independent names", set: map[string]string{"contacts/target": "x"}, get: "contacts/source", want: "c2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.set {
				if err := s.SetCursor(ctx, k, v); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Cursor(ctx, tt.get)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Cursor(%s) = %q, want %q", tt.get, got, tt.want)
			}
		})
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	for i, r := range []Run{
		{ID: "r1", Kind: "apply", StartedAt: at(0)},
		{ID: "r3", Kind: "webhook", StartedAt: at(20)},
		{ID: "r2", Kind: "incremental", StartedAt: at(10)},
	} {
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatalf("StartRun %d: %v", i, err)
		}
	}
	if err := s.StartRun(ctx, Run{ID: "r1"}); err == nil {
		t.Errorf("StartRun of an existing id succeeded, want an error")
	}
	finished := Run{ID: "r1", EndedAt: at(5), Counts: map[string]int{"create": 3, "error": 1},
		Errors: []string{"contact c9: validation failed"}}
	if err := s.FinishRun(ctx, finished); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, Run{ID: "r2", Counts: map[string]int{}}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, Run{ID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("FinishRun of an unknown run: error = %v, want ErrNotFound", err)
	}

	r1 := Run{ID: "r1", Kind: "apply", StartedAt: at(0), EndedAt: at(5), Status: RunFailed,
		Counts: finished.Counts, Errors: finished.Errors}
	r2 := Run{ID: "r2", Kind: "incremental", StartedAt: at(10), EndedAt: t0, Status: RunOK,
		Counts: map[string]int{}}
	r3 := Run{ID: "r3", Kind: "webhook", StartedAt: at(20), Status: RunRunning}
	tests := []struct {
		limit int
		want  []Run
	}{
		{limit: 2, want: []Run{r3, r2}},
		{limit: 0, want: []Run{r3, r2, r1}},
		{limit: 10, want: []Run{r3, r2, r1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit %d", tt.limit), func(t *testing.T) {
			got, err := s.Runs(ctx, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Runs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokensSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string][]byte{
		"ghl/oauth":      []byte(`{"refresh_token":"r-1"}`),
		"paperbell/key":  []byte("k-1"),
		"empty/rotating": {},
	}
	for k, v := range tokens {
		if err := s.SaveToken(ctx, k, []byte("stale")); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveToken(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	for k, want := range tokens {
		t.Run(k, func(t *testing.T) {
			got, err := s.LoadToken(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("LoadToken mismatch (-want +got):\n%s", diff)
			}
		})
	}
	_, err = s.LoadToken(ctx, "missing")
	for _, want := range []error{ErrNotFound, providers.ErrNotFound} {
		if !errors.Is(err, want) {
			t.Errorf("LoadToken(missing) error = %v, want it to match %v", err, want)
		}
	}
}

func TestFilePermissions(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "dir")
	path := filepath.Join(dir, "state.db")
	s := openAt(t, path)
	// A write makes sure the WAL file exists too.
	if err := s.SaveToken(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want os.FileMode
	}{
		{filepath.Dir(dir), 0o700 | os.ModeDir},
		{dir, 0o700 | os.ModeDir},
		{path, 0o600},
		{path + "-wal", 0o600},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode(); got != tt.want {
				t.Errorf("mode = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOpenErrorsNamePath(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"parent is a file", filepath.Join(file, "state.db")},
		{"question mark", filepath.Join(t.TempDir(), "a?b.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenSQLite(ctx, tt.path)
			if err == nil {
				s.Close()
				t.Fatal("OpenSQLite succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the path %s", err, tt.path)
			}
		})
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	version := func(s *SQLite) int {
		t.Helper()
		v, err := schemaVersion(ctx, s.db)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "c", "kept"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopening runs nothing again: a second CREATE TABLE would fail.
	s = openAt(t, path)
	if got, want := version(s), len(migrations); got != want {
		t.Errorf("version after reopen = %d, want %d", got, want)
	}

	// A later release appends a migration; existing data survives it.
	later := append(append([]string(nil), migrations...), `CREATE TABLE extra (x TEXT)`)
	if err := migrate(ctx, s.db, later, t0); err != nil {
		t.Fatalf("migrate with an added step: %v", err)
	}
	if err := migrate(ctx, s.db, later, t0); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if got, want := version(s), len(later); got != want {
		t.Errorf("version after the added step = %d, want %d", got, want)
	}
	if got, _ := s.Cursor(ctx, "c"); got != "kept" {
		t.Errorf("cursor after migration = %q, want %q", got, "kept")
	}

	// This build is now older than the file and must refuse it.
	if err := migrate(ctx, s.db, migrations, t0); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("migrate to an older list: error = %v, want one saying the file is newer", err)
	}
}

func TestDumpHidesTokens(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	const secret = "refresh-SECRET-value"
	if err := s.SaveToken(ctx, "ghl/oauth", []byte(`{"refresh_token":"`+secret+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLink(ctx, Link{Sync: "contacts", SourceID: "s1", TargetID: "t1",
		SourceBase: []byte(`{"email":"a@example.com"}`), TargetBase: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginOp(ctx, Op{RunID: "r1", Sync: "contacts", Action: "create", Key: "s1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "contacts/source", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartRun(ctx, Run{ID: "r1", Kind: "apply"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkFired(ctx, "welcome", "s1", "task-1"); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(ctx, "apply", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	var out strings.Builder
	if err := s.Dump(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), secret) || strings.Contains(out.String(), "refresh_token") {
		t.Fatalf("dump contains the token value:\n%s", out.String())
	}

	var got struct {
		SchemaVersion int               `json:"schema_version"`
		Tokens        map[string]string `json:"tokens"`
		Cursors       map[string]string `json:"cursors"`
		Links         []map[string]any  `json:"links"`
		Ops           []map[string]any  `json:"ops"`
		Runs          []map[string]any  `json:"runs"`
		Fired         []map[string]any  `json:"fired"`
		Locks         []map[string]any  `json:"locks"`
	}
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("dump is not JSON: %v\n%s", err, out.String())
	}
	summary := map[string]any{
		"schema_version": got.SchemaVersion,
		"tokens":         got.Tokens,
		"cursors":        got.Cursors,
		"source_base":    got.Links[0]["source_base"],
		"target_base":    got.Links[0]["target_base"],
		"ops":            len(got.Ops),
		"runs":           len(got.Runs),
		"fired":          len(got.Fired),
		"lock pid":       got.Locks[0]["pid"],
	}
	want := map[string]any{
		"schema_version": len(migrations),
		"tokens":         map[string]string{"ghl/oauth": "(sensitive)"},
		"cursors":        map[string]string{"contacts/source": "c1"},
		"source_base":    map[string]any{"email": "a@example.com"},
		"target_base":    "not json",
		"ops":            1,
		"runs":           1,
		"fired":          1,
		"lock pid":       float64(os.Getpid()),
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("dump mismatch (-want +got):\n%s", diff)
	}
}

func BenchmarkPutLinks(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 1000
	base := []byte(`{"email":"someone@example.com","firstName":"Some","lastName":"One","phone":"+15555550100"}`)
	links := make([]Link, batch)
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		for i := range links {
			id := fmt.Sprintf("%d-%d", n, i)
			links[i] = Link{Sync: "contacts", SourceID: "s" + id, TargetID: "t" + id,
				SourceBase: base, TargetBase: base}
		}
		if err := s.PutLinks(ctx, links); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "links/s")
}
