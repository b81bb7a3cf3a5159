package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smallSeed writes a slice of the corpus to a temporary directory: the
// first n imported GHL contacts plus every hand-made edge case, the
// Paperbell clients they match (by primary or additional email), the
// first pbOnly clients that match no GHL contact, and the tasks and notes
// of the records kept. Records are copied byte for byte. The slice keeps
// the tests that only need some records of each kind fast; the first
// apply over the whole corpus is TestMission.
func smallSeed(t *testing.T, n, pbOnly int) string {
	t.Helper()
	read := func(rel string) []json.RawMessage {
		b, err := os.ReadFile(filepath.Join(seedDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		var rows []json.RawMessage
		if err := json.Unmarshal(b, &rows); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		return rows
	}
	type rec struct {
		ID               string   `json:"id"`
		Email            string   `json:"email"`
		AdditionalEmails []string `json:"additional_emails"`
		Source           string   `json:"source"`
		ContactID        string   `json:"contactId"`
		ClientID         string   `json:"client_id"`
	}
	decode := func(raw json.RawMessage) rec {
		var r rec
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	norm := func(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

	allGHL := map[string]bool{}
	keepGHL := map[string]bool{}
	var contacts []json.RawMessage
	imported := 0
	for _, raw := range read("ghl/contacts.json") {
		r := decode(raw)
		if r.Email != "" {
			allGHL[norm(r.Email)] = true
		}
		if r.Source == "manual entry" || imported < n {
			if r.Source != "manual entry" {
				imported++
			}
			contacts = append(contacts, raw)
			keepGHL[norm(r.Email)] = true
		}
	}
	keepPB := map[string]bool{}
	var clients []json.RawMessage
	only := 0
	for _, raw := range read("paperbell/clients.json") {
		r := decode(raw)
		emails := append([]string{r.Email}, r.AdditionalEmails...)
		keep, inGHL := false, false
		for _, e := range emails {
			if e == "" {
				continue
			}
			keep = keep || keepGHL[norm(e)]
			inGHL = inGHL || allGHL[norm(e)]
		}
		if !inGHL && only < pbOnly {
			keep = true
			only++
		}
		if keep {
			clients = append(clients, raw)
			keepPB[r.ID] = true
		}
	}
	keepContact := map[string]bool{}
	for _, raw := range contacts {
		keepContact[decode(raw).ID] = true
	}
	dir := t.TempDir()
	write := func(rel string, rows []json.RawMessage) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(rows)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	children := func(rel string, keep map[string]bool, parent func(rec) string) {
		var out []json.RawMessage
		for _, raw := range read(rel) {
			if keep[parent(decode(raw))] {
				out = append(out, raw)
			}
		}
		write(rel, out)
	}
	write("ghl/contacts.json", contacts)
	write("paperbell/clients.json", clients)
	children("ghl/tasks.json", keepContact, func(r rec) string { return r.ContactID })
	children("ghl/notes.json", keepContact, func(r rec) string { return r.ContactID })
	children("paperbell/tasks.json", keepPB, func(r rec) string { return r.ClientID })
	children("paperbell/notes.json", keepPB, func(r rec) string { return r.ClientID })
	return dir
}

// newSeededHarness is newMissionHarness on the emulators seeded from dir.
func newSeededHarness(t *testing.T, config, dir string) *harness {
	t.Helper()
	return harnessOn(t, config, dir, map[string]string{"GHL_RATE_LIMIT": "100000"})
}
