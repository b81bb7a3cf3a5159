package ghl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
)

var contactSchema = providers.Schema{
	Kind: "contacts",
	Fields: []providers.Field{
		{Name: "firstName", Type: cty.String},
		{Name: "lastName", Type: cty.String},
		{Name: "name", Type: cty.String},
		{Name: "email", Type: cty.String},
		{Name: "phone", Type: cty.String},
		{Name: "tags", Type: cty.List(cty.String), Set: true, Fold: true},
		{Name: "companyName", Type: cty.String},
		{Name: "address1", Type: cty.String},
		{Name: "city", Type: cty.String},
		{Name: "state", Type: cty.String},
		{Name: "postalCode", Type: cty.String},
		{Name: "country", Type: cty.String},
		{Name: "website", Type: cty.String},
		{Name: "timezone", Type: cty.String},
		{Name: "dnd", Type: cty.Bool},
		{Name: "source", Type: cty.String},
		{Name: "type", Type: cty.String},
		{Name: "assignedTo", Type: cty.String},
		{Name: "dateOfBirth", Type: cty.String},
		{Name: "customFields", Type: cty.DynamicPseudoType},
		{Name: "additionalEmails", Type: cty.List(cty.String), ReadOnly: true},
		{Name: "dateAdded", Type: cty.String, ReadOnly: true},
		{Name: "dateUpdated", Type: cty.String, ReadOnly: true},
		{Name: "locationId", Type: cty.String, ReadOnly: true},
	},
	Caps: providers.Capabilities{List: true, Get: true, Create: true, Update: true, Delete: true, ChangedSince: true},
}

// createWritable and updateWritable are the schema fields present in
// CreateContactDto and UpdateContactDto (apps/contacts.json). GHL answers
// 422 "property X should not exist" for anything else, so we refuse first.
var (
	createWritable = setOf("firstName", "lastName", "name", "email", "phone", "tags", "companyName",
		"address1", "city", "state", "postalCode", "country", "website", "timezone", "dnd", "source",
		"assignedTo", "dateOfBirth", "customFields")
	updateWritable = setOf("firstName", "lastName", "name", "email", "phone", "tags",
		"address1", "city", "state", "postalCode", "country", "website", "timezone", "dnd", "source",
		"assignedTo", "dateOfBirth", "customFields")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// contacts is the "contacts" kind.
type contacts struct{ p *Provider }

var (
	_ providers.Resource = (*contacts)(nil)
	_ providers.Finder   = (*contacts)(nil)
)

func (c *contacts) Schema() providers.Schema { return contactSchema }

func (c *contacts) record(o object) (providers.Record, error) {
	fields, err := fieldsFromJSON(contactSchema, o)
	if err != nil {
		return providers.Record{}, err
	}
	rec := providers.Record{ID: o.str("id"), Fields: fields}
	if rec.ID == "" {
		return providers.Record{}, fmt.Errorf("decode contact: no id")
	}
	if s := o.str("dateUpdated"); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			rec.UpdatedAt = t
		}
	}
	return rec, nil
}

type sortSpec struct {
	Field     string `json:"field"`
	Direction string `json:"direction"`
}

type filter struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    any    `json:"value,omitempty"`
}

type searchBody struct {
	LocationID  string          `json:"locationId"`
	PageLimit   int             `json:"pageLimit"`
	SearchAfter json.RawMessage `json:"searchAfter,omitempty"`
	Filters     []filter        `json:"filters,omitempty"`
	Sort        []sortSpec      `json:"sort,omitempty"`
}

type searchResult struct {
	Contacts []object `json:"contacts"`
	Total    int      `json:"total"`
}

// List pages through POST /contacts/search sorted by dateUpdated, moving
// with the searchAfter cursor of each page's last contact (page numbers
// stop at 10,000 records). Sorting by dateUpdated means a contact edited
// during the listing moves behind the cursor and is met again rather than
// skipped; repeats of an id within one listing are dropped.
func (c *contacts) List(ctx context.Context, opts providers.ListOptions, fn func(providers.Record) error) error {
	const op = "list contacts"
	body := searchBody{
		LocationID: c.p.locationID,
		PageLimit:  c.p.pageSize,
		Sort:       []sortSpec{{Field: "dateUpdated", Direction: "asc"}},
	}
	if !opts.Since.IsZero() {
		body.Filters = []filter{{Field: "dateUpdated", Operator: "range",
			Value: map[string]string{"gte": opts.Since.UTC().Format("2006-01-02T15:04:05.000Z")}}}
	}
	seen := map[string]bool{}
	for {
		var res searchResult
		err := c.p.do(ctx, call{op: op, scope: scopeContactsRead,
			req: httpx.Request{Method: http.MethodPost, Path: "/contacts/search", JSON: body, Idempotent: true}}, &res)
		if err != nil {
			return err
		}
		for _, o := range res.Contacts {
			rec, err := c.record(o)
			if err != nil {
				return asTransient(op, err)
			}
			if seen[rec.ID] {
				continue
			}
			seen[rec.ID] = true
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(res.Contacts) < body.PageLimit {
			return nil
		}
		next := res.Contacts[len(res.Contacts)-1]["searchAfter"]
		if isNullJSON(next) {
			return asTransient(op, fmt.Errorf("full page without a searchAfter cursor"))
		}
		if body.SearchAfter != nil && bytes.Equal(compactJSON(next), compactJSON(body.SearchAfter)) {
			return asTransient(op, fmt.Errorf("search returned the same cursor twice"))
		}
		body.SearchAfter = next
	}
}

func compactJSON(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

type contactEnvelope struct {
	Contact object `json:"contact"`
}

func (c *contacts) Get(ctx context.Context, _ string, id string) (providers.Record, error) {
	const op = "get contact"
	if err := checkID(op, "contact", id); err != nil {
		return providers.Record{}, err
	}
	var env contactEnvelope
	err := c.p.do(ctx, call{op: op, scope: scopeContactsRead,
		req: httpx.Request{Method: http.MethodGet, Path: "/contacts/" + id, Idempotent: true}}, &env)
	if err != nil {
		return providers.Record{}, err
	}
	if env.Contact == nil {
		return providers.Record{}, &providers.Error{Category: providers.ErrNotFound, Provider: Name, Op: op, Message: "no contact in response"}
	}
	rec, err := c.record(env.Contact)
	if err != nil {
		return providers.Record{}, asTransient(op, err)
	}
	return rec, nil
}

// writeValue converts one field for a request body.
func writeValue(op, name string, v cty.Value) (any, error) {
	switch name {
	case "customFields":
		cf, err := customFieldsToJSON(v, nil)
		if err != nil {
			return nil, localValidation(op, err.Error(), name)
		}
		return cf, nil
	case "tags":
		tags := stringsOf(v)
		if tags == nil {
			tags = []string{}
		}
		return tags, nil
	}
	if !v.IsKnown() {
		return nil, localValidation(op, "value is not known", name)
	}
	if !v.IsNull() && !v.Type().IsPrimitiveType() {
		return nil, localValidation(op, "expected a "+contactFieldType(name).FriendlyName(), name)
	}
	gv, err := goValue(v)
	if err != nil {
		return nil, localValidation(op, err.Error(), name)
	}
	return gv, nil
}

func contactFieldType(name string) cty.Type {
	if f, ok := contactSchema.Field(name); ok {
		return f.Type
	}
	return cty.DynamicPseudoType
}

// checkWritable refuses fields GHL would reject or that are read-only,
// naming them all at once.
func checkWritable(op string, s providers.Schema, allowed map[string]bool, names []string) error {
	var bad []string
	for _, n := range names {
		if f, ok := s.Field(n); !ok || f.ReadOnly || !allowed[n] {
			bad = append(bad, n)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return localValidation(op, "fields are not writable through this endpoint", bad...)
}

func sortedKeys(m map[string]cty.Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Create posts a new contact. A duplicate refused by the location's
// setting is ErrDuplicate with ExistingID; a create without a clear answer
// (no response, 5xx, 422) is MaybeApplied.
func (c *contacts) Create(ctx context.Context, _ string, fields map[string]cty.Value) (providers.Record, error) {
	const op = "create contact"
	// Null fields are left out of the body, so a null read-only field
	// (a mapping that copies a whole record) is no error.
	var names []string
	for _, n := range sortedKeys(fields) {
		if !fields[n].IsNull() {
			names = append(names, n)
		}
	}
	if err := checkWritable(op, contactSchema, createWritable, names); err != nil {
		return providers.Record{}, err
	}
	body := map[string]any{"locationId": c.p.locationID}
	for _, n := range names {
		wv, err := writeValue(op, n, fields[n])
		if err != nil {
			return providers.Record{}, err
		}
		body[n] = wv
	}
	var env contactEnvelope
	err := c.p.do(ctx, call{op: op, scope: scopeContactsWrite, write: true, create: true,
		req: httpx.Request{Method: http.MethodPost, Path: "/contacts/", JSON: body}}, &env)
	if err != nil {
		return providers.Record{}, err
	}
	if env.Contact == nil {
		return providers.Record{}, &providers.Error{Category: providers.ErrTransient, Provider: Name, Op: op,
			Message: "no contact in response", MaybeApplied: true}
	}
	rec, err := c.record(env.Contact)
	if err != nil {
		return providers.Record{}, &providers.Error{Category: providers.ErrTransient, Provider: Name, Op: op, MaybeApplied: true, Err: err}
	}
	c.p.verify(ctx, contactSchema, op, rec, fields)
	return rec, nil
}

type tagsBody struct {
	Tags []string `json:"tags"`
}

// Update writes the changed fields with one PUT and changes tags with the
// add and remove endpoints, computed from Change.Old and Change.New (a null
// Old counts as no tags, so nothing is removed). customFields send only the
// ids whose values changed; an id dropped from New is sent as null, which
// GHL is expected, not confirmed, to read as a clear.
func (c *contacts) Update(ctx context.Context, _ string, id string, changes []providers.Change) (providers.Record, error) {
	const op = "update contact"
	if err := checkID(op, "contact", id); err != nil {
		return providers.Record{}, err
	}
	names := make([]string, 0, len(changes))
	for _, ch := range changes {
		names = append(names, ch.Field)
	}
	if err := checkWritable(op, contactSchema, updateWritable, names); err != nil {
		return providers.Record{}, err
	}
	body := map[string]any{}
	sent := map[string]cty.Value{}
	var add, remove []string
	for _, ch := range changes {
		switch ch.Field {
		case "tags":
			a, r := tagDiff(stringsOf(ch.Old), stringsOf(ch.New))
			add, remove = append(add, a...), append(remove, r...)
			sent["tags"] = ch.New
		case "customFields":
			cf, changed, err := changedCustomFields(op, ch.Old, ch.New)
			if err != nil {
				return providers.Record{}, err
			}
			if len(cf) > 0 {
				body["customFields"] = cf
				sent["customFields"] = changed
			}
		default:
			wv, err := writeValue(op, ch.Field, ch.New)
			if err != nil {
				return providers.Record{}, err
			}
			body[ch.Field] = wv
			sent[ch.Field] = ch.New
		}
	}
	path := "/contacts/" + id
	if len(add) > 0 {
		err := c.p.do(ctx, call{op: "add contact tags", scope: scopeContactsWrite, write: true,
			req: httpx.Request{Method: http.MethodPost, Path: path + "/tags", JSON: tagsBody{add}, Idempotent: true}}, nil)
		if err != nil {
			return providers.Record{}, err
		}
	}
	if len(remove) > 0 {
		err := c.p.do(ctx, call{op: "remove contact tags", scope: scopeContactsWrite, write: true,
			req: httpx.Request{Method: http.MethodDelete, Path: path + "/tags", JSON: tagsBody{remove}, Idempotent: true}}, nil)
		if err != nil {
			return providers.Record{}, err
		}
	}
	var rec providers.Record
	if len(body) > 0 {
		// PUT echoes the whole contact, tags included, so it runs after
		// the tag calls and saves a GET.
		var env contactEnvelope
		err := c.p.do(ctx, call{op: op, scope: scopeContactsWrite, write: true,
			req: httpx.Request{Method: http.MethodPut, Path: path, JSON: body, Idempotent: true}}, &env)
		if err != nil {
			return providers.Record{}, err
		}
		if env.Contact != nil {
			if rec, err = c.record(env.Contact); err != nil {
				return providers.Record{}, asTransient(op, err)
			}
		}
	}
	if rec.ID == "" {
		var err error
		if rec, err = c.Get(ctx, "", id); err != nil {
			return providers.Record{}, err
		}
	}
	c.p.verify(ctx, contactSchema, op, rec, sent)
	return rec, nil
}

// changedCustomFields returns the write entries for ids whose value differs
// between old and new, and the changed values (for verifying the echo).
func changedCustomFields(op string, old, new cty.Value) ([]map[string]any, cty.Value, error) {
	o, n := customFieldAttrs(old), customFieldAttrs(new)
	keys := map[string]bool{}
	changed := map[string]cty.Value{}
	for k, nv := range n {
		if ov, ok := o[k]; !ok || !jsonEqual(ov, nv) {
			keys[k] = true
			changed[k] = nv
		}
	}
	out, err := customFieldsToJSON(new, keys)
	if err != nil {
		return nil, cty.NilVal, localValidation(op, err.Error(), "customFields")
	}
	var gone []string
	for k := range o {
		if _, ok := n[k]; !ok {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		out = append(out, map[string]any{"id": k, "fieldValue": nil})
	}
	return out, cty.ObjectVal(changed), nil
}

// Delete removes a contact. A contact already gone is ErrNotFound, which
// callers deleting it may treat as done.
func (c *contacts) Delete(ctx context.Context, _ string, id string) error {
	const op = "delete contact"
	if err := checkID(op, "contact", id); err != nil {
		return err
	}
	return c.p.do(ctx, call{op: op, scope: scopeContactsWrite, write: true,
		req: httpx.Request{Method: http.MethodDelete, Path: "/contacts/" + id, Idempotent: true}}, nil)
}

// Find looks contacts up by email and by phone through GHL's duplicate
// lookup, which reads the primary store rather than the lagging search
// index. It returns each matching contact once, email match first.
func (c *contacts) Find(ctx context.Context, _ string, fields map[string]cty.Value) ([]providers.Record, error) {
	const op = "find contact"
	var out []providers.Record
	seen := map[string]bool{}
	for _, key := range []struct{ field, param string }{{"email", "email"}, {"phone", "number"}} {
		v, ok := fields[key.field]
		if !ok || v.IsNull() || !v.IsKnown() || v.Type() != cty.String || v.AsString() == "" {
			continue
		}
		q := url.Values{"locationId": {c.p.locationID}, key.param: {v.AsString()}}
		var env struct {
			Contact object `json:"contact"`
		}
		err := c.p.do(ctx, call{op: op, scope: scopeContactsRead,
			req: httpx.Request{Method: http.MethodGet, Path: "/contacts/search/duplicate", Query: q, Idempotent: true}}, &env)
		if err != nil {
			return nil, err
		}
		if len(env.Contact) == 0 {
			continue
		}
		rec, err := c.record(env.Contact)
		if err != nil {
			return nil, asTransient(op, err)
		}
		if !seen[rec.ID] {
			seen[rec.ID] = true
			out = append(out, rec)
		}
	}
	return out, nil
}

// verify compares the echoed record with the fields that were sent and
// reports the ones GHL dropped or changed.
func (p *Provider) verify(ctx context.Context, s providers.Schema, op string, rec providers.Record, sent map[string]cty.Value) {
	var bad []string
	for _, n := range sortedKeys(sent) {
		f, ok := s.Field(n)
		if !ok {
			continue
		}
		got, ok := rec.Fields[n]
		if !ok {
			got = cty.NullVal(f.Type)
		}
		if echoDiffers(f, sent[n], got) {
			bad = append(bad, n)
		}
	}
	p.reportMismatch(ctx, Mismatch{Kind: s.Kind, ID: rec.ID, Op: op, Fields: bad})
}
