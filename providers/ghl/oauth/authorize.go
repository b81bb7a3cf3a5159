package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/bellsync/bellsync/providers"
)

// AuthorizeOptions are the interactive parts of [Authorize], injectable so
// tests drive the flow without a browser or a fixed port.
type AuthorizeOptions struct {
	// OpenBrowser opens the consent URL; nil or a failure only means the
	// user has to open the printed URL by hand.
	OpenBrowser func(url string) error
	// Out receives the instructions and the URL; nil means io.Discard.
	Out io.Writer
	// Listen opens the callback listener; nil means net.Listen.
	Listen func(network, addr string) (net.Listener, error)
}

// ErrStateMismatch is wrapped in Authorize's error when it gave up
// waiting after ignoring callbacks whose state was not the one it sent.
var ErrStateMismatch = errors.New("oauth: state mismatch; possible CSRF, try again")

// callback is one request to the redirect URI, handed from the HTTP
// handler to Authorize, which answers through reply.
type callback struct {
	code  string
	err   error
	reply chan<- error
}

// Authorize runs GHL's authorization-code flow: it prints the consent URL
// to opts.Out and tries to open it, waits on the redirect URI's loopback
// address for the browser to come back, checks the state, exchanges the
// code, saves the token in store under its location's key, and tells the
// browser the outcome. It returns when the exchange is done or ctx ends;
// give ctx a deadline so an abandoned consent page does not hang the CLI.
//
// When cfg.LocationID is set, a token for another location is refused
// rather than stored, since the sync would then run against the wrong
// sub-account.
func Authorize(ctx context.Context, cfg Config, store providers.TokenStore, opts AuthorizeOptions) (Token, error) {
	if err := cfg.Validate(); err != nil {
		return Token{}, err
	}
	redirect, err := CheckRedirectURI(cfg.RedirectURI)
	if err != nil {
		return Token{}, err
	}
	if store == nil {
		return Token{}, errors.New("oauth: authorize: no token store")
	}
	state, err := randomState()
	if err != nil {
		return Token{}, err
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	listen := opts.Listen
	if listen == nil {
		listen = net.Listen
	}
	ln, err := listen("tcp", redirect.Host)
	if err != nil {
		return Token{}, fmt.Errorf("oauth: authorize: cannot listen on %s for the callback (is another `bellsync auth` running, or is the port taken?): %w", redirect.Host, err)
	}

	calls := make(chan callback)
	// stop tells late callbacks that nobody is listening any more.
	stop := make(chan struct{})
	path := redirect.EscapedPath()
	if path == "" {
		path = "/"
	}
	mux := http.NewServeMux()
	// forged counts callbacks whose state was not ours. They are answered
	// and otherwise ignored: any page the user visits can make the browser
	// hit a loopback URL, and such a request must not end the sign-in the
	// user is in the middle of.
	forged := make(chan struct{}, 16)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		cb := parseCallback(r, state)
		if errors.Is(cb.err, ErrStateMismatch) {
			select {
			case forged <- struct{}{}:
			default:
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "<!doctype html><title>bellsync</title><p>bellsync ignored this callback: state mismatch, so it is not from the sign-in bellsync is waiting for.</p><p>Use the URL printed in the terminal.</p>\n")
			return
		}
		reply := make(chan error, 1)
		cb.reply = reply
		select {
		case calls <- cb:
		case <-stop:
			http.Error(w, "This sign-in attempt is over; return to the terminal.", http.StatusConflict)
			return
		case <-r.Context().Done():
			return
		}
		var outcome error
		select {
		case outcome = <-reply:
		case <-r.Context().Done():
			return
		}
		writePage(w, outcome)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		// Let the final page reach the browser, but do not wait long.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	// Runs before the Shutdown above, so no handler waits on calls.
	defer close(stop)

	u := cfg.AuthorizeURL(state)
	fmt.Fprintf(out, "Open this URL in a browser and approve bellsync for your GHL location:\n\n  %s\n\nWaiting for the browser on %s ...\n", u, cfg.RedirectURI)
	if opts.OpenBrowser != nil {
		if err := opts.OpenBrowser(u); err != nil {
			fmt.Fprintln(out, "(Could not open a browser; open the URL above by hand.)")
		}
	}

	ignored := 0
	noteForged := func() {
		ignored++
		fmt.Fprintln(out, "Ignored a callback whose state did not match this sign-in (an old link, or another page); still waiting.")
	}
	// A handler queues on forged before it answers, so a forged callback
	// the browser has seen is counted even when select, choosing at random
	// among ready cases, took another case first.
	drainForged := func() {
		for {
			select {
			case <-forged:
				noteForged()
			default:
				return
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			drainForged()
			err := fmt.Errorf("oauth: authorize: waiting for the browser: %w", ctx.Err())
			if ignored > 0 {
				err = fmt.Errorf("%w (ignored %d callback(s) with a wrong state: %w)", err, ignored, ErrStateMismatch)
			}
			return Token{}, err
		case <-forged:
			noteForged()
		case cb := <-calls:
			drainForged()
			tok, err := finish(ctx, cfg, store, cb)
			cb.reply <- err
			return tok, err
		}
	}
}

// parseCallback checks the state and reads code or error from the
// redirect. Only the first callback with the right state is acted on:
// Authorize stops reading calls once it has one.
func parseCallback(r *http.Request, state string) callback {
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return callback{err: ErrStateMismatch}
	}
	if e := q.Get("error"); e != "" {
		msg := e
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		return callback{err: fmt.Errorf("oauth: authorization was not granted: %s", msg)}
	}
	code := q.Get("code")
	if code == "" {
		return callback{err: errors.New("oauth: callback carried neither code nor error")}
	}
	return callback{code: code}
}

func finish(ctx context.Context, cfg Config, store providers.TokenStore, cb callback) (Token, error) {
	if cb.err != nil {
		return Token{}, cb.err
	}
	tok, err := Exchange(ctx, cfg, cb.code)
	if err != nil {
		return Token{}, fmt.Errorf("oauth: authorize: %w", err)
	}
	if tok.RefreshToken.IsZero() {
		return Token{}, errors.New("oauth: authorize: token endpoint returned no refresh token")
	}
	var key string
	switch tok.UserType {
	case UserCompany:
		if cfg.CompanyID != "" && tok.CompanyID != cfg.CompanyID {
			return Token{}, fmt.Errorf("oauth: authorize: approved company %s, but the config names %s", tok.CompanyID, cfg.CompanyID)
		}
		key = CompanyKey(tok.CompanyID)
	default:
		if tok.LocationID == "" {
			return Token{}, errors.New("oauth: authorize: token names no location")
		}
		if cfg.LocationID != "" && tok.LocationID != cfg.LocationID {
			return Token{}, fmt.Errorf("oauth: authorize: approved location %s, but the config names %s; pick that location on the consent page", tok.LocationID, cfg.LocationID)
		}
		key = LocationKey(tok.LocationID)
	}
	if err := Save(ctx, store, key, tok); err != nil {
		return Token{}, fmt.Errorf("oauth: authorize: %w", err)
	}
	return tok, nil
}

func randomState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oauth: authorize: random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func writePage(w http.ResponseWriter, outcome error) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if outcome == nil {
		_, _ = io.WriteString(w, "<!doctype html><title>bellsync</title><p>bellsync is connected to GoHighLevel. You can close this tab.</p>\n")
		return
	}
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!doctype html><title>bellsync</title><p>bellsync could not connect: %s</p><p>Return to the terminal and try again.</p>\n", html.EscapeString(outcome.Error()))
}
