package emulator

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// contactEventFields are the contact properties the Contact* webhook
// schemas document.
var contactEventFields = []string{
	"address1", "city", "companyName", "country", "source", "dateAdded", "dateOfBirth",
	"dnd", "email", "name", "firstName", "lastName", "phone", "postalCode", "state",
	"tags", "website", "attachments", "assignedTo", "customFields", "dndSettings",
}

func (s *Server) emitContact(c *call, typ string, ct Contact) {
	if s.hookURL() == "" {
		return
	}
	ev := map[string]any{"type": typ, "locationId": ct.LocationID(), "id": ct.ID()}
	for _, k := range contactEventFields {
		if v, ok := ct[k]; ok {
			ev[k] = v
		}
	}
	if _, ok := ev["attachments"]; !ok {
		ev["attachments"] = []any{}
	}
	s.deliver(c, ev)
}

func (s *Server) emitTask(c *call, typ string, t map[string]any, now time.Time) {
	if s.hookURL() == "" {
		return
	}
	ev := map[string]any{"type": typ, "locationId": c.location, "dateAdded": formatTime(now)}
	for _, k := range []string{"id", "assignedTo", "body", "contactId", "title", "dueDate"} {
		if v, ok := t[k]; ok {
			ev[k] = v
		}
	}
	s.deliver(c, ev)
}

func (s *Server) emitNote(c *call, typ string, n map[string]any) {
	if s.hookURL() == "" {
		return
	}
	ev := map[string]any{"type": typ, "locationId": c.location}
	for _, k := range []string{"id", "body", "contactId", "dateAdded"} {
		if v, ok := n[k]; ok {
			ev[k] = v
		}
	}
	s.deliver(c, ev)
}

// deliver signs and POSTs one event. GHL retries only on 429; the emulator
// does not retry at all and only logs failures, so a broken receiver never
// fails the API call that caused the event.
func (s *Server) deliver(c *call, ev map[string]any) {
	ev["timestamp"] = formatTime(s.now())
	ev["webhookId"] = newTraceID(s)
	ev["appId"] = s.opts.AppID
	ev["versionId"] = s.opts.AppID + "-v1"
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		s.log.Error("encode webhook", "err", err)
		return
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	hdr, err := s.signatures(raw)
	if err != nil {
		s.log.Error("sign webhook", "err", err)
		return
	}
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.count("webhook", 0, func(st *Stats) { st.Webhooks++ })
	// The request's own context is not used: the event must go out even if
	// the client that made the change has already hung up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.r.Context()), 5*time.Second)
	defer cancel()
	if err := s.post(ctx, raw, hdr); err != nil {
		s.log.Warn("webhook delivery failed", "type", ev["type"], "err", err)
	}
}

// signatures returns x-ghl-signature (Ed25519) and x-wh-signature
// (RSA-SHA256 PKCS#1 v1.5), each base64 over the raw body.
func (s *Server) signatures(raw []byte) (http.Header, error) {
	h := http.Header{}
	if k := s.opts.WebhookEd25519Key; k != nil {
		h.Set("x-ghl-signature", base64.StdEncoding.EncodeToString(ed25519.Sign(k, raw)))
	}
	if k := s.opts.WebhookRSAKey; k != nil {
		sum := sha256.Sum256(raw)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			return nil, fmt.Errorf("rsa sign: %w", err)
		}
		h.Set("x-wh-signature", base64.StdEncoding.EncodeToString(sig))
	}
	return h, nil
}

func (s *Server) post(ctx context.Context, raw []byte, hdr http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.hookURL(), bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	client := s.opts.WebhookClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook post: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook post: status %d", resp.StatusCode)
	}
	return nil
}
