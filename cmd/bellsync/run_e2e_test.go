package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bellsync/bellsync/engine/schedule"
	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/ghl/webhook"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
	"github.com/bellsync/bellsync/providers/paperbell/zap"
)

// failAfter bounds every wait in these tests. It is a guard against a
// hang, not a timing assumption: each wait ends on an event.
const failAfter = 60 * time.Second

// event is one scheduler report seen by a test.
type event struct {
	pass  schedule.PassKind
	hint  schedule.Hint
	err   error
	final bool
}

type chanHooks chan event

func (c chanHooks) PassDone(_ context.Context, kind schedule.PassKind, _ schedule.Result, err error) {
	c <- event{pass: kind, err: err, final: true}
}

func (c chanHooks) HintDone(_ context.Context, h schedule.Hint, _ []int64, _ schedule.Result, err error, final bool) {
	c <- event{hint: h, err: err, final: final}
}

// syncBuffer is a bytes.Buffer safe to write from the daemon while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemonRun is `bellsync run` running in-process.
type daemonRun struct {
	t      *testing.T
	events chanHooks
	addr   string
	stderr *syncBuffer
	stop   func() int
}

// startDaemon runs the CLI with args until the test ends (or stop is
// called) and waits for the listener, if any.
func startDaemon(t *testing.T, h *harness, listens bool, args ...string) *daemonRun {
	t.Helper()
	d := &daemonRun{t: t, events: make(chanHooks, 1000), stderr: &syncBuffer{}}
	addrs := make(chan net.Addr, 1)
	observe, onListening = d.events, func(a net.Addr) { addrs <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, stdio{in: strings.NewReader(""), out: &syncBuffer{}, err: d.stderr,
			env: func(k string) string { return h.env[k] }})
	}()
	var once sync.Once
	code := 0
	d.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
			observe, onListening = nil, nil
		})
		return code
	}
	t.Cleanup(func() { d.stop() })
	if listens {
		select {
		case a := <-addrs:
			d.addr = a.String()
		case c := <-done:
			t.Fatalf("bellsync run exited %d before listening:\n%s", c, d.stderr)
		case <-time.After(failAfter):
			t.Fatalf("bellsync run did not listen:\n%s", d.stderr)
		}
	}
	return d
}

// next waits for the next scheduler event matching ok.
func (d *daemonRun) next(what string, ok func(event) bool) event {
	d.t.Helper()
	deadline := time.After(failAfter)
	for {
		select {
		case ev := <-d.events:
			if ok(ev) {
				return ev
			}
		case <-deadline:
			d.t.Fatalf("no %s within %s; log:\n%s", what, failAfter, tail(d.stderr.String(), 40))
		}
	}
}

func (d *daemonRun) waitPass() event {
	d.t.Helper()
	return d.next("pass", func(ev event) bool { return ev.pass != "" })
}

func (d *daemonRun) waitHint(id string) event {
	d.t.Helper()
	return d.next("hint for "+id, func(ev event) bool { return ev.pass == "" && ev.final && ev.hint.ID == id })
}

// freeAddr returns a loopback address nobody listens on right now. The
// GHL emulator must know the daemon's URL before the daemon starts.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newWebhookHarness is newHarness with a GHL emulator that delivers
// webhooks signed by signer to url.
func newWebhookHarness(t *testing.T, url string, signer webhook.Signer) *harness {
	t.Helper()
	h := newHarness(t, "")
	g := ghlemu.New(ghlemu.Options{RateLimit: 100000, WebhookURL: url,
		WebhookEd25519Key: signer.Ed25519, WebhookRSAKey: signer.RSA})
	if err := g.LoadDir(filepath.Join(seedDir, "ghl")); err != nil {
		t.Fatalf("load ghl seed: %v", err)
	}
	gs := httptest.NewServer(g)
	t.Cleanup(gs.Close)
	h.ghl = g
	h.env["GHL_BASE_URL"] = gs.URL
	t.Setenv("GHL_BASE_URL", gs.URL)
	return h
}

// writeConfig writes sync.hcl into h.dir: the contacts demo config, or
// body if given, plus extra blocks.
func writeConfig(t *testing.T, h *harness, body, extra string) string {
	t.Helper()
	if body == "" {
		b, err := os.ReadFile(demoConfig)
		if err != nil {
			t.Fatal(err)
		}
		body = string(b)
	}
	p := filepath.Join(h.dir, "sync.hcl")
	if err := os.WriteFile(p, []byte(body+"\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	h.config = p
	return p
}

func writeKeys(t testing.TB, dir string, s webhook.Signer) {
	t.Helper()
	ed, rsaPub := s.Public()
	for name, k := range map[string]any{"ed.pem": ed, "rsa.pem": rsaPub} {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// ghlCreateContact creates a contact through the emulator's API, as a
// GHL user or workflow would, so that it fires ContactCreate.
func ghlCreateContact(t *testing.T, h *harness, body string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.env["GHL_BASE_URL"]+"/contacts/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ghlemu.DefaultToken)
	req.Header.Set("Version", ghlemu.APIVersion)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 && resp.StatusCode != 200 {
		t.Fatalf("create contact: %s", resp.Status)
	}
	for _, c := range h.ghl.Contacts() {
		if strings.Contains(body, c.Email()) && c.Email() != "" {
			return c.ID()
		}
	}
	t.Fatal("created contact not found in the emulator")
	return ""
}

func post(t *testing.T, url string, hdr http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func clientByEmail(h *harness, email string) (pbemu.Client, bool) {
	for _, c := range h.pb.Clients() {
		if strings.EqualFold(strings.TrimSpace(c.Email), email) {
			return c, true
		}
	}
	return pbemu.Client{}, false
}

// quietSchedule keeps the cron out of the way: webhook tests must be
// driven by webhooks alone.
const quietSchedule = `
schedule {
  cron       = "0 0 1 1 *"
  full_every = "8760h"
}
`

// startGHLWebhookDaemon starts `bellsync run` with GHL webhooks signed by
// test keys (extra goes into the webhooks block), points the GHL emulator
// at it, and returns the webhook URL. The daemon listens on a port of its
// own; the emulator learns it once it is bound (a port picked in advance
// could be taken).
func startGHLWebhookDaemon(t *testing.T, extra string, args ...string) (*harness, *daemonRun, webhook.Signer, string) {
	t.Helper()
	signer, err := webhook.GenerateTestKeys()
	if err != nil {
		t.Fatal(err)
	}
	h := newWebhookHarness(t, "", signer)
	writeKeys(t, h.dir, signer)
	cfg := writeConfig(t, h, "", quietSchedule+`
webhooks {
  listen             = "127.0.0.1:0"
  ghl_public_key     = file("ed.pem")
  ghl_rsa_public_key = file("rsa.pem")
`+extra+`}
`)
	d := startDaemon(t, h, true, append([]string{"run", "-config", cfg}, args...)...)
	hookURL := "http://" + d.addr + "/webhooks/ghl"
	h.ghl.SetWebhookURL(hookURL)
	return h, d, signer, hookURL
}

// TestRunWebhookE2E: a contact created in the GHL emulator reaches the
// Paperbell emulator through a signed webhook, and forged, stale,
// replayed and malformed deliveries change nothing.
func TestRunWebhookE2E(t *testing.T) {
	h, d, signer, hookURL := startGHLWebhookDaemon(t, "  max_body = 65536\n", "-v")
	if ev := d.waitPass(); ev.pass != schedule.Full || ev.err != nil {
		t.Fatalf("first pass: %+v, want a successful full pass", ev)
	}

	id := ghlCreateContact(t, h, `{"locationId":"`+ghlemu.DefaultLocationID+`","firstName":"Wendy","lastName":"Hook","email":"wendy.hook@example.com"}`)
	if ev := d.waitHint(id); ev.err != nil {
		t.Fatalf("reconcile of %s: %v", id, ev.err)
	}
	if c, ok := clientByEmail(h, "wendy.hook@example.com"); !ok || c.FirstName != "Wendy" {
		t.Fatalf("the new GHL contact did not reach Paperbell (got %+v)", c)
	}

	before := len(h.pb.Clients())
	ts := time.Now().UTC()
	body := func(whID, email string, at time.Time) []byte {
		return fmt.Appendf(nil, `{"type":"ContactCreate","locationId":%q,"id":"FORGED00000000000001","email":%q,"webhookId":%q,"timestamp":%q}`,
			ghlemu.DefaultLocationID, email, whID, at.Format(time.RFC3339Nano))
	}
	other, err := webhook.GenerateTestKeys()
	if err != nil {
		t.Fatal(err)
	}
	replay := body("wh-replay", "x@example.com", ts)
	if code := post(t, hookURL, signer.Sign(replay), replay); code != 200 {
		t.Fatalf("first delivery of wh-replay: %d", code)
	}
	for _, tc := range []struct {
		name string
		hdr  http.Header
		body []byte
		want int
	}{
		{"forged", other.Sign(body("wh-f", "forged@example.com", ts)), body("wh-f", "forged@example.com", ts), 401},
		{"unsigned", http.Header{}, body("wh-u", "unsigned@example.com", ts), 401},
		{"stale", signer.Sign(body("wh-s", "stale@example.com", ts.Add(-10*time.Minute))), body("wh-s", "stale@example.com", ts.Add(-10*time.Minute)), 401},
		{"replayed", signer.Sign(replay), replay, 409},
		{"not JSON", signer.Sign([]byte("hello")), []byte("hello"), 400},
		{"huge", http.Header{}, bytes.Repeat([]byte("x"), 100_000), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := post(t, hookURL, tc.hdr, tc.body); code != tc.want {
				t.Errorf("status %d, want %d", code, tc.want)
			}
		})
	}
	// The hint queue is FIFO: once a later, genuine event is reconciled,
	// any hint a rejected delivery had queued would have run before it.
	id2 := ghlCreateContact(t, h, `{"locationId":"`+ghlemu.DefaultLocationID+`","firstName":"Sentinel","email":"sentinel@example.com"}`)
	d.waitHint(id2)
	for _, e := range []string{"forged@example.com", "unsigned@example.com", "stale@example.com"} {
		if _, ok := clientByEmail(h, e); ok {
			t.Errorf("a rejected delivery created %s", e)
		}
	}
	if got := len(h.pb.Clients()); got != before+1 {
		t.Errorf("%d Paperbell clients, want %d (only the sentinel added)", got, before+1)
	}
	// Both providers count their own traffic for /metrics.
	metrics := getBody(t, "http://"+d.addr+"/metrics")
	for _, p := range []string{"ghl", "paperbell"} {
		if !regexp.MustCompile(`(?m)^bellsync_api_calls_total\{provider="` + p + `"\} [1-9]`).MatchString(metrics) {
			t.Errorf("/metrics reports no API calls for %s:\n%s", p, metrics)
		}
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0:\n%s", code, tail(d.stderr.String(), 20))
	}
	if s := d.stderr.String(); !strings.Contains(s, "bellsync run stopped") {
		t.Errorf("no clean stop in the log:\n%s", tail(s, 20))
	}
}

// twoWayContacts syncs GHL contacts and Paperbell clients both ways, so
// that a Paperbell event can create a GHL contact. The GHL client's own
// budget is lifted as the emulator's is: at the default 100 requests per
// 10 s the first full pass, which creates hundreds of GHL contacts from
// the Paperbell seed, spent 20 s waiting on the limiter.
const twoWayContacts = `
state {
  path = env("BELLSYNC_STATE")
}
provider "ghl" {
  base_url    = env("GHL_BASE_URL")
  location_id = env("GHL_LOCATION_ID")
  token       = env("GHL_TOKEN")
  rate_limit  = 100000
}
provider "paperbell" {
  base_url   = env("PAPERBELL_BASE_URL")
  api_key    = env("PAPERBELL_API_KEY")
  rate_limit = 1000000
}
sync "contacts" {
  source    = ghl.contacts
  target    = paperbell.contacts
  direction = "two_way"
  conflict  = "newest_wins"
  match {
    key "email" {
      source = normalize_email(source.email)
      target = try(normalize_email(target.email), null)
    }
  }
  map {
    first_name = source.firstName
    last_name  = source.lastName
    email      = normalize_email(source.email)
  }
  reverse_map {
    firstName = target.first_name
    lastName  = target.last_name
    email     = target.email
  }
}
`

// TestRunZapE2E: a Zapier-style Paperbell "New Client" event creates the
// GHL contact; a wrong secret changes nothing.
func TestRunZapE2E(t *testing.T) {
	h := newHarness(t, "")
	addr := "127.0.0.1:0"
	cfg := writeConfig(t, h, twoWayContacts, quietSchedule+fmt.Sprintf(`
webhooks {
  listen           = %q
  paperbell_secret = "zap-secret-for-tests"
}
`, addr))
	d := startDaemon(t, h, true, "run", "-config", cfg)
	d.waitPass()
	url := "http://" + d.addr + "/webhooks/paperbell"

	// An event about a client Paperbell does not have (late, replayed or
	// mistyped) makes nobody in either system.
	ghost := []byte(`{"event":"new_client","client__email":"ghost@example.com","client__first_name":"Ghost"}`)
	before := [2]int{len(h.ghl.Contacts()), len(h.pb.Clients())}
	if code := post(t, url, http.Header{zap.HeaderSecret: {"zap-secret-for-tests"}}, ghost); code != 200 {
		t.Fatalf("ghost event: status %d, want 200", code)
	}
	d.next("ghost hint", func(ev event) bool { return ev.pass == "" && ev.hint.Provider == "paperbell" && ev.final })
	if after := [2]int{len(h.ghl.Contacts()), len(h.pb.Clients())}; after != before {
		t.Errorf("[GHL contacts, Paperbell clients] went from %v to %v on an event about a client Paperbell does not have", before, after)
	}

	// The client exists in Paperbell, as it would when its Zap fires.
	first, last, email := "Zoe", "Zap", "zoe.zap@example.com"
	h.pb.PutClient(pbemu.Client{FirstName: first, LastName: last, Email: email})
	zapBody := []byte(`{"event":"new_client","client__email":"zoe.zap@example.com","client__first_name":"Zoe","client__last_name":"Zap"}`)
	if code := post(t, url, http.Header{zap.HeaderSecret: {"wrong"}}, zapBody); code != 401 {
		t.Errorf("wrong secret: status %d, want 401", code)
	}
	if code := post(t, url, http.Header{zap.HeaderSecret: {"zap-secret-for-tests"}}, zapBody); code != 200 {
		t.Fatalf("zap event: status %d, want 200", code)
	}
	if ev := d.next("paperbell hint", func(ev event) bool { return ev.pass == "" && ev.hint.Provider == "paperbell" && ev.final }); ev.err != nil {
		t.Fatalf("reconcile of the zap event: %v", ev.err)
	}
	var found bool
	for _, c := range h.ghl.Contacts() {
		if c.Email() == "zoe.zap@example.com" {
			found = c["firstName"] == "Zoe"
		}
	}
	if !found {
		t.Error("the Paperbell client posted by the Zap did not become a GHL contact named Zoe")
	}
}

func requests(h *harness) int {
	n := h.ghl.Stats().Total
	for _, v := range h.pb.Stats().Requests {
		n += v
	}
	return n
}

// TestRunIncrementalE2E: with webhooks off, a change reaches the other
// side through the next incremental pass, and a restart resumes from the
// saved cursor instead of re-reading everything.
func TestRunIncrementalE2E(t *testing.T) {
	h := newHarness(t, "")
	cfg := writeConfig(t, h, "", quietSchedule)

	start := requests(h)
	h.mustRun(0, "run", "-config", cfg, "-once")
	full := requests(h) - start

	h.ghl.PutContact(ghlemu.Contact{"firstName": "Ines", "lastName": "Cremental", "email": "ines.cremental@example.com"})
	start = requests(h)
	h.mustRun(0, "run", "-config", cfg, "-once")
	incr := requests(h) - start
	if _, ok := clientByEmail(h, "ines.cremental@example.com"); !ok {
		t.Fatal("the contact changed while the daemon was down did not reach Paperbell")
	}
	t.Logf("API calls: first (full) run %d, restarted (incremental) run %d", full, incr)
	if incr*5 > full {
		t.Errorf("the restarted run made %d API calls against %d for the full one; it should resume from the cursor", incr, full)
	}
	out, _ := h.mustRun(0, "runs", "-config", cfg)
	if !strings.Contains(out, "incremental") || !strings.Contains(out, "full") {
		t.Errorf("bellsync runs does not list both passes:\n%s", out)
	}
}

// TestRunBadInput tries what a new user might get wrong.
func TestRunBadInput(t *testing.T) {
	h := newHarness(t, "")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	for _, tc := range []struct {
		name  string
		extra string
		args  []string
		want  []string
	}{
		{
			name:  "invalid cron names its line",
			extra: "\nschedule {\n  cron = \"*/15 * * *\"\n}\n",
			want:  []string{"sync.hcl:{{line of */15}}:", "Invalid cron expression"},
		},
		{
			name: "port already taken",
			args: []string{"-listen", taken.Addr().String()},
			want: []string{taken.Addr().String(), "already in use"},
		},
		{
			name: "listen port out of range",
			args: []string{"-listen", "127.0.0.1:99999"},
			want: []string{`-listen "127.0.0.1:99999"`, "not between 0 and 65535"},
		},
		{
			name:  "webhook key is not a key",
			extra: "\nwebhooks {\n  ghl_public_key = \"not a key\"\n}\n",
			want:  []string{"Invalid public key"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, h, "", tc.extra)
			src, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if i := bytes.Index(src, []byte("*/15 * * *\"")); i >= 0 {
				line := fmt.Sprint(bytes.Count(src[:i], []byte("\n")) + 1)
				for j := range tc.want {
					tc.want[j] = strings.ReplaceAll(tc.want[j], "{{line of */15}}", line)
				}
			}
			code, _, errs := h.bellsync(append([]string{"run", "-config", cfg}, tc.args...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, errs)
				}
			}
		})
	}
}
