package paperbell

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/zclconf/go-cty/cty"
)

// resource serves one kind. Tasks and notes use it as is; contacts wrap it
// to add Find.
type resource struct {
	p    *Provider
	spec kindSpec
}

var _ providers.Resource = (*resource)(nil)

func (r *resource) Schema() providers.Schema { return r.spec.schema }

func (r *resource) child() bool { return r.spec.schema.Parent != "" }

// childSegment is the last path segment of this kind's collections.
func (r *resource) childSegment() string {
	if r.spec.noun == "task" {
		return r.p.paths.Tasks
	}
	return r.p.paths.Notes
}

// collection is where records of this kind are listed and created.
func (r *resource) collection(parentID string) string {
	if !r.child() {
		return r.p.paths.Clients
	}
	if parentID == "" {
		return r.childSegment()
	}
	return r.p.paths.Clients + "/" + url.PathEscape(parentID) + r.childSegment()
}

func (r *resource) item(parentID, id string) string {
	return r.collection(parentID) + "/" + url.PathEscape(id)
}

func (r *resource) op(verb string) string { return verb + " " + r.spec.noun }

// needParent rejects child writes without a client id, which the API's
// paths cannot express.
func (r *resource) needParent(op, parentID string) error {
	if r.child() && parentID == "" {
		return invalid(op, "parent_id", "a %s needs the id of its contact", r.spec.noun)
	}
	return nil
}

type page struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor *string           `json:"next_cursor"`
}

// List pages through a collection. A child kind with no ParentID uses the
// account-wide listing (GET /tasks, GET /notes).
func (r *resource) List(ctx context.Context, opts providers.ListOptions, fn func(providers.Record) error) error {
	op := "list " + r.spec.noun + "s"
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	if !opts.Since.IsZero() {
		q.Set("updated_since", opts.Since.UTC().Format(time.RFC3339Nano))
	}
	path := r.collection(opts.ParentID)
	seen := map[string]bool{}
	for {
		resp, err := r.p.call(ctx, op, httpx.Request{Method: http.MethodGet, Path: path, Query: q, Idempotent: true}, false)
		if err != nil {
			return err
		}
		var pg page
		if err := decodeData(op, resp, false, &pg); err != nil {
			return err
		}
		for _, raw := range pg.Data {
			rec, err := r.spec.decodeRecord(op, raw)
			if err != nil {
				return err
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		if pg.NextCursor == nil || *pg.NextCursor == "" {
			return nil
		}
		// A server that hands out a cursor twice would loop forever.
		if seen[*pg.NextCursor] {
			return badResponse(op, "the server repeated a page cursor")
		}
		seen[*pg.NextCursor] = true
		q.Set("cursor", *pg.NextCursor)
	}
}

// errFound stops a listing once the wanted record is seen.
var errFound = errors.New("found")

// Get reads one record. Paperbell has no single-task or single-note read,
// so for those it scans the client's list (or the account's, without a
// parent id).
func (r *resource) Get(ctx context.Context, parentID, id string) (providers.Record, error) {
	op := r.op("get")
	if !r.child() {
		resp, err := r.p.call(ctx, op, httpx.Request{Method: http.MethodGet, Path: r.item("", id), Idempotent: true}, false)
		if err != nil {
			return providers.Record{}, err
		}
		return r.decodeOne(op, resp, false)
	}
	var got providers.Record
	err := r.List(ctx, providers.ListOptions{ParentID: parentID}, func(rec providers.Record) error {
		if rec.ID == id {
			got = rec
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return got, nil
	case err != nil:
		return providers.Record{}, err
	}
	return providers.Record{}, &providers.Error{
		Category: providers.ErrNotFound, Provider: Name, Op: op, Message: r.spec.noun + " not found",
	}
}

func (r *resource) decodeOne(op string, resp *httpx.Response, write bool) (providers.Record, error) {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := decodeData(op, resp, write, &env); err != nil {
		return providers.Record{}, err
	}
	return r.spec.decodeRecord(op, env.Data)
}

// Create posts the non-null fields and returns the echoed record.
func (r *resource) Create(ctx context.Context, parentID string, fields map[string]cty.Value) (providers.Record, error) {
	op := r.op("create")
	if err := r.needParent(op, parentID); err != nil {
		return providers.Record{}, err
	}
	body := map[string]any{}
	for name, v := range fields {
		f, err := r.writable(op, name)
		if err != nil {
			return providers.Record{}, err
		}
		j, err := toJSON(v, f.Type)
		if err != nil {
			return providers.Record{}, invalid(op, name, "%s: %v", name, err)
		}
		if j != nil {
			body[name] = j
		}
	}
	resp, err := r.p.call(ctx, op, httpx.Request{Method: http.MethodPost, Path: r.collection(parentID), JSON: body}, true)
	if err != nil {
		return providers.Record{}, err
	}
	rec, err := r.decodeOne(op, resp, true)
	if err == nil {
		r.p.log.Debug("created", "kind", r.spec.schema.Kind, "id", rec.ID)
	}
	return rec, err
}

// Update patches only the fields whose value changes. With nothing to
// change it reads the record instead of writing.
func (r *resource) Update(ctx context.Context, parentID, id string, changes []providers.Change) (providers.Record, error) {
	op := r.op("update")
	if err := r.needParent(op, parentID); err != nil {
		return providers.Record{}, err
	}
	body := map[string]any{}
	for _, ch := range changes {
		f, err := r.writable(op, ch.Field)
		if err != nil {
			return providers.Record{}, err
		}
		if sameValue(f, ch.Old, ch.New) {
			continue
		}
		j, err := toJSON(ch.New, f.Type)
		if err != nil {
			return providers.Record{}, invalid(op, f.Name, "%s: %v", f.Name, err)
		}
		body[f.Name] = j
	}
	if len(body) == 0 {
		return r.Get(ctx, parentID, id)
	}
	// The body holds whole values, not increments, so sending it twice is
	// harmless and retries are safe.
	resp, err := r.p.call(ctx, op, httpx.Request{Method: http.MethodPatch, Path: r.item(parentID, id), JSON: body, Idempotent: true}, true)
	if err != nil {
		return providers.Record{}, err
	}
	rec, err := r.decodeOne(op, resp, true)
	if err == nil {
		r.p.log.Debug("updated", "kind", r.spec.schema.Kind, "id", rec.ID, "fields", len(body))
	}
	return rec, err
}

// Delete removes a record. Deleting a client also deletes its tasks and
// notes on the server and cannot be undone.
func (r *resource) Delete(ctx context.Context, parentID, id string) error {
	op := r.op("delete")
	if err := r.needParent(op, parentID); err != nil {
		return err
	}
	_, err := r.p.call(ctx, op, httpx.Request{Method: http.MethodDelete, Path: r.item(parentID, id), Idempotent: true}, true)
	if err == nil {
		r.p.log.Debug("deleted", "kind", r.spec.schema.Kind, "id", id)
	}
	return err
}

func (r *resource) writable(op, name string) (providers.Field, error) {
	f, ok := r.spec.schema.Field(name)
	switch {
	case !ok:
		return f, invalid(op, name, "%s has no field %q", r.spec.schema.Kind, name)
	case f.ReadOnly:
		return f, invalid(op, name, "%s.%s is read-only", r.spec.schema.Kind, name)
	}
	return f, nil
}

// contacts adds lookup by email to the client resource.
type contacts struct{ resource }

// Find returns the clients that hold any of the addresses in
// fields["email"] and fields["additional_emails"], as primary or additional
// email, matched without regard to case. The API has no lookup by phone,
// so a contact known only by phone is never found here. Each address costs
// one request.
func (c *contacts) Find(ctx context.Context, parentID string, fields map[string]cty.Value) ([]providers.Record, error) {
	op := "find client"
	var emails []string
	add := func(v cty.Value) {
		if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
			return
		}
		e := strings.ToLower(strings.TrimSpace(v.AsString()))
		for _, have := range emails {
			if have == e {
				return
			}
		}
		if e != "" {
			emails = append(emails, e)
		}
	}
	if v, ok := fields["email"]; ok {
		v, _ = v.UnmarkDeep()
		add(v)
	}
	if v, ok := fields["additional_emails"]; ok {
		v, _ = v.UnmarkDeep()
		if !v.IsNull() && v.IsWhollyKnown() && v.CanIterateElements() {
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				add(e)
			}
		}
	}
	var out []providers.Record
	seen := map[string]bool{}
	for _, e := range emails {
		q := url.Values{"email": {e}, "limit": {strconv.Itoa(pageSize)}}
		resp, err := c.p.call(ctx, op, httpx.Request{Method: http.MethodGet, Path: c.p.paths.Clients, Query: q, Idempotent: true}, false)
		if err != nil {
			return nil, err
		}
		var pg page
		if err := decodeData(op, resp, false, &pg); err != nil {
			return nil, err
		}
		for _, raw := range pg.Data {
			rec, err := c.spec.decodeRecord(op, raw)
			if err != nil {
				return nil, err
			}
			if !seen[rec.ID] {
				seen[rec.ID] = true
				out = append(out, rec)
			}
		}
	}
	return out, nil
}
