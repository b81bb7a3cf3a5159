package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	const raw = "pit-1234-very-secret"
	s := New(raw)
	type holder struct {
		Token String
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "token", s, "holder", holder{s})
	js, err := json.Marshal(holder{s})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %X", s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", holder{s}, holder{s}, holder{s}),
		buf.String(), string(js),
	}
	for _, o := range outs {
		if strings.Contains(o, raw) {
			t.Errorf("secret leaked in %q", o)
		}
	}
	if s.Reveal() != raw {
		t.Errorf("Reveal() = %q, want the raw value", s.Reveal())
	}
}
