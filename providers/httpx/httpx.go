// Package httpx holds the HTTP concerns every provider shares: a client-side
// rate limiter, retries with jittered exponential backoff that honour the
// server's Retry-After and rate-limit headers, bounded response bodies, and
// a request shape that says whether repeating it is safe.
//
// It knows nothing of any particular API: providers decorate requests with
// their auth headers and decode the bodies and statuses into their typed
// errors themselves.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxBody bounds a response body; a larger one is an error rather than a
// memory blow-up from a misbehaving server.
const MaxBody = 64 << 20

// Request is one API call.
type Request struct {
	Method string
	// Path is joined to the client's base URL; it may carry no query.
	Path  string
	Query url.Values
	// JSON, when not nil, is marshalled as the body.
	JSON any
	// Form, when not nil, is sent as application/x-www-form-urlencoded.
	Form url.Values
	// Idempotent requests are retried after transport errors and 5xx.
	// Everything is retried after 429, which the server answers before
	// doing any work.
	Idempotent bool
}

// Response is a completed exchange, whatever its status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Attempts is how many times the request was sent.
	Attempts int
}

// Client sends requests to one API. The zero value is not usable; set at
// least BaseURL.
type Client struct {
	BaseURL *url.URL
	HTTP    *http.Client
	// Limiter, when set, is waited on before every attempt.
	Limiter *Limiter
	// Decorate adds headers (auth, version) to each attempt's request.
	Decorate func(*http.Request) error
	// Observe sees every response, for rate-limit headers and metrics.
	Observe func(*http.Response)
	// MaxAttempts counts the first try; 0 means 5.
	MaxAttempts int
	// BaseDelay and MaxDelay bound the backoff; 0 means 250ms and 20s.
	BaseDelay, MaxDelay time.Duration
	// Sleep waits for d or until ctx ends; nil means a real timer. Tests
	// inject one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0,1); nil means math/rand.
	Jitter func() float64
	// Logger gets one debug record per attempt (see [Client.Do]); nil
	// discards.
	Logger *slog.Logger
	// UserAgent is sent on every request.
	UserAgent string
}

// ErrBodyTooLarge is returned when a response exceeds MaxBody.
var ErrBodyTooLarge = errors.New("response body too large")

// Do sends r, retrying as described on Request, and returns the last
// response. A non-2xx status is not an error here: the provider decides what
// it means. The error is non-nil only when no response could be had (the
// transport failed on every attempt, or ctx ended).
//
// Every attempt is logged at debug level with its method, path, status (or
// transport error), duration and attempt number, and the time spent waiting
// on the limiter when there was any. Headers, bodies and the query are never
// logged: they carry the credentials and people's emails and phones.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	body, ctype, err := encodeBody(r)
	if err != nil {
		return nil, err
	}
	u := *c.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + r.Path
	u.RawQuery = r.Query.Encode()

	max := c.MaxAttempts
	if max <= 0 {
		max = 5
	}
	log := c.log()
	for attempt := 1; ; attempt++ {
		queued := time.Now()
		if c.Limiter != nil {
			if err := c.Limiter.Wait(ctx); err != nil {
				return nil, err
			}
		}
		sent := time.Now()
		resp, err := c.send(ctx, r.Method, u.String(), body, ctype)
		if log.Enabled(ctx, slog.LevelDebug) {
			logCall(ctx, log, r.Method, u.Path, resp, err, attempt, sent.Sub(queued), time.Since(sent))
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !r.Idempotent || attempt >= max || errors.Is(err, ErrBodyTooLarge) {
				return nil, &TransportError{Method: r.Method, URL: redactURL(u), Attempts: attempt, Err: err}
			}
			log.Debug("retrying after transport error", "method", r.Method, "path", u.Path, "attempt", attempt, "err", cause(err))
			if err := c.sleep(ctx, c.backoff(attempt, 0)); err != nil {
				return nil, err
			}
			continue
		}
		resp.Attempts = attempt
		wait := RetryAfter(resp.Header, time.Now())
		retry := resp.Status == http.StatusTooManyRequests || (r.Idempotent && resp.Status >= 500)
		if !retry || attempt >= max {
			return resp, nil
		}
		if resp.Status == http.StatusTooManyRequests && c.Limiter != nil {
			c.Limiter.PauseFor(c.backoff(attempt, wait))
		}
		log.Debug("retrying after status", "method", r.Method, "path", u.Path, "status", resp.Status, "attempt", attempt)
		if err := c.sleep(ctx, c.backoff(attempt, wait)); err != nil {
			return nil, err
		}
	}
}

func (c *Client) send(ctx context.Context, method, u string, body []byte, ctype string) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.Decorate != nil {
		if err := c.Decorate(req); err != nil {
			return nil, err
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(data) > MaxBody {
		return nil, ErrBodyTooLarge
	}
	if c.Observe != nil {
		c.Observe(res)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
}

// backoff is the wait before attempt+1: at least the server's wish, else
// exponential from BaseDelay with full jitter, capped at MaxDelay.
func (c *Client) backoff(attempt int, server time.Duration) time.Duration {
	base, max := c.BaseDelay, c.MaxDelay
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	if max <= 0 {
		max = 20 * time.Second
	}
	d := base << min(attempt-1, 16)
	if d > max || d <= 0 {
		d = max
	}
	j := rand.Float64
	if c.Jitter != nil {
		j = c.Jitter
	}
	// Full jitter spreads clients that were throttled together, so they do
	// not come back in lockstep.
	d = time.Duration(float64(d) * (0.5 + j()/2))
	if server > d {
		// A little over the server's wish, never under it.
		d = server + time.Duration(float64(base)*j())
	}
	return d
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// logCall records one attempt. path is the URL's path alone: the query
// (emails, phones, cursors) and the headers (credentials) stay out.
func logCall(ctx context.Context, log *slog.Logger, method, path string, resp *Response, err error, attempt int, wait, took time.Duration) {
	attrs := []slog.Attr{slog.String("method", method), slog.String("path", path)}
	if err != nil {
		attrs = append(attrs, slog.String("err", cause(err).Error()))
	} else {
		attrs = append(attrs, slog.Int("status", resp.Status))
	}
	attrs = append(attrs, slog.Duration("duration", took.Round(time.Millisecond)), slog.Int("attempt", attempt))
	if wait >= time.Millisecond {
		// A rate limit shows here first: calls that wait long before
		// they are sent.
		attrs = append(attrs, slog.Duration("wait", wait.Round(time.Millisecond)))
	}
	log.LogAttrs(ctx, slog.LevelDebug, "http call", attrs...)
}

// cause strips the *url.Error net/http wraps transport failures in, whose
// text repeats the whole URL with its query, which may hold an email.
func cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func encodeBody(r Request) ([]byte, string, error) {
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return nil, "", fmt.Errorf("encode request body: %w", err)
		}
		return b, "application/json", nil
	case r.Form != nil:
		return []byte(r.Form.Encode()), "application/x-www-form-urlencoded", nil
	}
	return nil, "", nil
}

// RetryAfter reads how long a server asked us to wait: Retry-After in
// seconds or as an HTTP date, or, when the GHL-style remaining count is
// zero, the rate-limit interval. Zero means no wish was expressed.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if ms, err := strconv.Atoi(h.Get("X-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	return 0
}

// TransportError is a request that got no HTTP response.
type TransportError struct {
	Method   string
	URL      string
	Attempts int
	Err      error
}

func (e *TransportError) Error() string {
	// Not e.Err itself: its URL has the query that URL leaves out.
	return fmt.Sprintf("%s %s: no response after %d attempt(s): %v", e.Method, e.URL, e.Attempts, cause(e.Err))
}

func (e *TransportError) Unwrap() error { return e.Err }

// redactURL drops the query, which may hold emails, from error text.
func redactURL(u url.URL) string {
	u.RawQuery = ""
	u.User = nil
	return u.String()
}
