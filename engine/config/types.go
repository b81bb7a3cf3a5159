package config

import (
	"crypto/ed25519"
	"crypto/rsa"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/robfig/cron/v3"

	"github.com/bellsync/bellsync/providers/secret"
)

// Config is a decoded sync.hcl. Expressions that depend on records (match
// keys, field maps) stay as hcl.Expression and are evaluated per record by
// the engine; everything else is decoded and checked at load time.
type Config struct {
	// Filename is the path the config was read from, as given.
	Filename string
	// BaseDir is the directory of Filename; relative paths resolve from it.
	BaseDir string
	// Hash is a SHA-256 (hex) of the source's tokens, leaving out comments
	// and layout; a saved plan records it so apply can refuse a plan made
	// from another config.
	Hash string

	State     *State
	Providers []*Provider
	Syncs     []*Sync
	Schedule  *Schedule
	Webhooks  *Webhooks
}

// State is the `state` block.
type State struct {
	// Backend is "sqlite" (the only one so far).
	Backend string
	// Path is the database path, resolved against BaseDir. Defaults to
	// .bellsync/state.db beside the config.
	Path      string
	DeclRange hcl.Range
}

// Provider is a `provider "TYPE" { ... }` block. Its body is decoded later
// by the provider itself, against the schema it declares.
type Provider struct {
	Type      string
	Body      hcl.Body
	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Ref names a provider resource kind, written `ghl.contacts`.
type Ref struct {
	Provider string
	Kind     string
	Range    hcl.Range
}

func (r Ref) String() string { return r.Provider + "." + r.Kind }

// Sync is a `sync "NAME" { ... }` block.
type Sync struct {
	Name      string
	DeclRange hcl.Range

	Source Ref
	Target Ref
	// Direction is "one_way" (default) or "two_way".
	Direction      string
	DirectionRange hcl.Range
	// Conflict is the two-way rule: "source_wins", "target_wins" or
	// "newest_wins". Empty for one-way syncs.
	Conflict      string
	ConflictRange hcl.Range
	// Parent names the sync whose links give child records their parent
	// (a tasks sync follows the contacts sync). Empty for top-level kinds.
	Parent      string
	ParentRange hcl.Range

	// Match lists identity keys in priority order, used when a source
	// record has no link yet.
	Match []*MatchKey
	// Map computes target fields from `source`, in source order.
	Map []*Mapping
	// ReverseMap computes source fields from `target`, for two-way syncs.
	ReverseMap []*Mapping
	// IgnoreChanges lists target fields bellsync sets on create only.
	IgnoreChanges []string
	// IgnoreChangesRanges gives, by field name, the list element that named
	// it (the whole expression when the list was computed), so a name that
	// is not a mapped field is reported where it was written.
	IgnoreChangesRanges map[string]hcl.Range

	// OnDelete is "retain" (default), "suspend" or "delete".
	OnDelete      string
	OnDeleteRange hcl.Range
	// MaxDeletes is a count ("25") or a percentage ("10%"); empty means the
	// default guard.
	MaxDeletes      string
	MaxDeletesRange hcl.Range

	// OnCreate rules fire once per new link (the welcome task).
	OnCreate []*CreateRule

	// Suspend says how on_delete = "suspend" soft-deletes; nil means the
	// provider's archive flag.
	Suspend *Suspend
	// Ownership names, by target field, the side that owns a field in a
	// two-way sync: an owned field is only ever written to the other side.
	Ownership       map[string]string
	OwnershipRanges map[string]hcl.Range
	// AllowCascadingDelete must be set for on_delete = "delete" toward a
	// kind whose deletes cascade and cannot be undone (Paperbell clients).
	AllowCascadingDelete bool
}

// Suspend is the `suspend` block.
type Suspend struct {
	// Archive sets the written kind's archive flag, when it has one.
	Archive bool
	// TagsAdd are added to the record's tags field.
	TagsAdd []string
	// TagsAddRange is the tags_add expression, for a kind with no tags.
	TagsAddRange hcl.Range
	DeclRange    hcl.Range
}

// MatchKey is one `key "NAME" { source = ..., target = ... }` inside
// `match`. Each expression yields a string, a list of strings, or null; a
// null or empty string means the record has no value for this key.
type MatchKey struct {
	Name      string
	Source    hcl.Expression
	Target    hcl.Expression
	DeclRange hcl.Range
}

// Mapping is one attribute of a `map` block: target field = expression.
type Mapping struct {
	Field string
	Expr  hcl.Expression
	// Range is the whole attribute, for plan provenance.
	Range hcl.Range
}

// CreateRule is `create "PROVIDER" "KIND" { ... }` inside `on_create`.
type CreateRule struct {
	Provider string
	Kind     string
	// Attrs are the record's fields; `source` and `target` are in scope.
	Attrs     []*Mapping
	DeclRange hcl.Range
	// ProviderRange is the provider label, for "undeclared provider".
	ProviderRange hcl.Range
}

// Schedule is the `schedule` block used by `bellsync run`.
type Schedule struct {
	// Cron is the schedule as written; Spec is it parsed by [ParseCron].
	Cron      string
	Spec      cron.Schedule
	CronRange hcl.Range
	// TimeZone is the IANA zone the cron fields are read in ("UTC" when
	// unset); Location is it loaded.
	TimeZone      string
	Location      *time.Location
	TimeZoneRange hcl.Range
	// FullEvery is how often a run ignores the changed-since cursors and
	// reads everything, to catch drift; FullInterval is it parsed.
	FullEvery      string
	FullInterval   time.Duration
	FullEveryRange hcl.Range
	DeclRange      hcl.Range
}

// Webhooks is the `webhooks` block used by `bellsync run`.
type Webhooks struct {
	// Listen is the host:port to serve on; [DefaultListen] when unset.
	Listen    string
	DeclRange hcl.Range
	// Body holds the block's other attributes, for the daemon to decode
	// with its own schema (listen is already consumed).
	Body hcl.Body

	// GHLPublicKey verifies x-ghl-signature (ghl_public_key); nil means
	// the key GHL publishes.
	GHLPublicKey      ed25519.PublicKey
	GHLPublicKeyRange hcl.Range
	// GHLRSAPublicKey verifies the legacy x-wh-signature
	// (ghl_rsa_public_key); nil means the key GHL publishes.
	GHLRSAPublicKey      *rsa.PublicKey
	GHLRSAPublicKeyRange hcl.Range
	// PaperbellSecret authenticates events a Zap posts
	// (paperbell_secret); zero turns the Paperbell route off.
	PaperbellSecret      secret.String
	PaperbellSecretRange hcl.Range
	// MaxBody is the largest body read, in bytes; [DefaultMaxBody] when
	// unset.
	MaxBody      int64
	MaxBodyRange hcl.Range
	// PathPrefix is where the webhook routes live, without a trailing
	// slash; [DefaultPathPrefix] when unset.
	PathPrefix      string
	PathPrefixRange hcl.Range
}
