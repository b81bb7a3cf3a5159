package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/secret"
)

func TestAuthorizeFlow(t *testing.T) {
	e := newEnv(t, time.Hour)
	tok := e.connect(t)

	got := struct {
		Location, Company, UserType string
		Scopes                      []string
		Expiry                      time.Time
		HasRefresh                  bool
	}{tok.LocationID, tok.CompanyID, tok.UserType, tok.Scopes, tok.Expiry, !tok.RefreshToken.IsZero()}
	want := got
	want.Location, want.Company, want.UserType = testLocation, testCompany, oauth.UserLocation
	want.Scopes, want.Expiry, want.HasRefresh = testScopes, e.clock.Now().Add(time.Hour), true
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
	stored, err := oauth.Load(context.Background(), e.store, oauth.LocationKey(testLocation))
	if err != nil {
		t.Fatal(err)
	}
	if stored.AccessToken.Reveal() != tok.AccessToken.Reveal() {
		t.Errorf("stored access token differs from the returned one")
	}
	loc, scopes, err := e.emu.Validate(tok.AccessToken.Reveal())
	if err != nil || loc != testLocation || !cmp.Equal(scopes, testScopes) {
		t.Errorf("emulator Validate = %q, %v, %v; want %q, %v, nil", loc, scopes, err, testLocation, testScopes)
	}
	if st := e.emu.Stats(); st.Authorize != 1 || st.AuthorizationCode != 1 {
		t.Errorf("stats = %+v, want one consent and one code exchange", st)
	}
}

func TestAuthorizeCallbackFailures(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(q url.Values)
		wantErr string
		wantIs  error
	}{
		{
			name: "access denied",
			tamper: func(q url.Values) {
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "user said no")
			},
			wantErr: "authorization was not granted: access_denied: user said no",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, time.Hour)
			redirect, listen := listener(t)
			e.cfg.RedirectURI = redirect
			open, pages := browser(func(r *http.Request) {
				if r.URL.Host != e.srv.Listener.Addr().String() {
					q := r.URL.Query()
					tc.tamper(q)
					r.URL.RawQuery = q.Encode()
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := oauth.Authorize(ctx, e.cfg, e.store, oauth.AuthorizeOptions{OpenBrowser: open, Listen: listen})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Authorize error = %v, want one containing %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.wantIs)
			}
			if p := <-pages; p.status != http.StatusBadRequest {
				t.Errorf("browser saw status %d, want 400", p.status)
			}
			if st := e.emu.Stats(); st.AuthorizationCode != 0 {
				t.Errorf("code exchanged %d times, want 0", st.AuthorizationCode)
			}
			if _, err := oauth.Load(ctx, e.store, oauth.LocationKey(testLocation)); !errors.Is(err, oauth.ErrNoToken) {
				t.Errorf("a token was stored after a failed flow (Load error %v)", err)
			}
		})
	}
}

// TestAuthorizeIgnoresForgedCallbacks: a callback with a wrong or missing
// state (an old link, or any web page aiming the browser at the loopback
// port) is answered 400 and ignored, and the genuine callback that follows
// still connects.
func TestAuthorizeIgnoresForgedCallbacks(t *testing.T) {
	for _, forge := range []func(q url.Values){
		func(q url.Values) { q.Set("state", "forged") },
		func(q url.Values) { q.Del("state") },
		func(q url.Values) { q.Set("state", q.Get("state")+"x"); q.Set("code", "attacker-code") },
	} {
		e := newEnv(t, time.Hour)
		redirect, listen := listener(t)
		e.cfg.RedirectURI = redirect
		genuine := make(chan string, 1)
		open, pages := browser(func(r *http.Request) {
			if r.URL.Host != e.srv.Listener.Addr().String() {
				genuine <- r.URL.String()
				q := r.URL.Query()
				forge(q)
				r.URL.RawQuery = q.Encode()
			}
		})
		var out syncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		type result struct {
			tok oauth.Token
			err error
		}
		done := make(chan result, 1)
		go func() {
			tok, err := oauth.Authorize(ctx, e.cfg, e.store, oauth.AuthorizeOptions{OpenBrowser: open, Out: &out, Listen: listen})
			done <- result{tok, err}
		}()
		if p := <-pages; p.status != http.StatusBadRequest || !strings.Contains(p.body, "state mismatch") {
			t.Errorf("forged callback: browser saw %d %q, want 400 naming the state mismatch", p.status, p.body)
		}
		res, err := http.Get(<-genuine)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		r := <-done
		cancel()
		if r.err != nil || r.tok.LocationID != testLocation {
			t.Fatalf("Authorize after a forged callback = %+v, %v; want the genuine sign-in to connect", r.tok, r.err)
		}
		if res.StatusCode != http.StatusOK {
			t.Errorf("genuine callback status %d", res.StatusCode)
		}
		if !strings.Contains(out.String(), "Ignored a callback whose state did not match") {
			t.Errorf("terminal output does not mention the ignored callback:\n%s", out.String())
		}
		if st := e.emu.Stats(); st.AuthorizationCode != 1 {
			t.Errorf("code exchanged %d times, want 1 (only the genuine one)", st.AuthorizationCode)
		}
	}
}

// TestAuthorizeOnlyForgedCallbacks: when nothing but forged callbacks came
// before the deadline, the error says so, and nothing is stored.
func TestAuthorizeOnlyForgedCallbacks(t *testing.T) {
	e := newEnv(t, time.Hour)
	redirect, listen := listener(t)
	e.cfg.RedirectURI = redirect
	open, pages := browser(func(r *http.Request) {
		if r.URL.Host != e.srv.Listener.Addr().String() {
			q := r.URL.Query()
			q.Set("state", "forged")
			r.URL.RawQuery = q.Encode()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		<-pages
		cancel()
	}()
	_, err := oauth.Authorize(ctx, e.cfg, e.store, oauth.AuthorizeOptions{OpenBrowser: open, Listen: listen})
	if !errors.Is(err, oauth.ErrStateMismatch) || !errors.Is(err, context.Canceled) ||
		!strings.Contains(err.Error(), "ignored 1 callback(s) with a wrong state") {
		t.Fatalf("Authorize error = %v, want a cancelled wait that names the ignored callback", err)
	}
	if st := e.emu.Stats(); st.AuthorizationCode != 0 {
		t.Errorf("code exchanged %d times, want 0", st.AuthorizationCode)
	}
	if _, err := oauth.Load(context.Background(), e.store, oauth.LocationKey(testLocation)); !errors.Is(err, oauth.ErrNoToken) {
		t.Errorf("a token was stored (Load error %v)", err)
	}
}

func TestAuthorizeWrongLocation(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.cfg.LocationID = "some-other-location"
	redirect, listen := listener(t)
	e.cfg.RedirectURI = redirect
	open, pages := browser(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := oauth.Authorize(ctx, e.cfg, e.store, oauth.AuthorizeOptions{OpenBrowser: open, Listen: listen})
	if err == nil || !strings.Contains(err.Error(), "approved location loc-1, but the config names some-other-location") {
		t.Fatalf("Authorize error = %v, want a location mismatch", err)
	}
	<-pages
}

func TestAuthorizePortTaken(t *testing.T) {
	e := newEnv(t, time.Hour)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e.cfg.RedirectURI = "http://" + ln.Addr().String() + "/callback"
	opened := false
	_, err = oauth.Authorize(context.Background(), e.cfg, e.store, oauth.AuthorizeOptions{
		OpenBrowser: func(string) error { opened = true; return nil },
	})
	if err == nil || !strings.Contains(err.Error(), "cannot listen on "+ln.Addr().String()) {
		t.Fatalf("Authorize error = %v, want a clear listen failure", err)
	}
	if opened {
		t.Errorf("browser opened although the callback could not be received")
	}
}

func TestAuthorizeTimesOut(t *testing.T) {
	e := newEnv(t, time.Hour)
	redirect, listen := listener(t)
	e.cfg.RedirectURI = redirect
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	_, err := oauth.Authorize(ctx, e.cfg, e.store, oauth.AuthorizeOptions{
		Out: &out, Listen: listen,
		// The user never approves; give up as a deadline would.
		OpenBrowser: func(string) error { cancel(); return errors.New("no browser") },
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Authorize error = %v, want context.Canceled", err)
	}
	if !strings.Contains(out.String(), e.srv.URL+"/v2/oauth/chooselocation?") || !strings.Contains(out.String(), "open the URL above by hand") {
		t.Errorf("output %q lacks the URL or the manual-open hint", out.String())
	}
}

func TestCheckRedirectURI(t *testing.T) {
	tests := []struct {
		uri     string
		wantErr string
	}{
		{"http://127.0.0.1:8765/callback", ""},
		{"http://localhost:8765/cb", ""},
		{"http://[::1]:8765/", ""},
		{"https://127.0.0.1:8765/callback", "must use http"},
		{"http://example.com:8765/callback", "not a loopback address"},
		{"http://10.0.0.1:8765/callback", "not a loopback address"},
		{"http://127.0.0.1/callback", "explicit port"},
		{"http://127.0.0.1:0/callback", "explicit port"},
		{"myapp://callback", "must use http"},
		{"http://user@127.0.0.1:8765/", "user info"},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			_, err := oauth.CheckRedirectURI(tc.uri)
			var got string
			if err != nil {
				got = err.Error()
			}
			if (tc.wantErr == "") != (err == nil) || !strings.Contains(got, tc.wantErr) {
				t.Errorf("CheckRedirectURI(%q) = %v, want error containing %q", tc.uri, err, tc.wantErr)
			}
		})
	}
	// Authorize refuses before listening or opening anything.
	cfg := oauth.Config{ClientID: "c", ClientSecret: secret.New("s"), RedirectURI: "https://example.com/cb",
		AuthURL: "http://127.0.0.1:1/auth", TokenURL: "http://127.0.0.1:1/oauth/token"}
	_, err := oauth.Authorize(context.Background(), cfg, newMemStore(), oauth.AuthorizeOptions{
		OpenBrowser: func(string) error { t.Error("browser opened"); return nil },
		Listen:      func(string, string) (net.Listener, error) { t.Error("listened"); return nil, errors.New("no") },
	})
	if err == nil || !strings.Contains(err.Error(), "redirect_uri") {
		t.Errorf("Authorize with a remote redirect URI: error = %v", err)
	}
}

func TestAuthorizeURL(t *testing.T) {
	cfg := oauth.Config{ClientID: "abc", RedirectURI: "http://127.0.0.1:8765/callback",
		Scopes: []string{"contacts.readonly", "contacts.write"}}
	raw := cfg.AuthorizeURL("st4te")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, oauth.DefaultAuthURL; got != want {
		t.Errorf("endpoint = %q, want %q", got, want)
	}
	want := url.Values{
		"response_type": {"code"}, "client_id": {"abc"}, "state": {"st4te"},
		"redirect_uri": {"http://127.0.0.1:8765/callback"}, "scope": {"contacts.readonly contacts.write"},
	}
	if diff := cmp.Diff(want, u.Query()); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if !strings.Contains(raw, "scope=contacts.readonly%20contacts.write") {
		t.Errorf("scope not space-separated as %%20 in %s", raw)
	}
}
