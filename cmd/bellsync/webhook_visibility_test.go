package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	"github.com/bellsync/bellsync/providers/paperbell/zap"
)

// TestRunZapInvalidEmailIsNamed: a Zap event whose client has an invalid
// email is answered 200, and the daemon's log names the field and value
// at warn; it used to say nothing beyond "hint reconciled counts=map[]".
func TestRunZapInvalidEmailIsNamed(t *testing.T) {
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
	body := []byte(`{"event":"new_client","client__email":"bad@@x","client__first_name":"Bad","client__last_name":"Mail"}`)
	if code := post(t, "http://"+d.addr+"/webhooks/paperbell", http.Header{zap.HeaderSecret: {"zap-secret-for-tests"}}, body); code != 200 {
		t.Fatalf("zap event: status %d, want 200", code)
	}
	d.next("paperbell hint", func(ev event) bool { return ev.pass == "" && ev.hint.Provider == "paperbell" && ev.final })
	log := d.stderr.String()
	var warn string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "field=client.email") {
			warn = l
		}
	}
	if !strings.Contains(warn, `invalid email address \"bad@@x\"`) {
		t.Errorf("no warning names client.email and its value; log:\n%s", tail(log, 20))
	}
	for _, c := range h.ghl.Contacts() {
		if c["firstName"] == "Bad" && c["lastName"] == "Mail" {
			t.Errorf("the client with an invalid email became GHL contact %s", c.ID())
		}
	}
}

// TestRunGHLOtherLocationIgnored: a signed GHL event about another
// location is answered 200 (GHL must not retry it), logged at info and not
// reconciled.
func TestRunGHLOtherLocationIgnored(t *testing.T) {
	h, d, signer, hookURL := startGHLWebhookDaemon(t, "")
	d.waitPass()
	// The id is a contact of ours, so a reconcile would find it: only the
	// location tells the event apart.
	foreign := h.ghl.Contacts()[0].ID()
	body := fmt.Appendf(nil, `{"type":"ContactUpdate","locationId":"someOtherLocation","id":%q,"webhookId":"wh-other","timestamp":%q}`,
		foreign, time.Now().UTC().Format(time.RFC3339Nano))
	if code := post(t, hookURL, signer.Sign(body), body); code != 200 {
		t.Fatalf("status %d, want 200", code)
	}
	// Hints run in order: once a later genuine event is reconciled, a
	// hint for the foreign one would have been seen first.
	sentinel := ghlCreateContact(t, h, `{"locationId":"`+ghlemu.DefaultLocationID+`","firstName":"Sentinel","email":"sentinel.loc@example.com"}`)
	d.next("hint for the sentinel", func(ev event) bool {
		if ev.pass == "" && ev.hint.ID == foreign {
			t.Errorf("the event about another location was reconciled")
		}
		return ev.pass == "" && ev.final && ev.hint.ID == sentinel
	})
	if !strings.Contains(d.stderr.String(), `level=INFO msg="webhook ignored" component=webhooks source=ghl type=ContactUpdate id=`+foreign+
		` webhook_id=wh-other reason="the event is about location someOtherLocation, not `+ghlemu.DefaultLocationID+`"`) {
		t.Errorf("no info line says the event was ignored and why; log:\n%s", tail(d.stderr.String(), 20))
	}
}
