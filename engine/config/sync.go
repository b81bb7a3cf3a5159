package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Directions and conflict rules a sync may declare.
var (
	Directions    = []string{"one_way", "two_way"}
	ConflictRules = []string{"source_wins", "target_wins", "newest_wins"}
	// DeletePolicies are the on_delete values the language knows.
	DeletePolicies = []string{"retain", "suspend", "delete"}
)

// SupportedDeletePolicies are the on_delete values the engine can carry out
// today. The others parse but are rejected, so a config written for a later
// release fails loudly instead of silently retaining; enabling a policy is
// a matter of adding it here once the engine implements it.
var SupportedDeletePolicies = []string{"retain", "suspend", "delete"}

var syncSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "source", Required: true},
		{Name: "target", Required: true},
		{Name: "direction"},
		{Name: "conflict"},
		{Name: "parent"},
		{Name: "ignore_changes"},
		{Name: "on_delete"},
		{Name: "max_deletes"},
		{Name: "allow_cascading_delete"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "match"},
		{Type: "map"},
		{Type: "reverse_map"},
		{Type: "on_create"},
		{Type: "suspend"},
		{Type: "ownership"},
	},
}

var suspendSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "archive"},
		{Name: "tags_add"},
	},
}

// Owners are the values an ownership entry may take.
var Owners = []string{"source", "target"}

var matchSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "key", LabelNames: []string{"name"}}},
}

var matchKeySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "source", Required: true},
		{Name: "target", Required: true},
	},
}

var onCreateSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "create", LabelNames: []string{"provider", "kind"}}},
}

func decodeSync(block *hcl.Block, evalCtx *hcl.EvalContext) (*Sync, hcl.Diagnostics) {
	s := &Sync{
		Name:      block.Labels[0],
		DeclRange: block.DefRange,
		Direction: "one_way",
		OnDelete:  "retain",
	}
	content, diags := block.Body.Content(syncSchema)

	if attr, ok := content.Attributes["source"]; ok {
		ref, refDiags := decodeRef(attr)
		diags = append(diags, refDiags...)
		s.Source = ref
	}
	if attr, ok := content.Attributes["target"]; ok {
		ref, refDiags := decodeRef(attr)
		diags = append(diags, refDiags...)
		s.Target = ref
	}
	if attr, ok := content.Attributes["parent"]; ok {
		s.ParentRange = attr.Expr.Range()
		name, pDiags := decodeParent(attr)
		diags = append(diags, pDiags...)
		s.Parent = name
	}
	diags = append(diags, decodeDirection(s, content.Attributes, evalCtx)...)

	if attr, ok := content.Attributes["ignore_changes"]; ok {
		fields, ranges, fDiags := staticStringList(attr, evalCtx)
		diags = append(diags, fDiags...)
		s.IgnoreChanges, s.IgnoreChangesRanges = fields, ranges
	}
	if attr, ok := content.Attributes["on_delete"]; ok {
		s.OnDeleteRange = attr.Expr.Range()
		v, vDiags := staticEnum(attr, evalCtx, "delete policy", DeletePolicies)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() && !slices.Contains(SupportedDeletePolicies, v) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Delete policy not yet supported",
				Detail: fmt.Sprintf("This version of bellsync cannot carry out on_delete = %q yet; it supports %s. "+
					"Set on_delete = \"retain\" to keep target records when their source is deleted.", v, quoteList(SupportedDeletePolicies)),
				Subject: s.OnDeleteRange.Ptr(),
			})
		} else if !vDiags.HasErrors() {
			s.OnDelete = v
		}
	}
	if attr, ok := content.Attributes["allow_cascading_delete"]; ok {
		v, vDiags := staticValue(attr, evalCtx)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			if v.Type() != cty.Bool || v.IsNull() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid allow_cascading_delete",
					Detail: "allow_cascading_delete must be true or false.", Subject: attr.Expr.Range().Ptr()})
			} else {
				s.AllowCascadingDelete = v.True()
			}
		}
	}
	if attr, ok := content.Attributes["max_deletes"]; ok {
		s.MaxDeletesRange = attr.Expr.Range()
		v, vDiags := decodeMaxDeletes(attr, evalCtx)
		diags = append(diags, vDiags...)
		s.MaxDeletes = v
	}

	seen := map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		if prev, ok := seen[b.Type]; ok {
			diags = append(diags, duplicateBlock(b.Type, prev.DefRange, b))
			continue
		}
		seen[b.Type] = b
		switch b.Type {
		case "match":
			keys, kDiags := decodeMatch(b)
			diags = append(diags, kDiags...)
			s.Match = keys
		case "map":
			m, mDiags := decodeMappings(b.Body)
			diags = append(diags, mDiags...)
			s.Map = m
		case "reverse_map":
			m, mDiags := decodeMappings(b.Body)
			diags = append(diags, mDiags...)
			s.ReverseMap = m
			if s.Direction == "one_way" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reverse map on a one-way sync",
					Detail: "A reverse_map writes target changes back to the source, which only a two-way sync does. " +
						"Set direction = \"two_way\" or remove the reverse_map block.",
					Subject: b.DefRange.Ptr(),
				})
			}
		case "on_create":
			rules, rDiags := decodeOnCreate(b)
			diags = append(diags, rDiags...)
			s.OnCreate = rules
		case "suspend":
			diags = append(diags, decodeSuspend(s, b, evalCtx)...)
		case "ownership":
			diags = append(diags, decodeOwnership(s, b, evalCtx)...)
		}
	}
	diags = append(diags, checkScopes(s)...)
	return s, diags
}

// decodeDirection reads direction and conflict together, because whether
// conflict is required depends on the direction.
func decodeDirection(s *Sync, attrs hcl.Attributes, evalCtx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	dirOK := true
	if attr, ok := attrs["direction"]; ok {
		s.DirectionRange = attr.Expr.Range()
		v, vDiags := staticEnum(attr, evalCtx, "direction", Directions)
		diags = append(diags, vDiags...)
		dirOK = !vDiags.HasErrors()
		if dirOK {
			s.Direction = v
		}
	}
	attr, hasConflict := attrs["conflict"]
	if hasConflict {
		s.ConflictRange = attr.Expr.Range()
		v, vDiags := staticEnum(attr, evalCtx, "conflict rule", ConflictRules)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			s.Conflict = v
		}
	}
	if !dirOK {
		return diags
	}
	switch {
	case s.Direction == "one_way" && hasConflict:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflict rule on a one-way sync",
			Detail: "A one-way sync always writes the source over the target, so a conflict rule has no effect. " +
				"Remove the conflict attribute, or set direction = \"two_way\".",
			Subject: s.ConflictRange.Ptr(),
		})
		s.Conflict = ""
	}
	return diags
}

// decodeRef reads `PROVIDER.KIND` written as a bare traversal. A quoted
// string is refused rather than parsed, so that there is one way to write a
// reference and `fmt` need not guess.
func decodeRef(attr *hcl.Attribute) (Ref, hcl.Diagnostics) {
	rng := attr.Expr.Range()
	trav, travDiags := hcl.AbsTraversalForExpr(attr.Expr)
	if !travDiags.HasErrors() && len(trav) == 2 {
		if step, ok := trav[1].(hcl.TraverseAttr); ok {
			return Ref{Provider: trav.RootName(), Kind: step.Name, Range: rng}, nil
		}
	}
	return Ref{Range: rng}, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid resource reference",
		Detail: fmt.Sprintf("The %s of a sync names a provider's resource kind as PROVIDER.KIND, "+
			"without quotes, such as ghl.contacts. "+
			"Change the value to that form.", attr.Name),
		Subject: &rng,
	}}
}

func decodeParent(attr *hcl.Attribute) (string, hcl.Diagnostics) {
	rng := attr.Expr.Range()
	trav, travDiags := hcl.AbsTraversalForExpr(attr.Expr)
	if !travDiags.HasErrors() && len(trav) == 2 && trav.RootName() == "sync" {
		if step, ok := trav[1].(hcl.TraverseAttr); ok {
			return step.Name, nil
		}
	}
	return "", hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid parent reference",
		Detail: "The parent of a sync is another sync, written sync.NAME without quotes, such as sync.contacts. " +
			"Change the value to that form.",
		Subject: &rng,
	}}
}

func decodeMatch(block *hcl.Block) ([]*MatchKey, hcl.Diagnostics) {
	content, diags := block.Body.Content(matchSchema)
	var keys []*MatchKey
	seen := map[string]*MatchKey{}
	for _, b := range content.Blocks {
		k := &MatchKey{Name: b.Labels[0], DeclRange: b.DefRange}
		kc, kDiags := b.Body.Content(matchKeySchema)
		diags = append(diags, kDiags...)
		if attr, ok := kc.Attributes["source"]; ok {
			k.Source = attr.Expr
		}
		if attr, ok := kc.Attributes["target"]; ok {
			k.Target = attr.Expr
		}
		if prev, ok := seen[k.Name]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate match key",
				Detail: fmt.Sprintf("A match key named %q was already declared at %s. Rename or remove one of them.",
					k.Name, prev.DeclRange),
				Subject: b.LabelRanges[0].Ptr(),
			})
			continue
		}
		seen[k.Name] = k
		keys = append(keys, k)
	}
	if len(content.Blocks) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty match block",
			Detail: "A match block needs at least one key to find existing target records. " +
				"Add a key block, such as key \"email\" { source = ... target = ... }, or remove the match block.",
			Subject: block.DefRange.Ptr(),
		})
	}
	return keys, diags
}

// decodeMappings keeps the attributes in the order they were written, so
// plans list fields the way the author reads them.
func decodeMappings(body hcl.Body) ([]*Mapping, hcl.Diagnostics) {
	attrs, diags := body.JustAttributes()
	out := make([]*Mapping, 0, len(attrs))
	for _, attr := range attrs {
		out = append(out, &Mapping{Field: attr.Name, Expr: attr.Expr, Range: attr.Range})
	}
	slices.SortFunc(out, func(a, b *Mapping) int { return a.Range.Start.Byte - b.Range.Start.Byte })
	return out, diags
}

func decodeOnCreate(block *hcl.Block) ([]*CreateRule, hcl.Diagnostics) {
	content, diags := block.Body.Content(onCreateSchema)
	var rules []*CreateRule
	for _, b := range content.Blocks {
		attrs, aDiags := decodeMappings(b.Body)
		diags = append(diags, aDiags...)
		rules = append(rules, &CreateRule{
			Provider:      b.Labels[0],
			Kind:          b.Labels[1],
			Attrs:         attrs,
			DeclRange:     b.DefRange,
			ProviderRange: b.LabelRanges[0],
		})
	}
	return rules, diags
}

var maxDeletesPattern = regexp.MustCompile(`^([0-9]+)(%?)$`)

func decodeMaxDeletes(attr *hcl.Attribute, evalCtx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := staticString(attr, evalCtx)
	if diags.HasErrors() {
		return "", diags
	}
	v = strings.TrimSpace(v)
	m := maxDeletesPattern.FindStringSubmatch(v)
	if m == nil {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid max_deletes",
			Detail: fmt.Sprintf("max_deletes is a count of records, such as 25, "+
				"or a percentage of the target records up to 100%%, such as \"10%%\"; %q is neither. "+
				"Change it to one of those forms.", v),
			Subject: attr.Expr.Range().Ptr(),
		}}
	}
	// DeleteLimit parses the number again with strconv.Atoi, so what is
	// accepted here must fit an int: a count too large would otherwise
	// load and then fail the plan with no line to point at.
	n, err := strconv.Atoi(m[1])
	switch {
	case m[2] == "%" && (err != nil || n > 100):
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid max_deletes",
			Detail: fmt.Sprintf("A max_deletes percentage is between 0%% and 100%% of the target records, but it is %s. "+
				"Use a value such as \"10%%\".", v),
			Subject: attr.Expr.Range().Ptr(),
		}}
	case err != nil:
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid max_deletes",
			Detail: fmt.Sprintf("max_deletes = %s is more records than bellsync can count (at most %d). "+
				"Use a smaller count, or a percentage such as \"100%%\" to allow deleting everything.", v, math.MaxInt),
			Subject: attr.Expr.Range().Ptr(),
		}}
	}
	return v, nil
}

// DeleteLimit returns how many deletes a plan for this sync may contain
// when the target holds total records, and false when max_deletes is
// unset (the engine then applies its default guard). A percentage rounds
// down, so "10%" of 9 records allows none.
func (s *Sync) DeleteLimit(total int) (int, bool) {
	if s.MaxDeletes == "" {
		return 0, false
	}
	if pct, ok := strings.CutSuffix(s.MaxDeletes, "%"); ok {
		n, _ := strconv.Atoi(pct)
		return total * n / 100, true
	}
	n, _ := strconv.Atoi(s.MaxDeletes)
	return n, true
}

// validateSyncRefs checks what needs every block decoded first: that
// providers and parents referred to exist, and that parents form no cycle.
func validateSyncRefs(cfg *Config, providers map[string]*Provider, syncs map[string]*Sync) hcl.Diagnostics {
	var diags hcl.Diagnostics
	providerNames := make([]string, 0, len(providers))
	for _, p := range cfg.Providers {
		providerNames = append(providerNames, p.Type)
	}
	checkProvider := func(name string, rng hcl.Range) {
		if name == "" || providers[name] != nil {
			return
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Undeclared provider",
			Detail: fmt.Sprintf("There is no provider %q block in this config.%s "+
				"Declare a provider %q block, or correct the name.", name, DidYouMean(name, providerNames), name),
			Subject: rng.Ptr(),
		})
	}
	syncNames := make([]string, 0, len(cfg.Syncs))
	for _, s := range cfg.Syncs {
		syncNames = append(syncNames, s.Name)
	}

	for _, s := range cfg.Syncs {
		checkProvider(s.Source.Provider, s.Source.Range)
		checkProvider(s.Target.Provider, s.Target.Range)
		for _, r := range s.OnCreate {
			checkProvider(r.Provider, r.ProviderRange)
		}
		if s.Parent != "" && syncs[s.Parent] == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown parent sync",
				Detail: fmt.Sprintf("There is no sync named %q.%s "+
					"Set parent to the sync that links the parent records, such as sync.contacts.",
					s.Parent, DidYouMean(s.Parent, syncNames)),
				Subject: s.ParentRange.Ptr(),
			})
		}
	}

	for _, s := range cfg.Syncs {
		chain := []string{s.Name}
		for cur := syncs[s.Parent]; cur != nil; cur = syncs[cur.Parent] {
			chain = append(chain, cur.Name)
			if cur == s {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Cycle in sync parents",
					Detail: fmt.Sprintf("Following parent from sync %q leads back to it (%s), so no sync could run first. "+
						"Remove the parent attribute from one sync in the chain.", s.Name, strings.Join(chain, " -> ")),
					Subject: s.ParentRange.Ptr(),
				})
				break
			}
			if len(chain) > len(cfg.Syncs) {
				// A cycle that does not pass through s; it is reported
				// from the syncs that are on it.
				break
			}
		}
	}
	return diags
}

// SyncOrder returns the syncs with every parent before its children, and
// otherwise in the order they were written. Syncs caught in a parent cycle
// (only possible in a config that loaded with errors) come last.
func (c *Config) SyncOrder() []*Sync {
	done := map[string]bool{}
	var out []*Sync
	for progress := true; progress; {
		progress = false
		for _, s := range c.Syncs {
			if done[s.Name] || (s.Parent != "" && c.Sync(s.Parent) != nil && !done[s.Parent]) {
				continue
			}
			done[s.Name] = true
			out = append(out, s)
			progress = true
		}
	}
	for _, s := range c.Syncs {
		if !done[s.Name] {
			out = append(out, s)
		}
	}
	return out
}

// Sync returns the sync block with the given name, or nil.
func (c *Config) Sync(name string) *Sync {
	for _, s := range c.Syncs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Provider returns the provider block of the given type, or nil.
func (c *Config) Provider(typ string) *Provider {
	for _, p := range c.Providers {
		if p.Type == typ {
			return p
		}
	}
	return nil
}

// decodeSuspend reads how a suspend (soft delete) is carried out.
func decodeSuspend(s *Sync, b *hcl.Block, evalCtx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(suspendSchema)
	s.Suspend = &Suspend{Archive: true, DeclRange: b.DefRange}
	if attr, ok := content.Attributes["archive"]; ok {
		v, vDiags := staticValue(attr, evalCtx)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			if v.Type() != cty.Bool || v.IsNull() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid archive",
					Detail: "archive must be true or false.", Subject: attr.Expr.Range().Ptr()})
			} else {
				s.Suspend.Archive = v.True()
			}
		}
	}
	if attr, ok := content.Attributes["tags_add"]; ok {
		s.Suspend.TagsAddRange = attr.Expr.Range()
		tags, _, tDiags := staticStringList(attr, evalCtx)
		diags = append(diags, tDiags...)
		s.Suspend.TagsAdd = tags
	}
	return diags
}

// decodeOwnership reads `ownership { FIELD = "source" | "target" }`, keyed
// by the target field names of the map block.
func decodeOwnership(s *Sync, b *hcl.Block, evalCtx *hcl.EvalContext) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	s.Ownership = map[string]string{}
	s.OwnershipRanges = map[string]hcl.Range{}
	for name, attr := range attrs {
		v, vDiags := staticEnum(attr, evalCtx, "owner", Owners)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			s.Ownership[name] = v
			s.OwnershipRanges[name] = attr.Range
		}
	}
	return diags
}
