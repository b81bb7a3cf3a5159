package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// taskOut is a task as the REST API shows it: TaskSchema, no timestamps
// other than dueDate.
func taskOut(t Task) map[string]any {
	return cloneMap(map[string]any(t))
}

func findTask(list []Task, id string) Task {
	for _, t := range list {
		if t.ID() == id {
			return t
		}
	}
	return nil
}

func findNote(list []Note, id string) Note {
	for _, n := range list {
		if n.ID() == id {
			return n
		}
	}
	return nil
}

// normalizeDueDate re-renders an ISO 8601 due date the way GHL returns it.
func normalizeDueDate(v string) (string, bool) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return "", false
	}
	return formatTime(t), true
}

func applyTaskFields(t Task, body map[string]any) []string {
	for k, v := range body {
		if v == nil {
			delete(t, k)
			continue
		}
		if k == "dueDate" {
			d, ok := normalizeDueDate(v.(string))
			if !ok {
				return []string{"dueDate must be a valid ISO 8601 date string"}
			}
			t[k] = d
			continue
		}
		t[k] = clone(v)
	}
	return nil
}

func (s *Server) listTasks(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		return *rep
	}
	out := []any{}
	for _, t := range s.tasks[ct.ID()] {
		out = append(out, taskOut(t))
	}
	return reply{http.StatusOK, map[string]any{"tasks": out}}
}

func (s *Server) getTask(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		return *rep
	}
	t := findTask(s.tasks[ct.ID()], c.r.PathValue("taskId"))
	if t == nil {
		return s.notFound("Task", c.r.PathValue("taskId"))
	}
	return reply{http.StatusOK, map[string]any{"task": taskOut(t)}}
}

func (s *Server) createTask(c *call) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := createTaskDTO.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	s.mu.Lock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	t := Task{"id": s.newID(), "contactId": ct.ID()}
	if msgs := applyTaskFields(t, body); len(msgs) > 0 {
		s.mu.Unlock()
		return unprocessable(msgs)
	}
	s.tasks[ct.ID()] = append(s.tasks[ct.ID()], t)
	out := taskOut(t)
	now := s.now()
	s.mu.Unlock()
	s.emitTask(c, "TaskCreate", out, now)
	if t.Completed() {
		s.emitTask(c, "TaskComplete", out, now)
	}
	return reply{http.StatusCreated, map[string]any{"task": out}}
}

func (s *Server) updateTask(c *call) reply   { return s.changeTask(c, updateTaskDTO) }
func (s *Server) completeTask(c *call) reply { return s.changeTask(c, taskStatusDTO) }

func (s *Server) changeTask(c *call, d dto) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := d.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	s.mu.Lock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	t := findTask(s.tasks[ct.ID()], c.r.PathValue("taskId"))
	if t == nil {
		s.mu.Unlock()
		return s.notFound("Task", c.r.PathValue("taskId"))
	}
	wasDone := t.Completed()
	next := clone(t).(Task)
	if msgs := applyTaskFields(next, body); len(msgs) > 0 {
		s.mu.Unlock()
		return unprocessable(msgs)
	}
	for k := range t {
		delete(t, k)
	}
	for k, v := range next {
		t[k] = v
	}
	out := taskOut(t)
	now := s.now()
	s.mu.Unlock()
	// GHL has no TaskUpdate event; only completion is announced.
	if !wasDone && next.Completed() {
		s.emitTask(c, "TaskComplete", out, now)
	}
	return reply{http.StatusOK, map[string]any{"task": out}}
}

func (s *Server) deleteTask(c *call) reply {
	s.mu.Lock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	t := s.removeTaskLocked(ct.ID(), c.r.PathValue("taskId"))
	now := s.now()
	s.mu.Unlock()
	if t == nil {
		return s.notFound("Task", c.r.PathValue("taskId"))
	}
	s.emitTask(c, "TaskDelete", taskOut(t), now)
	return reply{http.StatusOK, map[string]any{"succeded": true}}
}

func (s *Server) listNotes(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		return *rep
	}
	out := []any{}
	for _, n := range s.notes[ct.ID()] {
		out = append(out, cloneMap(n))
	}
	return reply{http.StatusOK, map[string]any{"notes": out}}
}

func (s *Server) getNote(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		return *rep
	}
	n := findNote(s.notes[ct.ID()], c.r.PathValue("id"))
	if n == nil {
		return s.notFound("Note", c.r.PathValue("id"))
	}
	return reply{http.StatusOK, map[string]any{"note": cloneMap(n)}}
}

func (s *Server) createNote(c *call) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := createNoteDTO.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	s.mu.Lock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	n := Note{"id": s.newID(), "contactId": ct.ID(), "dateAdded": formatTime(s.now())}
	for k, v := range body {
		if v != nil {
			n[k] = clone(v)
		}
	}
	s.notes[ct.ID()] = append(s.notes[ct.ID()], n)
	out := cloneMap(n)
	s.mu.Unlock()
	s.emitNote(c, "NoteCreate", out)
	return reply{http.StatusCreated, map[string]any{"note": out}}
}

func (s *Server) updateNote(c *call) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := updateNoteDTO.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	s.mu.Lock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	n := findNote(s.notes[ct.ID()], c.r.PathValue("id"))
	if n == nil {
		s.mu.Unlock()
		return s.notFound("Note", c.r.PathValue("id"))
	}
	for k, v := range body {
		if v == nil {
			delete(n, k)
		} else {
			n[k] = clone(v)
		}
	}
	out := cloneMap(n)
	s.mu.Unlock()
	s.emitNote(c, "NoteUpdate", out)
	return reply{http.StatusOK, map[string]any{"note": out}}
}

func (s *Server) deleteNote(c *call) reply {
	s.mu.Lock()
	ct, rep := s.contactForLocked(c, c.r.PathValue("contactId"))
	if rep != nil {
		s.mu.Unlock()
		return *rep
	}
	n := s.removeNoteLocked(ct.ID(), c.r.PathValue("id"))
	s.mu.Unlock()
	if n == nil {
		return s.notFound("Note", c.r.PathValue("id"))
	}
	s.emitNote(c, "NoteDelete", cloneMap(n))
	return reply{http.StatusOK, map[string]any{"succeded": true}}
}

// searchTasks is the location-wide task list used by full passes. Tasks
// come ordered by contact id, then creation, so skip/limit paging is stable.
func (s *Server) searchTasks(c *call) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	if msgs := taskSearchDTO.validate(body); len(msgs) > 0 {
		return unprocessable(msgs)
	}
	if c.r.PathValue("locationId") != c.location {
		return forbiddenLocation()
	}
	limit, skip := 25, 0
	if n, ok := body["limit"].(json.Number); ok {
		if v, err := n.Int64(); err == nil && v > 0 {
			limit = int(v)
		}
	}
	if n, ok := body["skip"].(json.Number); ok {
		if v, err := n.Int64(); err == nil && v > 0 {
			skip = int(v)
		}
	}
	contactIDs, assignees := strs(body["contactId"]), strs(body["assignedTo"])
	done, hasDone := body["completed"].(bool)
	query := strings.ToLower(str(body["query"]))

	s.mu.Lock()
	defer s.mu.Unlock()
	var cids []string
	for cid := range s.tasks {
		if ct := s.currentLocked(cid); ct != nil && ct.LocationID() == c.location {
			cids = append(cids, cid)
		}
	}
	sort.Strings(cids)
	out := []any{}
	for _, cid := range cids {
		if len(contactIDs) > 0 && !slices.Contains(contactIDs, cid) {
			continue
		}
		for _, t := range s.tasks[cid] {
			switch {
			case hasDone && t.Completed() != done,
				len(assignees) > 0 && !slices.Contains(assignees, str(t["assignedTo"])),
				query != "" && !strings.Contains(strings.ToLower(str(t["title"])+" "+str(t["body"])), query):
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(out) < limit {
				out = append(out, taskOut(t))
			}
		}
	}
	return reply{http.StatusOK, map[string]any{"tasks": out}}
}
