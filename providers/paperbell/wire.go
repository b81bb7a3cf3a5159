package paperbell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// call sends req and turns every failure into a *providers.Error. write
// marks requests that change data, so a failure that may have happened
// after the server did the work is flagged MaybeApplied.
func (p *Provider) call(ctx context.Context, op string, req httpx.Request, write bool) (*httpx.Response, error) {
	resp, err := p.http.Do(ctx, req)
	if err != nil {
		return nil, transportError(op, err, write)
	}
	if resp.Status >= 200 && resp.Status < 300 {
		return resp, nil
	}
	return nil, statusError(op, resp, write)
}

func transportError(op string, err error, write bool) error {
	msg := "no response"
	var te *httpx.TransportError
	if errors.As(err, &te) {
		// The inner *url.Error repeats the URL with its query, which can
		// hold emails; the cause alone is enough.
		cause := te.Err
		var ue *url.Error
		if errors.As(cause, &ue) {
			cause = ue.Err
		}
		msg = fmt.Sprintf("no response after %d attempt(s): %v", te.Attempts, cause)
	} else {
		// ctx ended, or the body could not be encoded.
		msg = err.Error()
	}
	return &providers.Error{
		Category:     providers.ErrTransient,
		Provider:     Name,
		Op:           op,
		Message:      msg,
		MaybeApplied: write,
		Err:          err,
	}
}

// errorBody is the error envelope of MODEL.md.
type errorBody struct {
	Error *struct {
		Code       string            `json:"code"`
		Message    string            `json:"message"`
		Fields     map[string]string `json:"fields"`
		ExistingID string            `json:"existing_id"`
	} `json:"error"`
}

func statusError(op string, resp *httpx.Response, write bool) error {
	e := &providers.Error{Provider: Name, Op: op, Status: resp.Status, TraceID: resp.Header.Get("X-Request-Id")}
	var body errorBody
	if err := json.Unmarshal(resp.Body, &body); err != nil || body.Error == nil {
		e.Message = "error response is not the documented JSON " + describeBody(resp.Body)
	} else {
		e.Message = strings.TrimSpace(body.Error.Message)
		e.ExistingID = body.Error.ExistingID
		for f := range body.Error.Fields {
			e.Fields = append(e.Fields, f)
		}
		slices.Sort(e.Fields)
		if len(e.Fields) > 0 {
			why := make([]string, 0, len(e.Fields))
			for _, f := range e.Fields {
				why = append(why, f+": "+body.Error.Fields[f])
			}
			e.Message = strings.Join(why, "; ")
		}
	}
	switch s := resp.Status; {
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity || s == http.StatusRequestEntityTooLarge:
		e.Category = providers.ErrValidation
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.Category = providers.ErrAuth
		e.Message += " (check the provider's api_key)"
	case s == http.StatusNotFound:
		e.Category = providers.ErrNotFound
	case s == http.StatusConflict:
		e.Category = providers.ErrDuplicate
	case s == http.StatusTooManyRequests:
		e.Category = providers.ErrRateLimited
		e.RetryAfter = httpx.RetryAfter(resp.Header, time.Now())
	case s >= 500:
		e.Category = providers.ErrTransient
		e.MaybeApplied = write
	default:
		e.Category = providers.ErrTerminal
	}
	return e
}

// describeBody says what a body holds without dumping all of it.
func describeBody(b []byte) string {
	const max = 64
	s := b
	more := ""
	if len(s) > max {
		s, more = s[:max], "..."
	}
	// ToValidUTF8 keeps a binary body from garbling a terminal.
	return fmt.Sprintf("(%d bytes: %q)", len(b), strings.ToValidUTF8(string(s), "")+more)
}

// decodeData unwraps {"data": ...} from a 2xx answer. A body that is not
// JSON is a transient failure: proxies in front of an API answer HTML when
// they have trouble. For writes it may still have been applied.
func decodeData(op string, resp *httpx.Response, write bool, v any) error {
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return &providers.Error{
			Category:     providers.ErrTransient,
			Provider:     Name,
			Op:           op,
			Status:       resp.Status,
			Message:      "response is not JSON " + describeBody(resp.Body),
			MaybeApplied: write,
			Err:          err,
		}
	}
	return nil
}

func badResponse(op, format string, args ...any) error {
	return &providers.Error{
		Category: providers.ErrTerminal,
		Provider: Name,
		Op:       op,
		Message:  "unexpected response: " + fmt.Sprintf(format, args...),
	}
}

func invalid(op, field, format string, args ...any) error {
	e := &providers.Error{
		Category: providers.ErrValidation,
		Provider: Name,
		Op:       op,
		Message:  fmt.Sprintf(format, args...),
	}
	if field != "" {
		e.Fields = []string{field}
	}
	return e
}

// decodeRecord turns one JSON object into a Record with every schema field
// set; missing fields are typed nulls and unknown ones are ignored.
func (k kindSpec) decodeRecord(op string, raw json.RawMessage) (providers.Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return providers.Record{}, badResponse(op, "a %s is not a JSON object", k.noun)
	}
	rec := providers.Record{Fields: make(map[string]cty.Value, len(k.schema.Fields))}
	var err error
	if rec.ID, err = idString(obj["id"]); err != nil || rec.ID == "" {
		return providers.Record{}, badResponse(op, "a %s has no id", k.noun)
	}
	if k.schema.Parent != "" {
		if rec.ParentID, err = idString(obj["client_id"]); err != nil {
			return providers.Record{}, badResponse(op, "%s %s: client_id: %v", k.noun, rec.ID, err)
		}
	}
	for _, f := range k.schema.Fields {
		v, err := fromJSON(obj[f.Name], f.Type, k.times[f.Name])
		if err != nil {
			return providers.Record{}, badResponse(op, "%s %s: %s: %v", k.noun, rec.ID, f.Name, err)
		}
		rec.Fields[f.Name] = v
	}
	if u := rec.Fields["updated_at"]; !u.IsNull() {
		rec.UpdatedAt, _ = time.Parse(time.RFC3339Nano, u.AsString())
	}
	return rec, nil
}

// idString accepts ids as JSON strings or numbers, since the API promises
// only that they are opaque.
func idString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", errors.New("not a string or number")
	}
	return n.String(), nil
}

func fromJSON(raw json.RawMessage, ty cty.Type, isTime bool) (cty.Value, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return cty.NullVal(ty), nil
	}
	switch {
	case ty == cty.String:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return cty.NilVal, errors.New("want a string")
		}
		if isTime && s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return cty.NilVal, errors.New("want an RFC 3339 timestamp")
			}
			s = t.UTC().Format(time.RFC3339Nano)
		}
		return cty.StringVal(s), nil
	case ty == cty.Bool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return cty.NilVal, errors.New("want true or false")
		}
		return cty.BoolVal(b), nil
	case ty.Equals(listOfString):
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return cty.NilVal, errors.New("want a list of strings")
		}
		if len(list) == 0 {
			return cty.ListValEmpty(cty.String), nil
		}
		vals := make([]cty.Value, len(list))
		for i, s := range list {
			vals[i] = cty.StringVal(s)
		}
		return cty.ListVal(vals), nil
	}
	panic(fmt.Sprintf("paperbell: schema type %s has no JSON decoding", ty.FriendlyName()))
}

// toJSON converts a value the engine wants written into its wire form.
func toJSON(v cty.Value, ty cty.Type) (any, error) {
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return nil, errors.New("value is not known yet")
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		return nil, fmt.Errorf("want %s: %w", ty.FriendlyName(), err)
	}
	if cv.IsNull() {
		return nil, nil
	}
	switch {
	case ty == cty.String:
		return cv.AsString(), nil
	case ty == cty.Bool:
		return cv.True(), nil
	case ty.Equals(listOfString):
		out := make([]string, 0, cv.LengthInt())
		for it := cv.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				return nil, errors.New("list holds a null")
			}
			out = append(out, e.AsString())
		}
		return out, nil
	}
	panic(fmt.Sprintf("paperbell: schema type %s has no JSON encoding", ty.FriendlyName()))
}

// sameValue reports whether writing next over old would change nothing.
func sameValue(f providers.Field, old, next cty.Value) bool {
	if old.Type() == cty.NilType {
		return false
	}
	old, _ = old.UnmarkDeep()
	next, _ = next.UnmarkDeep()
	if !old.IsWhollyKnown() || !next.IsWhollyKnown() {
		return false
	}
	o, err1 := convert.Convert(old, f.Type)
	n, err2 := convert.Convert(next, f.Type)
	if err1 != nil || err2 != nil {
		return false
	}
	if f.Set && !o.IsNull() && !n.IsNull() {
		return slices.Equal(sortedSet(o), sortedSet(n))
	}
	return o.RawEquals(n)
}

func sortedSet(v cty.Value) []string {
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if !e.IsNull() {
			out = append(out, e.AsString())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
