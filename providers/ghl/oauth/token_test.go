package oauth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bellsync/bellsync/providers/ghl/oauth"
	"github.com/bellsync/bellsync/providers/secret"
)

var secretEqual = cmp.Comparer(func(a, b secret.String) bool { return a.Reveal() == b.Reveal() })

func TestTokenMarshalRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		tok  oauth.Token
	}{
		{"location", oauth.Token{
			AccessToken: secret.New("at"), RefreshToken: secret.New("rt"),
			Expiry: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Issued: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC),
			Scopes:     []string{"contacts.readonly"},
			LocationID: "loc", CompanyID: "comp", UserType: oauth.UserLocation,
		}},
		{"minted, no refresh token or expiry", oauth.Token{AccessToken: secret.New("at"), LocationID: "loc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.tok.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := oauth.Unmarshal(data)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.tok, got, secretEqual); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{`{}`, `{"version":2,"access_token":"x"}`, `{"version":1}`, `not json`} {
		if _, err := oauth.Unmarshal([]byte(bad)); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestMissing(t *testing.T) {
	tests := []struct {
		granted, wanted, want []string
	}{
		{nil, nil, nil},
		{[]string{"a", "b"}, []string{"a"}, nil},
		{[]string{"a"}, []string{"a", "b", "c"}, []string{"b", "c"}},
		{[]string{"contacts.write"}, []string{"contacts.readonly", "contacts.readonly"}, []string{"contacts.readonly"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, oauth.Missing(tc.granted, tc.wanted)); diff != "" {
			t.Errorf("Missing(%v, %v) (-want +got):\n%s", tc.granted, tc.wanted, diff)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := oauth.Config{ClientID: "c", ClientSecret: secret.New("s")}
	tests := []struct {
		name    string
		edit    func(*oauth.Config)
		wantErr string
	}{
		{"defaults", func(*oauth.Config) {}, ""},
		{"no client id", func(c *oauth.Config) { c.ClientID = "" }, "client_id is empty"},
		{"no secret", func(c *oauth.Config) { c.ClientSecret = secret.String{} }, "client_secret is empty"},
		{"bad user type", func(c *oauth.Config) { c.UserType = "Agency" }, `user_type "Agency"`},
		{"plain http token URL", func(c *oauth.Config) { c.TokenURL = "http://example.com/oauth/token" }, "not loopback"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "tokens.json")
	fs := &oauth.FileStore{Path: path}

	if _, err := fs.LoadToken(ctx, "ghl/x"); !errors.Is(err, oauth.ErrNoToken) {
		t.Errorf("Load from a missing file: %v, want ErrNoToken", err)
	}
	var wg sync.WaitGroup
	for _, k := range []string{"ghl/a", "ghl/b", "ghl/c"} {
		wg.Go(func() {
			if err := fs.SaveToken(ctx, k, []byte("data-"+k)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, k := range []string{"ghl/a", "ghl/b", "ghl/c"} {
		got, err := fs.LoadToken(ctx, k)
		if err != nil || string(got) != "data-"+k {
			t.Errorf("LoadToken(%s) = %q, %v", k, got, err)
		}
	}
	if _, err := fs.LoadToken(ctx, "ghl/x"); !errors.Is(err, oauth.ErrNoToken) {
		t.Errorf("Load of a missing key: %v, want ErrNoToken", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o, want 0600", fi.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := fs.LoadToken(ctx, "ghl/a")
		if err == nil || !strings.Contains(err.Error(), "run `chmod 600 "+path+"`") {
			t.Errorf("mode %04o: error %v, want a chmod 600 instruction", mode, err)
		}
		if err := fs.SaveToken(ctx, "ghl/a", []byte("x")); err == nil {
			t.Errorf("mode %04o: Save succeeded on an exposed file", mode)
		}
	}
}

func TestFileStoreWithSource(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, time.Hour)
	fs := &oauth.FileStore{Path: filepath.Join(t.TempDir(), "tokens.json")}
	tok := e.connect(t)
	if err := oauth.Save(ctx, fs, oauth.LocationKey(testLocation), tok); err != nil {
		t.Fatal(err)
	}
	s, err := oauth.NewSource(e.cfg, fs)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	got, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := oauth.Load(ctx, fs, oauth.LocationKey(testLocation))
	if err != nil || stored.AccessToken.Reveal() != got.Reveal() {
		t.Errorf("file does not hold the refreshed token (err %v)", err)
	}
}
