package emulator

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type delivery struct {
	header http.Header
	raw    []byte
}

type receiver struct {
	mu  sync.Mutex
	got []delivery
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, delivery{r.Header.Clone(), raw})
	rc.mu.Unlock()
}

func (rc *receiver) take() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.got
	rc.got = nil
	return out
}

func TestWebhooks(t *testing.T) {
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	e := newEnv(t, Options{WebhookURL: hook.URL, WebhookEd25519Key: edKey, WebhookRSAKey: rsaKey, AppID: "app123"})

	cid := createContact(t, e, map[string]any{"firstName": "Hook", "email": "hook@example.com"})["id"].(string)
	e.do("PUT", "/contacts/"+cid, map[string]any{"lastName": "Line", "tags": []any{"x"}})
	e.do("POST", "/contacts/"+cid+"/tags", map[string]any{"tags": []any{"y"}})
	tid := obj(t, e.do("POST", "/contacts/"+cid+"/tasks", map[string]any{"title": "t", "dueDate": "2026-03-11T00:00:00Z", "completed": false}).body, "task")["id"].(string)
	e.do("PUT", "/contacts/"+cid+"/tasks/"+tid+"/completed", map[string]any{"completed": true})
	e.do("DELETE", "/contacts/"+cid+"/tasks/"+tid, nil)
	nid := obj(t, e.do("POST", "/contacts/"+cid+"/notes", map[string]any{"body": "<p>hi</p>"}).body, "note")["id"].(string)
	e.do("PUT", "/contacts/"+cid+"/notes/"+nid, map[string]any{"body": "<p>bye</p>"})
	e.do("DELETE", "/contacts/"+cid+"/notes/"+nid, nil)
	e.do("DELETE", "/contacts/"+cid, nil)
	// Reads and rejected writes send nothing.
	e.do("GET", "/contacts/"+cid, nil)
	e.do("POST", "/contacts/", map[string]any{"locationId": DefaultLocationID, "bogus": true})

	got := rc.take()
	var types []string
	for i, d := range got {
		if !ed25519.Verify(edPub, d.raw, mustB64(t, d.header.Get("x-ghl-signature"))) {
			t.Errorf("delivery %d: bad x-ghl-signature", i)
		}
		sum := sha256.Sum256(d.raw)
		if err := rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, sum[:], mustB64(t, d.header.Get("x-wh-signature"))); err != nil {
			t.Errorf("delivery %d: bad x-wh-signature: %v", i, err)
		}
		var ev map[string]any
		if err := json.Unmarshal(d.raw, &ev); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		types = append(types, ev["type"].(string))
		for _, k := range []string{"locationId", "id", "timestamp", "webhookId", "appId"} {
			if ev[k] == nil || ev[k] == "" {
				t.Errorf("delivery %d (%s): no %s", i, ev["type"], k)
			}
		}
		if ev["appId"] != "app123" {
			t.Errorf("appId = %v", ev["appId"])
		}
		if ev["type"] == "NoteUpdate" && ev["body"] != "<p>bye</p>" {
			t.Errorf("NoteUpdate body = %v", ev["body"])
		}
		if ev["type"] == "ContactTagUpdate" && ev["id"] != cid {
			t.Errorf("ContactTagUpdate id = %v", ev["id"])
		}
	}
	want := []string{"ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactTagUpdate", "TaskCreate", "TaskComplete", "TaskDelete", "NoteCreate", "NoteUpdate", "NoteDelete", "ContactDelete"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("event types (-want +got):\n%s", diff)
	}
	if n := e.s.Stats().Webhooks; n != len(want) {
		t.Errorf("Stats.Webhooks = %d, want %d", n, len(want))
	}
}

func TestWebhookReceiverDownDoesNotFailWrites(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(hook.Close)
	e := newEnv(t, Options{WebhookURL: hook.URL})
	createContact(t, e, map[string]any{"firstName": "Still"})
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}
