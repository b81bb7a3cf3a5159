package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// fileFormat identifies a saved plan; fileVersion changes when the layout
// does, and Load refuses versions it does not know.
const (
	fileFormat  = "bellsync-plan"
	fileVersion = 1
)

// The saved form keeps every value with its cty type, so a plan applied
// later writes exactly what was shown.
type filePlan struct {
	Format     string         `json:"format"`
	Version    int            `json:"version"`
	ConfigHash string         `json:"config_hash"`
	ConfigFile string         `json:"config_file"`
	CreatedAt  time.Time      `json:"created_at"`
	StateRun   string         `json:"state_run,omitempty"`
	Complete   bool           `json:"complete"`
	Unchanged  map[string]int `json:"unchanged,omitempty"`
	Warnings   []string       `json:"warnings,omitempty"`
	Blocked    []string       `json:"blocked,omitempty"`
	Changes    []fileChange   `json:"changes"`
}

type fileChange struct {
	Sync           string          `json:"sync"`
	Action         string          `json:"action"`
	Side           Side            `json:"side"`
	Source         Ref             `json:"source"`
	Target         Ref             `json:"target"`
	Label          string          `json:"label,omitempty"`
	Reason         string          `json:"reason,omitempty"`
	Origin         string          `json:"origin,omitempty"`
	Problem        string          `json:"problem,omitempty"`
	Fields         []fileField     `json:"fields,omitempty"`
	Reverse        []fileField     `json:"reverse,omitempty"`
	Await          *ParentWait     `json:"await,omitempty"`
	FollowUps      []fileFollowUp  `json:"follow_ups,omitempty"`
	Desired        json.RawMessage `json:"desired,omitempty"`
	Extra          json.RawMessage `json:"extra,omitempty"`
	Snapshot       string          `json:"snapshot,omitempty"`
	SourceSnapshot string          `json:"source_snapshot,omitempty"`
}

type fileFollowUp struct {
	Rule     string      `json:"rule"`
	Provider string      `json:"provider"`
	Kind     string      `json:"kind"`
	Fields   []fileField `json:"fields,omitempty"`
	Origin   string      `json:"origin,omitempty"`
}

type fileField struct {
	Field     string          `json:"field"`
	Old       json.RawMessage `json:"old"`
	New       json.RawMessage `json:"new"`
	Origin    string          `json:"origin,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

// Save writes the plan to path atomically, readable by its owner only: a
// plan holds client records.
func (p *Plan) Save(path string) error {
	fp := filePlan{Format: fileFormat, Version: fileVersion, ConfigHash: p.ConfigHash, ConfigFile: p.ConfigFile,
		CreatedAt: p.CreatedAt, StateRun: p.StateRun, Complete: p.Complete, Unchanged: p.Unchanged, Warnings: p.Warnings, Blocked: p.Blocked}
	for _, ch := range p.Changes {
		fc := fileChange{Sync: ch.Sync, Action: ch.Action.String(), Side: ch.Side, Source: ch.Source,
			Target: ch.Target, Label: ch.Label, Reason: ch.Reason, Origin: ch.Origin, Problem: ch.Problem,
			Snapshot: ch.Snapshot, SourceSnapshot: ch.SourceSnapshot}
		var err error
		if fc.Fields, err = toFileFields(ch.Fields); err != nil {
			return err
		}
		if fc.Reverse, err = toFileFields(ch.Reverse); err != nil {
			return err
		}
		fc.Await = ch.Await
		for _, fu := range ch.FollowUps {
			ff, err := toFileFields(fu.Fields)
			if err != nil {
				return err
			}
			fc.FollowUps = append(fc.FollowUps, fileFollowUp{Rule: fu.Rule, Provider: fu.Provider, Kind: fu.Kind, Fields: ff, Origin: fu.Origin})
		}
		if fc.Desired, err = typedMap(ch.Desired); err != nil {
			return fmt.Errorf("save plan: %w", err)
		}
		if fc.Extra, err = typedMap(ch.Extra); err != nil {
			return fmt.Errorf("save plan: %w", err)
		}
		fp.Changes = append(fp.Changes, fc)
	}
	data, err := json.MarshalIndent(fp, "", " ")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".plan-*")
	if err != nil {
		return fmt.Errorf("save plan to %s: cannot write in %s: %w", path, dir, errors.Unwrap(err))
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	return nil
}

// Load reads a plan saved by Save.
func Load(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	defer f.Close()
	p, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("load plan %s: %w", path, err)
	}
	return p, nil
}

// Read decodes a saved plan.
func Read(r io.Reader) (*Plan, error) {
	var fp filePlan
	dec := json.NewDecoder(r)
	if err := dec.Decode(&fp); err != nil {
		return nil, fmt.Errorf("not a bellsync plan file: %w", err)
	}
	if fp.Format != fileFormat {
		return nil, fmt.Errorf("not a bellsync plan file (format %q)", fp.Format)
	}
	if fp.Version != fileVersion {
		return nil, fmt.Errorf("plan file version %d is not supported by this bellsync (wants %d); make a new plan", fp.Version, fileVersion)
	}
	p := &Plan{ConfigHash: fp.ConfigHash, ConfigFile: fp.ConfigFile, CreatedAt: fp.CreatedAt, StateRun: fp.StateRun,
		Complete: fp.Complete, Unchanged: fp.Unchanged, Warnings: fp.Warnings, Blocked: fp.Blocked}
	for i, fc := range fp.Changes {
		a, ok := ParseAction(fc.Action)
		if !ok {
			return nil, fmt.Errorf("change %d: unknown action %q", i, fc.Action)
		}
		ch := Change{Sync: fc.Sync, Action: a, Side: fc.Side, Source: fc.Source, Target: fc.Target,
			Label: fc.Label, Reason: fc.Reason, Origin: fc.Origin, Problem: fc.Problem,
			Snapshot: fc.Snapshot, SourceSnapshot: fc.SourceSnapshot}
		var err error
		if ch.Fields, err = fromFileFields(fc.Fields); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		if ch.Reverse, err = fromFileFields(fc.Reverse); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		ch.Await = fc.Await
		for _, fu := range fc.FollowUps {
			fields, err := fromFileFields(fu.Fields)
			if err != nil {
				return nil, fmt.Errorf("change %d: %w", i, err)
			}
			ch.FollowUps = append(ch.FollowUps, FollowUp{Rule: fu.Rule, Provider: fu.Provider, Kind: fu.Kind, Fields: fields, Origin: fu.Origin})
		}
		if ch.Desired, err = fromTypedMap(fc.Desired); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		if ch.Extra, err = fromTypedMap(fc.Extra); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		p.Changes = append(p.Changes, ch)
	}
	return p, nil
}

func toFileFields(fields []FieldChange) ([]fileField, error) {
	var out []fileField
	for _, f := range fields {
		old, err := typedJSON(f.Old)
		if err != nil {
			return nil, fmt.Errorf("save plan: field %s: %w", f.Field, err)
		}
		nw, err := typedJSON(f.New)
		if err != nil {
			return nil, fmt.Errorf("save plan: field %s: %w", f.Field, err)
		}
		out = append(out, fileField{Field: f.Field, Old: old, New: nw, Origin: f.Origin, Reason: f.Reason, Sensitive: f.Sensitive})
	}
	return out, nil
}

func fromFileFields(fields []fileField) ([]FieldChange, error) {
	var out []FieldChange
	for _, ff := range fields {
		old, err := fromTyped(ff.Old)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", ff.Field, err)
		}
		nw, err := fromTyped(ff.New)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", ff.Field, err)
		}
		out = append(out, FieldChange{Field: ff.Field, Old: old, New: nw, Origin: ff.Origin, Reason: ff.Reason, Sensitive: ff.Sensitive})
	}
	return out, nil
}

func typedJSON(v cty.Value) (json.RawMessage, error) {
	if v == cty.NilVal || !v.IsWhollyKnown() {
		// Unknown values (an on_create field that needs the new record's
		// id) are computed again at apply time.
		v = cty.NullVal(cty.DynamicPseudoType)
	}
	return ctyjson.Marshal(v, cty.DynamicPseudoType)
}

func fromTyped(b json.RawMessage) (cty.Value, error) {
	if len(b) == 0 {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	return ctyjson.Unmarshal(b, cty.DynamicPseudoType)
}

func typedMap(m map[string]cty.Value) (json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	return typedJSON(cty.ObjectVal(m))
}

func fromTypedMap(b json.RawMessage) (map[string]cty.Value, error) {
	if len(b) == 0 {
		return nil, nil
	}
	v, err := fromTyped(b)
	if err != nil {
		return nil, err
	}
	if v.IsNull() {
		return nil, nil
	}
	return v.AsValueMap(), nil
}

// EncodeValues and DecodeValues give other packages (state snapshots) the
// same typed encoding the plan file uses.
func EncodeValues(m map[string]cty.Value) ([]byte, error) { return typedMap(m) }

// DecodeValues is the inverse of EncodeValues.
func DecodeValues(b []byte) (map[string]cty.Value, error) { return fromTypedMap(b) }
