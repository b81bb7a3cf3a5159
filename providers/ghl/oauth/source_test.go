package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers"
	"github.com/bellsync/bellsync/providers/ghl/emulator/oauthemu"
	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/secret"
)

const wantRevoked = "ghl: access for location loc-1 was revoked or has expired; run `bellsync auth ghl` to reconnect"

func TestSourceProactiveRefresh(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	first := e.connect(t)
	s := e.source(t)

	steps := []struct {
		advance     time.Duration
		wantNew     bool
		wantRefresh int
	}{
		{0, false, 0},
		{54 * time.Minute, false, 0}, // 6 minutes left: outside the 5 minute skew
		{2 * time.Minute, true, 1},   // 4 minutes left: refreshed before expiry
		{time.Minute, false, 1},      // the new token is fresh
	}
	prev := first.AccessToken
	for i, st := range steps {
		e.clock.Advance(st.advance)
		tok, err := s.Token(ctx)
		if err != nil {
			t.Fatalf("step %d: Token: %v", i, err)
		}
		if changed := tok.Reveal() != prev.Reveal(); changed != st.wantNew {
			t.Errorf("step %d: token changed = %v, want %v", i, changed, st.wantNew)
		}
		if got := e.emu.Stats().RefreshToken; got != st.wantRefresh {
			t.Errorf("step %d: %d refreshes, want %d", i, got, st.wantRefresh)
		}
		if _, _, err := e.emu.Validate(tok.Reveal()); err != nil {
			t.Errorf("step %d: emulator rejects the token: %v", i, err)
		}
		prev = tok
	}
}

// TestSourceShortLifetime uses tokens that live less than the refresh
// skew: the margin shrinks to half the lifetime instead of refreshing on
// every call.
func TestSourceShortLifetime(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 2*time.Minute)
	e.connect(t)
	s := e.source(t)
	steps := []struct {
		advance     time.Duration
		wantRefresh int
	}{
		{0, 0},
		{0, 0},
		{50 * time.Second, 0}, // 70s left, more than half the lifetime
		{20 * time.Second, 1}, // 50s left: refreshed
		{0, 1},
		{59 * time.Second, 1},
		{2 * time.Second, 2},
	}
	for i, st := range steps {
		e.clock.Advance(st.advance)
		tok, err := s.Token(ctx)
		if err != nil {
			t.Fatalf("step %d: Token: %v", i, err)
		}
		if got := e.emu.Stats().RefreshToken; got != st.wantRefresh {
			t.Errorf("step %d: %d refreshes, want %d", i, got, st.wantRefresh)
		}
		if _, _, err := e.emu.Validate(tok.Reveal()); err != nil {
			t.Errorf("step %d: emulator rejects the token: %v", i, err)
		}
	}
}

func TestSourceLongRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 10*time.Minute)
	e.cfg.Skew = time.Minute
	e.connect(t)
	s := e.source(t)

	// Ten hours in one-minute steps: sixty token lifetimes.
	for i := range 600 {
		tok, err := s.Token(ctx)
		if err != nil {
			t.Fatalf("minute %d: Token: %v", i, err)
		}
		if _, _, err := e.emu.Validate(tok.Reveal()); err != nil {
			t.Errorf("minute %d: Token handed out a token the server rejects", i)
			// The API client would now call Refresh; that must work.
			if _, err := s.Refresh(ctx, tok); err != nil {
				t.Fatalf("minute %d: Refresh: %v", i, err)
			}
		}
		e.clock.Advance(time.Minute)
	}
	// A refresh every 9 minutes (10 minute lifetime, 1 minute skew).
	if got := e.emu.Stats().RefreshToken; got < 60 || got > 70 {
		t.Errorf("%d refreshes in 10 hours, want about 66", got)
	}
	if st := e.emu.Stats(); st.Rejected != 0 {
		t.Errorf("server rejected %d calls", st.Rejected)
	}
}

func TestSourceConcurrentSingleRefresh(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.connect(t)
	s := e.source(t)
	stale, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)

	const n = 20
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			var tok secret.String
			if i%2 == 0 {
				tok, errs[i] = s.Token(ctx)
			} else {
				tok, errs[i] = s.Refresh(ctx, stale)
			}
			got[i] = tok.Reveal()
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := e.emu.Stats().RefreshToken; n != 1 {
		t.Errorf("%d refresh calls for 20 concurrent callers, want 1", n)
	}
	for i := range got {
		if got[i] != got[0] || got[i] == stale.Reveal() {
			t.Fatalf("caller %d got a different or stale token", i)
		}
	}
	// A late Refresh with the long-replaced token costs nothing.
	tok, err := s.Refresh(ctx, stale)
	if err != nil || tok.Reveal() != got[0] {
		t.Errorf("Refresh(replaced token) = %v; want the current token", err)
	}
	if n := e.emu.Stats().RefreshToken; n != 1 {
		t.Errorf("Refresh of an already replaced token refreshed again (%d calls)", n)
	}
}

func TestSourceRefreshOnStale(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.connect(t)
	s := e.source(t)
	old, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The server says the token is dead although it is not expired here.
	fresh, err := s.Refresh(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Reveal() == old.Reveal() || e.emu.Stats().RefreshToken != 1 {
		t.Errorf("Refresh(current) did not refresh")
	}
}

func TestSourceKilledRightAfterRefresh(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.connect(t)
	key := oauth.LocationKey(testLocation)
	before, err := oauth.Load(ctx, e.store, key)
	if err != nil {
		t.Fatal(err)
	}

	s := e.source(t)
	fresh, err := s.Refresh(ctx, before.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	// The process dies here. What is on disk must be the new pair.
	after, err := oauth.Load(ctx, e.store, key)
	if err != nil {
		t.Fatal(err)
	}
	if after.AccessToken.Reveal() != fresh.Reveal() || after.RefreshToken.Reveal() == before.RefreshToken.Reveal() {
		t.Fatalf("store does not hold the new pair when Refresh returns")
	}

	// The old refresh token is spent on the server.
	form := url.Values{"client_id": {testClientID}, "client_secret": {testSecret}, "grant_type": {"refresh_token"},
		"refresh_token": {before.RefreshToken.Reveal()}, "user_type": {"Location"}}
	res, err := e.srv.Client().PostForm(e.cfg.TokenURL, form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("old refresh token: status %d, want 401", res.StatusCode)
	}

	// A fresh process on the same store carries on.
	e.clock.Advance(2 * time.Hour)
	restarted := e.source(t)
	tok, err := restarted.Token(ctx)
	if err != nil {
		t.Fatalf("restarted Source: %v", err)
	}
	if _, _, err := e.emu.Validate(tok.Reveal()); err != nil {
		t.Errorf("restarted Source's token rejected: %v", err)
	}
}

func TestSourceRevoked(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.connect(t)
	s := e.source(t)
	if _, err := s.Token(ctx); err != nil {
		t.Fatal(err)
	}
	e.emu.Revoke(testLocation)
	e.clock.Advance(2 * time.Hour)

	for i := range 5 {
		_, err := s.Token(ctx)
		if err == nil || err.Error() != wantRevoked {
			t.Fatalf("call %d: error %q, want %q", i, err, wantRevoked)
		}
		if !errors.Is(err, oauth.ErrReauthorize) || !errors.Is(err, providers.ErrAuth) || providers.Retryable(err) {
			t.Errorf("call %d: error does not match ErrReauthorize and ErrAuth, or is retryable", i)
		}
	}
	if _, err := s.Refresh(ctx, secret.New("whatever")); !errors.Is(err, oauth.ErrReauthorize) {
		t.Errorf("Refresh after revocation: %v", err)
	}
	if n := e.emu.Stats().RefreshToken; n != 1 {
		t.Errorf("server saw %d refresh calls, want exactly 1", n)
	}

	// Reconnecting (in another process, say) revives the same Source.
	e.connect(t)
	tok, err := s.Token(ctx)
	if err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
	if _, _, err := e.emu.Validate(tok.Reveal()); err != nil {
		t.Errorf("after reconnect: token rejected: %v", err)
	}
}

func TestSourceNotConnected(t *testing.T) {
	e := newEnv(t, time.Hour)
	_, err := e.source(t).Token(context.Background())
	want := "ghl: no token stored for location loc-1; run `bellsync auth ghl` to connect"
	if err == nil || err.Error() != want || !errors.Is(err, oauth.ErrReauthorize) {
		t.Errorf("Token on an empty store: %v, want %q", err, want)
	}
}

func TestSourceWrongClientSecret(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.connect(t)
	e.cfg.ClientSecret = secret.New("wrong-secret-value")
	s := e.source(t)
	e.clock.Advance(2 * time.Hour)

	_, err := s.Token(ctx)
	if err == nil || !strings.Contains(err.Error(), `client_id "client-123"`) || !strings.Contains(err.Error(), "check client_secret") {
		t.Fatalf("error %v, want one naming the client_id", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(err.Error(), testSecret) {
		t.Errorf("error reveals a secret: %v", err)
	}
	if !errors.Is(err, providers.ErrAuth) || errors.Is(err, oauth.ErrReauthorize) || providers.Retryable(err) {
		t.Errorf("wrong secret should be a non-retryable auth error, not a reauthorization: %v", err)
	}
	// The grant itself is intact: the right secret still refreshes.
	e.cfg.ClientSecret = secret.New(testSecret)
	if _, err := e.source(t).Token(ctx); err != nil {
		t.Errorf("with the right secret: %v", err)
	}
}

func TestSourceTransientFailureKeepsGrant(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.connect(t)
	s := e.source(t)
	key := oauth.LocationKey(testLocation)
	before, _ := oauth.Load(ctx, e.store, key)
	e.clock.Advance(2 * time.Hour)

	for _, status := range []int{http.StatusBadGateway, http.StatusTooManyRequests} {
		e.emu.FailTokenCalls(1, status)
		_, err := s.Token(ctx)
		if !providers.Retryable(err) || errors.Is(err, oauth.ErrReauthorize) {
			t.Errorf("status %d: error %v, want a retryable one", status, err)
		}
		after, _ := oauth.Load(ctx, e.store, key)
		if after.RefreshToken.Reveal() != before.RefreshToken.Reveal() {
			t.Errorf("status %d: stored refresh token changed", status)
		}
	}
	if _, err := s.Token(ctx); err != nil {
		t.Errorf("after the outage: %v", err)
	}

	// The network itself failing is just as retryable.
	e.srv.Close()
	e.clock.Advance(2 * time.Hour)
	if _, err := s.Token(ctx); !providers.Retryable(err) {
		t.Errorf("server down: error %v, want a retryable one", err)
	}
}

func TestSourceSaveFailure(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.connect(t)
	s := e.source(t)
	e.clock.Advance(2 * time.Hour)

	e.store.mu.Lock()
	e.store.failSaves = 1
	e.store.mu.Unlock()
	if _, err := s.Token(ctx); err == nil || !strings.Contains(err.Error(), "save refreshed token") {
		t.Fatalf("Token with a failing store: %v, want a save error", err)
	}
	// The rotated pair was kept in memory and is saved before use, with no
	// second refresh (the old refresh token is already spent).
	tok, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := oauth.Load(ctx, e.store, oauth.LocationKey(testLocation))
	if stored.AccessToken.Reveal() != tok.Reveal() {
		t.Errorf("token handed out before it was saved")
	}
	if n := e.emu.Stats().RefreshToken; n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

func TestSourceCallerCancelDoesNotLoseRotation(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.connect(t)
	s := e.source(t)
	e.clock.Advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Token with a cancelled ctx: %v", err)
	}
	// The flight started anyway runs to completion; the next caller gets
	// its result or starts one, but never spends a refresh token twice.
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.emu.Validate(tok.Reveal()); err != nil {
		t.Errorf("token rejected: %v", err)
	}
	if st := e.emu.Stats(); st.Rejected != 0 || st.RefreshToken > 1 {
		t.Errorf("stats %+v, want at most one refresh and no rejection", st)
	}
}

func TestLocationSource(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.cfg.UserType = oauth.UserCompany
	agencyTok := e.connect(t)
	if agencyTok.UserType != oauth.UserCompany || agencyTok.CompanyID != testCompany {
		t.Fatalf("agency token %+v", agencyTok)
	}
	agency := e.source(t)
	s, err := oauth.NewLocationSource(agency, testLocation)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if loc, _, err := e.emu.Validate(tok.Reveal()); err != nil || loc != testLocation {
		t.Errorf("minted token: Validate = %q, %v", loc, err)
	}
	if _, _, err := e.emu.Validate(agencyTok.AccessToken.Reveal()); !errors.Is(err, oauthemu.ErrNotLocationToken) {
		t.Errorf("agency token on a location route: %v, want ErrNotLocationToken", err)
	}

	// Past both expiries: the agency token is refreshed, then a new
	// location token minted.
	e.clock.Advance(2 * time.Hour)
	tok2, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok2.Reveal() == tok.Reveal() {
		t.Errorf("expired location token not re-minted")
	}
	st := e.emu.Stats()
	if diff := cmp.Diff([2]int{2, 1}, [2]int{st.LocationToken, st.RefreshToken}); diff != "" {
		t.Errorf("[mints, refreshes] (-want +got):\n%s", diff)
	}
	stored, err := oauth.Load(ctx, e.store, oauth.LocationKey(testLocation))
	if err != nil || stored.AccessToken.Reveal() != tok2.Reveal() || !stored.RefreshToken.IsZero() {
		t.Errorf("minted token not stored as an access-only token (err %v)", err)
	}

	// Direct use of LocationToken with an unapproved location.
	at, _ := agency.Token(ctx)
	_, err = oauth.LocationToken(ctx, e.cfg, oauth.Token{AccessToken: at, CompanyID: testCompany}, "loc-unknown")
	if !errors.Is(err, providers.ErrAuth) {
		t.Errorf("LocationToken for an unapproved location: %v, want ErrAuth", err)
	}
}

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	e.connect(t)
	s := e.source(t)
	var errs []string
	record := func(_ secret.String, err error) {
		if err != nil {
			errs = append(errs, fmt.Sprintf("%v | %+v | %#v", err, err, err))
		}
	}
	record(s.Token(ctx))
	e.clock.Advance(2 * time.Hour)
	record(s.Token(ctx))
	e.emu.FailTokenCalls(1, 500)
	e.clock.Advance(2 * time.Hour)
	record(s.Token(ctx))
	record(s.Token(ctx))

	bad := e.cfg
	bad.ClientSecret = secret.New("another-secret-xyz")
	bs, _ := oauth.NewSource(bad, e.store)
	e.clock.Advance(2 * time.Hour)
	record(bs.Token(ctx))

	e.emu.Revoke(testLocation)
	e.clock.Advance(2 * time.Hour)
	record(s.Token(ctx))
	tok, _ := s.Current()

	if len(errs) < 3 {
		t.Fatalf("only %d errors collected; the scenario did not run as planned", len(errs))
	}
	secrets := append(e.store.secrets(t), testSecret, "another-secret-xyz")
	checkNoLeak(t, secrets, map[string]string{
		"logs":   e.logs.String(),
		"errors": strings.Join(errs, "\n"),
		"token":  fmt.Sprintf("%v %+v %#v", tok, tok, tok),
	})
	if !strings.Contains(e.logs.String(), "token renewed") {
		t.Errorf("logs do not show the renewals; the scan may be vacuous:\n%s", e.logs.String())
	}
}
