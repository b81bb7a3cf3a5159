package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// listTasks serves both GET /tasks and GET /clients/{id}/tasks.
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	cid := r.PathValue("id")
	s.mu.Lock()
	if _, ok := s.clients[cid]; cid != "" && !ok {
		s.mu.Unlock()
		notFound(w, "client")
		return
	}
	rows := make([]Task, 0)
	for _, t := range s.tasks {
		if cid == "" || t.ClientID == cid {
			rows = append(rows, t.clone())
		}
	}
	s.mu.Unlock()
	writePage(w, r, rows, taskKey)
}

func (s *Server) createTask(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cid := r.PathValue("id")
	if _, ok := s.clients[cid]; !ok {
		notFound(w, "client")
		return
	}
	now := s.stamp()
	t := Task{ClientID: cid, Status: "open"}
	if fe := applyTask(&t, body, now); len(fe) > 0 {
		validation(w, fe)
		return
	}
	if strings.TrimSpace(t.Title) == "" {
		validation(w, map[string]string{"title": "required"})
		return
	}
	t.ID = s.newID()
	t.CreatedAt, t.UpdatedAt = now, now
	s.tasks[t.ID] = &t
	writeJSON(w, http.StatusCreated, map[string]any{"data": t.clone()})
}

func (s *Server) updateTask(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.tasks[r.PathValue("child")]
	if !ok || old.ClientID != r.PathValue("id") {
		notFound(w, "task")
		return
	}
	now := s.stamp()
	t := old.clone()
	if fe := applyTask(&t, body, now); len(fe) > 0 {
		validation(w, fe)
		return
	}
	if strings.TrimSpace(t.Title) == "" {
		validation(w, map[string]string{"title": "required"})
		return
	}
	t.UpdatedAt = now
	s.tasks[t.ID] = &t
	writeJSON(w, http.StatusOK, map[string]any{"data": t.clone()})
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t, ok := s.tasks[r.PathValue("child")]
	if ok && t.ClientID == r.PathValue("id") {
		delete(s.tasks, t.ID)
	}
	s.mu.Unlock()
	if !ok || t.ClientID != r.PathValue("id") {
		notFound(w, "task")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// applyTask writes the body's fields onto t. Completing a task stamps
// completed_at; reopening clears it.
func applyTask(t *Task, body map[string]json.RawMessage, now time.Time) map[string]string {
	fe := map[string]string{}
	for k, raw := range body {
		switch k {
		case "title":
			decodeString(raw, &t.Title, k, fe)
		case "description":
			decodeString(raw, &t.Description, k, fe)
		case "due_date":
			decodeTime(raw, &t.DueDate, k, fe)
		case "status":
			var st string
			if decodeString(raw, &st, k, fe) {
				if st != "open" && st != "completed" {
					fe[k] = `must be "open" or "completed"`
					continue
				}
				setStatus(t, st, now)
			}
		case "id", "client_id", "completed_at", "created_at", "updated_at":
			fe[k] = "read-only field"
		default:
			fe[k] = "unknown field"
		}
	}
	return fe
}

func setStatus(t *Task, status string, now time.Time) {
	switch {
	case status == "completed" && t.Status != "completed":
		t.CompletedAt = &now
	case status == "open":
		t.CompletedAt = nil
	}
	t.Status = status
}

// listNotes serves both GET /notes and GET /clients/{id}/notes.
func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	cid := r.PathValue("id")
	s.mu.Lock()
	if _, ok := s.clients[cid]; cid != "" && !ok {
		s.mu.Unlock()
		notFound(w, "client")
		return
	}
	rows := make([]Note, 0)
	for _, n := range s.notes {
		if cid == "" || n.ClientID == cid {
			rows = append(rows, *n)
		}
	}
	s.mu.Unlock()
	writePage(w, r, rows, noteKey)
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cid := r.PathValue("id")
	if _, ok := s.clients[cid]; !ok {
		notFound(w, "client")
		return
	}
	n := Note{ClientID: cid, Visibility: "private"}
	if fe := applyNote(&n, body); len(fe) > 0 {
		validation(w, fe)
		return
	}
	if n.Content == "" {
		validation(w, map[string]string{"content": "required"})
		return
	}
	n.ID = s.newID()
	n.CreatedAt = s.stamp()
	n.UpdatedAt = n.CreatedAt
	s.notes[n.ID] = &n
	writeJSON(w, http.StatusCreated, map[string]any{"data": n})
}

func (s *Server) updateNote(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.notes[r.PathValue("child")]
	if !ok || old.ClientID != r.PathValue("id") {
		notFound(w, "note")
		return
	}
	n := *old
	if fe := applyNote(&n, body); len(fe) > 0 {
		validation(w, fe)
		return
	}
	if n.Content == "" {
		validation(w, map[string]string{"content": "required"})
		return
	}
	n.UpdatedAt = s.stamp()
	s.notes[n.ID] = &n
	writeJSON(w, http.StatusOK, map[string]any{"data": n})
}

func (s *Server) deleteNote(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n, ok := s.notes[r.PathValue("child")]
	found := ok && n.ClientID == r.PathValue("id")
	if found {
		delete(s.notes, n.ID)
	}
	s.mu.Unlock()
	if !found {
		notFound(w, "note")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func applyNote(n *Note, body map[string]json.RawMessage) map[string]string {
	fe := map[string]string{}
	for k, raw := range body {
		switch k {
		case "content":
			decodeString(raw, &n.Content, k, fe)
		case "visibility":
			var v string
			if decodeString(raw, &v, k, fe) {
				if v != "private" && v != "shared" {
					fe[k] = `must be "private" or "shared"`
					continue
				}
				n.Visibility = v
			}
		case "id", "client_id", "created_at", "updated_at":
			fe[k] = "read-only field"
		default:
			fe[k] = "unknown field"
		}
	}
	return fe
}
