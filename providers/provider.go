// Package providers holds the contract between the bellsync engine and the
// systems it keeps in step (GHL, Paperbell, and any later one).
//
// A provider exposes resource kinds ("contacts", "tasks", "notes"). Each kind
// declares a [Schema]: its fields as cty types, whether it lives under a parent
// record, and its [Capabilities]. Records cross the boundary as [Record]
// values whose fields are cty values, so HCL expressions in sync.hcl map them
// directly. Everything about HTTP (paths, auth, paging, rate limits, retries)
// stays inside the provider; the engine only ever sees records and the typed
// errors of errors.go.
//
// The contract is deliberately small (one interface per provider, one per
// resource kind) so that an out-of-process plugin could implement it later.
package providers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Record is one object read from or written to a provider.
type Record struct {
	// ID is the provider's own identifier; never empty for a stored record.
	ID string
	// ParentID is the id of the owning record for child kinds (the contact
	// of a task or note); empty for top-level kinds.
	ParentID string
	// UpdatedAt is the provider's last-modified time, or the zero time when
	// the API has none (GHL tasks and notes).
	UpdatedAt time.Time
	// Fields holds every field of the kind's schema. A field the API left
	// out is a typed null, never missing, so expressions can test it.
	Fields map[string]cty.Value
}

// Field describes one field of a resource kind.
type Field struct {
	Name string
	Type cty.Type
	// ReadOnly fields are read but never written (ids, timestamps).
	ReadOnly bool
	// Set marks a list whose order and duplicates carry no meaning (tags):
	// two values are equal when they hold the same elements.
	Set bool
	// Fold marks strings compared without regard to letter case, because the
	// API lower-cases them on write (GHL tags).
	Fold bool
	// Sensitive values are shown as (sensitive) in plans.
	Sensitive bool
}

// Capabilities says what a resource kind supports. A sync that needs a
// capability its provider lacks is rejected when the config is validated.
type Capabilities struct {
	List   bool
	Get    bool
	Create bool
	Update bool
	Delete bool
	// ChangedSince means List honours ListOptions.Since.
	ChangedSince bool
	// Archive means the kind has a soft-delete state (ArchiveField).
	Archive bool
	// ListAll means a child kind can be listed across all parents in one
	// paged listing (List with an empty ParentID). Without it, listing all
	// children costs a call per parent, and the engine lists only the
	// parents it needs.
	ListAll bool
}

// Schema describes a resource kind.
type Schema struct {
	Kind string
	// Parent is the kind that owns records of this kind ("contacts" for
	// tasks), or empty.
	Parent string
	Fields []Field
	Caps   Capabilities
	// ArchiveField names the boolean field that soft-deletes a record, when
	// Caps.Archive is set.
	ArchiveField string
	// DeleteCascades marks kinds whose delete also removes other data and
	// cannot be undone (a Paperbell client takes its subscriptions and
	// appointments with it). The engine only hard-deletes such records
	// when the sync explicitly allows it.
	DeleteCascades bool
}

// Field returns the named field and whether it exists.
func (s Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// ObjectType is the cty object type of a record of this kind, with "id"
// and "parent_id" added, as expressions see it.
func (s Schema) ObjectType() cty.Type {
	attrs := map[string]cty.Type{"id": cty.String, "parent_id": cty.String, "updated_at": cty.String}
	for _, f := range s.Fields {
		attrs[f.Name] = f.Type
	}
	return cty.Object(attrs)
}

// ListOptions narrows a listing.
type ListOptions struct {
	// ParentID lists only the children of one parent record.
	ParentID string
	// Since, when not zero, asks for records changed at or after it. Only
	// honoured when the kind has Caps.ChangedSince.
	Since time.Time
}

// Change is one field to write, with the value the engine believes the
// record holds now. Providers use Old to write minimal changes, such as
// adding and removing single tags instead of replacing the whole list.
type Change struct {
	Field string
	Old   cty.Value
	New   cty.Value
}

// Resource is one resource kind of a provider. Implementations must be safe
// for concurrent use.
type Resource interface {
	Schema() Schema
	// List calls fn for every record, page by page, and stops at the first
	// error fn returns. A listing that ends in an error is incomplete: the
	// engine must never infer a delete from it.
	List(ctx context.Context, opts ListOptions, fn func(Record) error) error
	// Get reads one record. A record that does not exist is ErrNotFound.
	Get(ctx context.Context, parentID, id string) (Record, error)
	// Create writes a new record and returns it as the API echoed it.
	Create(ctx context.Context, parentID string, fields map[string]cty.Value) (Record, error)
	// Update writes the given changes and returns the record as echoed.
	Update(ctx context.Context, parentID, id string, changes []Change) (Record, error)
	// Delete removes a record for good.
	Delete(ctx context.Context, parentID, id string) error
}

// Finder is implemented by resource kinds that can look records up by the
// values of identifying fields without a full listing (GHL's duplicate
// lookup, Paperbell's ?email=). The engine uses it after a create that may
// have half-succeeded, and before creating, because a search index that
// lags writes is no proof of absence.
type Finder interface {
	Find(ctx context.Context, parentID string, fields map[string]cty.Value) ([]Record, error)
}

// Provider is one configured connection (one GHL location, one Paperbell
// account).
type Provider interface {
	// Name is the provider type, as written in sync.hcl ("ghl").
	Name() string
	// Resource returns a resource kind, or an error naming the kinds that
	// exist.
	Resource(kind string) (Resource, error)
	// Kinds lists the schemas of every resource kind.
	Kinds() []Schema
}

// Checker is implemented by providers that can test their connection
// (credentials valid, account reachable, a sample record readable).
type Checker interface {
	Check(ctx context.Context) []CheckResult
}

// CheckResult is one line of a connection check.
type CheckResult struct {
	Name string
	OK   bool
	// Detail explains a failure, or adds a fact to a success.
	Detail string
}

// Env is what a provider factory receives besides its config body.
type Env struct {
	// EvalContext resolves functions such as env() in the provider body.
	EvalContext *hcl.EvalContext
	Logger      *slog.Logger
	// HTTPClient is the transport to use; nil means a fresh default.
	HTTPClient *http.Client
	// BaseDir is the directory of the config file, for relative paths.
	BaseDir string
	// Tokens persists OAuth tokens; nil when the caller has no state store.
	Tokens TokenStore
}

// TokenStore keeps provider credentials that change at run time (rotating
// OAuth refresh tokens) somewhere durable.
type TokenStore interface {
	LoadToken(ctx context.Context, key string) ([]byte, error)
	SaveToken(ctx context.Context, key string, data []byte) error
}

// Factory builds a provider from its sync.hcl block body. The provider
// declares and decodes its own schema; diagnostics carry source ranges.
type Factory func(body hcl.Body, env Env) (Provider, hcl.Diagnostics)

// Registry maps provider type names to factories.
type Registry map[string]Factory
