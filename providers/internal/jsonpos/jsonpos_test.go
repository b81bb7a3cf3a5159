package jsonpos

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		name, data, want string
		into             any
	}{
		{"bad character", "[\n  {\"id\": \"a\"},\n  {\"id\": x}\n]", "line 3, column 10: invalid character 'x'", new([]map[string]any)},
		{"missing comma", "[{\"id\": \"a\"}\n {\"id\": \"b\"}]", "line 2, column 2: invalid character '{' after array element", new([]map[string]any)},
		{"truncated", "[{\"id\": \"é\"", "line 1, column 12: unexpected end of JSON input", new([]map[string]any)},
		{"wrong type", "[\n1]", "line 2, column 1: json: cannot unmarshal number", new([]map[string]any)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Wrap([]byte(tc.data), json.Unmarshal([]byte(tc.data), tc.into))
			if err == nil || !bytes.HasPrefix([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("Wrap = %v, want it to start with %q", err, tc.want)
			}
		})
	}
	d := json.NewDecoder(bytes.NewReader([]byte(`{"a": [1, 2`)))
	var v any
	if err := Wrap([]byte(`{"a": [1, 2`), d.Decode(&v)); err == nil || err.Error() != "line 1, column 12: unexpected EOF" {
		t.Errorf("decoder EOF: %v", err)
	}
}
