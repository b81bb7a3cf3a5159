package emulator

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAuthAndVersionErrors(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name       string
		mod        func(*http.Request)
		wantStatus int
		wantBody   map[string]any
	}{
		{
			name:       "missing bearer",
			mod:        func(r *http.Request) { r.Header.Del("Authorization") },
			wantStatus: 401,
			wantBody:   map[string]any{"statusCode": 401.0, "message": "Invalid token: access token is invalid", "error": "Unauthorized"},
		},
		{
			name:       "wrong token",
			mod:        func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") },
			wantStatus: 401,
			wantBody:   map[string]any{"statusCode": 401.0, "message": "Invalid token: access token is invalid", "error": "Unauthorized"},
		},
		{
			name:       "missing version",
			mod:        func(r *http.Request) { r.Header.Del("Version") },
			wantStatus: 401,
			wantBody:   map[string]any{"message": "version header was not found."},
		},
		{
			name:       "unknown version",
			mod:        func(r *http.Request) { r.Header.Set("Version", "2023-02-21") },
			wantStatus: 401,
			wantBody:   map[string]any{"message": "version header is invalid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/locations/"+DefaultLocationID, nil, tt.mod)
			if r.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", r.status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantBody, r.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthenticateHook(t *testing.T) {
	e := newEnv(t, Options{Authenticate: func(r *http.Request) (string, []string, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer reader":
			return DefaultLocationID, []string{"contacts.readonly"}, nil
		case "Bearer elsewhere":
			return "", nil, ErrForbiddenLocation
		}
		return "", nil, ErrInvalidToken
	}})
	auth := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	tests := []struct {
		name, method, path, token string
		body                      any
		wantStatus                int
		wantMessage               string
	}{
		{"read allowed", "POST", "/contacts/search", "reader", map[string]any{"locationId": DefaultLocationID, "pageLimit": 1}, 200, ""},
		{"write needs scope", "POST", "/contacts/", "reader", map[string]any{"locationId": DefaultLocationID}, 401, "The token is not authorized for this scope."},
		{"forbidden location", "GET", "/contacts/x", "elsewhere", nil, 403, "The token does not have access to this location."},
		{"invalid", "GET", "/contacts/x", "bad", nil, 401, "Invalid token: access token is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.body, auth(tt.token))
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.raw)
			}
			if got, _ := r.body["message"].(string); tt.wantMessage != "" && got != tt.wantMessage {
				t.Errorf("message = %q, want %q", got, tt.wantMessage)
			}
		})
	}
}

func TestContactLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	ct := createContact(t, e, map[string]any{
		"firstName": "Ada", "lastName": "Lovelace", "email": "  Ada@Example.COM ",
		"phone": "(415) 555-0199", "tags": []any{" VIP", "vip", "Lead ", ""},
		"customFields": []any{map[string]any{"id": "cf1", "field_value": "Gold"}},
	})
	id, _ := ct["id"].(string)
	if len(id) != 20 {
		t.Errorf("id %q is not 20 characters", id)
	}
	want := map[string]any{
		"id": id, "locationId": DefaultLocationID, "type": "lead", "dnd": false,
		"firstName": "Ada", "lastName": "Lovelace", "name": "Ada Lovelace",
		"firstNameLowerCase": "ada", "lastNameLowerCase": "lovelace", "fullNameLowerCase": "ada lovelace",
		"email": "Ada@Example.COM", "emailLowerCase": "ada@example.com", "phone": "+14155550199",
		"tags": []any{"vip", "lead"}, "customFields": []any{map[string]any{"id": "cf1", "value": "Gold"}},
		"dateAdded": "2026-03-10T12:00:00.000Z", "dateUpdated": "2026-03-10T12:00:00.000Z",
	}
	if diff := cmp.Diff(want, ct); diff != "" {
		t.Errorf("created contact (-want +got):\n%s", diff)
	}

	r := e.do("GET", "/contacts/"+id, nil)
	if diff := cmp.Diff(map[string]any{"contact": want}, withoutTrace(r.body)); r.status != 200 || diff != "" {
		t.Errorf("GET status %d (-want +got):\n%s", r.status, diff)
	}
	if r.body["traceId"] == "" || r.header.Get("X-Trace-Id") == "" {
		t.Errorf("no trace id in %s / %v", r.raw, r.header)
	}

	e.clock.Advance(1500 * 1e6)
	r = e.do("PUT", "/contacts/"+id, map[string]any{"firstName": "Augusta", "phone": nil})
	if r.status != 200 || r.body["succeded"] != true {
		t.Fatalf("PUT: %d %s", r.status, r.raw)
	}
	got := obj(t, r.body, "contact")
	for k, v := range map[string]any{"name": "Augusta Lovelace", "firstNameLowerCase": "augusta", "dateUpdated": "2026-03-10T12:00:01.500Z", "dateAdded": "2026-03-10T12:00:00.000Z"} {
		if got[k] != v {
			t.Errorf("after PUT %s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["phone"]; ok {
		t.Errorf("phone not cleared by null: %v", got["phone"])
	}

	r = e.do("DELETE", "/contacts/"+id, nil)
	if diff := cmp.Diff(map[string]any{"succeded": true}, withoutTrace(r.body)); r.status != 200 || diff != "" {
		t.Errorf("DELETE status %d (-want +got):\n%s", r.status, diff)
	}
	r = e.do("GET", "/contacts/"+id, nil)
	wantGone := map[string]any{"statusCode": 400.0, "message": "Contact with id " + id + " not found"}
	if diff := cmp.Diff(wantGone, r.body); r.status != 400 || diff != "" {
		t.Errorf("GET deleted: status %d (-want +got):\n%s", r.status, diff)
	}
}

func TestNotFoundStatus404(t *testing.T) {
	e := newEnv(t, Options{NotFoundStatus: 404})
	r := e.do("GET", "/contacts/nope", nil)
	want := map[string]any{"statusCode": 404.0, "message": "Contact with id nope not found", "error": "Not Found"}
	if diff := cmp.Diff(want, r.body); r.status != 404 || diff != "" {
		t.Errorf("status %d (-want +got):\n%s", r.status, diff)
	}
}

func TestContactValidation(t *testing.T) {
	e := newEnv(t, Options{})
	existing := createContact(t, e, map[string]any{"firstName": "Jo", "email": "jo@example.com"})
	id := existing["id"].(string)
	tests := []struct {
		name, method, path string
		body               any
		wantStatus         int
		wantBody           map[string]any
	}{
		{
			name: "unknown property on create", method: "POST", path: "/contacts/",
			body:       map[string]any{"locationId": DefaultLocationID, "additionalEmails": []any{"a@b.co"}},
			wantStatus: 422,
			wantBody:   map[string]any{"statusCode": 422.0, "message": []any{"property additionalEmails should not exist"}, "error": "Unprocessable Entity"},
		},
		{
			name: "gender and locationId on update", method: "PUT", path: "/contacts/" + id,
			body:       map[string]any{"gender": "female", "locationId": DefaultLocationID},
			wantStatus: 422,
			wantBody:   map[string]any{"statusCode": 422.0, "message": []any{"property gender should not exist", "property locationId should not exist"}, "error": "Unprocessable Entity"},
		},
		{
			name: "invalid email", method: "POST", path: "/contacts/",
			body:       map[string]any{"locationId": DefaultLocationID, "email": "jane@@example.com"},
			wantStatus: 422,
			wantBody:   map[string]any{"statusCode": 422.0, "message": []any{"email must be an email"}, "error": "Unprocessable Entity"},
		},
		{
			name: "wrong type", method: "POST", path: "/contacts/",
			body:       map[string]any{"locationId": DefaultLocationID, "tags": "vip", "dnd": "yes"},
			wantStatus: 422,
			wantBody:   map[string]any{"statusCode": 422.0, "message": []any{"dnd must be a boolean value", "tags must be an array"}, "error": "Unprocessable Entity"},
		},
		{
			name: "missing locationId", method: "POST", path: "/contacts/",
			body:       map[string]any{"firstName": "X"},
			wantStatus: 422,
			wantBody:   map[string]any{"statusCode": 422.0, "message": []any{"locationId should not be empty"}, "error": "Unprocessable Entity"},
		},
		{
			name: "other location", method: "POST", path: "/contacts/",
			body:       map[string]any{"locationId": "LOCsomewhereElse0001"},
			wantStatus: 403,
			wantBody:   map[string]any{"statusCode": 403.0, "message": "The token does not have access to this location."},
		},
		{
			name: "duplicate email ignoring case and spaces", method: "POST", path: "/contacts/",
			body:       map[string]any{"locationId": DefaultLocationID, "email": " JO@example.com"},
			wantStatus: 400,
			wantBody: map[string]any{"statusCode": 400.0, "message": "This location does not allow duplicated contacts.",
				"meta": map[string]any{"contactId": id, "contactName": "Jo", "matchingField": "email"}},
		},
		{
			name: "malformed JSON", method: "POST", path: "/contacts/",
			body:       `{"locationId": `,
			wantStatus: 400,
			wantBody:   map[string]any{"statusCode": 400.0, "message": "Unexpected end of JSON input", "error": "Bad Request"},
		},
		{
			name: "bad token in JSON", method: "POST", path: "/contacts/",
			body:       `{"locationId": }`,
			wantStatus: 400,
			wantBody:   map[string]any{"statusCode": 400.0, "message": "Unexpected token in JSON at position 15", "error": "Bad Request"},
		},
		{
			name: "body too large", method: "POST", path: "/contacts/",
			body:       `{"firstName":"` + strings.Repeat("a", MaxRequestBody) + `"}`,
			wantStatus: 413,
			wantBody:   map[string]any{"statusCode": 413.0, "message": "request entity too large", "error": "Payload Too Large"},
		},
		{
			name: "unknown route", method: "GET", path: "/contacts/x/y/z",
			wantStatus: 404,
			wantBody:   map[string]any{"statusCode": 404.0, "message": "Cannot GET /contacts/x/y/z", "error": "Not Found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.body)
			if r.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", r.status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantBody, r.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDuplicatePhoneAndAllowDuplicates(t *testing.T) {
	tests := []struct {
		name       string
		allow      bool
		wantStatus int
	}{
		{"rejected", false, 400},
		{"allowed", true, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{AllowDuplicateContact: tt.allow})
			first := createContact(t, e, map[string]any{"name": "Pat", "phone": "+1 415-555-0100"})
			r := e.do("POST", "/contacts/", map[string]any{"locationId": DefaultLocationID, "phone": "4155550100"})
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.wantStatus, r.raw)
			}
			if tt.allow {
				return
			}
			want := map[string]any{"contactId": first["id"], "contactName": "Pat", "matchingField": "phone"}
			if diff := cmp.Diff(want, r.body["meta"]); diff != "" {
				t.Errorf("meta (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpsertAndDuplicateLookup(t *testing.T) {
	e := newEnv(t, Options{})
	a := createContact(t, e, map[string]any{"email": "a@example.com"})
	b := createContact(t, e, map[string]any{"phone": "+14155550111"})

	r := e.do("POST", "/contacts/upsert", map[string]any{"locationId": DefaultLocationID, "email": "A@example.com", "phone": "+14155550111", "firstName": "Al", "gender": "male"})
	if r.status != 200 || r.body["new"] != false {
		t.Fatalf("upsert match: %d %s", r.status, r.raw)
	}
	got := obj(t, r.body, "contact")
	if got["id"] != a["id"] || got["firstName"] != "Al" || got["phone"] != nil || got["gender"] != nil {
		t.Errorf("upsert updated %v; want contact %v with firstName Al, phone and gender silently dropped", got, a["id"])
	}
	r = e.do("POST", "/contacts/upsert", map[string]any{"locationId": DefaultLocationID, "email": "new@example.com"})
	if r.status != 200 || r.body["new"] != true {
		t.Errorf("upsert new: %d %s", r.status, r.raw)
	}

	lookups := []struct {
		name, query string
		wantID      any
	}{
		{"email", "email=A%40EXAMPLE.com", a["id"]},
		{"number", "number=%2B14155550111", b["id"]},
		{"none", "email=zz%40example.com", nil},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/contacts/search/duplicate?locationId="+DefaultLocationID+"&"+tt.query, nil)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			var gotID any
			if c, ok := r.body["contact"].(map[string]any); ok {
				gotID = c["id"]
			} else if r.body["contact"] != nil {
				t.Fatalf("contact is %v", r.body["contact"])
			}
			if gotID != tt.wantID {
				t.Errorf("id = %v, want %v", gotID, tt.wantID)
			}
		})
	}
	r = e.do("GET", "/contacts/search/duplicate?locationId="+DefaultLocationID, nil)
	if r.status != 400 || r.body["message"] != "Pass at least one of number, email query parameter" {
		t.Errorf("no params: %d %s", r.status, r.raw)
	}
}

func TestTags(t *testing.T) {
	e := newEnv(t, Options{})
	id := createContact(t, e, map[string]any{"tags": []any{"client"}})["id"].(string)
	r := e.do("POST", "/contacts/"+id+"/tags", map[string]any{"tags": []any{" VIP ", "Client", "new"}})
	if diff := cmp.Diff(map[string]any{"tags": []any{"client", "vip", "new"}}, withoutTrace(r.body)); r.status != 201 || diff != "" {
		t.Errorf("add: status %d (-want +got):\n%s", r.status, diff)
	}
	r = e.do("DELETE", "/contacts/"+id+"/tags", map[string]any{"tags": []any{"CLIENT"}})
	if diff := cmp.Diff(map[string]any{"tags": []any{"vip", "new"}}, withoutTrace(r.body)); r.status != 200 || diff != "" {
		t.Errorf("remove: status %d (-want +got):\n%s", r.status, diff)
	}
	r = e.do("POST", "/contacts/"+id+"/tags", map[string]any{})
	if r.status != 422 {
		t.Errorf("missing tags: status %d %s", r.status, r.raw)
	}
	if c, _ := e.s.Contact(id); !cmp.Equal(c.Tags(), []string{"vip", "new"}) {
		t.Errorf("stored tags %v", c.Tags())
	}
}

func TestLocation(t *testing.T) {
	e := newEnv(t, Options{AllowDuplicateContact: true})
	r := e.do("GET", "/locations/"+DefaultLocationID, nil)
	settings := obj(t, obj(t, r.body, "location"), "settings")
	if r.status != 200 || settings["allowDuplicateContact"] != true {
		t.Errorf("location: %d %s", r.status, r.raw)
	}
	if r = e.do("GET", "/locations/LOCother", nil); r.status != 403 {
		t.Errorf("other location: %d", r.status)
	}
}

func TestTasksAndNotes(t *testing.T) {
	e := newEnv(t, Options{})
	cid := createContact(t, e, map[string]any{"firstName": "T"})["id"].(string)
	base := "/contacts/" + cid

	r := e.do("POST", base+"/tasks", map[string]any{"title": "Call"})
	wantMsgs := []any{"dueDate should not be empty", "completed must be a boolean value"}
	if diff := cmp.Diff(wantMsgs, r.body["message"]); r.status != 422 || diff != "" {
		t.Errorf("task missing fields: %d (-want +got):\n%s", r.status, diff)
	}
	r = e.do("POST", base+"/tasks", map[string]any{"title": "Call", "body": "about pricing", "dueDate": "2026-03-12T11:00:00Z", "completed": false})
	if r.status != 201 {
		t.Fatalf("create task: %d %s", r.status, r.raw)
	}
	task := obj(t, r.body, "task")
	tid := task["id"].(string)
	wantTask := map[string]any{"id": tid, "contactId": cid, "title": "Call", "body": "about pricing", "dueDate": "2026-03-12T11:00:00.000Z", "completed": false}
	if diff := cmp.Diff(wantTask, task); diff != "" {
		t.Errorf("task (-want +got):\n%s", diff)
	}
	r = e.do("PUT", base+"/tasks/"+tid+"/completed", map[string]any{"completed": true})
	wantTask["completed"] = true
	if diff := cmp.Diff(wantTask, r.body["task"]); r.status != 200 || diff != "" {
		t.Errorf("complete: %d (-want +got):\n%s", r.status, diff)
	}
	r = e.do("PUT", base+"/tasks/"+tid, map[string]any{"title": "Call again"})
	if r.status != 200 || obj(t, r.body, "task")["title"] != "Call again" {
		t.Errorf("update task: %d %s", r.status, r.raw)
	}
	r = e.do("GET", base+"/tasks", nil)
	if tasks, _ := r.body["tasks"].([]any); r.status != 200 || len(tasks) != 1 {
		t.Errorf("list tasks: %d %s", r.status, r.raw)
	}

	big := "<p>" + strings.Repeat("é & <b>x</b>\u2028", 4000) + "</p>"
	r = e.do("POST", base+"/notes", map[string]any{"body": big, "title": "HTML"})
	if r.status != 201 {
		t.Fatalf("create note: %d %s", r.status, r.raw[:200])
	}
	nid := obj(t, r.body, "note")["id"].(string)
	if !strings.Contains(string(r.raw), "<b>x</b>") {
		t.Errorf("note body was HTML-escaped on the wire")
	}
	r = e.do("GET", base+"/notes/"+nid, nil)
	if got := obj(t, r.body, "note")["body"]; got != big {
		t.Errorf("note body changed: %d bytes, want %d", len(got.(string)), len(big))
	}
	r = e.do("PUT", base+"/notes/"+nid, map[string]any{"pinned": true, "color": "#FFAA00"})
	if n := obj(t, r.body, "note"); r.status != 200 || n["pinned"] != true || n["body"] != big {
		t.Errorf("update note: %d", r.status)
	}
	if r = e.do("PUT", base+"/notes/"+nid, map[string]any{"contactId": "x"}); r.status != 422 {
		t.Errorf("note unknown property: %d", r.status)
	}

	e.do("POST", base+"/tasks", map[string]any{"title": "2", "dueDate": "2026-03-13T00:00:00Z", "completed": false})
	r = e.do("DELETE", base+"/notes/"+nid, nil)
	if r.status != 200 || r.body["succeded"] != true {
		t.Errorf("delete note: %d %s", r.status, r.raw)
	}
	if r = e.do("GET", base+"/notes/"+nid, nil); r.status != 400 {
		t.Errorf("deleted note: %d", r.status)
	}
	r = e.do("DELETE", base+"/tasks/"+tid, nil)
	if r.status != 200 || r.body["succeded"] != true {
		t.Errorf("delete task: %d %s", r.status, r.raw)
	}
	e.do("POST", base+"/notes", map[string]any{"body": "keep?"})
	e.do("DELETE", base, nil)
	if n, tk := len(e.s.Notes(cid)), len(e.s.Tasks(cid)); n != 0 || tk != 0 {
		t.Errorf("after contact delete: %d notes, %d tasks left", n, tk)
	}
}

func TestLoadRoundTrip(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadCorpus()
	if n := len(e.s.Contacts()); n != 968 {
		t.Fatalf("loaded %d contacts, want 968", n)
	}
	// The custom-field contact keeps its array value and dateOfBirth.
	var found bool
	for _, c := range e.s.Contacts() {
		if c.Email() == "ana.silva@example.pt" {
			found = true
			r := e.do("GET", "/contacts/"+c.ID(), nil)
			if diff := cmp.Diff(jsonRoundTrip(t, c), obj(t, r.body, "contact")); diff != "" {
				t.Errorf("served contact differs from loaded (-want +got):\n%s", diff)
			}
		}
	}
	if !found {
		t.Fatal("corpus contact ana.silva@example.pt missing")
	}
	if err := e.s.LoadContacts(strings.NewReader(`[{"firstName":"no id"}]`)); err == nil {
		t.Error("LoadContacts accepted a record without id")
	}
	if err := e.s.LoadDir(t.TempDir()); err != nil {
		t.Errorf("LoadDir on empty dir: %v", err)
	}
}

func TestDirectHelpers(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.s.PutContact(Contact{"firstName": "UI"})
	if c.ID() == "" || c["dateUpdated"] != "2026-03-10T12:00:00.000Z" {
		t.Errorf("PutContact = %v", c)
	}
	tk := e.s.PutTask(Task{"contactId": c.ID(), "title": "x", "completed": false})
	e.s.PutNote(Note{"contactId": c.ID(), "body": "n"})
	if got := e.s.Tasks(c.ID()); len(got) != 1 || got[0].ID() != tk.ID() {
		t.Errorf("Tasks = %v", got)
	}
	if !e.s.DeleteTaskDirect(c.ID(), tk.ID()) || e.s.DeleteTaskDirect(c.ID(), tk.ID()) {
		t.Error("DeleteTaskDirect did not report existence correctly")
	}
	if !e.s.DeleteContactDirect(c.ID()) || len(e.s.Notes(c.ID())) != 0 {
		t.Error("DeleteContactDirect did not cascade")
	}
	if _, ok := e.s.Contact(c.ID()); ok {
		t.Error("contact still there")
	}
}

// TestLoadDirBadSeed: a seed file that is not valid JSON is named with the
// line and column of the fault.
func TestLoadDirBadSeed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "contacts.json")
	if err := os.WriteFile(path, []byte("[\n  {\"id\": \"a\"},\n  {\"id\": \"b\" \"email\": \"x\"}\n]"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := New(Options{}).LoadDir(dir)
	want := "load " + path + ": load contacts: decode: line 3, column 14: invalid character '\"' after object key:value pair"
	if err == nil || err.Error() != want {
		t.Errorf("LoadDir error:\n got %v\nwant %s", err, want)
	}
}
