package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// specs loads OpenAPI documents from testdata/spec and resolves $refs
// between them, relative to the referring file as OpenAPI does.
type specs struct {
	mu   sync.Mutex
	docs map[string]map[string]any // by slash path under testdata/spec
}

func loadSpecs(*testing.T) *specs {
	return &specs{docs: map[string]map[string]any{}}
}

func (s *specs) doc(file string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.docs[file]; ok {
		return d, nil
	}
	name := filepath.Join("testdata", "spec", filepath.FromSlash(file))
	data, err := os.ReadFile(name)
	if os.IsNotExist(err) && strings.HasPrefix(file, "history/") {
		// The history copy keeps only apps/contacts.json; its
		// ../common refs mean the same shared file as today's.
		parts := strings.SplitN(file, "/", 3)
		data, err = os.ReadFile(filepath.Join("testdata", "spec", filepath.FromSlash(parts[2])))
	}
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode spec %s: %w", file, err)
	}
	s.docs[file] = d
	return d, nil
}

// resolve follows a $ref written in file and returns the target schema and
// the file it lives in.
func (s *specs) resolve(file, ref string) (map[string]any, string, error) {
	target, pointer, _ := strings.Cut(ref, "#")
	if target != "" {
		file = path.Clean(path.Join(path.Dir(file), target))
	}
	d, err := s.doc(file)
	if err != nil {
		return nil, "", err
	}
	var cur any = d
	for _, p := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("bad ref %s in %s", ref, file)
		}
		cur = m[p]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, "", fmt.Errorf("ref %s in %s resolves to %T", ref, file, cur)
	}
	return m, file, nil
}

func (s *specs) mustResolve(t *testing.T, file, ref string) (map[string]any, string) {
	t.Helper()
	m, f, err := s.resolve(file, ref)
	if err != nil {
		t.Fatal(err)
	}
	return m, f
}

// check validates v against schema (the subset GHL's specs use: type,
// properties, required, items, $ref, nullable, allOf/anyOf/oneOf) and
// returns one line per violation, each prefixed with its JSON path.
func (s *specs) check(file string, schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		target, tfile, err := s.resolve(file, ref)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		return s.check(tfile, target, v, at)
	}
	if v == nil {
		if schema["nullable"] == true || schema["type"] == nil {
			return nil
		}
		return []string{at + ": null but not nullable"}
	}
	var errs []string
	if all, ok := schema["allOf"].([]any); ok {
		for _, sub := range all {
			errs = append(errs, s.check(file, sub.(map[string]any), v, at)...)
		}
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		alts, ok := schema[key].([]any)
		if !ok {
			continue
		}
		var first []string
		matched := false
		for i, sub := range alts {
			e := s.check(file, sub.(map[string]any), v, at)
			if len(e) == 0 {
				matched = true
				break
			}
			if i == 0 {
				first = e
			}
		}
		if !matched {
			errs = append(errs, fmt.Sprintf("%s: matches no %s alternative (first: %v)", at, key, first))
		}
	}
	typ, _ := schema["type"].(string)
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want object", at, v))
		}
		for _, r := range asList(schema["required"]) {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: missing required %q", at, r))
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, pv := range m {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, s.check(file, ps, pv, at+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want array", at, v))
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range a {
				errs = append(errs, s.check(file, items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T, want string", at, v))
		}
	case "number", "integer":
		if _, ok := v.(float64); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T, want number", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T, want boolean", at, v))
		}
	}
	return errs
}

func asList(v any) []any { a, _ := v.([]any); return a }

// responseSchema finds the schema of a documented response.
func (s *specs) responseSchema(t *testing.T, file, route, method string, status int) map[string]any {
	t.Helper()
	d, err := s.doc(file)
	if err != nil {
		t.Fatal(err)
	}
	paths := d["paths"].(map[string]any)
	op, ok := paths[route].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		t.Fatalf("%s has no %s %s", file, method, route)
	}
	res, ok := op["responses"].(map[string]any)[fmt.Sprint(status)].(map[string]any)
	if !ok {
		t.Fatalf("%s %s %s documents no %d", file, method, route, status)
	}
	sc, ok := res["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	if !ok {
		t.Fatalf("%s %s %s %d has no JSON schema", file, method, route, status)
	}
	return sc
}

// knownDeviations are places where the emulator follows the real API (and
// the spec's own example) rather than the spec's declared type. Each is
// explained in README.md.
var knownDeviations = []*regexp.Regexp{
	// searchAfter is [<sort value as epoch ms number>, "<id>"]; the spec's
	// example is [1234, "..."] but its items say string.
	regexp.MustCompile(`\.searchAfter\[0\]: float64, want string$`),
	// Multi-select and checkbox custom fields hold arrays (the webhook
	// schemas and the corpus say so); CustomFieldSchema says string.
	regexp.MustCompile(`\.customFields\[\d+\]\.value: \[\]interface \{\}, want string$`),
}

func filterDeviations(errs []string) []string {
	var out []string
	for _, e := range errs {
		known := false
		for _, d := range knownDeviations {
			known = known || d.MatchString(e)
		}
		if !known {
			out = append(out, e)
		}
	}
	return out
}

func TestSchemaConformance(t *testing.T) {
	sp := loadSpecs(t)
	e := newEnv(t, Options{})
	e.loadCorpus()
	ct := createContact(t, e, map[string]any{
		"firstName": "Schema", "lastName": "Check", "email": "schema@example.com", "phone": "+14155550142",
		"tags": []any{"a"}, "dndSettings": map[string]any{"Email": map[string]any{"status": "active", "message": "m", "code": "c"}},
		"customFields": []any{map[string]any{"id": "cf", "fieldValue": "v"}}, "dateOfBirth": "1990-01-02",
	})
	cid := ct["id"].(string)
	task := obj(t, e.do("POST", "/contacts/"+cid+"/tasks", map[string]any{"title": "t", "dueDate": "2026-03-11T00:00:00Z", "completed": false}).body, "task")
	note := obj(t, e.do("POST", "/contacts/"+cid+"/notes", map[string]any{"body": "n"}).body, "note")
	tid, nid := task["id"].(string), note["id"].(string)
	loc := DefaultLocationID
	const (
		contacts  = "apps/contacts.json"
		old       = "history/de87e88/apps/contacts.json"
		locations = "apps/locations.json"
	)
	bearerless := func(r *http.Request) { r.Header.Del("Authorization") }
	tests := []struct {
		name, file, route, method, path string
		body                            any
		mod                             func(*http.Request)
		status                          int
	}{
		{"search", old, "/contacts/search", "POST", "/contacts/search", map[string]any{"locationId": loc, "pageLimit": 500}, nil, 200},
		{"search 400", old, "/contacts/search", "POST", "/contacts/search", map[string]any{"locationId": loc, "pageLimit": 5, "filters": []any{flt("nope", "eq", 1)}}, nil, 400},
		{"search 401", old, "/contacts/search", "POST", "/contacts/search", map[string]any{}, bearerless, 401},
		{"get contact", contacts, "/contacts/{contactId}", "GET", "/contacts/" + cid, nil, nil, 200},
		{"get contact 400", contacts, "/contacts/{contactId}", "GET", "/contacts/missing", nil, nil, 400},
		{"get contact 401", contacts, "/contacts/{contactId}", "GET", "/contacts/" + cid, nil, bearerless, 401},
		{"create contact", contacts, "/contacts/", "POST", "/contacts/", map[string]any{"locationId": loc, "firstName": "New", "email": "new@example.com"}, nil, 201},
		{"create duplicate 400", contacts, "/contacts/", "POST", "/contacts/", map[string]any{"locationId": loc, "email": "schema@example.com"}, nil, 400},
		{"create 422", contacts, "/contacts/", "POST", "/contacts/", map[string]any{"locationId": loc, "bogus": 1}, nil, 422},
		{"update contact", contacts, "/contacts/{contactId}", "PUT", "/contacts/" + cid, map[string]any{"city": "Paris"}, nil, 200},
		{"update 422", contacts, "/contacts/{contactId}", "PUT", "/contacts/" + cid, map[string]any{"gender": "x"}, nil, 422},
		{"upsert", contacts, "/contacts/upsert", "POST", "/contacts/upsert", map[string]any{"locationId": loc, "email": "schema@example.com", "city": "Lyon"}, nil, 200},
		{"add tags", contacts, "/contacts/{contactId}/tags", "POST", "/contacts/" + cid + "/tags", map[string]any{"tags": []any{"b"}}, nil, 201},
		{"remove tags", contacts, "/contacts/{contactId}/tags", "DELETE", "/contacts/" + cid + "/tags", map[string]any{"tags": []any{"b"}}, nil, 200},
		{"tags 422", contacts, "/contacts/{contactId}/tags", "POST", "/contacts/" + cid + "/tags", map[string]any{"tags": "b"}, nil, 422},
		{"duplicate lookup 400", contacts, "/contacts/search/duplicate", "GET", "/contacts/search/duplicate?locationId=" + loc, nil, nil, 400},
		{"list tasks", contacts, "/contacts/{contactId}/tasks", "GET", "/contacts/" + cid + "/tasks", nil, nil, 200},
		{"create task", contacts, "/contacts/{contactId}/tasks", "POST", "/contacts/" + cid + "/tasks", map[string]any{"title": "x", "dueDate": "2026-03-11T00:00:00Z", "completed": true}, nil, 201},
		{"create task 422", contacts, "/contacts/{contactId}/tasks", "POST", "/contacts/" + cid + "/tasks", map[string]any{}, nil, 422},
		{"get task", contacts, "/contacts/{contactId}/tasks/{taskId}", "GET", "/contacts/" + cid + "/tasks/" + tid, nil, nil, 200},
		{"get task 400", contacts, "/contacts/{contactId}/tasks/{taskId}", "GET", "/contacts/" + cid + "/tasks/nope", nil, nil, 400},
		{"update task", contacts, "/contacts/{contactId}/tasks/{taskId}", "PUT", "/contacts/" + cid + "/tasks/" + tid, map[string]any{"body": "b"}, nil, 200},
		{"complete task", contacts, "/contacts/{contactId}/tasks/{taskId}/completed", "PUT", "/contacts/" + cid + "/tasks/" + tid + "/completed", map[string]any{"completed": true}, nil, 200},
		{"list notes", contacts, "/contacts/{contactId}/notes", "GET", "/contacts/" + cid + "/notes", nil, nil, 200},
		{"create note", contacts, "/contacts/{contactId}/notes", "POST", "/contacts/" + cid + "/notes", map[string]any{"body": "<b>x</b>", "pinned": true}, nil, 201},
		{"create note 422", contacts, "/contacts/{contactId}/notes", "POST", "/contacts/" + cid + "/notes", map[string]any{"pinned": "yes"}, nil, 422},
		{"get note", contacts, "/contacts/{contactId}/notes/{id}", "GET", "/contacts/" + cid + "/notes/" + nid, nil, nil, 200},
		{"update note", contacts, "/contacts/{contactId}/notes/{id}", "PUT", "/contacts/" + cid + "/notes/" + nid, map[string]any{"title": "t"}, nil, 200},
		{"delete note", contacts, "/contacts/{contactId}/notes/{id}", "DELETE", "/contacts/" + cid + "/notes/" + nid, nil, nil, 200},
		{"delete task", contacts, "/contacts/{contactId}/tasks/{taskId}", "DELETE", "/contacts/" + cid + "/tasks/" + tid, nil, nil, 200},
		{"location", locations, "/locations/{locationId}", "GET", "/locations/" + loc, nil, nil, 200},
		{"location 401", locations, "/locations/{locationId}", "GET", "/locations/" + loc, nil, bearerless, 401},
		{"delete contact", contacts, "/contacts/{contactId}", "DELETE", "/contacts/" + cid, nil, nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*http.Request)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			r := e.do(tt.method, tt.path, tt.body, mods...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, tt.status, r.raw)
			}
			var v any
			if err := json.Unmarshal(r.raw, &v); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			sc := sp.responseSchema(t, tt.file, tt.route, tt.method, tt.status)
			if errs := filterDeviations(sp.check(tt.file, sc, v, "$")); len(errs) > 0 {
				t.Errorf("%d schema violations, first ones:\n%s", len(errs), strings.Join(errs[:min(len(errs), 10)], "\n"))
			}
		})
	}
}

// TestUndocumentedErrorBodies checks the error bodies the v2 spec does not
// list against the closest common schema (v3 adds 403 and 404).
func TestUndocumentedErrorBodies(t *testing.T) {
	sp := loadSpecs(t)
	e := newEnv(t, Options{NotFoundStatus: 404, RateLimit: 2})
	const v3 = "apps/v3/common/common-schemas.json"
	tests := []struct {
		name, method, path string
		body               any
		file, schema       string
		status             int
	}{
		{"403", "GET", "/locations/LOCother", nil, v3, "ForbiddenDTO", 403},
		{"404", "GET", "/contacts/nope", nil, v3, "NotFoundDTO", 404},
		{"429", "GET", "/contacts/nope", nil, "common/common-schemas.json", "BadRequestDTO", 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			var v any
			json.Unmarshal(r.raw, &v)
			sc, file := sp.mustResolve(t, tt.file, "#/components/schemas/"+tt.schema)
			if errs := sp.check(file, sc, v, "$"); len(errs) > 0 {
				t.Errorf("violations:\n%s", strings.Join(errs, "\n"))
			}
		})
	}
}

// TestDTOWhitelistsMatchSpec keeps the 422 "should not exist" rule in step
// with the request schemas in apps/contacts.json.
func TestDTOWhitelistsMatchSpec(t *testing.T) {
	sp := loadSpecs(t)
	dtos := []struct {
		file string
		d    dto
	}{
		{"apps/contacts.json", createContactDTO}, {"apps/contacts.json", updateContactDTO},
		{"apps/contacts.json", upsertContactDTO}, {"apps/contacts.json", tagsDTO},
		{"apps/contacts.json", createTaskDTO}, {"apps/contacts.json", updateTaskDTO},
		{"apps/contacts.json", taskStatusDTO}, {"apps/contacts.json", createNoteDTO},
		{"apps/contacts.json", updateNoteDTO}, {"apps/locations.json", taskSearchDTO},
	}
	for _, tc := range dtos {
		d := tc.d
		t.Run(d.name, func(t *testing.T) {
			sc, _ := sp.mustResolve(t, tc.file, "#/components/schemas/"+d.name)
			var want, wantReq []string
			for k := range sc["properties"].(map[string]any) {
				want = append(want, k)
			}
			for _, r := range asList(sc["required"]) {
				wantReq = append(wantReq, r.(string))
			}
			var got, gotReq []string
			for _, f := range d.fields {
				got = append(got, f.name)
				if f.required {
					gotReq = append(gotReq, f.name)
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			sort.Strings(wantReq)
			sort.Strings(gotReq)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("properties (-spec +emulator):\n%s", diff)
			}
			if diff := cmp.Diff(wantReq, gotReq); diff != "" {
				t.Errorf("required (-spec +emulator):\n%s", diff)
			}
		})
	}
}

func TestSchemaCheckerCatchesViolations(t *testing.T) {
	sp := loadSpecs(t)
	sc := sp.responseSchema(t, "apps/contacts.json", "/contacts/{contactId}/tasks/{taskId}", "GET", 200)
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"valid", `{"task":{"id":"x","completed":true}}`, nil},
		{"wrong type", `{"task":{"id":1}}`, []string{"$.task.id: float64, want string"}},
		{"not object", `{"task":[]}`, []string{"$.task: []interface {}, want object"}},
		{"null not nullable", `{"task":{"title":null}}`, []string{"$.task.title: null but not nullable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			json.Unmarshal([]byte(tt.body), &v)
			got := sp.check("apps/contacts.json", sc, v, "$")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
	// Required and cross-file refs.
	search := sp.responseSchema(t, "history/de87e88/apps/contacts.json", "/contacts/search", "POST", 200)
	if got := sp.check("history/de87e88/apps/contacts.json", search, map[string]any{"contacts": []any{}}, "$"); len(got) != 1 {
		t.Errorf("missing total not reported: %v", got)
	}
	unauth := sp.responseSchema(t, "apps/contacts.json", "/contacts/{contactId}", "GET", 401)
	if got := sp.check("apps/contacts.json", unauth, map[string]any{"message": 5.0}, "$"); len(got) != 1 {
		t.Errorf("cross-file ref not followed: %v", got)
	}
}
