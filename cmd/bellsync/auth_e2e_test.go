package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers/ghl"
	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/ghl/emulator/oauthemu"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

const (
	oauthClientID = "bellsync-test-client"
	oauthSecret   = "client-secret-that-must-never-print"
	// oauthTTL is the emulator's access token lifetime; tests expire
	// tokens by moving the emulator's clock, never by waiting.
	oauthTTL = 10 * time.Minute
)

// oauthClock is the emulators' settable clock.
type oauthClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *oauthClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *oauthClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// oauthHarness runs the real CLI against the GHL emulator in OAuth mode
// (OAuth endpoints on the API's base URL) and the Paperbell emulator. It
// records every credential the emulators hand out, so tests can look for
// them in what bellsync wrote.
type oauthHarness struct {
	t      *testing.T
	ghl    *ghlemu.Server
	o      *oauthemu.Server
	pb     *pbemu.Server
	clock  *oauthClock
	dir    string
	config string
	env    map[string]string

	// mu guards the fields below.
	mu sync.Mutex
	// issued holds every code, access and refresh token handed out.
	issued []string
	// step is how far the clock moves before each API request.
	step time.Duration
	// snapshot, when set, copies the state database on the first API
	// request after a refresh: a process killed at that point.
	snapshot  string
	refreshed bool
	// cbAddr is the address the callback listener of the running
	// `auth ghl` got.
	cbAddr string
	// browsed receives what the fake browser saw at the end.
	browsed chan string
}

type oauthOptions struct {
	scopes []string
	// tokenFile, when set, is written into the oauth block as token_file.
	tokenFile string
	// secret overrides the client_secret the config sends.
	secret string
	// company connects an agency that mints location tokens.
	company bool
}

func newOAuthHarness(t *testing.T, opts oauthOptions) *oauthHarness {
	t.Helper()
	if opts.scopes == nil {
		opts.scopes = ghl.DefaultScopes
	}
	if opts.secret == "" {
		opts.secret = oauthSecret
	}
	clock := &oauthClock{t: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)}
	h := &oauthHarness{t: t, clock: clock, dir: t.TempDir(), browsed: make(chan string, 1)}
	h.o = oauthemu.New(oauthemu.Options{ClientID: oauthClientID, ClientSecret: oauthSecret,
		LocationID: ghlemu.DefaultLocationID, CompanyID: "COMP1", Scopes: opts.scopes,
		AccessTTL: oauthTTL, Now: clock.Now})
	h.ghl = ghlemu.New(ghlemu.Options{RateLimit: 1 << 20, DailyLimit: 1 << 30, Now: clock.Now,
		Authenticate: ghlemu.OAuthAuthenticate(h.o)})
	h.ghl.MountOAuth(h.o)
	if err := h.ghl.LoadDir(filepath.Join(seedDir, "ghl")); err != nil {
		t.Fatalf("load ghl seed: %v", err)
	}
	h.pb = pbemu.New(pbemu.Options{RateLimit: -1})
	if err := h.pb.LoadDir(filepath.Join(seedDir, "paperbell")); err != nil {
		t.Fatalf("load paperbell seed: %v", err)
	}
	gs, ps := httptest.NewServer(http.HandlerFunc(h.serveGHL)), httptest.NewServer(h.pb)
	t.Cleanup(gs.Close)
	t.Cleanup(ps.Close)

	good, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	block := `  oauth {
    client_id     = env("GHL_CLIENT_ID")
    client_secret = env("GHL_CLIENT_SECRET")
    redirect_uri  = env("GHL_REDIRECT_URI")
    scopes        = ["contacts.readonly", "contacts.write", "locations.readonly"]
    auth_url      = env("GHL_AUTH_URL")
    token_url     = env("GHL_TOKEN_URL")
`
	if opts.tokenFile != "" {
		block += "    token_file    = \"" + opts.tokenFile + "\"\n"
	}
	if opts.company {
		block += "    user_type     = \"Company\"\n    company_id    = \"COMP1\"\n"
	}
	block += "  }\n"
	cfg := strings.Replace(string(good), "  token       = env(\"GHL_TOKEN\")\n", block, 1)
	if cfg == string(good) {
		t.Fatal("the demo config no longer has the token line this test replaces")
	}
	h.config = filepath.Join(h.dir, "sync.hcl")
	if err := os.WriteFile(h.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = map[string]string{
		"GHL_BASE_URL": gs.URL, "GHL_LOCATION_ID": ghlemu.DefaultLocationID,
		"GHL_CLIENT_ID": oauthClientID, "GHL_CLIENT_SECRET": opts.secret,
		// The port is never listened on: the fake browser is sent to the
		// listener the test hands `auth ghl` instead.
		"GHL_REDIRECT_URI": "http://127.0.0.1:8765/callback",
		"GHL_AUTH_URL":     gs.URL + "/v2/oauth/chooselocation", "GHL_TOKEN_URL": gs.URL + "/oauth/token",
		"PAPERBELL_BASE_URL": ps.URL, "PAPERBELL_API_KEY": pbemu.DefaultAPIKey,
		"BELLSYNC_STATE": filepath.Join(h.dir, "state.db"),
	}
	for k, v := range h.env {
		t.Setenv(k, v)
	}
	h.useBrowser(nil)
	return h
}

// serveGHL moves the clock, records credentials and takes snapshots around
// the emulator.
func (h *oauthHarness) serveGHL(w http.ResponseWriter, r *http.Request) {
	token := strings.HasPrefix(r.URL.Path, "/oauth/")
	consent := strings.HasSuffix(r.URL.Path, "/oauth/chooselocation")
	if !token && !consent {
		h.mu.Lock()
		step, snap := h.step, h.snapshot != "" && h.refreshed
		if snap {
			h.copyState(h.snapshot)
			h.snapshot = ""
		}
		h.mu.Unlock()
		h.clock.Advance(step)
		h.ghl.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	h.ghl.ServeHTTP(rec, r)
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	h.mu.Lock()
	for _, s := range []string{body.AccessToken, body.RefreshToken} {
		if s != "" {
			h.issued = append(h.issued, s)
		}
	}
	if loc, err := url.Parse(rec.Header().Get("Location")); err == nil && loc.Query().Get("code") != "" {
		h.issued = append(h.issued, loc.Query().Get("code"))
	}
	if body.RefreshToken != "" && r.URL.Path == "/oauth/token" {
		h.refreshed = true
	}
	h.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// copyState copies the state database and its WAL as they are on disk
// right now, the way a killed process leaves them. h.mu must be held.
func (h *oauthHarness) copyState(dir string) {
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(h.env["BELLSYNC_STATE"] + suffix)
		if err != nil {
			if suffix != "" && os.IsNotExist(err) {
				continue
			}
			h.t.Errorf("snapshot: %v", err)
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "state.db"+suffix), data, 0o600); err != nil {
			h.t.Errorf("snapshot: %v", err)
		}
	}
}

// useBrowser installs a fake browser that visits the consent URL, takes
// the emulator's redirect, lets tamper change it, and delivers it to the
// callback listener. It never opens a real browser.
func (h *oauthHarness) useBrowser(tamper func(*url.URL)) {
	h.t.Helper()
	prev := authHooks
	h.t.Cleanup(func() { authHooks = prev })
	authHooks.listen = func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, "127.0.0.1:0")
		if err == nil {
			h.mu.Lock()
			h.cbAddr = ln.Addr().String()
			h.mu.Unlock()
		}
		return ln, err
	}
	authHooks.openBrowser = func(stdio) func(string) error {
		return func(consent string) error {
			// Authorize waits for the callback after opening the browser,
			// so the browser must run on its own.
			go func() { h.browsed <- h.browse(consent, tamper) }()
			return nil
		}
	}
}

func (h *oauthHarness) browse(consent string, tamper func(*url.URL)) string {
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(consent)
	if err != nil {
		return "consent: " + err.Error()
	}
	res.Body.Close()
	cb, err := res.Location()
	if err != nil {
		return "consent did not redirect: " + res.Status
	}
	h.mu.Lock()
	cb.Host = h.cbAddr
	h.mu.Unlock()
	if tamper != nil {
		tamper(cb)
	}
	res, err = hc.Get(cb.String())
	if err != nil {
		return "callback: " + err.Error()
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	return string(page)
}

// run runs one CLI command in-process and keeps its output for the scan.
func (h *oauthHarness) run(outputs *[]string, want int, args ...string) (string, string) {
	h.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb,
		env: func(k string) string { return h.env[k] }})
	if outputs != nil {
		*outputs = append(*outputs, out.String(), errb.String())
	}
	if code != want {
		h.t.Fatalf("bellsync %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), code, want, tail(out.String(), 40), tail(errb.String(), 40))
	}
	return out.String(), errb.String()
}

// auth runs `bellsync auth ghl` and waits for the fake browser to finish.
func (h *oauthHarness) auth(outputs *[]string, want int) (string, string, string) {
	h.t.Helper()
	out, errs := h.run(outputs, want, "auth", "ghl", "-config", h.config, "-v")
	return out, errs, <-h.browsed
}

func (h *oauthHarness) secrets() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{oauthSecret, pbemu.DefaultAPIKey, ghlemu.DefaultToken}, h.issued...)
}

// TestOAuthSyncLeaksNoSecrets runs `auth ghl`, `auth status`, a saved
// plan, its apply, a JSON plan and a state dump while access tokens keep
// expiring, then looks for every credential in all that bellsync wrote.
// Tokens live in a token_file here, so the state database must hold none.
func TestOAuthSyncLeaksNoSecrets(t *testing.T) {
	h := newOAuthHarness(t, oauthOptions{tokenFile: "ghl-tokens.json"})
	var outputs []string
	out, _, page := h.auth(&outputs, 0)
	if !strings.Contains(page, "bellsync is connected") {
		t.Errorf("browser page after consent: %q", page)
	}
	if !strings.Contains(out, "Connected GoHighLevel location "+ghlemu.DefaultLocationID) {
		t.Errorf("auth ghl output: %q", out)
	}
	status, _ := h.run(&outputs, 0, "auth", "status", "-config", h.config, "-v")
	t.Logf("auth status:\n%s", status)
	for _, want := range []string{"ghl        token     ok", "ghl        scopes    ok", "ghl        location  ok",
		"ghl        contacts  ok", "paperbell  api key   ok", "All checks passed."} {
		if !strings.Contains(status, want) {
			t.Errorf("auth status lacks %q:\n%s", want, status)
		}
	}

	// From here on every API request moves the clock by 40% of a token
	// lifetime, so a token expires every few requests, mid-run.
	h.mu.Lock()
	h.step = oauthTTL * 4 / 10
	h.mu.Unlock()
	start := h.clock.Now()
	refreshesBefore := h.o.Stats().RefreshToken
	planFile := filepath.Join(h.dir, "sync.plan")
	h.run(&outputs, 0, "plan", "-config", h.config, "-out", planFile, "-v")
	applied, _ := h.run(&outputs, 0, "apply", "-config", h.config, "-v", planFile)
	if !strings.Contains(applied, "0 failed") {
		t.Errorf("apply had failures:\n%s", tail(applied, 10))
	}
	h.run(&outputs, 0, "plan", "-config", h.config, "-json", "-v")
	h.run(&outputs, 0, "check", "-config", h.config, "-v")
	h.run(&outputs, 0, "state", "dump", "-config", h.config)
	h.run(&outputs, 0, "runs", "-config", h.config)

	lifetimes := int(h.clock.Now().Sub(start) / oauthTTL)
	refreshes := h.o.Stats().RefreshToken - refreshesBefore
	t.Logf("the run spanned %d token lifetimes with %d refreshes", lifetimes, refreshes)
	if lifetimes < 3 || refreshes < 3 {
		t.Errorf("the run spanned %d token lifetimes with %d refreshes; want at least 3 of each", lifetimes, refreshes)
	}
	// One refresh per expiry at most, although requests run in parallel.
	if refreshes > lifetimes+1 {
		t.Errorf("%d refreshes for %d token lifetimes: concurrent requests refreshed separately", refreshes, lifetimes)
	}
	if st := h.o.Stats(); st.Rejected != 0 {
		t.Errorf("the token endpoint rejected %d calls; want none", st.Rejected)
	}

	files := map[string][]byte{}
	for _, name := range []string{planFile, h.env["BELLSYNC_STATE"], h.env["BELLSYNC_STATE"] + "-wal"} {
		data, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files[filepath.Base(name)] = data
	}
	for i, o := range outputs {
		files["output "+string(rune('0'+i/10))+string(rune('0'+i%10))] = []byte(o)
	}
	for _, s := range h.secrets() {
		for name, data := range files {
			if leaked(data, s) {
				t.Errorf("%s holds the credential %.12s…", name, s)
			}
		}
	}

	// The token file is where the tokens belong: private, and current.
	tokPath := filepath.Join(h.dir, "ghl-tokens.json")
	fi, err := os.Stat(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %04o, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(tokPath)
	found := false
	for _, s := range h.secrets() {
		found = found || leaked(data, s)
	}
	if !found {
		t.Error("the token file holds none of the issued tokens, so the scan above proves nothing")
	}
}

// TestOAuthStateStore keeps the tokens in the state database: they must
// survive a process killed right after a refresh, and never show in a
// dump. The tokens table is their storage, so the database file itself is
// not scanned here (encryption at rest is out of scope).
func TestOAuthStateStore(t *testing.T) {
	h := newOAuthHarness(t, oauthOptions{})
	var outputs []string
	h.auth(&outputs, 0)

	// Expire the access token, then take a copy of the database at the
	// first API request made with the refreshed one.
	snap := t.TempDir()
	h.mu.Lock()
	h.snapshot, h.refreshed = snap, false
	h.mu.Unlock()
	h.clock.Advance(oauthTTL)
	h.run(&outputs, 0, "plan", "-config", h.config)
	h.mu.Lock()
	taken := h.snapshot == ""
	h.mu.Unlock()
	if !taken {
		t.Fatal("no refresh happened, so no snapshot was taken")
	}

	// A new process on the snapshot must still hold a working refresh
	// token: its token expires too, and it must refresh without a 401
	// from the token endpoint.
	h.env["BELLSYNC_STATE"] = filepath.Join(snap, "state.db")
	t.Setenv("BELLSYNC_STATE", h.env["BELLSYNC_STATE"])
	h.clock.Advance(oauthTTL)
	before := h.o.Stats()
	h.run(&outputs, 0, "plan", "-config", h.config)
	after := h.o.Stats()
	if after.RefreshToken-before.RefreshToken != 1 || after.Rejected != before.Rejected {
		t.Errorf("after the restart: %d refreshes, %d rejected; want 1 refresh, none rejected",
			after.RefreshToken-before.RefreshToken, after.Rejected-before.Rejected)
	}

	dump, _ := h.run(&outputs, 0, "state", "dump", "-config", h.config)
	if !strings.Contains(dump, `"ghl/`+ghlemu.DefaultLocationID+`"`) {
		t.Errorf("state dump does not list the token key:\n%s", tail(dump, 20))
	}
	for _, s := range h.secrets() {
		for i, o := range outputs {
			if leaked([]byte(o), s) {
				t.Errorf("output %d holds the credential %.12s…", i, s)
			}
		}
	}
}

// TestOAuthRevokedGrant uninstalls the app: the sync stops with the one
// documented message after a single refresh attempt, and a new `auth ghl`
// brings it back.
func TestOAuthRevokedGrant(t *testing.T) {
	h := newOAuthHarness(t, oauthOptions{})
	h.auth(nil, 0)
	h.run(nil, 0, "plan", "-config", h.config)

	h.o.Revoke(ghlemu.DefaultLocationID)
	const msg = "ghl: access for location " + ghlemu.DefaultLocationID +
		" was revoked or has expired; run `bellsync auth ghl` to reconnect"
	for _, args := range [][]string{
		{"plan", "-config", h.config},
		{"apply", "-config", h.config, "-auto-approve"},
		{"auth", "status", "-config", h.config},
	} {
		before := h.o.Stats().RefreshToken
		out, errs := h.run(nil, 1, args...)
		if n := strings.Count(out+errs, msg); n != 1 {
			t.Errorf("bellsync %s: the message appears %d times, want once:\n%s\n%s", args[0], n, out, errs)
		}
		if n := h.o.Stats().RefreshToken - before; n != 1 {
			t.Errorf("bellsync %s: %d refresh calls, want exactly 1 (no retry loop)", args[0], n)
		}
	}

	h.auth(nil, 0)
	h.run(nil, 0, "plan", "-config", h.config)
}

// TestOAuthAgency connects an agency: its token mints location tokens,
// re-minted when they expire, and the sync runs on them.
func TestOAuthAgency(t *testing.T) {
	h := newOAuthHarness(t, oauthOptions{company: true})
	out, _, _ := h.auth(nil, 0)
	if !strings.Contains(out, "Connected GoHighLevel company COMP1, minting tokens for location "+ghlemu.DefaultLocationID) {
		t.Errorf("auth ghl output: %q", out)
	}
	h.run(nil, 0, "auth", "status", "-config", h.config)
	// Both tokens expire, which bellsync learns only from the API: the
	// location token's 401 leads to a mint, whose 401 for the agency
	// token leads to one agency refresh and a second mint.
	h.clock.Advance(oauthTTL)
	before := h.o.Stats()
	h.run(nil, 0, "plan", "-config", h.config)
	after := h.o.Stats()
	got := []int{after.LocationToken - before.LocationToken, after.RefreshToken - before.RefreshToken,
		after.Rejected - before.Rejected}
	if d := cmp.Diff([]int{2, 1, 1}, got); d != "" {
		t.Errorf("[mints, agency refreshes, rejected] after expiry (-want +got):\n%s", d)
	}
}

// TestOAuthBadInput tries what a new user gets wrong.
func TestOAuthBadInput(t *testing.T) {
	t.Run("wrong client secret", func(t *testing.T) {
		const wrong = "not-the-secret-either"
		h := newOAuthHarness(t, oauthOptions{secret: wrong})
		_, errs, _ := h.auth(nil, 1)
		for _, want := range []string{`client_id "` + oauthClientID + `"`, "check client_secret"} {
			if !strings.Contains(errs, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errs)
			}
		}
		if strings.Contains(errs, wrong) {
			t.Errorf("stderr shows the client secret:\n%s", errs)
		}
	})
	t.Run("redirect uri not loopback", func(t *testing.T) {
		h := newOAuthHarness(t, oauthOptions{})
		h.env["GHL_REDIRECT_URI"] = "https://bellsync.example.com/callback"
		t.Setenv("GHL_REDIRECT_URI", h.env["GHL_REDIRECT_URI"])
		for _, args := range [][]string{{"validate", "-config", h.config}, {"auth", "ghl", "-config", h.config}} {
			_, errs := h.run(nil, 1, args...)
			for _, want := range []string{fmt.Sprintf("sync.hcl:%d:", lineOf(readFile(t, h.config), "redirect_uri")), "Invalid redirect_uri", "must use http to a loopback address"} {
				if !strings.Contains(errs, want) {
					t.Errorf("bellsync %s: stderr lacks %q:\n%s", args[0], want, errs)
				}
			}
		}
	})
	t.Run("callback with a wrong state", func(t *testing.T) {
		h := newOAuthHarness(t, oauthOptions{})
		h.useBrowser(func(u *url.URL) {
			q := u.Query()
			q.Set("state", "forged")
			u.RawQuery = q.Encode()
		})
		// The forged callback is ignored, not fatal: auth keeps waiting for
		// the genuine one until its timeout.
		_, errs := h.run(nil, 1, "auth", "ghl", "-config", h.config, "-timeout", "10s")
		page := <-h.browsed
		for _, want := range []string{"Ignored a callback whose state did not match", "ignored 1 callback(s) with a wrong state",
			"run `bellsync auth ghl` again and approve within 10s"} {
			if !strings.Contains(errs, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errs)
			}
		}
		if !strings.Contains(page, "state mismatch") {
			t.Errorf("want a state mismatch on the page:\n%s", page)
		}
		if st := h.o.Stats(); st.AuthorizationCode != 0 {
			t.Errorf("the code was exchanged %d times despite the wrong state", st.AuthorizationCode)
		}
		out, _ := h.run(nil, 1, "auth", "status", "-config", h.config)
		if !strings.Contains(out, "no token stored for location "+ghlemu.DefaultLocationID) {
			t.Errorf("auth status after a failed auth:\n%s", out)
		}
	})
	t.Run("token file readable by others", func(t *testing.T) {
		h := newOAuthHarness(t, oauthOptions{tokenFile: "ghl-tokens.json"})
		h.auth(nil, 0)
		path := filepath.Join(h.dir, "ghl-tokens.json")
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		out, errs := h.run(nil, 1, "plan", "-config", h.config)
		if want := "run `chmod 600 " + path + "`"; !strings.Contains(out+errs, want) {
			t.Errorf("plan output lacks %q:\n%s\n%s", want, out, errs)
		}
		// Only the user can fix it, so it is not presented as transient.
		if strings.Contains(out+errs, "transient") {
			t.Errorf("a token file with open permissions is reported as transient:\n%s\n%s", out, errs)
		}
	})
	t.Run("scope missing from the grant", func(t *testing.T) {
		h := newOAuthHarness(t, oauthOptions{scopes: []string{"contacts.readonly", "contacts.write"}})
		_, errs, _ := h.auth(nil, 0)
		if !strings.Contains(errs, "GHL did not grant locations.readonly") {
			t.Errorf("auth ghl does not warn about the missing scope:\n%s", errs)
		}
		out, _ := h.run(nil, 1, "auth", "status", "-config", h.config)
		for _, want := range []string{"scopes    FAIL  missing locations.readonly",
			"location  FAIL", "needs scope locations.readonly"} {
			if !strings.Contains(out, want) {
				t.Errorf("auth status lacks %q:\n%s", want, out)
			}
		}
	})
}

// leaked reports whether data holds secret as is, in hex, or in base64 at
// any alignment (the token file and JSON []byte fields are base64).
func leaked(data []byte, secret string) bool {
	forms := []string{secret, hex.EncodeToString([]byte(secret))}
	for off := range 3 {
		// Pad so secret starts at byte off of a 3-byte group; the
		// characters that depend only on secret's bytes are the same
		// wherever it sits in a longer encoded value.
		padded := append(make([]byte, off), secret...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			e := enc.EncodeToString(padded)
			start := (off*8 + 5) / 6
			end := len(padded) * 8 / 6
			if end-start > 8 {
				forms = append(forms, e[start:end])
			}
		}
	}
	for _, f := range forms {
		if bytes.Contains(data, []byte(f)) {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
