// Command bellsync keeps a GoHighLevel location and a Paperbell account in
// step, driven by a declarative sync.hcl: `plan` previews every change,
// `apply` makes it, `emulate` serves offline copies of both APIs.
//
// This package is only the command line: flags, wiring and exit codes. The
// reconciler lives in engine/ and the API clients in providers/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes shared by every command. plan -detailed-exitcode adds 2.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// stdio are the streams a command talks to; tests pass buffers.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	// env replaces os.Getenv in tests; nil means the process environment.
	env func(string) string
}

func (s stdio) getenv(k string) string {
	if s.env != nil {
		return s.env(k)
	}
	return os.Getenv(k)
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io stdio) int
}

func commands() []command {
	return []command{
		{"validate", "Check sync.hcl and the provider blocks without calling any API", cmdValidate},
		{"fmt", "Rewrite sync.hcl files in the canonical format", cmdFmt},
		{"plan", "Show what apply would change, and why", cmdPlan},
		{"apply", "Make the changes of a plan", cmdApply},
		{"run", "Reconcile continuously: on a cron schedule and on webhooks", cmdRun},
		{"emulate", "Serve offline GHL and Paperbell APIs seeded from a folder", cmdEmulate},
		{"auth", "Connect a GHL Marketplace app (auth ghl) or test every connection (auth status)", cmdAuth},
		{"check", "Test every provider's credentials, scopes and a sample record (= auth status)", cmdCheck},
		{"runs", "List recent applies with their counts and errors", cmdRuns},
		{"state", "Inspect or repair the state database (state dump, state audit, state forget)", cmdState},
		{"version", "Print the version", cmdVersion},
	}
}

// version is set by the linker for releases.
var version = "dev"

func run(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(io.out)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], io)
		}
	}
	fmt.Fprintf(io.err, "bellsync: unknown command %q\n\n", args[0])
	usage(io.err)
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: bellsync <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `bellsync <command> -h` for a command's flags.")
}

func cmdVersion(_ context.Context, _ []string, io stdio) int {
	fmt.Fprintln(io.out, "bellsync", version)
	return exitOK
}

// errorf prints a one-line error and returns exitError.
func errorf(io stdio, format string, args ...any) int {
	fmt.Fprintf(io.err, "Error: "+format+"\n", args...)
	return exitError
}

// parseExit is the exit code for a flag parsing error: -h asked for help,
// which is not a failure.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitError
}
