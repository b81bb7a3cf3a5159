package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/bellsync/bellsync/engine"
	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl"
	"github.com/bellsync/bellsync/providers/ghl/oauth"
)

// authTimeout bounds the wait for the browser, so an abandoned consent
// page does not leave the command hanging.
const authTimeout = 5 * time.Minute

// checkTimeout bounds each provider's connection check.
const checkTimeout = 30 * time.Second

// authHooks are the parts of `auth ghl` that touch the desktop and the
// network listener. Tests replace them so that no real browser opens and
// the callback port is theirs; nothing else changes them.
var authHooks = struct {
	// openBrowser returns the function that opens the consent URL, or nil
	// when no browser should be tried.
	openBrowser func(io stdio) func(url string) error
	listen      func(network, addr string) (net.Listener, error)
}{openBrowser: systemBrowser, listen: net.Listen}

func cmdAuth(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 {
		return errorf(io, "usage: bellsync auth ghl [-config FILE] [-no-browser] | bellsync auth status [-config FILE]")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(io.out, "usage: bellsync auth ghl [-config FILE] [-no-browser] | bellsync auth status [-config FILE]")
		return exitOK
	case "ghl":
		return cmdAuthGHL(ctx, args[1:], io)
	case "status":
		return runCheck(ctx, "auth status", args[1:], io)
	}
	return errorf(io, "unknown auth subcommand %q; use `bellsync auth ghl` or `bellsync auth status`", args[0])
}

// cmdCheck is `bellsync check`, the same as `bellsync auth status`.
func cmdCheck(ctx context.Context, args []string, io stdio) int {
	return runCheck(ctx, "check", args, io)
}

// authGHLArgs are the flags of `bellsync auth ghl`.
type authGHLArgs struct {
	common
	noBrowser bool
	timeout   time.Duration
}

func parseAuthGHL(args []string, io stdio) (authGHLArgs, error) {
	var a authGHLArgs
	fs := newFlagSet("auth ghl", io)
	a.register(fs)
	fs.BoolVar(&a.noBrowser, "no-browser", false, "only print the consent URL; do not try to open a browser")
	fs.DurationVar(&a.timeout, "timeout", authTimeout, "how long to wait for the browser to come back")
	if err := fs.Parse(args); err != nil {
		return a, fmt.Errorf("%w: %w", errFlagParse, err)
	}
	if fs.NArg() > 0 {
		return a, fmt.Errorf("auth ghl takes no arguments, got %q", fs.Args())
	}
	if a.timeout <= 0 {
		return a, fmt.Errorf("-timeout must be positive, got %s", a.timeout)
	}
	return a, nil
}

func cmdAuthGHL(ctx context.Context, args []string, io stdio) int {
	a, err := parseAuthGHL(args, io)
	if err != nil {
		if errors.Is(err, errFlagParse) {
			return parseExit(err)
		}
		return errorf(io, "%v", err)
	}
	ws, ok := open(ctx, a.common, io, false)
	if !ok {
		return exitError
	}
	defer ws.Close()
	settings, err := ghlOAuth(ws)
	if err != nil {
		return errorf(io, "%v", err)
	}
	var opener func(string) error
	if !a.noBrowser {
		opener = authHooks.openBrowser(io)
	}
	actx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	tok, err := oauth.Authorize(actx, settings.Config, settings.Store, oauth.AuthorizeOptions{
		OpenBrowser: opener, Out: io.err, Listen: authHooks.listen})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errorf(io, "%v; run `bellsync auth ghl` again and approve within %s", err, a.timeout)
		}
		return errorf(io, "%v", err)
	}

	where := "the state database"
	if settings.TokenFile != "" {
		where = settings.TokenFile + " (mode 0600)"
	}
	subject := "location " + tok.LocationID
	if tok.UserType == oauth.UserCompany {
		subject = "company " + tok.CompanyID + ", minting tokens for location " + settings.Config.LocationID
	}
	fmt.Fprintf(io.out, "Connected GoHighLevel %s. Tokens are stored in %s.\n", subject, where)
	if len(tok.Scopes) > 0 {
		if missing := oauth.Missing(tok.Scopes, settings.Config.Scopes); len(missing) > 0 {
			fmt.Fprintf(io.err, "Warning: GHL did not grant %s; add them to the app's scopes and run `bellsync auth ghl` again.\n",
				strings.Join(missing, ", "))
		}
	}
	fmt.Fprintf(io.out, "Run `bellsync auth status -config %s` to test the connection.\n", a.config)
	return exitOK
}

// errFlagParse marks flag errors the flag package has already printed.
var errFlagParse = errors.New("bad flags")

// ghlOAuth finds the GHL provider's OAuth settings.
func ghlOAuth(ws *engine.Workspace) (ghl.OAuth, error) {
	p, ok := ws.Provider(ghl.Name)
	if !ok {
		return ghl.OAuth{}, errors.New(`the config has no provider "ghl" block`)
	}
	gp, ok := p.(*ghl.Provider)
	if !ok {
		return ghl.OAuth{}, fmt.Errorf("provider %q is not the built-in GHL provider", ghl.Name)
	}
	s, ok := gp.OAuth()
	if !ok {
		return ghl.OAuth{}, errors.New(`provider "ghl" uses a Private Integration Token (token = ...), which needs no authorization; ` +
			"add an oauth block instead of token to connect a Marketplace app")
	}
	return s, nil
}

// runCheck tests every provider's connection and prints one line per
// check. It exits 1 if any check failed.
func runCheck(ctx context.Context, name string, args []string, io stdio) int {
	var c common
	fs := newFlagSet(name, io)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		return errorf(io, "%s takes no arguments, got %q", name, fs.Args())
	}
	ws, ok := open(ctx, c, io, false)
	if !ok {
		return exitError
	}
	defer ws.Close()
	failed := 0
	for _, pb := range ws.Config.Providers {
		p, ok := ws.Provider(pb.Type)
		if !ok {
			continue
		}
		ch, ok := p.(providers.Checker)
		if !ok {
			fmt.Fprintf(io.out, "%-10s %-9s skip  this provider has no connection check\n", pb.Type, "-")
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		results := ch.Check(cctx)
		cancel()
		for _, r := range results {
			status := "ok"
			if !r.OK {
				status = "FAIL"
				failed++
			}
			line := fmt.Sprintf("%-10s %-9s %-4s", pb.Type, r.Name, status)
			if r.Detail != "" {
				line += "  " + r.Detail
			}
			fmt.Fprintln(io.out, line)
		}
	}
	if failed > 0 {
		fmt.Fprintf(io.out, "\n%d check(s) failed.\n", failed)
		return exitError
	}
	fmt.Fprintln(io.out, "\nAll checks passed.")
	return exitOK
}

// systemBrowser returns an opener for the desktop's browser, or nil when
// there is no desktop to open one on (an SSH session, a container, CI) or
// no terminal to come back to.
func systemBrowser(io stdio) func(string) error {
	if !isTerminal(io.err) {
		return nil
	}
	var name string
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "linux", "freebsd", "openbsd", "netbsd":
		if io.getenv("DISPLAY") == "" && io.getenv("WAYLAND_DISPLAY") == "" {
			return nil
		}
		name = "xdg-open"
	default:
		return nil
	}
	return func(u string) error {
		// The URL is a separate argument, never a shell string.
		cmd := exec.Command(name, u)
		if err := cmd.Start(); err != nil {
			return err
		}
		// Reap the helper; it exits as soon as the browser has the URL.
		go func() { _ = cmd.Wait() }()
		return nil
	}
}
