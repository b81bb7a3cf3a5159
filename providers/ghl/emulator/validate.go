package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// kind is the JSON type a DTO property must have.
type kind int

const (
	kString kind = iota
	kBool
	kNumber
	kStrings // array of strings
	kArray
	kObject
	kDateString // string or null; GHL's spec says "object" for dateOfBirth but clients send strings
)

type field struct {
	name     string
	kind     kind
	required bool
}

// dto is a request body whitelist mirroring a schema in apps/contacts.json.
// GHL validates with NestJS's forbidNonWhitelisted, so any other top-level
// property is a 422.
type dto struct {
	name   string
	fields []field
}

func f(name string, k kind) field   { return field{name: name, kind: k} }
func req(name string, k kind) field { return field{name: name, kind: k, required: true} }

var contactCommon = []field{
	f("firstName", kString), f("lastName", kString), f("name", kString), f("email", kString),
	f("phone", kString), f("address1", kString), f("city", kString), f("state", kString),
	f("postalCode", kString), f("website", kString), f("timezone", kString), f("dnd", kBool),
	f("dndSettings", kObject), f("inboundDndSettings", kObject), f("tags", kStrings),
	f("customFields", kArray), f("source", kString), f("dateOfBirth", kDateString),
	f("country", kString), f("assignedTo", kString),
}

var (
	createContactDTO = dto{"CreateContactDto", append([]field{req("locationId", kString), f("gender", kString), f("companyName", kString)}, contactCommon...)}
	updateContactDTO = dto{"UpdateContactDto", contactCommon}
	upsertContactDTO = dto{"UpsertContactDto", append([]field{req("locationId", kString), f("gender", kString), f("companyName", kString), f("createNewIfDuplicateAllowed", kBool)}, contactCommon...)}
	tagsDTO          = dto{"TagsDTO", []field{req("tags", kStrings)}}
	createTaskDTO    = dto{"CreateTaskParams", []field{req("title", kString), f("body", kString), req("dueDate", kString), req("completed", kBool), f("assignedTo", kString)}}
	updateTaskDTO    = dto{"UpdateTaskBody", []field{f("title", kString), f("body", kString), f("dueDate", kString), f("completed", kBool), f("assignedTo", kString)}}
	taskStatusDTO    = dto{"UpdateTaskStatusParams", []field{req("completed", kBool)}}
	createNoteDTO    = dto{"NotesDTO", []field{f("userId", kString), req("body", kString), f("title", kString), f("color", kString), f("pinned", kBool)}}
	updateNoteDTO    = dto{"UpdateNoteDTO", []field{f("userId", kString), f("body", kString), f("title", kString), f("color", kString), f("pinned", kBool)}}
	taskSearchDTO    = dto{"TaskSearchParamsDto", []field{f("contactId", kStrings), f("completed", kBool), f("assignedTo", kStrings), f("query", kString), f("limit", kNumber), f("skip", kNumber), f("businessId", kString)}}
	// searchDTO has no schema in the spec (SearchBodyV2DTO is empty); the
	// fields come from GHL's search guide (NOTES §5.8).
	searchDTO = dto{"SearchBodyV2DTO", []field{req("locationId", kString), req("pageLimit", kNumber), f("page", kNumber), f("searchAfter", kArray), f("filters", kArray), f("sort", kArray), f("query", kString)}}
)

// validate checks body against d and returns NestJS-style messages.
func (d dto) validate(body map[string]any) []string {
	var msgs []string
	known := map[string]bool{}
	for _, fl := range d.fields {
		known[fl.name] = true
	}
	var unknown []string
	for k := range body {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		msgs = append(msgs, "property "+k+" should not exist")
	}
	for _, fl := range d.fields {
		v, present := body[fl.name]
		if !present || v == nil {
			if fl.required {
				msgs = append(msgs, missingMsg(fl))
			}
			continue
		}
		if m := typeMsg(fl, v); m != "" {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

func missingMsg(fl field) string {
	switch fl.kind {
	case kBool:
		return fl.name + " must be a boolean value"
	case kNumber:
		return fl.name + " must be a number conforming to the specified constraints"
	}
	return fl.name + " should not be empty"
}

func typeMsg(fl field, v any) string {
	switch fl.kind {
	case kString, kDateString:
		if _, ok := v.(string); !ok {
			return fl.name + " must be a string"
		}
		if fl.required && v.(string) == "" {
			return fl.name + " should not be empty"
		}
	case kBool:
		if _, ok := v.(bool); !ok {
			return fl.name + " must be a boolean value"
		}
	case kNumber:
		if _, ok := v.(json.Number); !ok {
			return fl.name + " must be a number conforming to the specified constraints"
		}
	case kStrings:
		a, ok := v.([]any)
		if !ok {
			return fl.name + " must be an array"
		}
		for _, e := range a {
			if _, ok := e.(string); !ok {
				return "each value in " + fl.name + " must be a string"
			}
		}
	case kArray:
		if _, ok := v.([]any); !ok {
			return fl.name + " must be an array"
		}
	case kObject:
		if _, ok := v.(map[string]any); !ok {
			return "nested property " + fl.name + " must be either object or array"
		}
	}
	return ""
}

// parseBody decodes a JSON object body. An empty body is an empty object,
// as NestJS treats it.
func parseBody(data []byte) (map[string]any, *reply) {
	body := map[string]any{}
	if len(strings.TrimSpace(string(data))) == 0 {
		return body, nil
	}
	var v any
	if err := decodeJSON(data, &v); err != nil {
		// Mirror the V8 messages GHL's Node stack produces.
		msg := "Unexpected end of JSON input"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			msg = fmt.Sprintf("Unexpected token in JSON at position %d", se.Offset-1)
		}
		rep := badRequest(msg)
		return nil, &rep
	}
	m, ok := v.(map[string]any)
	if !ok {
		rep := badRequest("Request body must be a JSON object")
		return nil, &rep
	}
	return m, nil
}

// validEmail approximates class-validator's isEmail: one @, a non-empty
// local part without spaces, and a dotted domain of letters, digits and
// hyphens.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.ContainsAny(local, " @\t\r\n\"(),:;<>[\\]") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127) {
				return false
			}
		}
	}
	return len(labels[len(labels)-1]) >= 2
}

// normalizePhone renders a phone as E.164 the way GHL stores it; national
// numbers are read as US numbers.
func normalizePhone(s string) (string, bool) {
	n, err := phonenumbers.Parse(s, "US")
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", false
	}
	return phonenumbers.Format(n, phonenumbers.E164), true
}

// normalizeTags lower-cases and trims tags, dropping empties and repeats
// while keeping first-seen order.
func normalizeTags(in []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
