package emulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	// Time zones are validated with time.LoadLocation; embedding the
	// database keeps that working on hosts without one.
	_ "time/tzdata"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /clients", s.listClients)
	m.HandleFunc("POST /clients", s.createClient)
	m.HandleFunc("GET /clients/{id}", s.getClient)
	m.HandleFunc("PATCH /clients/{id}", s.updateClient)
	m.HandleFunc("DELETE /clients/{id}", s.deleteClient)

	m.HandleFunc("GET /tasks", s.listTasks)
	m.HandleFunc("GET /clients/{id}/tasks", s.listTasks)
	m.HandleFunc("POST /clients/{id}/tasks", s.createTask)
	m.HandleFunc("PATCH /clients/{id}/tasks/{child}", s.updateTask)
	m.HandleFunc("DELETE /clients/{id}/tasks/{child}", s.deleteTask)

	m.HandleFunc("GET /notes", s.listNotes)
	m.HandleFunc("GET /clients/{id}/notes", s.listNotes)
	m.HandleFunc("POST /clients/{id}/notes", s.createNote)
	m.HandleFunc("PATCH /clients/{id}/notes/{child}", s.updateNote)
	m.HandleFunc("DELETE /clients/{id}/notes/{child}", s.deleteNote)
	s.mux = m
}

// writePage answers a listing, or the error its query earned.
func writePage[T any](w http.ResponseWriter, r *http.Request, rows []T, key func(T) (time.Time, string)) {
	q, err := parseListQuery(r.URL.Query())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	page, next := paginate(rows, key, q)
	var nc *string
	if next != "" {
		nc = &next
	}
	writeJSON(w, http.StatusOK, struct {
		Data       []T     `json:"data"`
		NextCursor *string `json:"next_cursor"`
	}{append([]T{}, page...), nc})
}

func writeQueryError(w http.ResponseWriter, err error) {
	var fe *fieldError
	if errors.As(err, &fe) {
		writeError(w, http.StatusUnprocessableEntity, "validation_failed", "invalid query", map[string]string{fe.field: fe.why})
		return
	}
	writeError(w, http.StatusBadRequest, "invalid_cursor", err.Error(), nil)
}

func clientKey(c Client) (time.Time, string) { return c.UpdatedAt, c.ID }
func taskKey(t Task) (time.Time, string)     { return t.UpdatedAt, t.ID }
func noteKey(n Note) (time.Time, string)     { return n.UpdatedAt, n.ID }

func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	email := normEmail(r.URL.Query().Get("email"))
	s.mu.Lock()
	rows := make([]Client, 0, len(s.clients))
	for _, c := range s.clients {
		if email == "" || slices.Contains(clientEmails(c), email) {
			rows = append(rows, c.clone())
		}
	}
	s.mu.Unlock()
	writePage(w, r, rows, clientKey)
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c, ok := s.clients[r.PathValue("id")]
	var out Client
	if ok {
		out = c.clone()
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, "client")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Client{}
	if fe := applyClient(&c, body); len(fe) > 0 {
		validation(w, fe)
		return
	}
	if c.FirstName == "" && c.LastName == "" && c.Email == "" && c.Phone == "" {
		validation(w, map[string]string{"email": "a client needs a name, an email or a phone"})
		return
	}
	if id := s.emailOwner(&c, ""); id != "" {
		duplicate(w, id)
		return
	}
	c.ID = s.newID()
	c.CreatedAt = s.stamp()
	c.UpdatedAt = c.CreatedAt
	s.clients[c.ID] = &c
	writeJSON(w, http.StatusCreated, map[string]any{"data": c.clone()})
}

func (s *Server) updateClient(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[r.PathValue("id")]
	if !ok {
		notFound(w, "client")
		return
	}
	c := old.clone()
	if fe := applyClient(&c, body); len(fe) > 0 {
		validation(w, fe)
		return
	}
	if id := s.emailOwner(&c, c.ID); id != "" {
		duplicate(w, id)
		return
	}
	c.UpdatedAt = s.stamp()
	s.clients[c.ID] = &c
	writeJSON(w, http.StatusOK, map[string]any{"data": c.clone()})
}

func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ok := s.deleteClientLocked(r.PathValue("id"))
	s.mu.Unlock()
	if !ok {
		notFound(w, "client")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteClientLocked removes a client and, as Paperbell does, everything
// hanging off it. s.mu must be held.
func (s *Server) deleteClientLocked(id string) bool {
	if _, ok := s.clients[id]; !ok {
		return false
	}
	delete(s.clients, id)
	for tid, t := range s.tasks {
		if t.ClientID == id {
			delete(s.tasks, tid)
		}
	}
	for nid, n := range s.notes {
		if n.ClientID == id {
			delete(s.notes, nid)
		}
	}
	return true
}

// emailOwner returns the id of another client that already uses one of
// c's addresses, or "". When several do, the lowest id wins, so the answer
// is deterministic. s.mu must be held.
//
// It is one scan without allocations: the emulator serves accounts of
// 100k clients, where sorting and normalising every address on each write
// made the emulator, not the client under test, the cost of a benchmark.
func (s *Server) emailOwner(c *Client, self string) string {
	mine := clientEmails(c)
	if len(mine) == 0 {
		return ""
	}
	uses := func(e string) bool {
		e = strings.TrimSpace(e)
		for _, m := range mine {
			if strings.EqualFold(e, m) {
				return true
			}
		}
		return false
	}
	owner := ""
	for id, other := range s.clients {
		if id == self || (owner != "" && compareIDs(id, owner) >= 0) {
			continue
		}
		if uses(other.Email) || slices.ContainsFunc(other.AdditionalEmails, uses) {
			owner = id
		}
	}
	return owner
}

func clientEmails(c *Client) []string {
	var out []string
	for _, e := range append([]string{c.Email}, c.AdditionalEmails...) {
		if n := normEmail(e); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// applyClient writes the body's fields onto c and returns per-field
// problems.
func applyClient(c *Client, body map[string]json.RawMessage) map[string]string {
	fe := map[string]string{}
	for k, raw := range body {
		switch k {
		case "first_name":
			decodeString(raw, &c.FirstName, k, fe)
		case "last_name":
			decodeString(raw, &c.LastName, k, fe)
		case "phone":
			decodeString(raw, &c.Phone, k, fe)
		case "email":
			var e string
			if decodeString(raw, &e, k, fe) {
				e = strings.TrimSpace(e)
				if e != "" && !validEmail(e) {
					fe[k] = "not a valid email address"
				}
				c.Email = e
			}
		case "additional_emails":
			var list []string
			if decodeList(raw, &list, k, fe) {
				for i, e := range list {
					list[i] = strings.TrimSpace(e)
					if !validEmail(list[i]) {
						fe[k] = "not a valid email address: item " + strconv.Itoa(i)
					}
				}
				c.AdditionalEmails = list
			}
		case "time_zone":
			var tz string
			if decodeString(raw, &tz, k, fe) {
				if tz != "" && !validTimeZone(tz) {
					fe[k] = "not an IANA time zone"
				}
				c.TimeZone = tz
			}
		case "tags":
			decodeList(raw, &c.Tags, k, fe)
		case "archived":
			if err := json.Unmarshal(raw, &c.Archived); err != nil || string(raw) == "null" {
				fe[k] = "must be true or false"
			}
		case "id", "created_at", "updated_at":
			fe[k] = "read-only field"
		default:
			fe[k] = "unknown field"
		}
	}
	return fe
}

func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return false
	}
	at := strings.LastIndexByte(e, '@')
	return at > 0 && strings.Contains(e[at+1:], ".")
}

func validTimeZone(tz string) bool {
	// LoadLocation also accepts "Local" and "", which name no zone.
	if tz == "Local" {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}

// decodeString reads an optional string; null clears it.
func decodeString(raw json.RawMessage, dst *string, field string, fe map[string]string) bool {
	var p *string
	if err := json.Unmarshal(raw, &p); err != nil {
		fe[field] = "must be a string"
		return false
	}
	*dst = ""
	if p != nil {
		*dst = *p
	}
	return true
}

// decodeList reads a list of strings; null empties it.
func decodeList(raw json.RawMessage, dst *[]string, field string, fe map[string]string) bool {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		fe[field] = "must be a list of strings"
		return false
	}
	if list == nil {
		list = []string{}
	}
	*dst = list
	return true
}

// decodeTime reads an optional RFC 3339 timestamp; null clears it.
func decodeTime(raw json.RawMessage, dst **time.Time, field string, fe map[string]string) {
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		fe[field] = "must be an RFC 3339 timestamp"
		return
	}
	if s == nil || *s == "" {
		*dst = nil
		return
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		fe[field] = "must be an RFC 3339 timestamp"
		return
	}
	t = normTime(t)
	*dst = &t
}

// readBody decodes a JSON object body, answering 413 or 400 itself.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	var body map[string]json.RawMessage
	err := json.NewDecoder(r.Body).Decode(&body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large", nil)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "malformed_json", "request body is not a JSON object", nil)
		return nil, false
	case body == nil:
		writeError(w, http.StatusBadRequest, "malformed_json", "request body is not a JSON object", nil)
		return nil, false
	}
	return body, true
}

func validation(w http.ResponseWriter, fe map[string]string) {
	names := make([]string, 0, len(fe))
	for k := range fe {
		names = append(names, k)
	}
	sort.Strings(names)
	writeError(w, http.StatusUnprocessableEntity, "validation_failed", "invalid fields: "+strings.Join(names, ", "), fe)
}

func duplicate(w http.ResponseWriter, existing string) {
	writeJSON(w, http.StatusConflict, map[string]apiError{"error": {
		Code:       "duplicate_email",
		Message:    "a client with that email already exists",
		ExistingID: existing,
	}})
}

func notFound(w http.ResponseWriter, what string) {
	writeError(w, http.StatusNotFound, "not_found", what+" not found", nil)
}
