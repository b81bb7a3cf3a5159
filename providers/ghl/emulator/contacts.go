package emulator

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	scopeContactsRead  = "contacts.readonly"
	scopeContactsWrite = "contacts.write"
	scopeLocationsRead = "locations.readonly"
)

func (s *Server) registerRoutes() {
	s.handle("POST /contacts/search", scopeContactsRead, s.searchContacts)
	s.handle("GET /contacts/search/duplicate", scopeContactsRead, s.duplicateContact)
	s.handle("POST /contacts/upsert", scopeContactsWrite, s.upsertContact)
	s.handle("POST /contacts/{$}", scopeContactsWrite, s.createContact)
	s.handle("POST /contacts", scopeContactsWrite, s.createContact)
	s.handle("GET /contacts/{contactId}", scopeContactsRead, s.getContact)
	s.handle("PUT /contacts/{contactId}", scopeContactsWrite, s.updateContact)
	s.handle("DELETE /contacts/{contactId}", scopeContactsWrite, s.deleteContact)
	s.handle("POST /contacts/{contactId}/tags", scopeContactsWrite, s.addTags)
	s.handle("DELETE /contacts/{contactId}/tags", scopeContactsWrite, s.removeTags)

	s.handle("GET /contacts/{contactId}/tasks", scopeContactsRead, s.listTasks)
	s.handle("POST /contacts/{contactId}/tasks", scopeContactsWrite, s.createTask)
	s.handle("GET /contacts/{contactId}/tasks/{taskId}", scopeContactsRead, s.getTask)
	s.handle("PUT /contacts/{contactId}/tasks/{taskId}", scopeContactsWrite, s.updateTask)
	s.handle("DELETE /contacts/{contactId}/tasks/{taskId}", scopeContactsWrite, s.deleteTask)
	s.handle("PUT /contacts/{contactId}/tasks/{taskId}/completed", scopeContactsWrite, s.completeTask)

	s.handle("GET /contacts/{contactId}/notes", scopeContactsRead, s.listNotes)
	s.handle("POST /contacts/{contactId}/notes", scopeContactsWrite, s.createNote)
	s.handle("GET /contacts/{contactId}/notes/{id}", scopeContactsRead, s.getNote)
	s.handle("PUT /contacts/{contactId}/notes/{id}", scopeContactsWrite, s.updateNote)
	s.handle("DELETE /contacts/{contactId}/notes/{id}", scopeContactsWrite, s.deleteNote)

	s.handle("GET /locations/{locationId}", scopeLocationsRead, s.getLocation)
	s.handle("POST /locations/{locationId}/tasks/search", "locations/tasks.readonly", s.searchTasks)
}

// contactForLocked returns the live contact of the caller's location, or the
// not-found reply. s.mu must be held.
func (s *Server) contactForLocked(c *call, id string) (Contact, *reply) {
	ct := s.currentLocked(id)
	if ct == nil || ct.LocationID() != c.location {
		rep := s.notFound("Contact", id)
		return nil, &rep
	}
	return ct, nil
}

func (s *Server) getContact(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		return *rep
	}
	return reply{http.StatusOK, map[string]any{"contact": clone(ct)}}
}

// applyFields writes body's contact properties onto ct (a private copy) the
// way GHL normalises them, returning validation messages instead when a
// value is unacceptable.
func applyFields(ct Contact, body map[string]any) []string {
	var msgs []string
	for k, v := range body {
		switch k {
		case "locationId", "createNewIfDuplicateAllowed":
			continue
		}
		if v == nil {
			delete(ct, k)
			if k == "email" {
				delete(ct, "emailLowerCase")
			}
			continue
		}
		switch k {
		case "email":
			e := strings.TrimSpace(v.(string))
			if e == "" {
				delete(ct, "email")
				delete(ct, "emailLowerCase")
				continue
			}
			if !validEmail(e) {
				msgs = append(msgs, "email must be an email")
				continue
			}
			ct["email"] = e
			ct["emailLowerCase"] = strings.ToLower(e)
		case "phone":
			p := strings.TrimSpace(v.(string))
			if p == "" {
				delete(ct, "phone")
				continue
			}
			e164, ok := normalizePhone(p)
			if !ok {
				msgs = append(msgs, "phone must be a valid phone number")
				continue
			}
			ct["phone"] = e164
		case "tags":
			ct["tags"] = toAny(normalizeTags(strs(v)))
		case "customFields":
			ct["customFields"] = mergeCustomFields(ct["customFields"], v.([]any))
		case "dndSettings":
			prev, _ := ct["dndSettings"].(map[string]any)
			next := cloneMap(prev)
			if next == nil {
				next = map[string]any{}
			}
			for ch, set := range v.(map[string]any) {
				next[ch] = clone(set)
			}
			ct["dndSettings"] = next
		default:
			ct[k] = clone(v)
		}
	}
	if len(msgs) > 0 {
		return msgs
	}
	if _, hasName := body["name"]; !hasName {
		if _, ok1 := body["firstName"]; ok1 {
			ct["name"] = joinName(ct)
		} else if _, ok2 := body["lastName"]; ok2 {
			ct["name"] = joinName(ct)
		}
	}
	setLower(ct, "firstName", "firstNameLowerCase")
	setLower(ct, "lastName", "lastNameLowerCase")
	if full := strings.ToLower(joinName(ct)); full != "" {
		ct["fullNameLowerCase"] = full
	} else {
		delete(ct, "fullNameLowerCase")
	}
	return nil
}

func joinName(ct Contact) string {
	return strings.TrimSpace(str(ct["firstName"]) + " " + str(ct["lastName"]))
}

func setLower(ct Contact, from, to string) {
	if v := str(ct[from]); v != "" {
		ct[to] = strings.ToLower(v)
	} else {
		delete(ct, to)
	}
}

// mergeCustomFields updates values by field id. GHL's write shape has the
// value under fieldValue (v3), field_value (v2 spec) or value; all three
// are honoured, and key stands in for id (definitions are not emulated).
func mergeCustomFields(prev any, in []any) []any {
	out, _ := clone(prev).([]any)
	for _, e := range in {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		id := str(m["id"])
		if id == "" {
			id = str(m["key"])
		}
		if id == "" {
			continue
		}
		var val any
		for _, k := range []string{"fieldValue", "field_value", "value"} {
			if v, ok := m[k]; ok {
				val = clone(v)
				break
			}
		}
		found := false
		for _, o := range out {
			if om, ok := o.(map[string]any); ok && str(om["id"]) == id {
				om["value"] = val
				found = true
			}
		}
		if !found {
			out = append(out, map[string]any{"id": id, "value": val})
		}
	}
	if out == nil {
		out = []any{}
	}
	return out
}

// liveContactsLocked returns the live contacts of loc, oldest first, so
// that "first match" is deterministic. s.mu must be held.
func (s *Server) liveContactsLocked(loc string) []Contact {
	var out []Contact
	for _, e := range s.contacts {
		if ct := e.current(); ct != nil && ct.LocationID() == loc {
			out = append(out, ct)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := str(out[i]["dateAdded"]), str(out[j]["dateAdded"])
		if a != b {
			return a < b
		}
		return out[i].ID() < out[j].ID()
	})
	return out
}

// findByEmailLocked and findByPhoneLocked match the way the duplicate rule
// does: email trimmed and case-folded, phone as stored (E.164).
func (s *Server) findByEmailLocked(loc, email, exceptID string) Contact {
	email = normEmail(email)
	if email == "" {
		return nil
	}
	for _, ct := range s.liveContactsLocked(loc) {
		if ct.ID() != exceptID && normEmail(ct.Email()) == email {
			return ct
		}
	}
	return nil
}

func (s *Server) findByPhoneLocked(loc, phone, exceptID string) Contact {
	if phone == "" {
		return nil
	}
	for _, ct := range s.liveContactsLocked(loc) {
		if ct.ID() != exceptID && ct.Phone() == phone {
			return ct
		}
	}
	return nil
}

// duplicateLocked applies the "Allow Duplicate Contact" rule to ct.
func (s *Server) duplicateLocked(ct Contact) *reply {
	if s.opts.AllowDuplicateContact {
		return nil
	}
	field := "email"
	other := s.findByEmailLocked(ct.LocationID(), ct.Email(), ct.ID())
	if other == nil {
		field = "phone"
		other = s.findByPhoneLocked(ct.LocationID(), ct.Phone(), ct.ID())
	}
	if other == nil {
		return nil
	}
	body := errBody(400, "This location does not allow duplicated contacts.", "")
	body["meta"] = map[string]any{"contactId": other.ID(), "contactName": str(other["name"]), "matchingField": field}
	return &reply{http.StatusBadRequest, body}
}

func (s *Server) newContactLocked(loc string, now time.Time) Contact {
	return Contact{
		"id":           s.newID(),
		"locationId":   loc,
		"type":         "lead",
		"dnd":          false,
		"tags":         []any{},
		"customFields": []any{},
		"dateAdded":    formatTime(now),
		"dateUpdated":  formatTime(now),
	}
}

func (s *Server) createContact(c *call) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := createContactDTO.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	if str(body["locationId"]) != c.location {
		return forbiddenLocation()
	}
	s.mu.Lock()
	now := s.now()
	ct := s.newContactLocked(c.location, now)
	if msgs := applyFields(ct, body); len(msgs) > 0 {
		s.mu.Unlock()
		return unprocessable(msgs)
	}
	if rep := s.duplicateLocked(ct); rep != nil {
		s.mu.Unlock()
		return *rep
	}
	s.writeLocked(ct.ID(), ct, now)
	out := clone(ct).(Contact)
	s.mu.Unlock()
	s.emitContact(c, "ContactCreate", out)
	return reply{http.StatusCreated, map[string]any{"contact": map[string]any(out)}}
}

func (s *Server) updateContact(c *call) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := updateContactDTO.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	s.mu.Lock()
	prev, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	ct, tagsChanged, rep := s.updateLocked(prev, body)
	s.mu.Unlock()
	if rep != nil {
		return *rep
	}
	s.emitContact(c, "ContactUpdate", ct)
	if tagsChanged {
		s.emitContact(c, "ContactTagUpdate", ct)
	}
	return reply{http.StatusOK, map[string]any{"succeded": true, "contact": map[string]any(ct)}}
}

// updateLocked applies body to a copy of prev, enforces the duplicate rule
// and stores the result. s.mu must be held.
func (s *Server) updateLocked(prev Contact, body map[string]any) (Contact, bool, *reply) {
	ct := clone(prev).(Contact)
	if msgs := applyFields(ct, body); len(msgs) > 0 {
		rep := unprocessable(msgs)
		return nil, false, &rep
	}
	if rep := s.duplicateLocked(ct); rep != nil {
		return nil, false, rep
	}
	now := s.now()
	ct["dateUpdated"] = formatTime(now)
	s.writeLocked(ct.ID(), ct, now)
	return clone(ct).(Contact), !slices.Equal(prev.Tags(), ct.Tags()), nil
}

func (s *Server) deleteContact(c *call) reply {
	s.mu.Lock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	last := clone(ct).(Contact)
	s.deleteLocked(ct.ID(), s.now())
	s.mu.Unlock()
	s.emitContact(c, "ContactDelete", last)
	return reply{http.StatusOK, map[string]any{"succeded": true}}
}

func (s *Server) upsertContact(c *call) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := upsertContactDTO.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	if str(body["locationId"]) != c.location {
		return forbiddenLocation()
	}
	phone := ""
	if p := strings.TrimSpace(str(body["phone"])); p != "" {
		var ok bool
		if phone, ok = normalizePhone(p); !ok {
			return unprocessable([]string{"phone must be a valid phone number"})
		}
	}
	s.mu.Lock()
	forceNew := s.opts.AllowDuplicateContact && body["createNewIfDuplicateAllowed"] == true
	var match Contact
	if !forceNew {
		match = s.findByEmailLocked(c.location, str(body["email"]), "")
		if match != nil {
			// GHL updates the email match and silently ignores a phone
			// that belongs to someone else.
			if other := s.findByPhoneLocked(c.location, phone, ""); other != nil && other.ID() != match.ID() {
				delete(body, "phone")
			}
		} else {
			match = s.findByPhoneLocked(c.location, phone, "")
		}
	}
	if match != nil {
		// The update path drops fields PUT does not accept (gender), as
		// GHL does without saying so.
		delete(body, "gender")
		ct, tagsChanged, rep := s.updateLocked(match, body)
		s.mu.Unlock()
		if rep != nil {
			return *rep
		}
		s.emitContact(c, "ContactUpdate", ct)
		if tagsChanged {
			s.emitContact(c, "ContactTagUpdate", ct)
		}
		return reply{http.StatusOK, map[string]any{"new": false, "contact": map[string]any(ct)}}
	}
	now := s.now()
	ct := s.newContactLocked(c.location, now)
	if msgs := applyFields(ct, body); len(msgs) > 0 {
		s.mu.Unlock()
		return unprocessable(msgs)
	}
	s.writeLocked(ct.ID(), ct, now)
	out := clone(ct).(Contact)
	s.mu.Unlock()
	s.emitContact(c, "ContactCreate", out)
	return reply{http.StatusOK, map[string]any{"new": true, "contact": map[string]any(out)}}
}

func (s *Server) duplicateContact(c *call) reply {
	q := c.r.URL.Query()
	loc := q.Get("locationId")
	if loc == "" {
		return unprocessable([]string{"locationId should not be empty"})
	}
	if loc != c.location {
		return forbiddenLocation()
	}
	email, number := q.Get("email"), q.Get("number")
	if email == "" && number == "" {
		return badRequest("Pass at least one of number, email query parameter")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	match := s.findByEmailLocked(loc, email, "")
	if match == nil && number != "" {
		if p, ok := normalizePhone(number); ok {
			match = s.findByPhoneLocked(loc, p, "")
		}
	}
	if match == nil {
		return reply{http.StatusOK, map[string]any{"contact": nil}}
	}
	return reply{http.StatusOK, map[string]any{"contact": clone(match)}}
}

func (s *Server) addTags(c *call) reply    { return s.changeTags(c, true) }
func (s *Server) removeTags(c *call) reply { return s.changeTags(c, false) }

func (s *Server) changeTags(c *call, add bool) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := tagsDTO.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	s.mu.Lock()
	prev, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	in := normalizeTags(strs(body["tags"]))
	var next []string
	if add {
		next = normalizeTags(append(prev.Tags(), in...))
	} else {
		for _, t := range prev.Tags() {
			if !slices.Contains(in, strings.ToLower(strings.TrimSpace(t))) {
				next = append(next, t)
			}
		}
	}
	if next == nil {
		next = []string{}
	}
	ct := clone(prev).(Contact)
	ct["tags"] = toAny(next)
	changed := !slices.Equal(prev.Tags(), next)
	if changed {
		now := s.now()
		ct["dateUpdated"] = formatTime(now)
		s.writeLocked(ct.ID(), ct, now)
	}
	out := clone(ct).(Contact)
	s.mu.Unlock()
	if changed {
		s.emitContact(c, "ContactTagUpdate", out)
	}
	status := http.StatusOK
	if add {
		status = http.StatusCreated
	}
	return reply{status, map[string]any{"tags": toAny(next)}}
}

func (s *Server) getLocation(c *call) reply {
	id := c.r.PathValue("locationId")
	if id != c.location {
		return forbiddenLocation()
	}
	return reply{http.StatusOK, map[string]any{"location": map[string]any{
		"id":        id,
		"companyId": "COMPbellsyncEmulator",
		"name":      "bellsync emulator",
		"timezone":  "UTC",
		"country":   "US",
		"settings": map[string]any{
			"allowDuplicateContact":     s.opts.AllowDuplicateContact,
			"allowDuplicateOpportunity": false,
			"allowFacebookNameMerge":    false,
			"disableContactTimezone":    false,
		},
	}}}
}
