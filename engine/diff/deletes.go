package diff

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/bellsync/bellsync/engine/plan"
	"github.com/bellsync/bellsync/engine/state"
	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
)

// deleted plans the sync's delete policy for the surviving record of a
// link whose other record is gone from a complete listing. side is the
// side to write (the survivor's); only linked records ever get here, so
// bellsync never deletes or suspends a record it did not link.
func (d *differ) deleted(l *state.Link, side plan.Side, rec providers.Record, obj cty.Value) []plan.Change {
	sy := d.in.Sync
	gone := sy.Source
	if side == plan.SideSource {
		gone = sy.Target
	}
	ch := plan.Change{Sync: sy.Name, Side: side,
		Source: plan.Ref{Provider: sy.Source.Provider, Kind: sy.Source.Kind, ID: l.SourceID, ParentID: l.SourceParent},
		Target: plan.Ref{Provider: sy.Target.Provider, Kind: sy.Target.Kind, ID: l.TargetID, ParentID: l.TargetParent},
		Origin: origin(sy.OnDeleteRange),
		Reason: fmt.Sprintf("the linked %s record was deleted; on_delete = %q", gone, sy.OnDelete),
	}
	schema := d.ts
	if side == plan.SideSource {
		schema = d.ss
		ch.Snapshot = ""
		ch.SourceSnapshot = digest(d.ss, rec)
	} else {
		ch.Snapshot = digest(d.ts, rec)
	}
	ch.Extra = map[string]cty.Value{string(side): obj}
	switch sy.OnDelete {
	case "suspend":
		ch.Action = plan.Suspend
		fields, problem := suspendFields(schema, sy.Suspend, rec)
		if problem != "" {
			ch.Action, ch.Problem = plan.Skip, problem
			return []plan.Change{ch}
		}
		if len(fields) == 0 {
			// Already suspended by hand or by an earlier run whose link
			// update was lost: only the link needs recording.
			ch.Reason += "; the record is already suspended"
		}
		ch.Fields = fields
	case "delete":
		ch.Action = plan.Delete
	default:
		return nil
	}
	return []plan.Change{ch}
}

// SuspendWrites are the writes a suspend makes to rec, for checking a
// saved plan's suspends against the config.
func SuspendWrites(s providers.Schema, cfg *config.Suspend, rec providers.Record) ([]plan.FieldChange, string) {
	return suspendFields(s, cfg, rec)
}

// suspendFields are the writes that soft-delete rec: its archive flag
// and/or the configured tags.
func suspendFields(s providers.Schema, cfg *config.Suspend, rec providers.Record) ([]plan.FieldChange, string) {
	var out []plan.FieldChange
	archive, tags := true, []string(nil)
	if cfg != nil {
		archive, tags = cfg.Archive, cfg.TagsAdd
	}
	did := false
	if archive && s.Caps.Archive && s.ArchiveField != "" {
		did = true
		cur := rec.Fields[s.ArchiveField]
		if cur.IsNull() || !cur.True() {
			out = append(out, plan.FieldChange{Field: s.ArchiveField, Old: nonNil(cur, providers.Field{Type: cty.Bool}), New: cty.True,
				Reason: "suspend: archive"})
		}
	}
	if len(tags) > 0 {
		f, ok := s.Field("tags")
		if !ok {
			return nil, fmt.Sprintf("cannot suspend: %s has no tags field for suspend.tags_add", s.Kind)
		}
		did = true
		cur := rec.Fields["tags"]
		have := map[string]bool{}
		var vals []cty.Value
		if !cur.IsNull() {
			for it := cur.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if !e.IsNull() {
					have[strings.ToLower(e.AsString())] = true
					vals = append(vals, e)
				}
			}
		}
		added := false
		for _, t := range tags {
			if !have[strings.ToLower(t)] {
				vals = append(vals, cty.StringVal(t))
				added = true
			}
		}
		if added {
			out = append(out, plan.FieldChange{Field: "tags", Old: nonNil(cur, f), New: cty.ListVal(vals), Reason: "suspend: tags_add"})
		}
	}
	if !did {
		return nil, fmt.Sprintf("cannot suspend: %s has no archive flag; add suspend { tags_add = [...] }", s.Kind)
	}
	return out, ""
}

// DeleteLimit turns max_deletes into a count for a sync with links active
// links. The default is 10% of the links, and never less than one.
func DeleteLimit(maxDeletes string, links int) (int, error) {
	v := strings.TrimSpace(maxDeletes)
	if v == "" {
		v = "10%"
	}
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil {
			return 0, fmt.Errorf("max_deletes %q: %w", maxDeletes, err)
		}
		return max(1, int(float64(links)*p/100)), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("max_deletes %q: %w", maxDeletes, err)
	}
	return n, nil
}
