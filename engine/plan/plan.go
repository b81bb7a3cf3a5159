// Package plan holds the data bellsync shows before it writes anything: a
// [Plan] is a list of [Change] values, each naming the records involved,
// the action, every field's old and new value, and where in sync.hcl the
// new value came from and why. The package also renders plans as text (in
// Terraform's conventions) and JSON, and saves and loads plan files.
//
// A plan is data with invariants, not behaviour: building one is the job of
// engine/diff and carrying it out is the job of engine/apply.
package plan

import (
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Action is what a change does.
type Action int

// Actions. The zero value is invalid so a forgotten assignment shows up.
const (
	_ Action = iota
	// Create writes a new record on the written side.
	Create
	// Update changes fields of a linked record.
	Update
	// Link adopts an existing record found by a match key, instead of
	// creating a duplicate; it may carry field updates too.
	Link
	// Delete removes a linked record whose counterpart is gone.
	Delete
	// Suspend soft-deletes a linked record whose counterpart is gone.
	Suspend
	// Skip is a record left alone on purpose, with a Problem that says why
	// (ambiguous identity, no identifier, invalid value). It is reported,
	// never applied, and makes the plan's exit status an error.
	Skip
	// Orphan is a link whose record is gone on one side. It is reported
	// for the audit, never applied.
	Orphan
)

var actionNames = map[Action]string{
	Create: "create", Update: "update", Link: "link", Delete: "delete",
	Suspend: "suspend", Skip: "error", Orphan: "orphan",
}

func (a Action) String() string {
	if s, ok := actionNames[a]; ok {
		return s
	}
	return "invalid"
}

// ParseAction is the inverse of Action.String.
func ParseAction(s string) (Action, bool) {
	for a, n := range actionNames {
		if n == s {
			return a, true
		}
	}
	return 0, false
}

// Writes reports whether applying the action writes to a provider.
func (a Action) Writes() bool {
	switch a {
	case Create, Update, Link, Delete, Suspend:
		return true
	}
	return false
}

// Side names which system a change writes.
type Side string

const (
	// SideTarget is the sync's target (the usual direction).
	SideTarget Side = "target"
	// SideSource is the sync's source (two-way syncs writing back).
	SideSource Side = "source"
)

// Ref names a record in a provider: `paperbell.contacts["123"]`.
type Ref struct {
	Provider string `json:"provider"`
	Kind     string `json:"kind"`
	ID       string `json:"id,omitempty"`
	ParentID string `json:"parent_id,omitempty"`
}

// FieldChange is one field a change writes.
type FieldChange struct {
	Field string
	// Old is the value the written record holds now (null for creates).
	Old cty.Value
	// New is the value to write.
	New cty.Value
	// Origin is the sync.hcl position ("sync.hcl:14") of the expression
	// or rule that produced New.
	Origin string
	// Reason says why the field changes ("new record", "source changed",
	// "target drifted", ...).
	Reason string
	// Sensitive fields are rendered as (sensitive).
	Sensitive bool
}

// Change is one planned action on one record.
type Change struct {
	// Sync is the name of the sync block that planned the change.
	Sync   string
	Action Action
	// Side is the system written.
	Side Side
	// Source and Target are the two records. For a Create the written
	// side's ID is empty.
	Source Ref
	Target Ref
	// Label is a human description of the record ("Jane Doe <jane@x.com>").
	Label string
	// Reason says why the change exists ("new source record", "matched by
	// email jane@x.com", "source record deleted; on_delete = suspend").
	Reason string
	// Origin is the sync.hcl position of the rule behind the change.
	Origin string
	// Fields are the field writes, in sync.hcl order.
	Fields []FieldChange
	// Problem explains a Skip or Orphan.
	Problem string
	// Desired holds every mapped field's value for the written side, so
	// apply can record the base snapshot and recovery can look a create up.
	Desired map[string]cty.Value
	// Snapshot is a digest of the written record as planned (empty for
	// creates); apply of a saved plan skips a change whose record moved.
	Snapshot string
	// SourceSnapshot is a digest of the source record as planned.
	SourceSnapshot string
	// Reverse are the writes to the source side of a two-way pair, made in
	// the same change so both sides are re-based together.
	Reverse []FieldChange
	// Await, for a child record whose parent is created earlier in the same
	// apply, names the parent link to wait for; the written side's
	// ParentID is filled in from it at apply time.
	Await *ParentWait
	// FollowUps are on_create rules that fire once the record exists (the
	// welcome task). Their fields may be unknown until then.
	FollowUps []FollowUp
	// Extra carries engine data the change needs at apply time: the
	// records as planned ("source", "target"), for re-basing after the
	// write.
	Extra map[string]cty.Value
}

// ParentWait names the link a child change depends on: the parent sync's
// link whose By side has the given ID. The child's parent is the other end
// of that link, known once the parent's create has been applied.
type ParentWait struct {
	Sync string `json:"sync"`
	ID   string `json:"id"`
	By   Side   `json:"by"`
}

// FollowUp is an on_create rule planned for a new record.
type FollowUp struct {
	// Rule identifies the rule for once-only bookkeeping
	// ("contacts/on_create/0").
	Rule     string
	Provider string
	Kind     string
	Fields   []FieldChange
	Origin   string
}

// Counts summarises a plan.
type Counts struct {
	Create, Update, Link, Delete, Suspend, Unchanged, Errors, Orphans int
}

// Plan is the result of comparing both sides of every sync.
//
// Invariants: Changes are ordered so that parents come before children; a
// plan with Errored set may still hold valid changes for other records
// (one bad record never stops the others), but Complete is false when any
// listing failed, and apply refuses an incomplete plan.
type Plan struct {
	// ConfigHash is config.Config.Hash of the config the plan came from.
	ConfigHash string
	// ConfigFile is the config's path, for messages.
	ConfigFile string
	CreatedAt  time.Time
	// StateRun is the id of the newest run in the state when the plan was
	// made. Any run since (an apply, a webhook, a pass) may have made the
	// records this plan would create, so a saved plan is only applied while
	// it is still the newest.
	StateRun string
	Changes  []Change
	// Unchanged counts records already in step, per sync.
	Unchanged map[string]int
	// Complete is false when a listing failed or was cut short: such a
	// plan must not be applied, because absence in it proves nothing.
	Complete bool
	// Warnings are plan-wide notes (not per record).
	Warnings []string
	// Blocked lists reasons the plan must not be applied as it is (the
	// mass-delete guard); apply refuses it unless told to allow them.
	Blocked []string
}

// Counts tallies the plan.
func (p *Plan) Counts() Counts {
	var c Counts
	for _, ch := range p.Changes {
		switch ch.Action {
		case Create:
			c.Create++
		case Update:
			c.Update++
		case Link:
			c.Link++
		case Delete:
			c.Delete++
		case Suspend:
			c.Suspend++
		case Skip:
			c.Errors++
		case Orphan:
			c.Orphans++
		}
	}
	for _, n := range p.Unchanged {
		c.Unchanged += n
	}
	return c
}

// Sync returns the changes of one sync.
func (p *Plan) Sync(name string) []Change {
	var out []Change
	for _, ch := range p.Changes {
		if ch.Sync == name {
			out = append(out, ch)
		}
	}
	return out
}

// HasChanges reports whether applying the plan would write anything.
func (p *Plan) HasChanges() bool {
	for _, ch := range p.Changes {
		if ch.Action.Writes() {
			return true
		}
	}
	return false
}

// Errored reports whether any record could not be planned.
func (p *Plan) Errored() bool {
	for _, ch := range p.Changes {
		if ch.Action == Skip {
			return true
		}
	}
	return false
}
