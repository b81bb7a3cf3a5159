package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/secret"
)

// flightTimeout bounds one load-refresh-save cycle. The cycle runs on a
// context detached from the caller's cancellation: once a refresh token is
// spent, the answer must still be read and saved even if the caller that
// triggered it has given up, or the installation is locked out.
const flightTimeout = 60 * time.Second

// Load reads the token stored under key. Nothing stored is an error
// matching ErrNoToken.
func Load(ctx context.Context, store providers.TokenStore, key string) (Token, error) {
	data, err := store.LoadToken(ctx, key)
	if isNotFound(data, err) {
		return Token{}, fmt.Errorf("oauth: load %s: %w", key, ErrNoToken)
	}
	if err != nil {
		return Token{}, fmt.Errorf("oauth: load %s: %w", key, err)
	}
	return Unmarshal(data)
}

// Save writes t under key; the store must be durable when it returns.
func Save(ctx context.Context, store providers.TokenStore, key string, t Token) error {
	data, err := t.Marshal()
	if err != nil {
		return fmt.Errorf("oauth: save %s: %w", key, err)
	}
	if err := store.SaveToken(ctx, key, data); err != nil {
		return fmt.Errorf("oauth: save %s: %w", key, err)
	}
	return nil
}

// isNotFound accepts the ways a TokenStore may say "nothing here": no data
// and no error, ErrNoToken, or providers.ErrNotFound.
func isNotFound(data []byte, err error) bool {
	if err == nil {
		return len(data) == 0
	}
	return errors.Is(err, ErrNoToken) || errors.Is(err, providers.ErrNotFound)
}

// Source hands out access tokens for one location (or agency) and keeps
// them fresh. It implements the GHL client's token interface:
//
//	Token(ctx) (secret.String, error)
//	Refresh(ctx, stale secret.String) (secret.String, error)
//
// A Source is safe for concurrent use. At most one load, refresh or mint
// runs at a time; callers that arrive meanwhile wait for it (or for their
// own ctx) and share its outcome. A refreshed pair is saved to the store
// before anyone receives the new access token. Every refresh first
// re-reads the store, so a token another process refreshed or a new
// `bellsync auth ghl` is picked up instead of spending a dead refresh
// token.
//
// When the grant turns out to be dead, the Source returns a [*ReauthError]
// from then on without calling the network, until the store holds a
// different refresh token.
type Source struct {
	cfg     Config
	store   providers.TokenStore
	key     string
	subject string
	log     *slog.Logger
	// agency, when set, mints this Source's tokens (location mode).
	agency     *Source
	locationID string

	// mu guards st and flight.
	mu sync.Mutex
	st state
	// flight is the running load/refresh, if any.
	flight *flight
}

// state is what a flight may change. Only the single running flight writes
// it, so a flight can work on a copy and store it back when done.
type state struct {
	// tok is the current token; loaded says it came from the store or a
	// renewal at least once.
	tok    Token
	loaded bool
	// unsaved means tok was refreshed but saving it failed: the store's
	// refresh token is already spent, so tok must be saved before use.
	unsaved bool
	// dead is the terminal error, and deadRefresh the refresh token that
	// got it; a different stored refresh token revives the Source.
	dead        *ReauthError
	deadRefresh secret.String
}

type flight struct {
	done chan struct{}
	// err is written before done is closed.
	err error
}

// NewSource returns a Source for the tokens cfg describes, stored under
// cfg.StoreKey(). It makes no calls; the token is loaded on first use.
func NewSource(cfg Config, store providers.TokenStore) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("oauth: new source: no token store")
	}
	subject := "location " + cfg.LocationID
	id := cfg.LocationID
	if cfg.userType() == UserCompany {
		subject, id = "company "+cfg.CompanyID, cfg.CompanyID
	}
	if id == "" {
		return nil, fmt.Errorf("oauth: new source: %s id is empty", cfg.userType())
	}
	return &Source{
		cfg: cfg, store: store, key: cfg.StoreKey(), subject: subject,
		log: cfg.logger().With("location", cfg.LocationID, "company", cfg.CompanyID),
	}, nil
}

// NewLocationSource returns a Source for locationID whose tokens are minted
// from agency's (Company) token through [LocationToken] rather than
// refreshed. Minted tokens are stored under LocationKey(locationID) in the
// agency's store, so a restart reuses one until it expires.
func NewLocationSource(agency *Source, locationID string) (*Source, error) {
	if agency == nil || agency.agency != nil || agency.cfg.userType() != UserCompany {
		return nil, errors.New("oauth: new location source: need a Company token source")
	}
	if locationID == "" {
		return nil, errors.New("oauth: new location source: location id is empty")
	}
	cfg := agency.cfg
	cfg.UserType, cfg.LocationID = UserLocation, locationID
	return &Source{
		cfg: cfg, store: agency.store, key: LocationKey(locationID),
		subject: "location " + locationID, agency: agency, locationID: locationID,
		log: cfg.logger().With("location", locationID, "company", cfg.CompanyID),
	}, nil
}

// Token returns a usable access token, loading it on first use and
// refreshing it when it expires within the configured skew.
func (s *Source) Token(ctx context.Context) (secret.String, error) {
	return s.get(ctx, secret.String{})
}

// Refresh returns a new access token after the API rejected stale as
// expired. If stale was already replaced (another caller refreshed first),
// it returns the current token without refreshing again. A zero stale
// behaves like Token.
func (s *Source) Refresh(ctx context.Context, stale secret.String) (secret.String, error) {
	return s.get(ctx, stale)
}

// Current returns the token in memory without any I/O, and whether there
// is one. It is for status displays.
func (s *Source) Current() (Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.tok, s.st.loaded
}

func (s *Source) get(ctx context.Context, stale secret.String) (secret.String, error) {
	for {
		s.mu.Lock()
		f, own := s.flight, false
		if f == nil {
			st := s.st
			if st.dead == nil && st.loaded && !st.unsaved && !s.needsNew(st.tok, stale) {
				s.mu.Unlock()
				return st.tok.AccessToken, nil
			}
			f, own = &flight{done: make(chan struct{})}, true
			s.flight = f
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
			go func() {
				defer cancel()
				s.run(fctx, f, stale)
			}()
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
		}
		// select picks at random when both are ready; a caller that gave
		// up is told so every time, even if the flight beat it.
		if err := ctx.Err(); err != nil {
			return secret.String{}, err
		}
		if f.err != nil {
			return secret.String{}, f.err
		}
		if own {
			// Our own flight did all it could; do not loop even if the
			// server handed back the same token.
			s.mu.Lock()
			tok := s.st.tok.AccessToken
			s.mu.Unlock()
			return tok, nil
		}
		// Someone else's flight may not have been what we needed (a load
		// rather than a refresh of our stale token): look again.
	}
}

// needsNew reports whether t cannot be handed out: it is the token a
// caller reported stale, or it expires within the skew.
func (s *Source) needsNew(t Token, stale secret.String) bool {
	if !stale.IsZero() && stale.Reveal() == t.AccessToken.Reveal() {
		return true
	}
	return !t.Valid(s.cfg.now(), t.skewFor(s.cfg.skew()))
}

// run is one flight. It works on a copy of the state and stores it back,
// then wakes the waiters.
func (s *Source) run(ctx context.Context, f *flight, stale secret.String) {
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()

	err := s.cycle(ctx, &st, stale)

	s.mu.Lock()
	s.st = st
	s.flight = nil
	f.err = err
	close(f.done)
	s.mu.Unlock()
}

// cycle saves a pending token, re-reads the store, and renews the token if
// it is still needed.
func (s *Source) cycle(ctx context.Context, st *state, stale secret.String) error {
	if st.unsaved {
		// The refresh token in the store is spent; until this one is
		// saved, a crash would lose the grant. Do not hand it out.
		if err := Save(ctx, s.store, s.key, st.tok); err != nil {
			return &providers.Error{Category: providers.ErrTransient, Provider: "ghl", Op: "save refreshed token", Err: err}
		}
		st.unsaved = false
		s.log.Info("saved refreshed token after an earlier failure")
	} else {
		stored, err := Load(ctx, s.store, s.key)
		switch {
		case err == nil:
			if !st.loaded || !sameToken(stored, st.tok) {
				if st.loaded {
					s.log.Info("token changed in store; using it")
				}
				st.tok, st.loaded = stored, true
			}
		case errors.Is(err, ErrNoToken) && s.agency == nil && !st.loaded:
			return &ReauthError{Subject: s.subject, NotConnected: true, Cause: err}
		case errors.Is(err, ErrNoToken):
			// Location mode mints its first token; a token in memory
			// outlives its row being removed.
		case !st.loaded && errors.Is(err, errBadTokenFile):
			return &providers.Error{Category: providers.ErrTerminal, Provider: "ghl", Op: "load token", Message: err.Error(), Err: err}
		case !st.loaded:
			return &providers.Error{Category: providers.ErrTransient, Provider: "ghl", Op: "load token", Err: err}
		default:
			s.log.Warn("cannot re-read token store; using the token in memory", "err", err)
		}
	}

	if st.dead != nil {
		if s.agency != nil || st.tok.RefreshToken.Reveal() == st.deadRefresh.Reveal() {
			return st.dead
		}
		s.log.Info("new grant found in store after reauthorization")
		st.dead, st.deadRefresh = nil, secret.String{}
	}
	if st.loaded && !s.needsNew(st.tok, stale) {
		return nil
	}

	next, err := s.renew(ctx, st.tok)
	if err != nil {
		var re *ReauthError
		switch {
		case errors.As(err, &re):
			// The agency Source is dead; it keeps that state itself.
		case kindOf(err) == failGrant:
			st.dead = &ReauthError{Subject: s.subject, Cause: err}
			st.deadRefresh = st.tok.RefreshToken
			s.log.Error("grant is no longer valid; reauthorization needed", "err", err)
			return st.dead
		case kindOf(err) == failClient:
			s.log.Error("token endpoint rejected the client credentials", "client_id", s.cfg.ClientID, "err", err)
		default:
			s.log.Warn("token renewal failed; will retry", "err", err)
		}
		return err
	}
	st.tok, st.loaded = next, true
	if err := Save(ctx, s.store, s.key, next); err != nil {
		st.unsaved = true
		s.log.Error("cannot save refreshed token", "err", err)
		return &providers.Error{Category: providers.ErrTransient, Provider: "ghl", Op: "save refreshed token", Err: err}
	}
	s.log.Info("token renewed", "expires", next.Expiry)
	return nil
}

// renew gets a replacement for cur: a refresh grant, or in location mode a
// new mint from the agency token.
func (s *Source) renew(ctx context.Context, cur Token) (Token, error) {
	if s.agency == nil {
		if cur.RefreshToken.IsZero() {
			return Token{}, &tokenError{kind: failGrant, err: &providers.Error{
				Category: providers.ErrAuth, Provider: "ghl", Op: "refresh token", Message: "stored token has no refresh token"}}
		}
		return refresh(ctx, s.cfg, cur)
	}
	agency, err := s.agency.Token(ctx)
	if err != nil {
		return Token{}, err
	}
	at := Token{AccessToken: agency, CompanyID: s.cfg.CompanyID}
	if t, ok := s.agency.Current(); ok {
		at.CompanyID = t.CompanyID
	}
	t, err := LocationToken(ctx, s.cfg, at, s.locationID)
	var te *tokenError
	if errors.As(err, &te) && te.err.Status == 401 {
		// The agency token expired early or was replaced elsewhere: one
		// refresh of it, then one more try.
		if at.AccessToken, err = s.agency.Refresh(ctx, agency); err != nil {
			return Token{}, err
		}
		t, err = LocationToken(ctx, s.cfg, at, s.locationID)
	}
	return t, err
}

func sameToken(a, b Token) bool {
	return a.AccessToken.Reveal() == b.AccessToken.Reveal() && a.RefreshToken.Reveal() == b.RefreshToken.Reveal()
}
