// Package providertest helps test code that talks to providers: an
// in-memory [Memory] resource that implements the provider contract exactly
// (including Finder), with hooks to inject failures, so engine tests can run
// without HTTP and each failure mode can be provoked on purpose.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
)

// Memory is an in-memory resource kind. The zero value is not usable; call
// NewMemory.
type Memory struct {
	schema providers.Schema
	// FindBy names the fields Find matches on (case-sensitive equality);
	// empty disables Find (the resource then is not a useful Finder).
	FindBy []string
	// BeforeWrite, when set, runs before each Create/Update/Delete; an
	// error it returns is returned without writing.
	BeforeWrite func(op string, fields map[string]cty.Value) error
	// AfterWrite, when set, runs after a write succeeded; an error it
	// returns replaces the result, as a response lost on the way back.
	AfterWrite func(op string, rec providers.Record) error
	// ListErr, when set, makes List fail after yielding ListErrAfter records.
	ListErr      error
	ListErrAfter int
	Now          func() time.Time

	// mu guards recs, next and Calls.
	mu    sync.Mutex
	recs  map[string]providers.Record
	next  int
	Calls map[string]int
}

// NewMemory returns an empty resource of the given schema.
func NewMemory(s providers.Schema) *Memory {
	return &Memory{schema: s, recs: map[string]providers.Record{}, Calls: map[string]int{}, Now: time.Now}
}

var (
	_ providers.Resource = (*Memory)(nil)
	_ providers.Finder   = (*Memory)(nil)
)

// Schema implements providers.Resource.
func (m *Memory) Schema() providers.Schema { return m.schema }

// Put stores a record directly (seeding, or an edit "by a person").
func (m *Memory) Put(r providers.Record) providers.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.ID == "" {
		m.next++
		r.ID = "m" + strconv.Itoa(m.next)
	}
	r.Fields = m.complete(r.Fields)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = m.Now()
	}
	m.recs[r.ID] = r
	return r
}

// Remove deletes a record directly.
func (m *Memory) Remove(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, id)
}

// All returns every record sorted by id.
func (m *Memory) All() []providers.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]providers.Record, 0, len(m.recs))
	for _, r := range m.recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CallCount returns how often an operation was called.
func (m *Memory) CallCount(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Calls[op]
}

func (m *Memory) complete(f map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(m.schema.Fields))
	for _, sf := range m.schema.Fields {
		v, ok := f[sf.Name]
		if !ok || v == cty.NilVal {
			v = cty.NullVal(sf.Type)
		}
		out[sf.Name] = v
	}
	return out
}

func (m *Memory) count(op string) {
	m.mu.Lock()
	m.Calls[op]++
	m.mu.Unlock()
}

// List implements providers.Resource.
func (m *Memory) List(ctx context.Context, opts providers.ListOptions, fn func(providers.Record) error) error {
	m.count("list")
	n := 0
	for _, r := range m.All() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if opts.ParentID != "" && r.ParentID != opts.ParentID {
			continue
		}
		if !opts.Since.IsZero() && r.UpdatedAt.Before(opts.Since) {
			continue
		}
		if m.ListErr != nil && n >= m.ListErrAfter {
			return m.ListErr
		}
		if err := fn(r); err != nil {
			return err
		}
		n++
	}
	return nil
}

// Get implements providers.Resource.
func (m *Memory) Get(_ context.Context, _, id string) (providers.Record, error) {
	m.count("get")
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	if !ok {
		return providers.Record{}, &providers.Error{Category: providers.ErrNotFound, Provider: "memory", Op: "get", Message: id + " not found"}
	}
	return r, nil
}

// Create implements providers.Resource.
func (m *Memory) Create(_ context.Context, parentID string, fields map[string]cty.Value) (providers.Record, error) {
	m.count("create")
	if m.BeforeWrite != nil {
		if err := m.BeforeWrite("create", fields); err != nil {
			return providers.Record{}, err
		}
	}
	r := m.Put(providers.Record{ParentID: parentID, Fields: fields, UpdatedAt: m.Now()})
	if m.AfterWrite != nil {
		if err := m.AfterWrite("create", r); err != nil {
			return providers.Record{}, err
		}
	}
	return r, nil
}

// Update implements providers.Resource.
func (m *Memory) Update(_ context.Context, _, id string, changes []providers.Change) (providers.Record, error) {
	m.count("update")
	fields := map[string]cty.Value{}
	for _, c := range changes {
		fields[c.Field] = c.New
	}
	if m.BeforeWrite != nil {
		if err := m.BeforeWrite("update", fields); err != nil {
			return providers.Record{}, err
		}
	}
	m.mu.Lock()
	r, ok := m.recs[id]
	if !ok {
		m.mu.Unlock()
		return providers.Record{}, &providers.Error{Category: providers.ErrNotFound, Provider: "memory", Op: "update", Message: id + " not found"}
	}
	nf := make(map[string]cty.Value, len(r.Fields))
	for k, v := range r.Fields {
		nf[k] = v
	}
	for k, v := range fields {
		nf[k] = v
	}
	r.Fields = nf
	r.UpdatedAt = m.Now()
	m.recs[id] = r
	m.mu.Unlock()
	if m.AfterWrite != nil {
		if err := m.AfterWrite("update", r); err != nil {
			return providers.Record{}, err
		}
	}
	return r, nil
}

// Delete implements providers.Resource.
func (m *Memory) Delete(_ context.Context, _, id string) error {
	m.count("delete")
	if m.BeforeWrite != nil {
		if err := m.BeforeWrite("delete", nil); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[id]; !ok {
		return &providers.Error{Category: providers.ErrNotFound, Provider: "memory", Op: "delete", Message: id + " not found"}
	}
	delete(m.recs, id)
	return nil
}

// Find implements providers.Finder: records whose FindBy fields equal any
// given non-null value.
func (m *Memory) Find(_ context.Context, parentID string, fields map[string]cty.Value) ([]providers.Record, error) {
	m.count("find")
	var out []providers.Record
	for _, r := range m.All() {
		if parentID != "" && r.ParentID != parentID {
			continue
		}
		for _, f := range m.FindBy {
			want, ok := fields[f]
			if !ok || want.IsNull() {
				continue
			}
			if have := r.Fields[f]; !have.IsNull() && have.Type() == want.Type() && have.RawEquals(want) {
				out = append(out, r)
				break
			}
		}
	}
	return out, nil
}

// Provider wraps resources as a providers.Provider.
type Provider struct {
	ProviderName string
	Resources    map[string]providers.Resource
}

var _ providers.Provider = (*Provider)(nil)

// Name implements providers.Provider.
func (p *Provider) Name() string { return p.ProviderName }

// Resource implements providers.Provider.
func (p *Provider) Resource(kind string) (providers.Resource, error) {
	r, ok := p.Resources[kind]
	if !ok {
		return nil, fmt.Errorf("%s has no resource kind %q", p.ProviderName, kind)
	}
	return r, nil
}

// Kinds implements providers.Provider.
func (p *Provider) Kinds() []providers.Schema {
	var out []providers.Schema
	for _, r := range p.Resources {
		out = append(out, r.Schema())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// ErrDropped is what AfterWrite hooks typically return: the write landed
// but its answer was lost.
var ErrDropped = &providers.Error{Category: providers.ErrTransient, Provider: "memory", Op: "write",
	Message: "connection dropped after the write", MaybeApplied: true, Err: errors.New("EOF")}
