package zap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Event kinds, as the Zap names them in the body's "event" field.
const (
	KindNewClient      = "new_client"
	KindNewAppointment = "new_appointment"
)

// Event is a decoded Zap delivery.
type Event struct {
	// Kind is KindNewClient or KindNewAppointment.
	Kind string
	// ClientID is the Paperbell client id, or "" when the Zap sent only
	// an email; the engine then matches by email.
	ClientID string
	// Client holds the client's fields (id, first_name, last_name, email,
	// phone, time_zone, ...) as sent, nested and with numbers as strings.
	// It is never nil.
	Client map[string]any
	// Appointment holds the appointment's fields in the same form. It is
	// nil for a new_client event that sent none.
	Appointment map[string]any
}

// Parse decodes a Zap delivery. Errors wrap [ErrMalformed] and name the
// field the Zap must add or fix.
func Parse(body []byte) (Event, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Event{}, malformed("empty body")
	}
	top, err := decodeObject(body)
	if err != nil {
		return Event{}, err
	}
	m, err := unflatten(top)
	if err != nil {
		return Event{}, err
	}

	kind, ok := m["event"].(string)
	if !ok || strings.TrimSpace(kind) == "" {
		return Event{}, malformed("event is required (%s or %s)", KindNewClient, KindNewAppointment)
	}
	// The value is typed by hand into the Zap, so forgive case and spaces.
	kind = strings.ToLower(strings.TrimSpace(kind))
	if kind != KindNewClient && kind != KindNewAppointment {
		return Event{}, malformed("unknown event %q, want %s or %s", kind, KindNewClient, KindNewAppointment)
	}

	client, err := object(m, "client")
	if err != nil {
		return Event{}, err
	}
	if client == nil {
		return Event{}, malformed("client is required")
	}
	id, err := text(client, "id")
	if err != nil {
		return Event{}, err
	}
	email, err := text(client, "email")
	if err != nil {
		return Event{}, err
	}
	if id == "" && email == "" {
		return Event{}, malformed("client.email or client.id is required")
	}

	appt, err := object(m, "appointment")
	if err != nil {
		return Event{}, err
	}
	if appt == nil && kind == KindNewAppointment {
		return Event{}, malformed("appointment is required for %s", KindNewAppointment)
	}
	return Event{Kind: kind, ClientID: id, Client: client, Appointment: appt}, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("zap event: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// decodeObject reads exactly one JSON object, keeping numbers exact.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		// Webhooks by Zapier posts form data unless told otherwise, which
		// is the likeliest cause; say how to fix it.
		return nil, fmt.Errorf("zap event: %w: body is not a JSON object "+
			"(set the Zap's payload type to json): %w", ErrMalformed, err)
	}
	if top == nil {
		return nil, malformed("body is not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("unexpected data after the JSON object")
	}
	return top, nil
}

// object returns m[key] as an object, or nil if it is absent, null or
// "" (what Zapier sends for an unmapped field).
func object(m map[string]any, key string) (map[string]any, error) {
	switch v := m[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return nil, nil
		}
	}
	return nil, malformed("%s must be an object", key)
}

// text returns client[key] trimmed, "" if absent or null. Numbers are
// already strings by now.
func text(client map[string]any, key string) (string, error) {
	switch v := client[key].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	}
	return "", malformed("client.%s must be a string or number", key)
}

// unflatten rebuilds the nesting that Zapier expresses with "__" in key
// names ("client__email" is client.email) at every level, and turns
// numbers into their decimal text. A key that is both flattened and
// nested merges into one object; two different values for one field are
// an error rather than a silent choice.
func unflatten(m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	// Sorted so that which of two conflicting keys is reported is stable.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, err := normalize(m[k])
		if err != nil {
			return nil, err
		}
		path := strings.Split(k, "__")
		if slices.Contains(path, "") {
			// "__x" or "a____b" is not Zapier nesting; keep it as written.
			path = []string{k}
		}
		if err := put(out, path, v, k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func normalize(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		return v.String(), nil
	case map[string]any:
		return unflatten(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}

// put stores v at path inside dst, merging objects. key is the original
// field name, for the error message.
func put(dst map[string]any, path []string, v any, key string) error {
	name := path[0]
	if len(path) > 1 {
		child, ok := dst[name]
		if !ok {
			child = map[string]any{}
			dst[name] = child
		}
		childMap, ok := child.(map[string]any)
		if !ok {
			return malformed("field %q needs %q to be an object", key, name)
		}
		return put(childMap, path[1:], v, key)
	}

	old, exists := dst[name]
	if !exists {
		dst[name] = v
		return nil
	}
	oldMap, oldIsMap := old.(map[string]any)
	newMap, newIsMap := v.(map[string]any)
	if oldIsMap && newIsMap {
		for _, k := range slices.Sorted(maps.Keys(newMap)) {
			if err := put(oldMap, []string{k}, newMap[k], key); err != nil {
				return err
			}
		}
		return nil
	}
	if reflect.DeepEqual(old, v) {
		return nil
	}
	return malformed("field %q has two different values", key)
}
