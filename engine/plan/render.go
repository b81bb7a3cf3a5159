package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// TextOptions tune the human rendering.
type TextOptions struct {
	// Color adds ANSI colours the way Terraform does; callers turn it off
	// for NO_COLOR and for output that is not a terminal.
	Color bool
	// MaxValue truncates long values (notes of tens of kB) in the display
	// only; 0 means 120 characters. The plan itself keeps every byte.
	MaxValue int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
)

type painter struct{ on bool }

func (p painter) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return code + s + ansiReset
}

// symbol is the Terraform-style marker of an action.
func symbol(a Action) (string, string) {
	switch a {
	case Create:
		return "+", ansiGreen
	case Update:
		return "~", ansiYellow
	case Link:
		return "<=", ansiCyan
	case Delete:
		return "-", ansiRed
	case Suspend:
		return "~", ansiRed
	case Skip:
		return "!", ansiRed
	case Orphan:
		return "?", ansiYellow
	}
	return " ", ""
}

func verb(a Action) string {
	switch a {
	case Create:
		return "will be created"
	case Update:
		return "will be updated in place"
	case Link:
		return "will be linked to an existing record"
	case Delete:
		return "will be deleted"
	case Suspend:
		return "will be suspended"
	case Orphan:
		return "is linked but its record is gone"
	}
	return ""
}

// WriteText renders the plan for people.
func (p *Plan) WriteText(w io.Writer, opts TextOptions) error {
	pt := painter{on: opts.Color}
	max := opts.MaxValue
	if max <= 0 {
		max = 120
	}
	var b strings.Builder
	var problems []Change
	writes := 0
	for _, ch := range p.Changes {
		if ch.Action == Skip {
			problems = append(problems, ch)
			continue
		}
		if writes == 0 {
			b.WriteString("bellsync will perform the following actions:\n\n")
		}
		writes++
		sym, col := symbol(ch.Action)
		addr := ch.written().String()
		fmt.Fprintf(&b, "  %s\n", pt.paint(ansiBold, fmt.Sprintf("# sync.%s: %s %s", ch.Sync, labelOf(ch), verb(ch.Action))))
		if ch.Reason != "" || ch.Problem != "" {
			why := ch.Reason
			if ch.Problem != "" {
				why = ch.Problem
			}
			why = clean(why)
			if ch.Origin != "" {
				why += " (" + ch.Origin + ")"
			}
			fmt.Fprintf(&b, "  %s\n", pt.paint(ansiDim, "# "+why))
		}
		switch {
		case len(ch.Fields) == 0 && len(ch.FollowUps) == 0 && len(ch.Reverse) > 0:
			// Only the source side is written; its block follows.
		case len(ch.Fields) == 0 && len(ch.FollowUps) == 0:
			fmt.Fprintf(&b, "  %s %s\n", pt.paint(col, sym), addr)
		default:
			fmt.Fprintf(&b, "  %s %s {\n", pt.paint(col, sym), addr)
			writeFields(&b, pt, ch.Fields, ch.Action == Create, max, "      ")
			for _, fu := range ch.FollowUps {
				fmt.Fprintf(&b, "      %s then %s.%s {%s\n", pt.paint(ansiGreen, "+"), fu.Provider, fu.Kind,
					pt.paint(ansiDim, "  # on_create, "+fu.Origin+", once per new link"))
				writeFields(&b, pt, fu.Fields, true, max, "          ")
				b.WriteString("        }\n")
			}
			b.WriteString("    }\n")
		}
		if len(ch.Reverse) > 0 {
			fmt.Fprintf(&b, "  %s %s {\n", pt.paint(ansiYellow, "~"), ch.Source.String())
			writeFields(&b, pt, ch.Reverse, false, max, "      ")
			b.WriteString("    }\n")
		}
		b.WriteString("\n")
	}
	if len(problems) > 0 {
		b.WriteString(pt.paint(ansiBold+ansiRed, "Records that cannot be synced (left alone):") + "\n")
		for _, ch := range problems {
			fmt.Fprintf(&b, "  %s sync.%s: %s: %s\n", pt.paint(ansiRed, "!"), ch.Sync, labelOf(ch), clean(ch.Problem))
		}
		b.WriteString("\n")
	}
	// Warnings can quote what an API said, so they are cleaned too.
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "%s %s\n", pt.paint(ansiYellow, "Warning:"), clean(w))
	}
	for _, bl := range p.Blocked {
		fmt.Fprintf(&b, "%s %s\n", pt.paint(ansiRed, "Error:"), clean(bl))
	}
	c := p.Counts()
	if writes == 0 && len(problems) == 0 && p.Complete {
		b.WriteString(pt.paint(ansiGreen, "No changes.") + " Both sides are in step.\n")
	}
	follow := 0
	for _, ch := range p.Changes {
		follow += len(ch.FollowUps)
	}
	created := fmt.Sprintf("%d to create", c.Create)
	if follow > 0 {
		created += fmt.Sprintf(" (+%d by on_create rules)", follow)
	}
	// An incomplete plan says so on its last line, where a reader looks
	// for the verdict: its counts leave out what could not be listed, so
	// "0 errors" alone would read as a clean plan.
	head := pt.paint(ansiBold, "Plan:")
	if !p.Complete {
		head = pt.paint(ansiBold+ansiRed, "Plan (incomplete, cannot be applied):")
	}
	errs := "errors"
	if c.Errors == 1 {
		errs = "error"
	}
	fmt.Fprintf(&b, "%s %s, %d to update, %d to link, %d unchanged, %d %s.",
		head, created, c.Update, c.Link, c.Unchanged, c.Errors, errs)
	if c.Delete+c.Suspend > 0 {
		fmt.Fprintf(&b, " %d to delete, %d to suspend.", c.Delete, c.Suspend)
	}
	switch {
	case c.Orphans == 1:
		b.WriteString(" 1 orphaned link.")
	case c.Orphans > 1:
		fmt.Fprintf(&b, " %d orphaned links.", c.Orphans)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFields(b *strings.Builder, pt painter, fields []FieldChange, create bool, max int, indent string) {
	width := 0
	for _, f := range fields {
		width = max2(width, len(f.Field))
	}
	for _, f := range fields {
		fsym, fcol := "~", ansiYellow
		val := ""
		switch {
		case f.Old.IsNull() || create:
			fsym, fcol = "+", ansiGreen
			val = show(f.New, f.Sensitive, max)
		case f.New.IsNull():
			fsym, fcol = "-", ansiRed
			val = show(f.Old, f.Sensitive, max) + " -> null"
		default:
			val = show(f.Old, f.Sensitive, max) + " -> " + show(f.New, f.Sensitive, max)
		}
		note := f.Origin
		if f.Reason != "" {
			if note != "" {
				note += ", "
			}
			note += f.Reason
		}
		if note != "" {
			note = pt.paint(ansiDim, "  # "+note)
		}
		fmt.Fprintf(b, "%s%s %-*s = %s%s\n", indent, pt.paint(fcol, fsym), width, f.Field, val, note)
	}
}

// written is the ref of the record the change writes.
func (ch Change) written() Ref {
	if ch.Side == SideSource {
		return ch.Source
	}
	return ch.Target
}

func (r Ref) String() string {
	s := r.Provider + "." + r.Kind
	if r.ID != "" {
		s += fmt.Sprintf("[%q]", r.ID)
	}
	return s
}

// clean makes record text safe to print on one terminal line: control
// characters (escape sequences, newlines) from a record could otherwise
// repaint the screen or forge plan lines a person is about to approve, and
// invisible characters (bidi overrides, zero-width spaces) could make a
// line read as something other than what it says ("delete" shown
// backwards, two different emails that look the same). Both are shown as
// escapes instead.
func clean(s string) string {
	if !strings.ContainsFunc(s, needsEscape) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case isControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		case isInvisible(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsEscape(r rune) bool { return isControl(r) || isInvisible(r) }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// isInvisible reports the format characters that change how the text
// around them reads without showing themselves: bidi embeddings,
// overrides and isolates (U+202A-U+202E, U+2066-U+2069), the direction
// marks (U+200E, U+200F), and zero-width characters (U+200B-U+200D,
// U+2060, U+FEFF).
func isInvisible(r rune) bool {
	switch {
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
		r >= 0x200b && r <= 0x200f, r == 0x2060, r == 0xfeff:
		return true
	}
	return false
}

func labelOf(ch Change) string {
	if ch.Action == Delete || ch.Action == Suspend {
		// The record acted on is the survivor, not the one that is gone.
		return ch.written().String()
	}
	from := ch.Source
	if ch.Side == SideSource {
		from = ch.Target
	}
	if ch.Label != "" {
		return fmt.Sprintf("%s (%s)", clean(ch.Label), from)
	}
	return from.String()
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// show formats a value as HCL-ish text for the plan display.
func show(v cty.Value, sensitive bool, max int) string {
	if sensitive {
		return "(sensitive)"
	}
	s := formatValue(v)
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + fmt.Sprintf("… (%d bytes in all)", len(formatValue(v)))
	}
	return s
}

func formatValue(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	if !v.IsKnown() {
		return "(known after apply)"
	}
	t := v.Type()
	switch {
	case t == cty.String:
		// Quoted like JSON (so control characters are escaped) but without
		// HTML escaping: an HTML note should read as written.
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v.AsString())
		// JSON leaves bidi and zero-width characters as they are; their
		// \u escapes keep the quoted text valid JSON.
		return clean(strings.TrimSuffix(buf.String(), "\n"))
	case t == cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	case t == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			parts = append(parts, formatValue(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case t.IsMapType() || t.IsObjectType():
		var keys []string
		m := map[string]string{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			keys = append(keys, k.AsString())
			m[k.AsString()] = formatValue(e)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s = %s", clean(strconv.Quote(k)), m[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	b, err := ctyjson.Marshal(v, t)
	if err != nil {
		return "(unprintable)"
	}
	return string(b)
}

// jsonPlan is the machine-readable rendering (bellsync plan -json).
type jsonPlan struct {
	FormatVersion string       `json:"format_version"`
	ConfigFile    string       `json:"config_file"`
	ConfigHash    string       `json:"config_hash"`
	Complete      bool         `json:"complete"`
	Changes       []jsonChange `json:"changes"`
	Warnings      []string     `json:"warnings,omitempty"`
	Blocked       []string     `json:"blocked,omitempty"`
	Summary       jsonSummary  `json:"summary"`
}

type jsonSummary struct {
	// Incomplete is set, and only then present, when a listing failed:
	// the counts leave out what could not be listed and the plan cannot
	// be applied.
	Incomplete bool `json:"incomplete,omitempty"`
	Create     int  `json:"create"`
	Update     int  `json:"update"`
	Link       int  `json:"link"`
	Delete     int  `json:"delete"`
	Suspend    int  `json:"suspend"`
	Unchanged  int  `json:"unchanged"`
	Errors     int  `json:"errors"`
	Orphans    int  `json:"orphans"`
}

type jsonChange struct {
	Sync      string         `json:"sync"`
	Action    string         `json:"action"`
	Side      Side           `json:"side"`
	Source    Ref            `json:"source"`
	Target    Ref            `json:"target"`
	Label     string         `json:"label,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	Origin    string         `json:"origin,omitempty"`
	Problem   string         `json:"problem,omitempty"`
	Fields    []jsonField    `json:"fields,omitempty"`
	Reverse   []jsonField    `json:"reverse,omitempty"`
	FollowUps []jsonFollowUp `json:"follow_ups,omitempty"`
}

type jsonFollowUp struct {
	Provider string      `json:"provider"`
	Kind     string      `json:"kind"`
	Origin   string      `json:"origin,omitempty"`
	Fields   []jsonField `json:"fields,omitempty"`
}

type jsonField struct {
	Field  string          `json:"field"`
	Old    json.RawMessage `json:"old"`
	New    json.RawMessage `json:"new"`
	Origin string          `json:"origin,omitempty"`
	Reason string          `json:"reason,omitempty"`
}

// WriteJSON renders the plan for machines. Values are plain JSON; sensitive
// ones are the string "(sensitive)".
func (p *Plan) WriteJSON(w io.Writer) error {
	c := p.Counts()
	out := jsonPlan{
		FormatVersion: "1", ConfigFile: p.ConfigFile, ConfigHash: p.ConfigHash, Complete: p.Complete,
		Changes: []jsonChange{}, Warnings: p.Warnings, Blocked: p.Blocked,
		Summary: jsonSummary{Incomplete: !p.Complete, Create: c.Create, Update: c.Update, Link: c.Link, Delete: c.Delete,
			Suspend: c.Suspend, Unchanged: c.Unchanged, Errors: c.Errors, Orphans: c.Orphans},
	}
	for _, ch := range p.Changes {
		jc := jsonChange{Sync: ch.Sync, Action: ch.Action.String(), Side: ch.Side, Source: ch.Source, Target: ch.Target,
			Label: ch.Label, Reason: ch.Reason, Origin: ch.Origin, Problem: ch.Problem}
		jc.Fields = jsonFields(ch.Fields)
		jc.Reverse = jsonFields(ch.Reverse)
		for _, fu := range ch.FollowUps {
			jc.FollowUps = append(jc.FollowUps, jsonFollowUp{Provider: fu.Provider, Kind: fu.Kind, Origin: fu.Origin, Fields: jsonFields(fu.Fields)})
		}
		out.Changes = append(out.Changes, jc)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func jsonFields(fields []FieldChange) []jsonField {
	var out []jsonField
	for _, f := range fields {
		out = append(out, jsonField{Field: f.Field, Old: plainJSON(f.Old, f.Sensitive),
			New: plainJSON(f.New, f.Sensitive), Origin: f.Origin, Reason: f.Reason})
	}
	return out
}

func plainJSON(v cty.Value, sensitive bool) json.RawMessage {
	if sensitive {
		return json.RawMessage(`"(sensitive)"`)
	}
	if v == cty.NilVal || v.IsNull() {
		return json.RawMessage("null")
	}
	if !v.IsWhollyKnown() {
		return json.RawMessage(`"(known after apply)"`)
	}
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
