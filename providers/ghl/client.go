package ghl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/httpx"
	"github.com/bellsync/bellsync/providers/secret"
)

// Scopes named in auth errors, since GHL's scope 401 does not say which
// one is missing.
const (
	scopeContactsRead  = "contacts.readonly"
	scopeContactsWrite = "contacts.write"
	scopeLocationsRead = "locations.readonly"
)

// call is one API request plus what the error decoder needs to know.
type call struct {
	op  string
	req httpx.Request
	// scope is the OAuth scope the endpoint needs.
	scope string
	// create marks requests that make a new record: any doubtful outcome
	// is MaybeApplied, and a 422 may still have created it (GHL issue 64).
	create bool
	// write marks requests that change remote state.
	write bool
}

// do sends c and decodes a 2xx JSON body into out (when not nil). Any
// other outcome is a *providers.Error.
func (p *Provider) do(ctx context.Context, c call, out any) error {
	tok, err := p.tokens.Token(ctx)
	if err != nil {
		return tokenError(c.op, 0, err)
	}
	resp, err := p.send(ctx, c, tok)
	if err != nil {
		return err
	}
	if resp.Status == http.StatusUnauthorized {
		if r, ok := p.tokens.(Refresher); ok && refreshable(resp.Body) {
			p.refreshes.Add(1)
			p.log.DebugContext(ctx, "refreshing token after 401", "op", c.op)
			fresh, rerr := r.Refresh(ctx, tok)
			if rerr != nil {
				return tokenError(c.op, resp.Status, rerr)
			}
			if resp, err = p.send(ctx, c, fresh); err != nil {
				return err
			}
		}
	}
	if resp.Status >= 200 && resp.Status < 300 {
		if out == nil || len(resp.Body) == 0 {
			return nil
		}
		if err := json.Unmarshal(resp.Body, out); err != nil {
			// A write that got a garbled 2xx did happen.
			return &providers.Error{Category: providers.ErrTransient, Provider: Name, Op: c.op, Status: resp.Status,
				Message: "undecodable response: " + snippet(resp.Body), MaybeApplied: c.write, Err: err}
		}
		return nil
	}
	return p.decodeError(c, resp)
}

// tokenError wraps a token source failure for op. A grant that only
// `bellsync auth ghl` can revive is returned as it is: its message is the
// one instruction the user needs, and wrapping would bury it. Other
// failures keep their category, so a transient token endpoint outage is
// still retryable.
func tokenError(op string, status int, err error) error {
	if errors.Is(err, oauth.ErrReauthorize) {
		return err
	}
	cat := providers.ErrAuth
	if pe, ok := providers.AsError(err); ok && pe.Category != nil {
		cat = pe.Category
	}
	return &providers.Error{Category: cat, Provider: Name, Op: op, Status: status,
		Message: "get token: " + err.Error(), Err: err}
}

// send performs one exchange (httpx may retry it) with tok as bearer.
func (p *Provider) send(ctx context.Context, c call, tok secret.String) (*httpx.Response, error) {
	hc := *p.http
	hc.Decorate = func(r *http.Request) error {
		p.calls.Add(1)
		r.Header.Set("Authorization", "Bearer "+tok.Reveal())
		r.Header.Set("Version", APIVersion)
		r.Header.Set("Accept", "application/json")
		return nil
	}
	resp, err := hc.Do(ctx, c.req)
	if err != nil {
		// No response at all: a write may or may not have landed.
		return nil, &providers.Error{Category: providers.ErrTransient, Provider: Name, Op: c.op,
			MaybeApplied: c.write, Err: err}
	}
	return resp, nil
}

// observe counts 429s and pauses the limiter when GHL reports the burst
// budget spent, so the next request waits instead of earning a 429.
func (p *Provider) observe(r *http.Response) {
	if r.StatusCode == http.StatusTooManyRequests {
		p.limited.Add(1)
	}
	if p.http.Limiter == nil || r.Header.Get("X-RateLimit-Remaining") != "0" {
		return
	}
	ms, err := strconv.Atoi(r.Header.Get("X-RateLimit-Interval-Milliseconds"))
	if err != nil || ms <= 0 {
		ms = int(rateWindow / time.Millisecond)
	}
	p.http.Limiter.PauseFor(time.Duration(ms) * time.Millisecond)
}

// apiError is GHL's error body; message is a string for most statuses
// and an array for 422.
type apiError struct {
	StatusCode int             `json:"statusCode"`
	Message    json.RawMessage `json:"message"`
	Error      string          `json:"error"`
	TraceID    string          `json:"traceId"`
	Meta       struct {
		ContactID     string `json:"contactId"`
		MatchingField string `json:"matchingField"`
	} `json:"meta"`
}

func (a apiError) messages() []string {
	var one string
	if json.Unmarshal(a.Message, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []string
	if json.Unmarshal(a.Message, &many) == nil {
		return many
	}
	return nil
}

// refreshable reports whether a 401 body is about the token itself, as
// opposed to the Version header or a missing scope, which a fresh token
// would not cure.
func refreshable(body []byte) bool {
	var a apiError
	if json.Unmarshal(body, &a) != nil {
		return false
	}
	msg := strings.ToLower(strings.Join(a.messages(), " "))
	return !strings.Contains(msg, "version header") && !strings.Contains(msg, "scope")
}

func (p *Provider) decodeError(c call, resp *httpx.Response) error {
	e := &providers.Error{Provider: Name, Op: c.op, Status: resp.Status}
	var a apiError
	if err := json.Unmarshal(resp.Body, &a); err != nil {
		e.Category = providers.ErrTransient
		e.Message = "non-JSON response: " + snippet(resp.Body)
		e.MaybeApplied = c.write
		return e
	}
	msgs := a.messages()
	e.Message = strings.Join(msgs, "; ")
	if e.Message == "" {
		e.Message = a.Error
	}
	e.TraceID = a.TraceID
	lower := strings.ToLower(e.Message)
	switch s := resp.Status; {
	case s == http.StatusUnauthorized && strings.Contains(lower, "version header"):
		e.Category = providers.ErrTerminal
	case s == http.StatusUnauthorized && strings.Contains(lower, "scope"):
		e.Category = providers.ErrAuth
		e.Scope = c.scope
		// GHL does not say which scope is missing; we know which one the
		// endpoint needs.
		if c.scope != "" {
			e.Message += fmt.Sprintf(" (%s needs scope %s)", c.op, c.scope)
		}
	case s == http.StatusUnauthorized:
		e.Category = providers.ErrAuth
		e.Hint = "check the provider's token (a sub-account Private Integration Token) or run `bellsync auth ghl`"
	case s == http.StatusForbidden:
		e.Category = providers.ErrAuth
		if strings.Contains(lower, "location") {
			e.Scope = "location " + p.locationID
		}
	case s == http.StatusNotFound:
		e.Category = providers.ErrNotFound
	case s == http.StatusBadRequest && a.Meta.ContactID != "":
		e.Category = providers.ErrDuplicate
		e.ExistingID = a.Meta.ContactID
		if a.Meta.MatchingField != "" {
			e.Fields = []string{a.Meta.MatchingField}
		}
	case s == http.StatusBadRequest && strings.Contains(lower, "not found"):
		e.Category = providers.ErrNotFound
	case s == http.StatusBadRequest:
		e.Category = providers.ErrValidation
		e.Fields = validationFields(msgs)
	case s == http.StatusUnprocessableEntity:
		e.Category = providers.ErrValidation
		e.Fields = validationFields(msgs)
		e.MaybeApplied = c.create
	case s == http.StatusTooManyRequests:
		e.Category = providers.ErrRateLimited
		e.RetryAfter = httpx.RetryAfter(resp.Header, time.Now())
	case s >= 500:
		e.Category = providers.ErrTransient
		e.MaybeApplied = c.write
	default:
		e.Category = providers.ErrTerminal
	}
	return e
}

var (
	reShouldNotExist = regexp.MustCompile(`^property (\S+) should not exist`)
	reMustBe         = regexp.MustCompile(`^(\S+) (?:must|should) (?:be|not be|contain|match)`)
	reInvalidField   = regexp.MustCompile(`^Invalid field (\S+)`)
)

// validationFields pulls property names out of GHL's class-validator
// messages, in first-seen order without repeats.
func validationFields(msgs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range msgs {
		m = strings.TrimSpace(m)
		for _, re := range []*regexp.Regexp{reShouldNotExist, reMustBe, reInvalidField} {
			if sm := re.FindStringSubmatch(m); sm != nil {
				if f := sm[1]; !seen[f] {
					seen[f] = true
					out = append(out, f)
				}
				break
			}
		}
	}
	return out
}

// snippet is a short printable prefix of a body for error text.
func snippet(b []byte) string {
	const max = 120
	s := string(b)
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strings.Join(strings.Fields(s), " ")
}

// localValidation is an error found before any request was sent.
func localValidation(op, msg string, fields ...string) error {
	return &providers.Error{Category: providers.ErrValidation, Provider: Name, Op: op, Message: msg, Fields: fields}
}

// asTransient wraps a decoding failure of our own into the typed shape.
func asTransient(op string, err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return err
	}
	return &providers.Error{Category: providers.ErrTransient, Provider: Name, Op: op, Err: fmt.Errorf("%s: %w", op, err)}
}

// checkID refuses ids that would change the request path; GHL ids are
// short alphanumeric strings.
func checkID(op, what, id string) error {
	if id == "" {
		return localValidation(op, what+" id is required")
	}
	if strings.ContainsAny(id, "/?#%\\") || id == "." || id == ".." {
		return localValidation(op, what+" id holds characters no GHL id has")
	}
	return nil
}
