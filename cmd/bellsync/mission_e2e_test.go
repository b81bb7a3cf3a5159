package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bellsync/bellsync/engine/state"
	ghlemu "github.com/bellsync/bellsync/providers/ghl/emulator"
	pbemu "github.com/bellsync/bellsync/providers/paperbell/emulator"
)

// These tests run the full mission (examples/full/sync.hcl: two-way contacts with ownership, newest_wins,
// suspend on delete and a welcome task; tasks and notes two-way under
// sync.contacts) through the CLI against both emulators seeded from the
// corpus.

const fullConfig = "../../examples/full/sync.hcl"

// Corpus facts the assertions rely on (examples/demo/seed).
const (
	seedClients = 369
	// The 52 kB note and the HTML note are on Paperbell client 79212713,
	// which GHL contact QQjdC0JsQCTzfy1xTUns matches through its
	// additional email.
	bigNoteID   = "15838879"
	htmlNoteID  = "48063842"
	priyaClient = "79212713"
	priyaGHL    = "QQjdC0JsQCTzfy1xTUns"
)

// newMissionHarness is newHarness with the full config and the client-side
// rate limits lifted (the config reads them from the environment).
func newMissionHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, fullConfig)
	for k, v := range map[string]string{"GHL_RATE_LIMIT": "100000", "PAPERBELL_RATE_LIMIT": "1000000"} {
		h.env[k] = v
		t.Setenv(k, v)
	}
	return h
}

// missionPlan is `plan -json` with the fields these tests look at.
type missionPlan struct {
	Changes []missionChange `json:"changes"`
	Summary map[string]int  `json:"summary"`
}

type missionChange struct {
	Sync    string `json:"sync"`
	Action  string `json:"action"`
	Side    string `json:"side"`
	Label   string `json:"label"`
	Reason  string `json:"reason"`
	Origin  string `json:"origin"`
	Problem string `json:"problem"`
	Source  struct {
		Provider string `json:"provider"`
		ID       string `json:"id"`
	} `json:"source"`
	Target struct {
		Provider string `json:"provider"`
		ID       string `json:"id"`
	} `json:"target"`
	Fields    []missionField `json:"fields"`
	Reverse   []missionField `json:"reverse"`
	FollowUps []struct {
		Kind string `json:"kind"`
	} `json:"follow_ups"`
}

type missionField struct {
	Field  string          `json:"field"`
	Old    json.RawMessage `json:"old"`
	New    json.RawMessage `json:"new"`
	Origin string          `json:"origin"`
	Reason string          `json:"reason"`
}

func (h *harness) missionPlanJSON() missionPlan {
	h.t.Helper()
	out, _ := h.mustRun(0, "plan", "-config", h.config, "-json")
	var p missionPlan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		h.t.Fatalf("plan -json is not JSON: %v\n%s", err, tail(out, 20))
	}
	return p
}

// writes are the changes of a plan that would write something (not the
// per-record errors, which are reported and left alone).
func (p missionPlan) writes() []missionChange {
	var out []missionChange
	for _, c := range p.Changes {
		if c.Action != "skip" && c.Action != "error" && c.Problem == "" {
			out = append(out, c)
		}
	}
	return out
}

// knownProblems are the corpus edge cases the contacts sync reports on
// every plan (expected.json): two invalid emails, one record with no
// identifier, and the ambiguous Maria Lopez pair.
var knownProblems = map[string]string{
	"Y2zD3LkqHgWQjBU5JzUw": "invalid email address",
	"cm3uneIecHWjaVVflfOj": "invalid email address",
	"agtyCT9y8iMYaiSyHayH": "no identifier",
	"moSHqh07fd7EWGlrPQrI": "ambiguous identity",
	"ygZrDHcXxmG3MTUknTwC": "ambiguous identity",
}

// unexpectedProblems lists per-record problems other than the known ones.
func (p missionPlan) unexpectedProblems() []string {
	var out []string
	for _, c := range p.Changes {
		if c.Problem == "" {
			continue
		}
		id := c.Source.ID
		if id == "" {
			id = c.Target.ID
		}
		if want, ok := knownProblems[id]; ok && strings.HasPrefix(c.Problem, want) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s/%s: %s", c.Sync, c.Source.ID, c.Target.ID, c.Problem))
	}
	return out
}

// links returns source id -> target id for a sync, read from the state
// database while no command is running.
func (h *harness) links(sync string) map[string]state.Link {
	h.t.Helper()
	st, err := state.OpenSQLite(context.Background(), h.env["BELLSYNC_STATE"])
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	ls, err := st.Links(context.Background(), sync)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]state.Link{}
	for _, l := range ls {
		out[l.SourceID] = l
	}
	return out
}

// configLine is the 1-based line of the first line of path containing
// needle, for asserting provenance without hard-coding line numbers.
func configLine(t *testing.T, path, needle string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line containing %q", path, needle)
	return 0
}

// welcomeTasks counts the Paperbell tasks titled "Welcome ..." per client.
func welcomeTasks(pb *pbemu.Server) map[string]int {
	out := map[string]int{}
	for _, tk := range pb.Tasks("") {
		if strings.HasPrefix(tk.Title, "Welcome ") {
			out[tk.ClientID]++
		}
	}
	return out
}

// newClients are the Paperbell clients whose ids are not in seed.
func newClients(pb *pbemu.Server, seed map[string]bool) []string {
	var out []string
	for _, c := range pb.Clients() {
		if !seed[c.ID] {
			out = append(out, c.ID)
		}
	}
	return out
}

func clientIDs(pb *pbemu.Server) map[string]bool {
	out := map[string]bool{}
	for _, c := range pb.Clients() {
		out[c.ID] = true
	}
	return out
}

// checkWelcomeOnce fails unless every new client has exactly one welcome
// task and no pre-existing client has one.
func checkWelcomeOnce(t *testing.T, pb *pbemu.Server, seed map[string]bool) {
	t.Helper()
	created := newClients(pb, seed)
	if len(created) == 0 {
		t.Fatal("no Paperbell client was created")
	}
	w := welcomeTasks(pb)
	total := 0
	for _, n := range w {
		total += n
	}
	if total != len(created) {
		t.Errorf("welcome tasks = %d, want one per new Paperbell client (%d)", total, len(created))
	}
	for _, id := range created {
		if w[id] != 1 {
			t.Errorf("new client %s has %d welcome tasks, want 1", id, w[id])
		}
	}
	for id, n := range w {
		if seed[id] {
			t.Errorf("existing client %s got %d welcome tasks, want none", id, n)
		}
	}
}

// emptyPlan fails unless `plan -detailed-exitcode` exits 0.
func (h *harness) emptyPlan(t *testing.T) {
	t.Helper()
	code, out, errs := h.bellsync("plan", "-config", h.config, "-detailed-exitcode")
	if code != 0 {
		t.Errorf("plan -detailed-exitcode = %d, want 0 (empty)\n%s\n%s", code, tail(out, 40), errs)
	}
}

// ghlNotes returns every GHL note per contact; pbNotes every Paperbell note
// per client.
func ghlNotes(g *ghlemu.Server) map[string][]ghlemu.Note {
	out := map[string][]ghlemu.Note{}
	for _, c := range g.Contacts() {
		out[c.ID()] = g.Notes(c.ID())
	}
	return out
}

func pbNotes(pb *pbemu.Server) map[string][]pbemu.Note {
	out := map[string][]pbemu.Note{}
	for _, n := range pb.Notes("") {
		out[n.ClientID] = append(out[n.ClientID], n)
	}
	return out
}

// checkNotesMirrored fails unless, for every linked contact, the multiset
// of note texts is the same on both sides and no text appears twice on
// one side unless it did in the seed.
func checkNotesMirrored(t *testing.T, h *harness) {
	t.Helper()
	gn, pn := ghlNotes(h.ghl), pbNotes(h.pb)
	n := 0
	for gid, l := range h.links("contacts") {
		if l.Status != state.LinkActive {
			continue
		}
		var g, p []string
		for _, x := range gn[gid] {
			g = append(g, x.Body())
		}
		for _, x := range pn[l.TargetID] {
			p = append(p, x.Content)
		}
		sort.Strings(g)
		sort.Strings(p)
		if strings.Join(g, "\x00") != strings.Join(p, "\x00") {
			t.Errorf("contact %s / client %s: notes differ:\n ghl: %q\n  pb: %q", gid, l.TargetID, short(g), short(p))
		}
		for i := 1; i < len(g); i++ {
			if g[i] == g[i-1] {
				t.Errorf("contact %s: note %q twice", gid, shorten(g[i]))
			}
		}
		n += len(g)
	}
	if n == 0 {
		t.Error("no notes on any linked contact")
	}
}

func short(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = shorten(x)
	}
	return out
}

func shorten(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%s... (%d bytes)", s[:60], len(s))
	}
	return s
}

// TestMission is the first apply of the full mission over the whole
// corpus: contacts created and linked both ways, one welcome task per new
// Paperbell client, tasks and notes mirrored (a note already on both sides
// linked, the 52 kB and HTML notes byte for byte), a task whose client is
// not linked reported on its own, and an empty plan afterwards.
func TestMission(t *testing.T) {
	h := newMissionHarness(t)
	seed := clientIDs(h.pb)
	if len(seed) != seedClients {
		t.Fatalf("seed has %d clients, want %d", len(seed), seedClients)
	}

	// A note that exists on both sides before the first run (the same
	// text, different surrounding white space) must be linked, not copied.
	const shared = "Prefers morning sessions; invoice via Stripe."
	h.ghl.PutNote(ghlemu.Note{"contactId": priyaGHL, "body": shared + "\n"})
	if _, err := h.pb.PutNote(pbemu.Note{ClientID: priyaClient, Content: "  " + shared}); err != nil {
		t.Fatal(err)
	}
	// A Paperbell client with no email and no phone has no identifier, so
	// it is never linked, and its task has nowhere to go in GHL: that task
	// is reported on its own and every other task is still synced.
	orphan := h.pb.PutClient(pbemu.Client{FirstName: "Nobody"})
	orphanTask, err := h.pb.PutTask(pbemu.Task{ClientID: orphan.ID, Title: "Orphaned task"})
	if err != nil {
		t.Fatal(err)
	}
	knownProblems[orphan.ID] = "no identifier"
	knownProblems[orphanTask.ID] = "its parent contacts record"
	t.Cleanup(func() { delete(knownProblems, orphan.ID); delete(knownProblems, orphanTask.ID) })
	seed[orphan.ID] = true
	seedBig, seedHTML := pbNoteByID(t, h.pb, bigNoteID), pbNoteByID(t, h.pb, htmlNoteID)
	ghlSeedNotes := map[string]string{} // body -> contact, GHL-only seed notes
	for _, c := range h.ghl.Contacts() {
		for _, n := range h.ghl.Notes(c.ID()) {
			if n.Body() != shared+"\n" {
				ghlSeedNotes[n.Body()] = c.ID()
			}
		}
	}

	t.Run("first apply", func(t *testing.T) {
		p := h.missionPlanJSON()
		if bad := p.unexpectedProblems(); len(bad) > 0 {
			t.Errorf("unexpected per-record problems:\n%s", strings.Join(bad, "\n"))
		}
		followUps, orphanReported := 0, false
		for _, c := range p.Changes {
			followUps += len(c.FollowUps)
			if c.Sync == "tasks" && c.Source.ID == orphanTask.ID {
				orphanReported = c.Problem != "" && !orphanReported
			}
		}
		if !orphanReported {
			t.Errorf("the task of an unlinked client (%s) is not reported once as a per-record problem", orphanTask.ID)
		}

		h.mustRun(0, "apply", "-config", h.config, "-auto-approve")

		noDuplicates(t, h.pb.Clients())
		created := newClients(h.pb, seed)
		if followUps != len(created) {
			t.Errorf("plan showed %d welcome follow-ups, apply created %d clients", followUps, len(created))
		}
		checkWelcomeOnce(t, h.pb, seed)

		// Every Paperbell client that is not a known edge case is linked
		// to a GHL contact (Paperbell-only clients were created in GHL).
		linked := map[string]bool{}
		for _, l := range h.links("contacts") {
			linked[l.TargetID] = true
		}
		unlinked := 0
		for id := range seed {
			if !linked[id] && id != orphan.ID {
				unlinked++
			}
		}
		// maria.lopez@example.com is the one seed client left alone (its
		// two GHL contacts are ambiguous).
		if unlinked > 1 {
			t.Errorf("%d seed Paperbell clients are not linked, want at most 1", unlinked)
		}
		if n := len(h.ghl.Contacts()); n <= 968 {
			t.Errorf("GHL has %d contacts, want the Paperbell-only clients created there too", n)
		}

		// Tasks: every linked pair has the same task titles and states on
		// both sides, welcome tasks included.
		tasksByClient := map[string][]string{}
		for _, tk := range h.pb.Tasks("") {
			tasksByClient[tk.ClientID] = append(tasksByClient[tk.ClientID], fmt.Sprintf("%s/%v", tk.Title, tk.Status == "completed"))
		}
		mirrored := 0
		for gid, l := range h.links("contacts") {
			var g []string
			for _, tk := range h.ghl.Tasks(gid) {
				g = append(g, fmt.Sprintf("%s/%v", tk["title"], tk.Completed()))
			}
			pt := tasksByClient[l.TargetID]
			sort.Strings(g)
			sort.Strings(pt)
			if strings.Join(g, "|") != strings.Join(pt, "|") {
				t.Errorf("contact %s / client %s: tasks differ:\n ghl: %q\n  pb: %q", gid, l.TargetID, g, pt)
			}
			mirrored += len(g)
		}
		for _, c := range h.ghl.Contacts() {
			for _, gt := range h.ghl.Tasks(c.ID()) {
				if gt["title"] == "Orphaned task" {
					t.Errorf("the orphaned task was created in GHL under %s", c.ID())
				}
			}
		}
		if mirrored < 167+24 {
			t.Errorf("%d tasks on linked contacts, want at least the corpus's 191", mirrored)
		}

		// Notes: the shared note is linked once, the seed's GHL notes are in
		// Paperbell and its Paperbell notes in GHL, the edge-case notes byte
		// for byte.
		checkNotesMirrored(t, h)
		sharedCount := 0
		for _, n := range h.pb.Notes(priyaClient) {
			if strings.TrimSpace(n.Content) == shared {
				sharedCount++
			}
		}
		if sharedCount != 1 {
			t.Errorf("the note present on both sides is %d times in Paperbell, want 1 (linked, not copied)", sharedCount)
		}
		contactLinks := h.links("contacts")
		for body, gid := range ghlSeedNotes {
			l, ok := contactLinks[gid]
			if !ok {
				continue
			}
			if !hasPBNote(h.pb, l.TargetID, body) {
				t.Errorf("GHL note %q of %s is not in Paperbell client %s", shorten(body), gid, l.TargetID)
			}
		}
		checkNoteArrived(t, h, seedBig.Content)
		checkNoteArrived(t, h, seedHTML.Content)

		h.emptyPlan(t)
	})
}

// TestMissionEdits runs the steps after a first apply, in order, on a
// slice of the corpus (smallSeed): edits on either side, task completion
// both ways, and note backfill. Each step ends with an empty plan, so a
// later step starts from a synced state.
func TestMissionEdits(t *testing.T) {
	h := newSeededHarness(t, fullConfig, smallSeed(t, 60, 5))
	seedBig, seedHTML := pbNoteByID(t, h.pb, bigNoteID), pbNoteByID(t, h.pb, htmlNoteID)
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	h.emptyPlan(t)

	pair := pickLinkedPair(t, h)
	firstNameLine := configLine(t, h.config, "first_name = source.firstName")
	lastNameLine := configLine(t, h.config, "lastName  = target.last_name")

	t.Run("edit in GHL", func(t *testing.T) {
		c, _ := h.ghl.Contact(pair.SourceID)
		c["firstName"] = "Zebulon"
		h.ghl.PutContact(c)
		ch := onlyWrite(t, h.missionPlanJSON())
		if ch.Action != "update" || ch.Sync != "contacts" || ch.Target.ID != pair.TargetID {
			t.Fatalf("want an update of paperbell.contacts[%s], got %+v", pair.TargetID, ch)
		}
		f := onlyField(t, ch)
		want := fmt.Sprintf("sync.hcl:%d", firstNameLine)
		if f.Field != "first_name" || string(f.New) != `"Zebulon"` || f.Origin != want || f.Reason == "" {
			t.Errorf("field change = %+v, want first_name -> \"Zebulon\" from %s with a reason", f, want)
		}
		// apply prints the same plan as text before applying it.
		out, _ := h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
		if !regexp.MustCompile(`first_name += .* -> "Zebulon" +# ` + regexp.QuoteMeta(want) + `, \S`).MatchString(out) {
			t.Errorf("text plan does not show the change with its provenance:\n%s", tail(out, 20))
		}
		if !strings.Contains(out, "Plan: 0 to create, 1 to update, 0 to link") {
			t.Errorf("text plan summary:\n%s", tail(out, 3))
		}
		if got, _ := h.pb.Client(pair.TargetID); got.FirstName != "Zebulon" {
			t.Errorf("Paperbell first_name = %q after apply", got.FirstName)
		}
		h.emptyPlan(t)
	})

	t.Run("edit in Paperbell", func(t *testing.T) {
		c, _ := h.pb.Client(pair.TargetID)
		c.LastName = "Quillfeather"
		h.pb.PutClient(c)
		p := h.missionPlanJSON()
		ch := onlyWrite(t, p)
		if ch.Action != "update" || ch.Sync != "contacts" {
			t.Fatalf("want an update of ghl.contacts[%s], got %+v", pair.SourceID, ch)
		}
		fs := append(append([]missionField{}, ch.Fields...), ch.Reverse...)
		if len(fs) != 1 {
			t.Fatalf("want exactly one field change, got %+v", fs)
		}
		f := fs[0]
		want := fmt.Sprintf("sync.hcl:%d", lastNameLine)
		if f.Field != "lastName" || string(f.New) != `"Quillfeather"` || f.Origin != want || f.Reason == "" {
			t.Errorf("field change = %+v, want lastName -> \"Quillfeather\" from %s with a reason", f, want)
		}
		out, _ := h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
		if !regexp.MustCompile(`lastName += .* -> "Quillfeather" +# ` + regexp.QuoteMeta(want) + `, \S`).MatchString(out) {
			t.Errorf("text plan does not show the change with its provenance:\n%s", tail(out, 20))
		}
		if !strings.Contains(out, "Plan: 0 to create, 1 to update, 0 to link") {
			t.Errorf("text plan summary:\n%s", tail(out, 3))
		}
		if got, _ := h.ghl.Contact(pair.SourceID); str(got["lastName"]) != "Quillfeather" {
			t.Errorf("GHL lastName = %q after apply", got["lastName"])
		}
		h.emptyPlan(t)
	})

	t.Run("task completion both ways", func(t *testing.T) {
		links := h.links("tasks")
		var pbTask pbemu.Task
		var ghlTask ghlemu.Task
		for _, tk := range h.pb.Tasks("") {
			if tk.Status != "open" || strings.HasPrefix(tk.Title, "Welcome ") {
				continue
			}
			l, ok := links[tk.ID]
			if !ok {
				continue
			}
			if gt, ok := findGHLTask(h.ghl, l.TargetParent, l.TargetID); ok {
				pbTask, ghlTask = tk, gt
				break
			}
		}
		if pbTask.ID == "" {
			t.Fatal("no open linked task in the corpus")
		}

		ghlTask["completed"] = true
		h.ghl.PutTask(ghlTask)
		out, _ := h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
		if !strings.Contains(out, "Plan: 0 to create, 1 to update, 0 to link") || !strings.Contains(out, `"completed"`) {
			t.Errorf("want one update setting status to completed:\n%s", tail(out, 12))
		}
		if got := pbTaskByID(t, h.pb, pbTask.ID); got.Status != "completed" {
			t.Errorf("Paperbell task %s status = %q after completing it in GHL, want completed", pbTask.ID, got.Status)
		}

		got := pbTaskByID(t, h.pb, pbTask.ID)
		got.Status = "open"
		got.CompletedAt = nil
		if _, err := h.pb.PutTask(got); err != nil {
			t.Fatal(err)
		}
		h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
		if gt, _ := findGHLTask(h.ghl, ghlTask.ContactID(), ghlTask.ID()); gt.Completed() {
			t.Errorf("GHL task %s still completed after re-opening it in Paperbell", ghlTask.ID())
		}
		h.emptyPlan(t)
	})

	t.Run("note backfill", func(t *testing.T) {
		const both, ghlOnly, pbOnly = "Both sides wrote this down.", "Only GHL knows this.", "Only Paperbell knows this: <b>bold</b> & \"quoted\""
		h.ghl.PutNote(ghlemu.Note{"contactId": pair.SourceID, "body": both})
		h.ghl.PutNote(ghlemu.Note{"contactId": pair.SourceID, "body": ghlOnly})
		for _, c := range []string{both, pbOnly} {
			if _, err := h.pb.PutNote(pbemu.Note{ClientID: pair.TargetID, Content: c}); err != nil {
				t.Fatal(err)
			}
		}
		p := h.missionPlanJSON()
		var kinds []string
		for _, c := range p.writes() {
			kinds = append(kinds, c.Sync+":"+c.Action)
		}
		sort.Strings(kinds)
		if got, want := strings.Join(kinds, " "), "notes:create notes:create notes:link"; got != want {
			t.Errorf("plan writes %q, want %q", got, want)
		}
		for range 2 {
			h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
		}
		h.emptyPlan(t)
		for _, text := range []string{both, ghlOnly, pbOnly} {
			if n := countGHLNotes(h.ghl, pair.SourceID, text); n != 1 {
				t.Errorf("GHL has %q %d times, want 1", text, n)
			}
			if n := countPBNotes(h.pb, pair.TargetID, text); n != 1 {
				t.Errorf("Paperbell has %q %d times, want 1", text, n)
			}
		}
		checkNotesMirrored(t, h)
		checkNoteArrived(t, h, seedBig.Content)
		checkNoteArrived(t, h, seedHTML.Content)
	})
}

// pickLinkedPair returns an active contacts link between a GHL contact and
// a seed Paperbell client that both have a first name and an email.
func pickLinkedPair(t *testing.T, h *harness) state.Link {
	t.Helper()
	var ids []string
	links := h.links("contacts")
	for id := range links {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		l := links[id]
		c, ok := h.ghl.Contact(id)
		pc, ok2 := h.pb.Client(l.TargetID)
		if ok && ok2 && l.Status == state.LinkActive && str(c["firstName"]) != "" && c.Email() != "" &&
			pc.Email != "" && len(h.pb.Notes(l.TargetID)) == 0 && len(h.ghl.Notes(id)) == 0 {
			return l
		}
	}
	t.Fatal("no linked pair to edit")
	return state.Link{}
}

func onlyWrite(t *testing.T, p missionPlan) missionChange {
	t.Helper()
	w := p.writes()
	if len(w) != 1 {
		var s []string
		for _, c := range w {
			s = append(s, fmt.Sprintf("%s %s %s->%s %+v %+v", c.Sync, c.Action, c.Source.ID, c.Target.ID, c.Fields, c.Reverse))
		}
		t.Fatalf("plan has %d writes, want exactly 1:\n%s", len(w), strings.Join(s, "\n"))
	}
	return w[0]
}

func onlyField(t *testing.T, c missionChange) missionField {
	t.Helper()
	fs := append(append([]missionField{}, c.Fields...), c.Reverse...)
	if len(fs) != 1 {
		t.Fatalf("want exactly one field change, got %+v", fs)
	}
	return fs[0]
}

func pbNoteByID(t *testing.T, pb *pbemu.Server, id string) pbemu.Note {
	t.Helper()
	for _, n := range pb.Notes("") {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("no Paperbell note %s", id)
	return pbemu.Note{}
}

func pbTaskByID(t *testing.T, pb *pbemu.Server, id string) pbemu.Task {
	t.Helper()
	for _, tk := range pb.Tasks("") {
		if tk.ID == id {
			return tk
		}
	}
	t.Fatalf("no Paperbell task %s", id)
	return pbemu.Task{}
}

func findGHLTask(g *ghlemu.Server, contactID, id string) (ghlemu.Task, bool) {
	for _, tk := range g.Tasks(contactID) {
		if tk.ID() == id {
			return tk, true
		}
	}
	return nil, false
}

func hasPBNote(pb *pbemu.Server, clientID, content string) bool {
	return countPBNotes(pb, clientID, content) > 0
}

func countPBNotes(pb *pbemu.Server, clientID, content string) int {
	n := 0
	for _, x := range pb.Notes(clientID) {
		if x.Content == content {
			n++
		}
	}
	return n
}

func countGHLNotes(g *ghlemu.Server, contactID, body string) int {
	n := 0
	for _, x := range g.Notes(contactID) {
		if x.Body() == body {
			n++
		}
	}
	return n
}

// checkNoteArrived fails unless GHL contact priyaGHL has exactly one note
// whose body is content, byte for byte.
func checkNoteArrived(t *testing.T, h *harness, content string) {
	t.Helper()
	if n := countGHLNotes(h.ghl, priyaGHL, content); n != 1 {
		var got []string
		for _, x := range h.ghl.Notes(priyaGHL) {
			got = append(got, shorten(x.Body()))
		}
		t.Errorf("GHL contact %s has the note %q %d times byte for byte, want 1; its notes: %q", priyaGHL, shorten(content), n, got)
	}
}

// TestMissionKilledApplyWelcomeOnce kills a real bellsync process in the
// middle of the full mission's first apply and reruns it: each new client
// must end up with exactly one welcome task and the next plan is empty.
func TestMissionKilledApplyWelcomeOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "bellsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	h := newSeededHarness(t, fullConfig, smallSeed(t, 450, 5))
	seed := clientIDs(h.pb)
	h.pb.SetFaults(pbemu.Faults{Latency: 5 * time.Millisecond})
	cmd := exec.Command(bin, "apply", "-config", h.config, "-auto-approve", "-parallelism", "4")
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once welcome tasks are being written: creates and their
	// follow-ups are interleaved, so some are in flight.
	deadline := time.Now().Add(2 * time.Minute)
	for len(welcomeTasks(h.pb)) < 40 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("apply made no progress")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	time.Sleep(50 * time.Millisecond)
	h.pb.SetFaults(pbemu.Faults{})
	partial := len(newClients(h.pb, seed))
	t.Logf("killed after %d new clients, %d with a welcome task", partial, len(welcomeTasks(h.pb)))
	if partial >= 300 {
		t.Fatalf("the kill came too late to test anything (%d new clients)", partial)
	}

	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	noDuplicates(t, h.pb.Clients())
	checkWelcomeOnce(t, h.pb, seed)
	h.emptyPlan(t)
}

// TestMissionSavedPlan applies the full mission through a saved plan, as a
// reviewed change would be: the welcome tasks that apply creates did not
// exist at plan time, yet their GHL copies are made in the same apply, so
// the next plan is empty.
func TestMissionSavedPlan(t *testing.T) {
	h := newSeededHarness(t, fullConfig, smallSeed(t, 60, 3))
	seed := clientIDs(h.pb)
	planFile := filepath.Join(h.dir, "mission.plan")
	h.mustRun(2, "plan", "-config", h.config, "-out", planFile, "-detailed-exitcode")
	out, _ := h.mustRun(0, "apply", "-config", h.config, planFile)
	t.Logf("apply:\n%s", tail(out, 5))
	checkWelcomeOnce(t, h.pb, seed)
	if want := fmt.Sprintf("%d records made by on_create rules.", len(newClients(h.pb, seed))); !strings.Contains(out, want) {
		t.Errorf("the apply summary does not count the welcome tasks (%q):\n%s", want, tail(out, 5))
	}
	mirrored := 0
	for _, c := range h.ghl.Contacts() {
		for _, tk := range h.ghl.Tasks(c.ID()) {
			if title, _ := tk["title"].(string); strings.HasPrefix(title, "Welcome ") {
				mirrored++
			}
		}
	}
	if want := len(newClients(h.pb, seed)); mirrored != want {
		t.Errorf("welcome tasks mirrored into GHL = %d, want %d", mirrored, want)
	}
	h.emptyPlan(t)
}

// TestMissionSavedPlanTwice: a saved plan applied a second time, or a
// second plan made before the first was applied, is refused whole, so
// nothing it would create is created twice.
func TestMissionSavedPlanTwice(t *testing.T) {
	h := newSeededHarness(t, fullConfig, smallSeed(t, 60, 3))
	first, second := filepath.Join(h.dir, "a.plan"), filepath.Join(h.dir, "b.plan")
	h.mustRun(2, "plan", "-config", h.config, "-out", first, "-detailed-exitcode")
	h.mustRun(2, "plan", "-config", h.config, "-out", second, "-detailed-exitcode")
	h.mustRun(0, "apply", "-config", h.config, first)
	counts := func() [3]int {
		var tasks, notes int
		for _, c := range h.ghl.Contacts() {
			tasks += len(h.ghl.Tasks(c.ID()))
			notes += len(h.ghl.Notes(c.ID()))
		}
		return [3]int{len(h.pb.Clients()) + len(h.ghl.Contacts()), len(h.pb.Tasks("")) + tasks, len(h.pb.Notes("")) + notes}
	}
	before := counts()
	for _, f := range []string{first, second} {
		_, errs := h.mustRun(1, "apply", "-config", h.config, f)
		if !strings.Contains(errs, "the state changed since this plan was made") || !strings.Contains(errs, "run `bellsync plan` again") {
			t.Errorf("apply %s: stderr does not explain the refusal:\n%s", filepath.Base(f), errs)
		}
	}
	if after := counts(); after != before {
		t.Errorf("[records, tasks, notes] went from %v to %v on refused applies", before, after)
	}
	h.emptyPlan(t)

	// A plan made now is current again, even though it has nothing to do.
	third := filepath.Join(h.dir, "c.plan")
	h.mustRun(0, "plan", "-config", h.config, "-out", third)
	h.mustRun(0, "apply", "-config", h.config, third)
}

// TestMissionParentDeleteKeepsChildren: deleting a contact on either side
// takes its tasks and notes with it there, and the contact's delete policy
// (suspend here, retain on the way back) then decides the survivor. The
// child syncs' own on_delete = "delete" must not strip the survivor's
// history just because its counterparts vanished with their parent.
func TestMissionParentDeleteKeepsChildren(t *testing.T) {
	src, err := os.ReadFile(fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(src)
	for _, child := range []string{`sync "tasks" {`, `sync "notes" {`} {
		if !strings.Contains(cfg, child) {
			t.Fatalf("the full config has no %s", child)
		}
		cfg = strings.Replace(cfg, child, child+"\n  on_delete = \"delete\"\n  max_deletes = 100\n", 1)
	}
	path := filepath.Join(t.TempDir(), "sync.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newSeededHarness(t, path, smallSeed(t, 60, 3))
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	h.emptyPlan(t)

	// A GHL contact whose Paperbell client has tasks and notes.
	var contact, client string
	for s, l := range h.links("contacts") {
		if len(h.pb.Tasks(l.TargetID)) > 0 && len(h.pb.Notes(l.TargetID)) > 0 {
			contact, client = s, l.TargetID
			break
		}
	}
	if contact == "" {
		t.Fatal("no linked contact has both tasks and notes")
	}
	tasks, notes := len(h.pb.Tasks(client)), len(h.pb.Notes(client))
	if !h.ghl.DeleteContactDirect(contact) {
		t.Fatal("delete failed")
	}
	out, _ := h.mustRun(2, "plan", "-config", h.config, "-detailed-exitcode")
	if strings.Contains(out, "will be deleted") {
		t.Errorf("the plan deletes records after a parent delete:\n%s", tail(out, 30))
	}
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	c, ok := h.pb.Client(client)
	if !ok || !c.Archived {
		t.Errorf("client %s after its GHL contact was deleted: %+v, %v; want it kept and archived", client, c, ok)
	}
	if got := [2]int{len(h.pb.Tasks(client)), len(h.pb.Notes(client))}; got != [2]int{tasks, notes} {
		t.Errorf("client %s has [tasks, notes] %v, want %v kept", client, got, [2]int{tasks, notes})
	}
	h.emptyPlan(t)
	// The kept tasks and notes are history, not errors on every plan.
	if out, _ := h.mustRun(0, "plan", "-config", h.config); strings.Contains(out, "nowhere to put it") {
		t.Errorf("the suspended client's children are reported as errors:\n%s", tail(out, 20))
	}

	// The other way: a Paperbell client deleted (with its tasks and notes)
	// leaves the GHL contact's tasks and notes alone.
	contact, client = "", ""
	for s, l := range h.links("contacts") {
		if l.Status == state.LinkActive && len(h.ghl.Tasks(s)) > 0 && len(h.ghl.Notes(s)) > 0 {
			contact, client = s, l.TargetID
			break
		}
	}
	if contact == "" {
		t.Fatal("no linked contact has both GHL tasks and notes")
	}
	tasks, notes = len(h.ghl.Tasks(contact)), len(h.ghl.Notes(contact))
	if !h.pb.DeleteClientDirect(client) {
		t.Fatal("delete failed")
	}
	out, _ = h.mustRun(0, "plan", "-config", h.config)
	if strings.Contains(out, "will be deleted") {
		t.Errorf("the plan deletes records after a parent delete:\n%s", tail(out, 30))
	}
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	if got := [2]int{len(h.ghl.Tasks(contact)), len(h.ghl.Notes(contact))}; got != [2]int{tasks, notes} {
		t.Errorf("contact %s has [tasks, notes] %v, want %v kept", contact, got, [2]int{tasks, notes})
	}
	h.emptyPlan(t)
}

// TestMissionSavedSuspend: a saved plan's suspend is applied when its
// counterpart is really gone, and refused when the plan file was edited
// to suspend a pair whose records both still exist.
func TestMissionSavedSuspend(t *testing.T) {
	h := newSeededHarness(t, fullConfig, smallSeed(t, 60, 3))
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	links := h.links("contacts")
	var ids []string
	for s := range links {
		ids = append(ids, s)
	}
	sort.Strings(ids)
	gone, other := ids[0], ids[1]
	if !h.ghl.DeleteContactDirect(gone) {
		t.Fatal("delete failed")
	}
	planFile := filepath.Join(h.dir, "suspend.plan")
	h.mustRun(2, "plan", "-config", h.config, "-out", planFile, "-detailed-exitcode")
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.ReplaceAll(strings.ReplaceAll(string(data), gone, other), links[gone].TargetID, links[other].TargetID)
	edited := filepath.Join(h.dir, "edited.plan")
	if err := os.WriteFile(edited, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs := h.mustRun(1, "apply", "-config", h.config, edited)
	if !strings.Contains(errs, "still exists, so there is nothing to answer with a suspend") {
		t.Errorf("an edited suspend was not refused:\n%s", errs)
	}
	if c, _ := h.pb.Client(links[other].TargetID); c.Archived {
		t.Errorf("client %s was archived by an edited plan", c.ID)
	}
	h.mustRun(0, "apply", "-config", h.config, planFile)
	if c, _ := h.pb.Client(links[gone].TargetID); !c.Archived {
		t.Errorf("client %s was not archived by the genuine plan", c.ID)
	}
	h.emptyPlan(t)
}

// TestMissionForgetOrphansKeepsSuspended: `state forget -orphans` leaves
// links the delete policy retired alone; forgetting one would have the
// next plan copy the archived client back into GHL and undo the suspend.
func TestMissionForgetOrphansKeepsSuspended(t *testing.T) {
	h := newSeededHarness(t, fullConfig, smallSeed(t, 60, 3))
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	var gone string
	for s := range h.links("contacts") {
		gone = s
		break
	}
	if !h.ghl.DeleteContactDirect(gone) {
		t.Fatal("delete failed")
	}
	h.mustRun(0, "apply", "-config", h.config, "-auto-approve")
	if l := h.links("contacts")[gone]; l.Status != state.LinkSuspended {
		t.Fatalf("link of the deleted contact: %+v, want suspended", l)
	}
	audit, _ := h.mustRun(0, "state", "audit", "-config", h.config)
	if !strings.Contains(audit, "kept as history") {
		t.Errorf("state audit does not say the suspended link is history:\n%s", audit)
	}
	out, _ := h.mustRun(0, "state", "forget", "-config", h.config, "-sync", "contacts", "-orphans")
	if !strings.Contains(out, "Kept 1 suspended or deleted link") {
		t.Errorf("forget -orphans output:\n%s", out)
	}
	if _, ok := h.links("contacts")[gone]; !ok {
		t.Error("the suspended link was forgotten")
	}
	h.emptyPlan(t)
}

// TestMissionBadInput is config a new user would try: a two-way field with
// no conflict rule and no owner, and a delete policy the target cannot
// honour safely. (A task whose contact is missing is in TestMission.)
func TestMissionBadInput(t *testing.T) {
	src, err := os.ReadFile(fullConfig)
	if err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"GHL_BASE_URL": "http://127.0.0.1:1", "GHL_LOCATION_ID": "L", "GHL_TOKEN": "t",
		"PAPERBELL_BASE_URL": "http://127.0.0.1:2", "PAPERBELL_API_KEY": "k"}
	validate := func(t *testing.T, body string) (int, string) {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		p := filepath.Join(t.TempDir(), "sync.hcl")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs := (&harness{t: t, env: env}).bellsync("validate", "-config", p)
		return code, errs
	}
	edit := func(t *testing.T, old, new string) string {
		t.Helper()
		if !strings.Contains(string(src), old) {
			t.Fatalf("%s has no %q", fullConfig, old)
		}
		return strings.Replace(string(src), old, new, 1)
	}

	t.Run("valid as shipped", func(t *testing.T) {
		if code, errs := validate(t, string(src)); code != 0 {
			t.Fatalf("validate = %d\n%s", code, errs)
		}
	})

	t.Run("two-way field with no conflict rule and no owner", func(t *testing.T) {
		// The notes sync maps body one way and content back, with
		// source_wins; drop the rule and map a field both ways on contacts
		// without ownership.
		body := edit(t, `  conflict = "newest_wins"`, ``)
		body = strings.Replace(body, "  ownership {\n    email = \"source\"\n    phone = \"source\"\n    tags  = \"source\"\n  }\n", "", 1)
		code, errs := validate(t, body)
		if code != 1 {
			t.Fatalf("validate = %d, want 1\n%s", code, errs)
		}
		errs = strings.Join(strings.Fields(errs), " ") // the detail is wrapped
		// The diagnostic names each two-way field with the line of its
		// reverse_map entry.
		line := lineOf(body, "firstName = target.first_name")
		if !strings.Contains(errs, "without a rule") || !strings.Contains(errs, fmt.Sprintf("firstName at line %d", line)) {
			t.Errorf("want a diagnostic naming reverse_map firstName at line %d:\n%s", line, errs)
		}
	})

	t.Run("delete toward Paperbell without allow_cascading_delete", func(t *testing.T) {
		body := edit(t, `on_delete   = "suspend"`, `on_delete   = "delete"`)
		code, errs := validate(t, body)
		if code != 1 {
			t.Fatalf("validate = %d, want 1\n%s", code, errs)
		}
		if !strings.Contains(errs, "cannot be undone") || !strings.Contains(errs, fmt.Sprintf("sync.hcl:%d", lineOf(body, `on_delete   = "delete"`))) {
			t.Errorf("want a diagnostic at the on_delete line saying it cannot be undone:\n%s", errs)
		}
	})
}

func lineOf(body, needle string) int {
	for i, l := range strings.Split(body, "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	return -1
}
