package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/bellsync/bellsync/providers/ghl"
	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/ghl/emulator/oauthemu"
	"github.com/bellsync/bellsync/providers/httpx"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

func cmdEmulate(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("emulate", io)
	seed := fs.String("seed", "", "folder holding ghl/{contacts,tasks,notes}.json and paperbell/{clients,tasks,notes}.json (required)")
	ghlAddr := fs.String("ghl-addr", "127.0.0.1:8711", "loopback address for the GHL API")
	pbAddr := fs.String("paperbell-addr", "127.0.0.1:8712", "loopback address for the Paperbell API")
	ghlToken := fs.String("ghl-token", ghlemu.DefaultToken, "the Private Integration Token the GHL emulator accepts")
	pbKey := fs.String("paperbell-key", pbemu.DefaultAPIKey, "the API key the Paperbell emulator accepts")
	location := fs.String("ghl-location", ghlemu.DefaultLocationID, "the GHL location id")
	ghlRate := fs.Int("ghl-rate-limit", 100, "GHL requests allowed per 10 s (the real API's limit is 100)")
	pbRate := fs.Int("paperbell-rate-limit", 0, "Paperbell requests allowed per minute (0: the emulator default; negative: no limit)")
	searchLag := fs.Duration("ghl-search-lag", 0, "how long GHL search lags writes, as the real index does")
	var hooks emuWebhookFlags
	hooks.register(fs)
	oauthID := fs.String("ghl-oauth-client-id", defaultOAuthClientID, "the OAuth client_id of the emulated Marketplace app")
	oauthSecret := fs.String("ghl-oauth-client-secret", defaultOAuthClientSecret, "the OAuth client_secret of the emulated app")
	oauthScopes := fs.String("ghl-oauth-scopes", strings.Join(ghl.DefaultScopes, " "), "space-separated scopes every OAuth grant gets")
	accessTTL := fs.Duration("ghl-access-ttl", 86399*time.Second, "lifetime of OAuth access tokens (GHL's is about a day)")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if *seed == "" {
		return errorf(io, "emulate needs -seed DIR (for example -seed examples/demo/seed)")
	}
	for _, a := range []string{*ghlAddr, *pbAddr} {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return errorf(io, "bad address %q: %v", a, err)
		}
		// The emulators hold real-looking client records; keep them off
		// the network.
		if !httpx.IsLoopback(host) {
			return errorf(io, "address %q is not a loopback address; the emulators only listen on loopback", a)
		}
	}
	if *accessTTL < time.Second {
		return errorf(io, "-ghl-access-ttl must be at least 1s, got %s", *accessTTL)
	}
	o := oauthemu.New(oauthemu.Options{ClientID: *oauthID, ClientSecret: *oauthSecret, LocationID: *location,
		CompanyID: defaultOAuthCompanyID, Scopes: strings.Fields(*oauthScopes), AccessTTL: *accessTTL})
	gopts := ghlemu.Options{LocationID: *location, RateLimit: *ghlRate, SearchLag: *searchLag,
		Authenticate: staticOrOAuth(*ghlToken, *location, ghlemu.OAuthAuthenticate(o))}
	hookInfo, err := hooks.apply(&gopts)
	if err != nil {
		return errorf(io, "%v", err)
	}
	g := ghlemu.New(gopts)
	g.MountOAuth(o)
	if err := g.LoadDir(filepath.Join(*seed, "ghl")); err != nil {
		return errorf(io, "load GHL seed: %v", err)
	}
	p := pbemu.New(pbemu.Options{APIKey: *pbKey, RateLimit: *pbRate})
	if err := p.LoadDir(filepath.Join(*seed, "paperbell")); err != nil {
		return errorf(io, "load Paperbell seed: %v", err)
	}
	gl, err := net.Listen("tcp", *ghlAddr)
	if err != nil {
		return errorf(io, "GHL emulator: %v (is another emulator running? pick another -ghl-addr)", err)
	}
	pl, err := net.Listen("tcp", *pbAddr)
	if err != nil {
		gl.Close()
		return errorf(io, "Paperbell emulator: %v (is another emulator running? pick another -paperbell-addr)", err)
	}
	servers := []*http.Server{{Handler: g, ReadHeaderTimeout: 10 * time.Second}, {Handler: p, ReadHeaderTimeout: 10 * time.Second}}
	errs := make(chan error, 2)
	go func() { errs <- servers[0].Serve(gl) }()
	go func() { errs <- servers[1].Serve(pl) }()

	fmt.Fprintf(io.out, "GHL emulator:       http://%s  (location %s, %s)\n", gl.Addr(), *location, plural(len(g.Contacts()), "contact", "contacts"))
	fmt.Fprintf(io.out, "Paperbell emulator: http://%s  (%s)\n", pl.Addr(), plural(len(p.Clients()), "client", "clients"))
	fmt.Fprintln(io.out, "Credentials accepted, ready to paste into a shell:")
	fmt.Fprintf(io.out, "  export GHL_BASE_URL=http://%s GHL_LOCATION_ID=%s GHL_TOKEN=%s\n", gl.Addr(), *location, *ghlToken)
	fmt.Fprintf(io.out, "  export PAPERBELL_BASE_URL=http://%s PAPERBELL_API_KEY=%s\n", pl.Addr(), *pbKey)
	fmt.Fprintln(io.out, "OAuth app (for an oauth block; access tokens last "+accessTTL.String()+"):")
	fmt.Fprintf(io.out, "  export GHL_CLIENT_ID=%s GHL_CLIENT_SECRET=%s\n", *oauthID, *oauthSecret)
	fmt.Fprintf(io.out, "  export GHL_AUTH_URL=http://%s/v2/oauth/chooselocation GHL_TOKEN_URL=http://%s/oauth/token\n", gl.Addr(), gl.Addr())
	fmt.Fprintf(io.out, "  (scopes granted: %s; company %s)\n", *oauthScopes, defaultOAuthCompanyID)
	for _, l := range hookInfo {
		fmt.Fprintln(io.out, l)
	}
	fmt.Fprintln(io.out, "Serving until interrupted (Ctrl-C).")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shut)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errorf(io, "emulator: %v", serveErr)
	}
	return exitOK
}

// Credentials of the emulated Marketplace app. They are published test
// values, printed at start-up like the emulator's other credentials.
const (
	defaultOAuthClientID     = "bellsync-emulator-client"
	defaultOAuthClientSecret = "bellsync-emulator-secret"
	defaultOAuthCompanyID    = "COMPbellsyncEmulator01"
)

// staticOrOAuth accepts the emulator's Private Integration Token as well
// as OAuth access tokens, so one emulator serves both kinds of config.
func staticOrOAuth(pit, location string, oauthAuth func(*http.Request) (string, []string, error)) func(*http.Request) (string, []string, error) {
	return func(r *http.Request) (string, []string, error) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok == pit {
			return location, nil, nil
		}
		return oauthAuth(r)
	}
}
