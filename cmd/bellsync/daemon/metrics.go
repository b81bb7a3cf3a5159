package daemon

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bellsync/bellsync/engine/schedule"
)

// CallCounts reports a provider's API traffic since it was built: HTTP
// requests sent (retries included) and 429 answers received.
type CallCounts func() (calls, rateLimited int64)

// Metrics counts what the daemon did, for GET /metrics. The zero value
// is not usable; make one with [NewMetrics]. It is safe for concurrent
// use.
type Metrics struct {
	now     func() time.Time
	started time.Time

	// mu guards everything below.
	mu             sync.Mutex
	passes         map[[2]string]int64 // kind, outcome
	recordsChanged int64
	errors         int64
	webhooks       map[[2]string]int64 // source, outcome
	lastSuccess    time.Time
	applied        int64   // webhook events reconciled
	appliedSeconds float64 // and their summed receipt-to-applied time
	providers      map[string]CallCounts
	queue          func() int
}

// NewMetrics starts counting at now().
func NewMetrics(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	return &Metrics{now: now, started: now(), passes: map[[2]string]int64{},
		webhooks: map[[2]string]int64{}, providers: map[string]CallCounts{}}
}

// AddProvider makes /metrics report a provider's API calls and 429s.
func (m *Metrics) AddProvider(name string, f CallCounts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.providers[name] = f
}

// SetQueue makes /metrics report the hint queue's length.
func (m *Metrics) SetQueue(f func() int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queue = f
}

// Webhook counts one delivery on a route ("ghl", "paperbell") by outcome
// ("accepted", "replayed", ...).
func (m *Metrics) Webhook(source, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.webhooks[[2]string{source, outcome}]++
}

// notCounted are Result.Counts keys that are not changes.
var notCounted = map[string]bool{"unchanged": true, "skip": true, "skipped": true, "error": true, "noop": true, "conflict": true}

// PassDone implements [schedule.Hooks].
func (m *Metrics) PassDone(_ context.Context, kind schedule.PassKind, res schedule.Result, err error) {
	outcome := "ok"
	if err != nil || len(res.Errors) > 0 {
		outcome = "failed"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.passes[[2]string{string(kind), outcome}]++
	m.countLocked(res, err)
	if err == nil {
		m.lastSuccess = m.now()
	}
}

// hintDone counts one hint reconcile; latency is from receipt to applied
// for each event it settled (none when it failed).
func (m *Metrics) hintDone(res schedule.Result, err error, latencies []time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.countLocked(res, err)
	for _, l := range latencies {
		m.applied++
		m.appliedSeconds += l.Seconds()
	}
}

// countLocked adds a result's changes and errors. m.mu must be held.
func (m *Metrics) countLocked(res schedule.Result, err error) {
	for k, n := range res.Counts {
		if !notCounted[k] {
			m.recordsChanged += int64(n)
		}
	}
	m.errors += int64(len(res.Errors))
	if err != nil && len(res.Errors) == 0 {
		m.errors++
	}
}

// WriteTo writes every metric in the Prometheus text exposition format
// (version 0.0.4), in a stable order.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	passes, webhooks := maps.Clone(m.passes), maps.Clone(m.webhooks)
	changed, errs := m.recordsChanged, m.errors
	applied, appliedSec := m.applied, m.appliedSeconds
	since := m.lastSuccess
	if since.IsZero() {
		since = m.started
	}
	provs := maps.Clone(m.providers)
	queue := m.queue
	m.mu.Unlock()
	lag := m.now().Sub(since).Seconds()

	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("bellsync_passes_total", "counter", "Reconcile passes by kind (incremental, full) and outcome (ok, failed).")
	for _, k := range sortedKeys(passes) {
		fmt.Fprintf(&b, "bellsync_passes_total{kind=%q,outcome=%q} %d\n", k[0], k[1], passes[k])
	}
	family("bellsync_records_changed_total", "counter", "Records created, updated, linked, suspended or deleted by passes and webhooks.")
	fmt.Fprintf(&b, "bellsync_records_changed_total %d\n", changed)
	family("bellsync_errors_total", "counter", "Per-record and whole-pass errors.")
	fmt.Fprintf(&b, "bellsync_errors_total %d\n", errs)
	names := slices.Sorted(maps.Keys(provs))
	calls := make(map[string][2]int64, len(names))
	for _, n := range names {
		c, l := provs[n]()
		calls[n] = [2]int64{c, l}
	}
	family("bellsync_api_calls_total", "counter", "HTTP requests sent to each provider's API, retries included.")
	for _, n := range names {
		fmt.Fprintf(&b, "bellsync_api_calls_total{provider=%q} %d\n", n, calls[n][0])
	}
	family("bellsync_api_429_total", "counter", "429 Too Many Requests answers from each provider's API.")
	for _, n := range names {
		fmt.Fprintf(&b, "bellsync_api_429_total{provider=%q} %d\n", n, calls[n][1])
	}
	family("bellsync_webhooks_total", "counter", "Webhook deliveries by source (ghl, paperbell) and outcome.")
	for _, k := range sortedKeys(webhooks) {
		fmt.Fprintf(&b, "bellsync_webhooks_total{source=%q,outcome=%q} %d\n", k[0], k[1], webhooks[k])
	}
	family("bellsync_webhook_apply_seconds", "summary", "Time from a webhook's receipt to its record being reconciled.")
	fmt.Fprintf(&b, "bellsync_webhook_apply_seconds_sum %g\nbellsync_webhook_apply_seconds_count %d\n", appliedSec, applied)
	family("bellsync_lag_seconds", "gauge", "Seconds since the last successful pass (since start if none yet).")
	fmt.Fprintf(&b, "bellsync_lag_seconds %g\n", lag)
	if queue != nil {
		family("bellsync_queue_length", "gauge", "Webhook hints queued, running or waiting for a retry.")
		fmt.Fprintf(&b, "bellsync_queue_length %d\n", queue())
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func sortedKeys(m map[[2]string]int64) [][2]string {
	return slices.SortedFunc(maps.Keys(m), func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
}
