package ghl

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
)

var taskSchema = providers.Schema{
	Kind:   "tasks",
	Parent: "contacts",
	Fields: []providers.Field{
		{Name: "title", Type: cty.String},
		{Name: "body", Type: cty.String},
		{Name: "dueDate", Type: cty.String},
		{Name: "completed", Type: cty.Bool},
		{Name: "assignedTo", Type: cty.String},
	},
	Caps: providers.Capabilities{List: true, Get: true, Create: true, Update: true, Delete: true},
}

var noteSchema = providers.Schema{
	Kind:   "notes",
	Parent: "contacts",
	Fields: []providers.Field{
		{Name: "body", Type: cty.String},
		{Name: "title", Type: cty.String},
		{Name: "userId", Type: cty.String},
		{Name: "dateAdded", Type: cty.String, ReadOnly: true},
		{Name: "pinned", Type: cty.Bool},
		{Name: "color", Type: cty.String},
	},
	Caps: providers.Capabilities{List: true, Get: true, Create: true, Update: true, Delete: true},
}

// child is a kind stored under a contact (tasks, notes). The two differ
// only in path, envelope key, required create fields, and the separate
// completion endpoint of tasks.
type child struct {
	p      *Provider
	schema providers.Schema
	// seg is the path segment under /contacts/{id}/ and the list key.
	seg string
	// one is the envelope key of a single record.
	one      string
	required []string
	// completedPath routes changes of "completed" through
	// PUT .../{id}/completed, the endpoint GHL documents for it.
	completedPath bool
}

func newTasks(p *Provider) *child {
	return &child{p: p, schema: taskSchema, seg: "tasks", one: "task",
		required: []string{"title", "dueDate", "completed"}, completedPath: true}
}

func newNotes(p *Provider) *child {
	return &child{p: p, schema: noteSchema, seg: "notes", one: "note", required: []string{"body"}}
}

var _ providers.Resource = (*child)(nil)

func (c *child) Schema() providers.Schema { return c.schema }

func (c *child) base(parentID string) string {
	return "/contacts/" + parentID + "/" + c.seg
}

func (c *child) record(parentID string, o object) (providers.Record, error) {
	fields, err := fieldsFromJSON(c.schema, o)
	if err != nil {
		return providers.Record{}, err
	}
	rec := providers.Record{ID: o.str("id"), ParentID: o.str("contactId"), Fields: fields}
	if rec.ParentID == "" {
		rec.ParentID = parentID
	}
	return rec, nil
}

func (c *child) needParent(op, parentID string) error {
	return checkID(op, "parent contact", parentID)
}

// List reads the kind of one contact, or, with an empty ParentID, of every
// contact. GHL has no location-wide read for notes (and the tasks search
// needs another scope), so the full listing costs one search call per page
// of contacts plus one call per contact: a 10,000-contact location spends
// about 10,000 requests, over 16 minutes at 100 requests per 10 s.
func (c *child) List(ctx context.Context, opts providers.ListOptions, fn func(providers.Record) error) error {
	if opts.ParentID != "" {
		return c.listFor(ctx, opts.ParentID, fn)
	}
	return c.p.contacts.List(ctx, providers.ListOptions{}, func(contact providers.Record) error {
		return c.listFor(ctx, contact.ID, fn)
	})
}

func (c *child) listFor(ctx context.Context, parentID string, fn func(providers.Record) error) error {
	op := "list " + c.seg
	var env map[string]json.RawMessage
	err := c.p.do(ctx, call{op: op, scope: scopeContactsRead,
		req: httpx.Request{Method: http.MethodGet, Path: c.base(parentID), Idempotent: true}}, &env)
	if err != nil {
		return err
	}
	var items []object
	if raw := env[c.seg]; !isNullJSON(raw) {
		if err := json.Unmarshal(raw, &items); err != nil {
			return asTransient(op, err)
		}
	}
	for _, o := range items {
		rec, err := c.record(parentID, o)
		if err != nil {
			return asTransient(op, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

func (c *child) Get(ctx context.Context, parentID, id string) (providers.Record, error) {
	op := "get " + c.one
	if err := c.needParent(op, parentID); err != nil {
		return providers.Record{}, err
	}
	if err := checkID(op, c.one, id); err != nil {
		return providers.Record{}, err
	}
	return c.exchange(ctx, parentID, call{op: op, scope: scopeContactsRead,
		req: httpx.Request{Method: http.MethodGet, Path: c.base(parentID) + "/" + id, Idempotent: true}})
}

// exchange sends a call answered by {"<one>": {...}} and decodes the record.
func (c *child) exchange(ctx context.Context, parentID string, cl call) (providers.Record, error) {
	var env map[string]json.RawMessage
	if err := c.p.do(ctx, cl, &env); err != nil {
		return providers.Record{}, err
	}
	var o object
	if raw, ok := env[c.one]; !ok || isNullJSON(raw) || json.Unmarshal(raw, &o) != nil || o.str("id") == "" {
		cat := providers.ErrTransient
		if cl.req.Method == http.MethodGet {
			cat = providers.ErrNotFound
		}
		return providers.Record{}, &providers.Error{Category: cat, Provider: Name, Op: cl.op,
			Message: "no " + c.one + " in response", MaybeApplied: cl.write}
	}
	rec, err := c.record(parentID, o)
	if err != nil {
		return providers.Record{}, asTransient(cl.op, err)
	}
	return rec, nil
}

func (c *child) body(op string, fields map[string]cty.Value, skipNull bool) (map[string]any, error) {
	body := map[string]any{}
	for _, n := range sortedKeys(fields) {
		v := fields[n]
		if skipNull && v.IsNull() {
			continue
		}
		if !v.IsKnown() || (!v.IsNull() && !v.Type().IsPrimitiveType()) {
			return nil, localValidation(op, "expected a known primitive value", n)
		}
		if n == "dueDate" && !v.IsNull() && v.Type() == cty.String {
			body[n] = normalizeTime(v.AsString())
			continue
		}
		gv, err := goValue(v)
		if err != nil {
			return nil, localValidation(op, err.Error(), n)
		}
		body[n] = gv
	}
	return body, nil
}

func (c *child) writable() map[string]bool {
	m := map[string]bool{}
	for _, f := range c.schema.Fields {
		if !f.ReadOnly {
			m[f.Name] = true
		}
	}
	return m
}

func (c *child) Create(ctx context.Context, parentID string, fields map[string]cty.Value) (providers.Record, error) {
	op := "create " + c.one
	if err := c.needParent(op, parentID); err != nil {
		return providers.Record{}, err
	}
	var present []string
	for _, n := range sortedKeys(fields) {
		if !fields[n].IsNull() {
			present = append(present, n)
		}
	}
	if err := checkWritable(op, c.schema, c.writable(), present); err != nil {
		return providers.Record{}, err
	}
	var missing []string
	for _, n := range c.required {
		if v, ok := fields[n]; !ok || v.IsNull() {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return providers.Record{}, localValidation(op, "required fields are missing", missing...)
	}
	body, err := c.body(op, fields, true)
	if err != nil {
		return providers.Record{}, err
	}
	rec, err := c.exchange(ctx, parentID, call{op: op, scope: scopeContactsWrite, write: true, create: true,
		req: httpx.Request{Method: http.MethodPost, Path: c.base(parentID), JSON: body}})
	if err != nil {
		return providers.Record{}, err
	}
	c.p.verify(ctx, c.schema, op, rec, fields)
	return rec, nil
}

// Update PUTs the changed fields; for tasks a change of "completed" goes
// through the completion endpoint after the other fields.
func (c *child) Update(ctx context.Context, parentID, id string, changes []providers.Change) (providers.Record, error) {
	op := "update " + c.one
	if err := c.needParent(op, parentID); err != nil {
		return providers.Record{}, err
	}
	if err := checkID(op, c.one, id); err != nil {
		return providers.Record{}, err
	}
	fields := map[string]cty.Value{}
	for _, ch := range changes {
		fields[ch.Field] = ch.New
	}
	if err := checkWritable(op, c.schema, c.writable(), sortedKeys(fields)); err != nil {
		return providers.Record{}, err
	}
	completed, hasCompleted := fields["completed"]
	rest := fields
	if c.completedPath && hasCompleted {
		if completed.IsNull() || !completed.IsKnown() {
			return providers.Record{}, localValidation(op, "completed cannot be null", "completed")
		}
		rest = map[string]cty.Value{}
		for k, v := range fields {
			if k != "completed" {
				rest[k] = v
			}
		}
	}
	path := c.base(parentID) + "/" + id
	var rec providers.Record
	if len(rest) > 0 {
		body, err := c.body(op, rest, false)
		if err != nil {
			return providers.Record{}, err
		}
		if rec, err = c.exchange(ctx, parentID, call{op: op, scope: scopeContactsWrite, write: true,
			req: httpx.Request{Method: http.MethodPut, Path: path, JSON: body, Idempotent: true}}); err != nil {
			return providers.Record{}, err
		}
	}
	if c.completedPath && hasCompleted {
		var err error
		if rec, err = c.exchange(ctx, parentID, call{op: "complete " + c.one, scope: scopeContactsWrite, write: true,
			req: httpx.Request{Method: http.MethodPut, Path: path + "/completed",
				JSON: map[string]bool{"completed": completed.True()}, Idempotent: true}}); err != nil {
			return providers.Record{}, err
		}
	}
	if rec.ID == "" {
		var err error
		if rec, err = c.Get(ctx, parentID, id); err != nil {
			return providers.Record{}, err
		}
	}
	c.p.verify(ctx, c.schema, op, rec, fields)
	return rec, nil
}

func (c *child) Delete(ctx context.Context, parentID, id string) error {
	op := "delete " + c.one
	if err := c.needParent(op, parentID); err != nil {
		return err
	}
	if err := checkID(op, c.one, id); err != nil {
		return err
	}
	return c.p.do(ctx, call{op: op, scope: scopeContactsWrite, write: true,
		req: httpx.Request{Method: http.MethodDelete, Path: c.base(parentID) + "/" + id, Idempotent: true}}, nil)
}
