package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/bellsync/bellsync/providers/internal/jsonpos"
)

// LoadDir adds the records of dir/clients.json, dir/tasks.json and
// dir/notes.json (JSON arrays in the corpus format, which is the wire
// format) to the store, keeping their ids and timestamps. clients.json is
// required; the other two are optional. Records are not validated, so a
// corpus may hold what the API would refuse today.
func (s *Server) LoadDir(dir string) error {
	var clients []Client
	var tasks []Task
	var notes []Note
	if err := readJSON(filepath.Join(dir, "clients.json"), &clients, false); err != nil {
		return err
	}
	if err := readJSON(filepath.Join(dir, "tasks.json"), &tasks, true); err != nil {
		return err
	}
	if err := readJSON(filepath.Join(dir, "notes.json"), &notes, true); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range clients {
		if c.ID == "" {
			return fmt.Errorf("load %s: client without id", dir)
		}
		c = c.clone()
		c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
		s.clients[c.ID] = &c
	}
	for _, t := range tasks {
		if _, ok := s.clients[t.ClientID]; !ok || t.ID == "" {
			return fmt.Errorf("load %s: task %q: no id or unknown client %q", dir, t.ID, t.ClientID)
		}
		t = t.clone()
		t.CreatedAt, t.UpdatedAt = normTime(t.CreatedAt), normTime(t.UpdatedAt)
		s.tasks[t.ID] = &t
	}
	for _, n := range notes {
		if _, ok := s.clients[n.ClientID]; !ok || n.ID == "" {
			return fmt.Errorf("load %s: note %q: no id or unknown client %q", dir, n.ID, n.ClientID)
		}
		n.CreatedAt, n.UpdatedAt = normTime(n.CreatedAt), normTime(n.UpdatedAt)
		s.notes[n.ID] = &n
	}
	return nil
}

func readJSON(path string, v any, optional bool) error {
	b, err := os.ReadFile(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load seed: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("load seed %s: %w", path, jsonpos.Wrap(b, err))
	}
	return nil
}

// Clients returns a copy of every client, ordered by id.
func (s *Server) Clients() []Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c.clone())
	}
	slices.SortFunc(out, func(a, b Client) int { return compareIDs(a.ID, b.ID) })
	return out
}

// Client returns a copy of one client.
func (s *Server) Client(id string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return Client{}, false
	}
	return c.clone(), true
}

// PutClient stores c as if someone edited it in the Paperbell UI: no
// validation or duplicate check, updated_at set to now, created_at kept
// (or set, for a new client). An empty id gets a fresh one. It returns the
// stored client.
func (s *Server) PutClient(c Client) Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	c = c.clone()
	now := s.stamp()
	if c.ID == "" {
		c.ID = s.newID()
	}
	if old, ok := s.clients[c.ID]; ok {
		c.CreatedAt = old.CreatedAt
	} else if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	s.clients[c.ID] = &c
	return c.clone()
}

// DeleteClientDirect deletes a client and its tasks and notes, as the
// Paperbell UI does. It reports whether the client existed.
func (s *Server) DeleteClientDirect(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteClientLocked(id)
}

// Tasks returns copies of a client's tasks ordered by id; an empty
// clientID means every task.
func (s *Server) Tasks(clientID string) []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Task
	for _, t := range s.tasks {
		if clientID == "" || t.ClientID == clientID {
			out = append(out, t.clone())
		}
	}
	slices.SortFunc(out, func(a, b Task) int { return compareIDs(a.ID, b.ID) })
	return out
}

// Notes returns copies of a client's notes ordered by id; an empty
// clientID means every note.
func (s *Server) Notes(clientID string) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Note
	for _, n := range s.notes {
		if clientID == "" || n.ClientID == clientID {
			out = append(out, *n)
		}
	}
	slices.SortFunc(out, func(a, b Note) int { return compareIDs(a.ID, b.ID) })
	return out
}

// PutTask stores t like PutClient stores a client. Its client must exist.
func (s *Server) PutTask(t Task) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[t.ClientID]; !ok {
		return Task{}, fmt.Errorf("put task: no client %q", t.ClientID)
	}
	t = t.clone()
	now := s.stamp()
	if t.ID == "" {
		t.ID = s.newID()
	}
	if old, ok := s.tasks[t.ID]; ok {
		t.CreatedAt = old.CreatedAt
	} else if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.Status == "" {
		t.Status = "open"
	}
	t.UpdatedAt = now
	s.tasks[t.ID] = &t
	return t.clone(), nil
}

// PutNote stores n like PutClient stores a client. Its client must exist.
func (s *Server) PutNote(n Note) (Note, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[n.ClientID]; !ok {
		return Note{}, fmt.Errorf("put note: no client %q", n.ClientID)
	}
	now := s.stamp()
	if n.ID == "" {
		n.ID = s.newID()
	}
	if old, ok := s.notes[n.ID]; ok {
		n.CreatedAt = old.CreatedAt
	} else if n.CreatedAt.IsZero() {
		n.CreatedAt = now
	}
	if n.Visibility == "" {
		n.Visibility = "private"
	}
	n.UpdatedAt = now
	s.notes[n.ID] = &n
	return n, nil
}

// DeleteTaskDirect deletes a task; it reports whether it existed.
func (s *Server) DeleteTaskDirect(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.tasks[id]
	delete(s.tasks, id)
	return ok
}

// DeleteNoteDirect deletes a note; it reports whether it existed.
func (s *Server) DeleteNoteDirect(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.notes[id]
	delete(s.notes, id)
	return ok
}
