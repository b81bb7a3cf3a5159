package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/bellsync/bellsync/engine/state"
	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

// TestEmulateWebhookSnippetParses: the webhooks block `emulate` prints is
// meant to be pasted into sync.hcl, so it must be valid HCL whose file()
// calls name the keys it wrote, wherever the config lives.
func TestEmulateWebhookSnippetParses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keyDir func(t *testing.T) string
	}{
		{"absolute dir", func(t *testing.T) string { return t.TempDir() }},
		{"relative dir", func(t *testing.T) string {
			t.Chdir(t.TempDir())
			return filepath.Join(".bellsync", "keys")
		}},
		{"dir needing escapes", func(t *testing.T) string { return filepath.Join(t.TempDir(), `we"ird ${x}`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.keyDir(t)
			var opts ghlemu.Options
			lines, err := (&emuWebhookFlags{url: "http://127.0.0.1:8080/webhooks/ghl", keyDir: dir}).apply(&opts)
			if err != nil {
				t.Fatal(err)
			}
			out := strings.Join(lines, "\n")
			start := strings.Index(out, "webhooks {")
			end := strings.LastIndex(out, "}")
			if start < 0 || end < start {
				t.Fatalf("no webhooks block in the printout:\n%s", out)
			}
			snippet := out[start : end+1]
			f, diags := hclsyntax.ParseConfig([]byte(snippet), "emulate output", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatalf("the printed block is not valid HCL: %s\n%s", diags.Error(), snippet)
			}
			body := f.Body.(*hclsyntax.Body)
			if len(body.Blocks) != 1 || body.Blocks[0].Type != "webhooks" {
				t.Fatalf("want one webhooks block, got %d blocks:\n%s", len(body.Blocks), snippet)
			}
			got := map[string]string{}
			for name, attr := range body.Blocks[0].Body.Attributes {
				call, ok := attr.Expr.(*hclsyntax.FunctionCallExpr)
				if !ok || call.Name != "file" || len(call.Args) != 1 {
					t.Fatalf("%s is not file(PATH): %s", name, snippet)
				}
				v, diags := call.Args[0].Value(nil)
				if diags.HasErrors() {
					t.Fatalf("%s: %s", name, diags.Error())
				}
				got[name] = v.AsString()
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"ghl_public_key":     filepath.Join(abs, webhookEd25519File),
				"ghl_rsa_public_key": filepath.Join(abs, webhookRSAFile),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("file() paths (-want +got):\n%s", diff)
			}
			for _, p := range got {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("the printed path does not exist: %v", err)
				}
			}
		})
	}
}

// TestEmulatorExamplesNeedGHLBaseURL: the emulator examples must not fall
// back to the real GHL API when the emulator's GHL_BASE_URL was not
// exported; validate fails naming the variable. sync.hcl.example, written
// for real accounts, keeps GHL's address as its default.
func TestEmulatorExamplesNeedGHLBaseURL(t *testing.T) {
	for _, tc := range []struct {
		config   string
		wantCode int
		wantErr  string
	}{
		{"../../examples/demo/sync.hcl", exitError, "GHL_BASE_URL is not set"},
		{"../../examples/full/sync.hcl", exitError, "GHL_BASE_URL is not set"},
		{"../../sync.hcl.example", exitOK, ""},
	} {
		t.Run(filepath.Base(filepath.Dir(tc.config))+"/"+filepath.Base(tc.config), func(t *testing.T) {
			h := newExampleHarness(t, tc.config)
			delete(h.env, "GHL_BASE_URL")
			t.Setenv("GHL_BASE_URL", "")
			os.Unsetenv("GHL_BASE_URL")
			code, out, errs := h.bellsync("validate", "-config", tc.config)
			if code != tc.wantCode || !strings.Contains(errs, tc.wantErr) {
				t.Errorf("validate: exit %d, want %d with %q in stderr\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, tc.wantErr, out, errs)
			}
		})
	}
}

// stateLinks reads a sync's links straight from the harness's state file.
func stateLinks(t *testing.T, h *harness, sync string) []state.Link {
	t.Helper()
	st, err := state.OpenSQLite(context.Background(), h.env["BELLSYNC_STATE"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	links, err := st.Links(context.Background(), sync)
	if err != nil {
		t.Fatal(err)
	}
	return links
}

// TestStateForget: forgetting a link that does not exist, or of a sync
// that does not exist, is an error that forgets nothing, instead of a
// claim that links were forgotten.
func TestStateForget(t *testing.T) {
	h := newSeededHarness(t, demoConfig, smallSeed(t, 30, 0))
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	links := stateLinks(t, h, "contacts")
	if len(links) < 2 {
		t.Fatalf("the apply made %d links, want at least 2", len(links))
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
		gone     int    // links forgotten
	}{
		{name: "unknown id", args: []string{"-sync", "contacts", "nonexistentid"}, wantCode: exitError,
			wantErr: "sync.contacts has no link for source id nonexistentid"},
		{name: "a known and an unknown id", args: []string{"-sync", "contacts", links[0].SourceID, "nonexistentid"}, wantCode: exitError,
			wantErr: "nothing was forgotten"},
		{name: "a target id", args: []string{"-sync", "contacts", links[0].TargetID}, wantCode: exitError,
			wantErr: "it is the target id of the link from source " + links[0].SourceID},
		{name: "misspelled sync", args: []string{"-sync", "contcts", "-orphans"}, wantCode: exitError,
			wantErr: `has no sync "contcts". Did you mean "contacts"? Its syncs: contacts.`},
		{name: "unknown sync", args: []string{"-sync", "invoices", "x"}, wantCode: exitError,
			wantErr: `has no sync "invoices". Its syncs: contacts.`},
		{name: "no orphans", args: []string{"-sync", "contacts", "-orphans"}, wantCode: exitOK,
			wantOut: "No orphaned links in sync.contacts"},
		{name: "one link", args: []string{"-sync", "contacts", links[1].SourceID}, wantCode: exitOK,
			wantOut: "1 link forgotten;", gone: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(stateLinks(t, h, "contacts"))
			args := append([]string{"state", "forget", "-config", h.config}, tc.args...)
			code, out, errs := h.bellsync(args...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) || !strings.Contains(errs, tc.wantErr) {
				t.Errorf("exit %d, want %d with %q in stdout and %q in stderr\nstdout:\n%s\nstderr:\n%s",
					code, tc.wantCode, tc.wantOut, tc.wantErr, out, errs)
			}
			if got := before - len(stateLinks(t, h, "contacts")); got != tc.gone {
				t.Errorf("%d links forgotten, want %d", got, tc.gone)
			}
		})
	}
}

// TestIncompletePlanSaysSo: after a failed listing, the last line of a
// plan must say it is incomplete, not end on a summary that reads as a
// clean plan ("0 errors"), and say it once.
func TestIncompletePlanSaysSo(t *testing.T) {
	h := newSeededHarness(t, demoConfig, smallSeed(t, 10, 0))
	h.pb.SetFaults(pbemu.Faults{GarbageRate: 1})
	for _, tc := range []struct {
		args     []string
		wantLast string // the last line of stdout, or of stderr for apply
	}{
		{[]string{"plan", "-config", h.config},
			`Plan (incomplete, cannot be applied): 0 to create, 0 to update, 0 to link, 0 unchanged, 0 errors.`},
		{[]string{"apply", "-config", h.config, "-auto-approve"},
			`Error: the plan is incomplete (sync "contacts" was not planned and is not in the counts above); nothing was applied`},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			code, out, errs := h.bellsync(tc.args...)
			last := out
			if tc.args[0] == "apply" {
				last = errs
			}
			lines := strings.Split(strings.TrimSpace(last), "\n")
			if diff := cmp.Diff(tc.wantLast, lines[len(lines)-1]); code != exitError || diff != "" {
				t.Errorf("exit %d, want %d; last line (-want +got):\n%s\nstdout:\n%s\nstderr:\n%s", code, exitError, diff, tail(out, 8), errs)
			}
			if n := strings.Count(out, "incomplete"); n != 1 {
				t.Errorf("stdout says incomplete %d times, want once:\n%s", n, tail(out, 8))
			}
			if !strings.Contains(out, `Warning: sync "contacts" was not planned`) {
				t.Errorf("stdout does not name the sync left out:\n%s", tail(out, 8))
			}
		})
	}
}

// TestRunListenErrorOnce: a daemon that cannot take its port says so
// once, not as a log line and again as an error.
func TestRunListenErrorOnce(t *testing.T) {
	h := newSeededHarness(t, demoConfig, smallSeed(t, 5, 0))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	code, out, errs := h.bellsync("run", "-config", h.config, "-listen", addr)
	if n := strings.Count(errs, "listen on "+addr); code != exitError || n != 1 {
		t.Errorf("exit %d, want %d, with the address named once in stderr, got %d times\nstdout:\n%s\nstderr:\n%s", code, exitError, n, out, errs)
	}
}

// TestApplyLockedFailsBeforePlanning: a second apply while one holds the
// state lock fails before planning, so the user does not read a whole
// plan only to be told it cannot be applied; -lock-wait waits for the
// lock and then plans and applies.
func TestApplyLockedFailsBeforePlanning(t *testing.T) {
	h := newSeededHarness(t, demoConfig, smallSeed(t, 10, 0))
	// The state file must exist before another holder can lock it.
	h.mustRun(0, "runs", "-config", h.config)
	st, err := state.OpenSQLite(context.Background(), h.env["BELLSYNC_STATE"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	unlock, err := st.Lock(context.Background(), "apply", false)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("no wait", func(t *testing.T) {
		code, out, errs := h.bellsync("apply", "-config", h.config, "-auto-approve")
		if code != exitError || out != "" || !strings.Contains(errs, "state is locked by another bellsync process") ||
			!strings.Contains(errs, "nothing was planned or applied") {
			t.Errorf("exit %d, want %d with no plan on stdout and the lock named on stderr\nstdout:\n%s\nstderr:\n%s", code, exitError, tail(out, 5), errs)
		}
	})
	t.Run("lock-wait", func(t *testing.T) {
		released := make(chan struct{})
		time.AfterFunc(300*time.Millisecond, func() {
			if err := unlock(); err != nil {
				t.Errorf("unlock: %v", err)
			}
			close(released)
		})
		code, out, errs := h.bellsync("apply", "-config", h.config, "-auto-approve", "-lock-wait")
		select {
		case <-released:
		default:
			t.Errorf("apply -lock-wait finished before the lock was released")
		}
		if code != exitOK || !strings.Contains(errs, "Waiting for the apply of pid") || !strings.Contains(out, "Apply complete") {
			t.Errorf("exit %d, want %d after waiting\nstdout:\n%s\nstderr:\n%s", code, exitOK, tail(out, 5), errs)
		}
	})
}

// TestHelpExitsZero: asking any command for help is not a failure.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"validate", "-h"}, {"fmt", "-h"}, {"plan", "-h"}, {"apply", "-h"}, {"run", "-h"},
		{"emulate", "-h"}, {"auth", "-h"}, {"auth", "ghl", "-h"}, {"auth", "status", "-h"}, {"check", "-h"},
		{"runs", "-h"}, {"state", "-h"}, {"state", "dump", "-h"}, {"state", "audit", "-h"}, {"state", "forget", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb strings.Builder
			code := run(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb,
				env: func(string) string { return "" }})
			if code != exitOK || out.Len()+errb.Len() == 0 {
				t.Errorf("exit %d, want %d with some help\nstdout:\n%s\nstderr:\n%s", code, exitOK, out.String(), errb.String())
			}
		})
	}
}

// TestTopLevelHelpNamesStateSubcommands: the summary of `state` names
// every subcommand, not only dump.
func TestTopLevelHelpNamesStateSubcommands(t *testing.T) {
	var out strings.Builder
	usage(&out)
	for _, sub := range []string{"state dump", "state audit", "state forget"} {
		if !strings.Contains(out.String(), sub) {
			t.Errorf("the help does not mention %q:\n%s", sub, out.String())
		}
	}
}

// TestRuns: -n below 1 is refused rather than read as "everything", and
// a run whose process died without finishing shows as interrupted, not
// as running until the next apply.
func TestRuns(t *testing.T) {
	h := newSeededHarness(t, demoConfig, smallSeed(t, 5, 0))
	h.mustRun(0, "runs", "-config", h.config) // creates the state file

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	st, err := state.OpenSQLite(context.Background(), h.env["BELLSYNC_STATE"])
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, id := range []string{
		fmt.Sprintf("20250102T030405.000-%d", dead.Process.Pid),
		fmt.Sprintf("20250102T030406.000-%d-incremental", os.Getpid()),
		"imported-run",
	} {
		r := state.Run{ID: id, Kind: "apply", StartedAt: start.Add(time.Duration(i) * time.Second), Status: "running"}
		if err := st.StartRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out, _ := h.mustRun(0, "runs", "-config", h.config)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	want := []string{
		"2025-01-02T03:04:07Z apply running running null",
		"2025-01-02T03:04:06Z apply running running null",
		"2025-01-02T03:04:05Z apply interrupted - null",
		fmt.Sprintf("error: process %d is no longer running on this host; the next apply settles its writes", dead.Process.Pid),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}

	for _, n := range []string{"0", "-3"} {
		code, out, errs := h.bellsync("runs", "-config", h.config, "-n", n)
		if code != exitError || out != "" || !strings.Contains(errs, "-n must be at least 1, got "+n) {
			t.Errorf("runs -n %s: exit %d, want %d with a clear error\nstdout:\n%s\nstderr:\n%s", n, code, exitError, out, errs)
		}
	}
}

// TestPlural: counts read as English ("1 sync", not "1 syncs").
func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 links"}, {1, "1 link"}, {2, "2 links"}} {
		if got := plural(tc.n, "link", "links"); got != tc.want {
			t.Errorf("plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	h := newExampleHarness(t, demoConfig)
	out, _ := h.mustRun(0, "validate", "-config", demoConfig)
	if want := demoConfig + " is valid: 2 providers, 1 sync.\n"; out != want {
		t.Errorf("validate printed %q, want %q", out, want)
	}
}

// TestApplyParallelismRefused: -parallelism below 1 is refused before
// anything is read; 0 used to mean the default and -5 was taken silently.
func TestApplyParallelismRefused(t *testing.T) {
	h := newSeededHarness(t, demoConfig, smallSeed(t, 5, 0))
	for _, n := range []string{"0", "-5"} {
		code, out, errs := h.bellsync("apply", "-config", h.config, "-auto-approve", "-parallelism", n)
		if code != exitError || out != "" || !strings.Contains(errs, "-parallelism must be at least 1, got "+n) {
			t.Errorf("apply -parallelism %s: exit %d, want %d with a clear error and no plan\nstdout:\n%s\nstderr:\n%s", n, code, exitError, tail(out, 5), errs)
		}
	}
	if got := h.pb.Stats().Requests; len(got) != 0 {
		t.Errorf("a refused apply called Paperbell: %v", got)
	}
}
