package webhook

import (
	"encoding/json"
	"time"
)

// Event types bellsync acts on (NOTES.md §10.2). GHL sends many more;
// those decode fine and report [Event.Known] false.
const (
	ContactCreate    = "ContactCreate"
	ContactUpdate    = "ContactUpdate"
	ContactDelete    = "ContactDelete"
	ContactTagUpdate = "ContactTagUpdate"
	ContactDndUpdate = "ContactDndUpdate"
	NoteCreate       = "NoteCreate"
	NoteUpdate       = "NoteUpdate"
	NoteDelete       = "NoteDelete"
	TaskCreate       = "TaskCreate"
	TaskComplete     = "TaskComplete"
	TaskDelete       = "TaskDelete"
)

// Record kinds, as named by the engine's sync blocks.
const (
	KindContacts = "contacts"
	KindNotes    = "notes"
	KindTasks    = "tasks"
)

type typeInfo struct {
	kind   string
	delete bool
}

var known = map[string]typeInfo{
	ContactCreate:    {kind: KindContacts},
	ContactUpdate:    {kind: KindContacts},
	ContactDelete:    {kind: KindContacts, delete: true},
	ContactTagUpdate: {kind: KindContacts},
	ContactDndUpdate: {kind: KindContacts},
	NoteCreate:       {kind: KindNotes},
	NoteUpdate:       {kind: KindNotes},
	NoteDelete:       {kind: KindNotes, delete: true},
	TaskCreate:       {kind: KindTasks},
	TaskComplete:     {kind: KindTasks},
	TaskDelete:       {kind: KindTasks, delete: true},
}

// Event is a verified delivery. The typed fields are the envelope every
// event shares; everything else stays in Raw for the provider to decode.
type Event struct {
	Type       string
	LocationID string
	// ID is the id of the record the event is about: a contact for
	// Contact* events, a note or task for the others.
	ID string
	// ContactID is the parent contact of a note or task. GHL has been seen
	// to omit it on TaskCreate (NOTES.md §10.2), so it may be empty.
	ContactID string
	WebhookID string
	AppID     string
	Timestamp time.Time
	// Raw is a copy of the verified body, exactly as received.
	Raw json.RawMessage
}

// Known reports whether Type is one of the event types listed above.
func (e Event) Known() bool {
	_, ok := known[e.Type]
	return ok
}

// RecordKind returns KindContacts, KindNotes or KindTasks, or "" for an
// unknown event type.
func (e Event) RecordKind() string { return known[e.Type].kind }

// RecordID returns the id of the record to re-read and, for notes and
// tasks, the contact it belongs to. Both are "" for unknown types; parent
// is always "" for contacts.
func (e Event) RecordID() (id, parent string) {
	switch e.RecordKind() {
	case KindContacts:
		return e.ID, ""
	case KindNotes, KindTasks:
		return e.ID, e.ContactID
	}
	return "", ""
}

// IsDelete reports whether the event says the record was deleted.
func (e Event) IsDelete() bool { return known[e.Type].delete }
