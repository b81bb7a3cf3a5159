package httpx

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"
)

// Limiter allows at most N requests in any window of length Per (a sliding
// window, the way GHL counts "100 requests per 10 seconds"), and can be
// paused when the server says the budget is spent. It is safe for
// concurrent use.
type Limiter struct {
	n   int
	per time.Duration
	now func() time.Time

	// mu guards sent and pausedUntil.
	mu          sync.Mutex
	sent        []time.Time // ring of the last n send times, oldest first
	pausedUntil time.Time
}

// NewLimiter returns a limiter of n requests per window. n <= 0 means no
// limit. now may be nil for the real clock.
func NewLimiter(n int, per time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{n: n, per: per, now: now}
}

// Wait blocks until a request may be sent, then counts it.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		d := l.reserve()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// reserve counts a send and returns 0, or returns how long to wait.
func (l *Limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Before(l.pausedUntil) {
		return l.pausedUntil.Sub(now)
	}
	if l.n <= 0 {
		return 0
	}
	for len(l.sent) > 0 && now.Sub(l.sent[0]) >= l.per {
		l.sent = l.sent[1:]
	}
	if len(l.sent) >= l.n {
		return l.sent[0].Add(l.per).Sub(now)
	}
	l.sent = append(l.sent, now)
	return 0
}

// PauseFor stops all sends for d from now (after a 429, or when the server
// reports no requests remaining).
func (l *Limiter) PauseFor(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

// CheckBaseURL enforces that a provider base URL is https, or http only to
// a loopback address (the bundled emulators). Credentials must never cross
// a network in clear text.
func CheckBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host; write it as https://host[/path]", raw)
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("%q uses http to a host that is not loopback; use https", raw)
	}
	return nil, fmt.Errorf("%q: scheme must be https (or http to a loopback address)", raw)
}

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
