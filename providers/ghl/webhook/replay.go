package webhook

import (
	"context"
	"sync"
	"time"
)

// DefaultMemoryStoreSize bounds a [MemoryStore] created with size 0.
// At GHL's documented rate limits a location cannot deliver anywhere
// near this many events in a five-minute window.
const DefaultMemoryStoreSize = 100_000

// MemoryStore is an in-process [ReplayStore]. It forgets an id ttl after
// it was recorded, and when full it forgets the oldest id first, so a
// flood of events can shorten its memory but never grow it without
// bound. It is safe for concurrent use.
type MemoryStore struct {
	ttl  time.Duration
	size int

	// mu guards seen and order.
	mu sync.Mutex
	// seen maps each remembered id to when it was recorded.
	seen map[string]time.Time
	// order lists remembered ids oldest first, for expiry and eviction.
	order []seenID
}

type seenID struct {
	id string
	at time.Time
}

var _ ReplayStore = (*MemoryStore)(nil)

// NewMemoryStore returns a store that remembers ids for ttl and holds at
// most size of them. ttl 0 means DefaultMaxAge plus FutureSkew, the
// window in which a Verifier with the default MaxAge still accepts a
// delivery; size 0 means DefaultMemoryStoreSize.
func NewMemoryStore(ttl time.Duration, size int) *MemoryStore {
	if ttl <= 0 {
		ttl = DefaultMaxAge + FutureSkew
	}
	if size <= 0 {
		size = DefaultMemoryStoreSize
	}
	return &MemoryStore{ttl: ttl, size: size, seen: make(map[string]time.Time)}
}

// SeenBefore implements [ReplayStore]. The store has no clock of its
// own: at, the verifier's "now", also drives expiry.
func (s *MemoryStore) SeenBefore(ctx context.Context, webhookID string, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(at)
	if _, ok := s.seen[webhookID]; ok {
		return true, nil
	}
	for len(s.order) >= s.size {
		s.dropOldestLocked()
	}
	s.seen[webhookID] = at
	s.order = append(s.order, seenID{id: webhookID, at: at})
	return false, nil
}

// Len reports how many ids the store currently remembers.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// expireLocked forgets ids recorded ttl or more before now. Ids are
// appended in call order, so if the clock stepped back an older entry
// may sit behind a newer one and live a little longer; that only errs
// towards remembering. s.mu must be held.
func (s *MemoryStore) expireLocked(now time.Time) {
	for len(s.order) > 0 && now.Sub(s.order[0].at) >= s.ttl {
		s.dropOldestLocked()
	}
}

// dropOldestLocked forgets the first id in order. s.mu must be held.
func (s *MemoryStore) dropOldestLocked() {
	delete(s.seen, s.order[0].id)
	s.order[0] = seenID{}
	s.order = s.order[1:]
}
