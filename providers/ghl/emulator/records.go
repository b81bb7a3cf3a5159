package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bellsync/bellsync/providers/internal/jsonpos"
)

// Contact is a GHL contact exactly as the API returns it (the object inside
// {"contact": ...}). It is map-backed so that every field of the corpus and of
// the spec, known or not, survives a load/serve round trip. Numbers are kept
// as json.Number so their literal text is preserved too.
type Contact map[string]any

// Task is a GHL task as returned inside {"task": ...}, plus contactId.
type Task map[string]any

// Note is a GHL note as returned inside {"note": ...}, plus contactId.
type Note map[string]any

// ID returns the contact's id.
func (c Contact) ID() string { return str(c["id"]) }

// LocationID returns the contact's locationId.
func (c Contact) LocationID() string { return str(c["locationId"]) }

// Email returns the stored email as given (not normalised).
func (c Contact) Email() string { return str(c["email"]) }

// Phone returns the stored phone (E.164 for anything written through the API).
func (c Contact) Phone() string { return str(c["phone"]) }

// Tags returns the stored tags.
func (c Contact) Tags() []string { return strs(c["tags"]) }

// DateUpdated returns dateUpdated, or the zero time when absent or unparsable.
func (c Contact) DateUpdated() time.Time { t, _ := parseTime(c["dateUpdated"]); return t }

// ID returns the task's id.
func (t Task) ID() string { return str(t["id"]) }

// ContactID returns the id of the contact the task belongs to.
func (t Task) ContactID() string { return str(t["contactId"]) }

// Completed reports the task's completed flag.
func (t Task) Completed() bool { b, _ := t["completed"].(bool); return b }

// ID returns the note's id.
func (n Note) ID() string { return str(n["id"]) }

// ContactID returns the id of the contact the note belongs to.
func (n Note) ContactID() string { return str(n["contactId"]) }

// Body returns the note body byte for byte.
func (n Note) Body() string { return str(n["body"]) }

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	switch a := v.(type) {
	case []string:
		return append([]string(nil), a...)
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// timeLayout is how GHL renders timestamps: UTC, milliseconds, Z.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime accepts what GHL clients send for dates: ISO 8601 strings (with
// or without fraction or zone) and epoch milliseconds as a number or a
// numeric string.
func parseTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC(), true
			}
		}
		if n, err := json.Number(x).Int64(); err == nil {
			return time.UnixMilli(n).UTC(), true
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return time.UnixMilli(n).UTC(), true
		}
		if f, err := x.Float64(); err == nil {
			return time.UnixMilli(int64(f)).UTC(), true
		}
	case float64:
		return time.UnixMilli(int64(x)).UTC(), true
	case int64:
		return time.UnixMilli(x).UTC(), true
	case int:
		return time.UnixMilli(int64(x)).UTC(), true
	}
	return time.Time{}, false
}

// clone deep-copies a decoded JSON value so callers never share maps with
// the store.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case Contact:
		return Contact(clone(map[string]any(x)).(map[string]any))
	case Task:
		return Task(clone(map[string]any(x)).(map[string]any))
	case Note:
		return Note(clone(map[string]any(x)).(map[string]any))
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = clone(e)
		}
		return a
	case []string:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = e
		}
		return a
	}
	return v
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return clone(m).(map[string]any)
}

// decodeJSON decodes with UseNumber so numbers keep their literal form.
func decodeJSON(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

func decodeArray(r io.Reader) ([]map[string]any, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var recs []map[string]any
	if err := decodeJSON(data, &recs); err != nil {
		return nil, fmt.Errorf("decode: %w", jsonpos.Wrap(data, err))
	}
	for i, rec := range recs {
		if str(rec["id"]) == "" {
			return nil, fmt.Errorf("record %d: missing id", i)
		}
	}
	return recs, nil
}

// LoadContacts adds the contacts in r, a JSON array in the corpus format.
// Records are stored as given (no normalisation, no duplicate check), are
// visible to search at once, and replace contacts with the same id.
// Contacts without a locationId get the server's default location.
func (s *Server) LoadContacts(r io.Reader) error {
	recs, err := decodeArray(r)
	if err != nil {
		return fmt.Errorf("load contacts: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range recs {
		if str(rec["locationId"]) == "" {
			rec["locationId"] = s.opts.LocationID
		}
		s.contacts[str(rec["id"])] = &contactEntry{revs: []revision{{doc: Contact(rec)}}}
	}
	s.generation++
	return nil
}

// LoadTasks adds the tasks in r, a JSON array of task objects carrying
// contactId. Tasks of unknown contacts are kept; they appear once the
// contact exists.
func (s *Server) LoadTasks(r io.Reader) error {
	recs, err := decodeArray(r)
	if err != nil {
		return fmt.Errorf("load tasks: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range recs {
		cid := str(rec["contactId"])
		if cid == "" {
			return fmt.Errorf("load tasks: task %s: missing contactId", str(rec["id"]))
		}
		s.tasks[cid] = append(s.tasks[cid], Task(rec))
	}
	return nil
}

// LoadNotes adds the notes in r, a JSON array of note objects carrying
// contactId.
func (s *Server) LoadNotes(r io.Reader) error {
	recs, err := decodeArray(r)
	if err != nil {
		return fmt.Errorf("load notes: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range recs {
		cid := str(rec["contactId"])
		if cid == "" {
			return fmt.Errorf("load notes: note %s: missing contactId", str(rec["id"]))
		}
		s.notes[cid] = append(s.notes[cid], Note(rec))
	}
	return nil
}

// LoadDir loads dir/contacts.json, dir/tasks.json and dir/notes.json; a
// missing file is skipped.
func (s *Server) LoadDir(dir string) error {
	loaders := []struct {
		name string
		load func(io.Reader) error
	}{
		{"contacts.json", s.LoadContacts},
		{"tasks.json", s.LoadTasks},
		{"notes.json", s.LoadNotes},
	}
	for _, l := range loaders {
		f, err := os.Open(filepath.Join(dir, l.name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("load dir: %w", err)
		}
		err = l.load(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("load %s: %w", filepath.Join(dir, l.name), err)
		}
	}
	return nil
}

// revision is one state of a contact as of a write; doc is nil once the
// contact is deleted. Keeping the recent revisions is what lets search lag
// behind writes while GET by id sees the newest one.
type revision struct {
	at  time.Time
	doc Contact
}

type contactEntry struct {
	revs []revision
}

func (e *contactEntry) current() Contact { return e.revs[len(e.revs)-1].doc }

// asOf returns the newest revision written at or before cutoff, or nil.
func (e *contactEntry) asOf(cutoff time.Time) Contact {
	for i := len(e.revs) - 1; i >= 0; i-- {
		if !e.revs[i].at.After(cutoff) {
			return e.revs[i].doc
		}
	}
	return nil
}

// prune drops revisions search can no longer see and reports whether the
// entry is gone for good (deleted and the deletion already indexed).
func (e *contactEntry) prune(cutoff time.Time) bool {
	k := -1
	for i := len(e.revs) - 1; i >= 0; i-- {
		if !e.revs[i].at.After(cutoff) {
			k = i
			break
		}
	}
	if k > 0 {
		e.revs = append([]revision(nil), e.revs[k:]...)
	}
	return len(e.revs) == 1 && e.revs[0].doc == nil && k >= 0
}

func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Contacts returns a copy of every current contact, in no particular order.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contacts))
	for _, e := range s.contacts {
		if c := e.current(); c != nil {
			out = append(out, clone(c).(Contact))
		}
	}
	return out
}

// Contact returns a copy of the current contact with id.
func (s *Server) Contact(id string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.currentLocked(id)
	if c == nil {
		return nil, false
	}
	return clone(c).(Contact), true
}

// PutContact stores c as if a user had edited it in the GHL UI: no
// validation, dateUpdated set to now, search sees it after SearchLag. A
// contact without an id gets one. It returns the stored copy.
func (s *Server) PutContact(c Contact) Contact {
	c = clone(c).(Contact)
	if c == nil {
		c = Contact{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if c.ID() == "" {
		c["id"] = s.newID()
	}
	if c.LocationID() == "" {
		c["locationId"] = s.opts.LocationID
	}
	if _, ok := c["dateAdded"]; !ok {
		c["dateAdded"] = formatTime(now)
	}
	c["dateUpdated"] = formatTime(now)
	s.writeLocked(c.ID(), c, now)
	return clone(c).(Contact)
}

// DeleteContactDirect deletes a contact and its tasks and notes, as a UI
// user would. It reports whether the contact existed.
func (s *Server) DeleteContactDirect(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.currentLocked(id) == nil {
		return false
	}
	s.deleteLocked(id, s.now())
	return true
}

// Tasks returns copies of the tasks of a contact, in creation order.
func (s *Server) Tasks(contactID string) []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Task, 0, len(s.tasks[contactID]))
	for _, t := range s.tasks[contactID] {
		out = append(out, clone(t).(Task))
	}
	return out
}

// PutTask stores t (which must carry contactId) as a UI edit would,
// replacing the task with the same id. A task without an id gets one.
func (s *Server) PutTask(t Task) Task {
	t = clone(t).(Task)
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.ID() == "" {
		t["id"] = s.newID()
	}
	cid := t.ContactID()
	list := s.tasks[cid]
	for i := range list {
		if list[i].ID() == t.ID() {
			list[i] = t
			return clone(t).(Task)
		}
	}
	s.tasks[cid] = append(list, t)
	return clone(t).(Task)
}

// DeleteTaskDirect removes a task; it reports whether it existed.
func (s *Server) DeleteTaskDirect(contactID, taskID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removeTaskLocked(contactID, taskID) != nil
}

// Notes returns copies of the notes of a contact, in creation order.
func (s *Server) Notes(contactID string) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Note, 0, len(s.notes[contactID]))
	for _, n := range s.notes[contactID] {
		out = append(out, clone(n).(Note))
	}
	return out
}

// PutNote stores n (which must carry contactId) as a UI edit would,
// replacing the note with the same id. A new note gets an id and dateAdded.
func (s *Server) PutNote(n Note) Note {
	n = clone(n).(Note)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n.ID() == "" {
		n["id"] = s.newID()
	}
	if _, ok := n["dateAdded"]; !ok {
		n["dateAdded"] = formatTime(s.now())
	}
	cid := n.ContactID()
	list := s.notes[cid]
	for i := range list {
		if list[i].ID() == n.ID() {
			list[i] = n
			return clone(n).(Note)
		}
	}
	s.notes[cid] = append(list, n)
	return clone(n).(Note)
}

// DeleteNoteDirect removes a note; it reports whether it existed.
func (s *Server) DeleteNoteDirect(contactID, noteID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removeNoteLocked(contactID, noteID) != nil
}

// currentLocked returns the live contact with id or nil. s.mu must be held.
func (s *Server) currentLocked(id string) Contact {
	e := s.contacts[id]
	if e == nil {
		return nil
	}
	return e.current()
}

// writeLocked records a new revision of a contact. s.mu must be held.
func (s *Server) writeLocked(id string, c Contact, now time.Time) {
	s.generation++
	e := s.contacts[id]
	if e == nil {
		e = &contactEntry{}
		s.contacts[id] = e
	}
	e.revs = append(e.revs, revision{at: now, doc: c})
	if e.prune(now.Add(-s.opts.SearchLag)) {
		delete(s.contacts, id)
	}
}

// deleteLocked deletes a contact with its tasks and notes. s.mu must be held.
func (s *Server) deleteLocked(id string, now time.Time) {
	s.writeLocked(id, nil, now)
	delete(s.tasks, id)
	delete(s.notes, id)
}

func (s *Server) removeTaskLocked(contactID, taskID string) Task {
	list := s.tasks[contactID]
	for i, t := range list {
		if t.ID() == taskID {
			s.tasks[contactID] = append(list[:i:i], list[i+1:]...)
			return t
		}
	}
	return nil
}

func (s *Server) removeNoteLocked(contactID, noteID string) Note {
	list := s.notes[contactID]
	for i, n := range list {
		if n.ID() == noteID {
			s.notes[contactID] = append(list[:i:i], list[i+1:]...)
			return n
		}
	}
	return nil
}
