package zap_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bellsync/bellsync/providers/paperbell/zap"
	"github.com/google/go-cmp/cmp"
)

const secret = "s3cret-shared-with-the-zap"

func TestVerify(t *testing.T) {
	body := []byte(`{"event":"new_client","client":{"email":"jane@example.com"}}`)
	good := zap.Signature(body, secret)
	sec := func(v ...string) http.Header { return http.Header{zap.HeaderSecret: v} }
	sig := func(v ...string) http.Header { return http.Header{zap.HeaderSignature: v} }
	both := func(sigV, secV string) http.Header {
		return http.Header{zap.HeaderSignature: {sigV}, zap.HeaderSecret: {secV}}
	}
	tests := []struct {
		name    string
		header  http.Header
		secret  string
		wantErr error // nil for success
		anyErr  bool  // an error that is not one of the sentinels
	}{
		{name: "secret header", header: sec(secret), secret: secret},
		{name: "signature", header: sig(good), secret: secret},
		{name: "signature upper-case hex", header: sig("sha256=" + strings.ToUpper(good[7:])), secret: secret},
		{name: "signature preferred over secret", header: both(good, "wrong"), secret: secret},
		{name: "wrong secret", header: sec("guess"), secret: secret, wantErr: zap.ErrBadSecret},
		{name: "secret prefix", header: sec(secret[:5]), secret: secret, wantErr: zap.ErrBadSecret},
		{name: "empty secret header", header: sec(""), secret: secret, wantErr: zap.ErrBadSecret},
		{name: "two secret headers", header: sec(secret, "other"), secret: secret, wantErr: zap.ErrBadSecret},
		{
			name:   "signature of another body",
			header: sig(zap.Signature([]byte(`{}`), secret)), secret: secret, wantErr: zap.ErrBadSecret,
		},
		{
			name:   "signature with another secret",
			header: sig(zap.Signature(body, "other")), secret: secret, wantErr: zap.ErrBadSecret,
		},
		{
			name:   "bad signature does not fall back to secret",
			header: both(zap.Signature(body, "other"), secret), secret: secret, wantErr: zap.ErrBadSecret,
		},
		{name: "signature without prefix", header: sig(good[7:]), secret: secret, wantErr: zap.ErrBadSecret},
		{name: "signature not hex", header: sig("sha256=zz"), secret: secret, wantErr: zap.ErrBadSecret},
		{name: "no headers", header: http.Header{}, secret: secret, wantErr: zap.ErrUnsigned},
		{name: "nil header", secret: secret, wantErr: zap.ErrUnsigned},
		{name: "empty configured secret", header: sec(""), anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := zap.Verify(tt.header, body, tt.secret)
			switch {
			case tt.anyErr:
				if err == nil || errors.Is(err, zap.ErrBadSecret) || errors.Is(err, zap.ErrUnsigned) {
					t.Errorf("Verify error = %v, want a configuration error", err)
				}
			case tt.wantErr == nil:
				if err != nil {
					t.Errorf("Verify: %v", err)
				}
			case !errors.Is(err, tt.wantErr):
				t.Errorf("Verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyErrorHidesSecret(t *testing.T) {
	err := zap.Verify(http.Header{zap.HeaderSecret: {"almost-" + secret}}, nil, secret)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Verify error = %v, want an error that does not contain the secret", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    zap.Event
		wantErr string // substring of the error; "" for success
	}{
		{
			name: "nested new_client",
			body: `{"event":"new_client","client":{"id":"123","first_name":"Jane","last_name":"Doe",` +
				`"email":"jane@example.com","phone":"+15555550123","time_zone":"Europe/Berlin"}}`,
			want: zap.Event{Kind: zap.KindNewClient, ClientID: "123", Client: map[string]any{
				"id": "123", "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
				"phone": "+15555550123", "time_zone": "Europe/Berlin",
			}},
		},
		{
			name: "flattened new_client",
			body: `{"event":"new_client","client__id":"123","client__first_name":"Jane","client__last_name":"Doe",` +
				`"client__email":"jane@example.com","client__phone":"+15555550123","client__time_zone":"Europe/Berlin"}`,
			want: zap.Event{Kind: zap.KindNewClient, ClientID: "123", Client: map[string]any{
				"id": "123", "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
				"phone": "+15555550123", "time_zone": "Europe/Berlin",
			}},
		},
		{
			name: "numeric id equals string id",
			body: `{"event":"new_client","client":{"id":12345678901234567890,"email":"jane@example.com"}}`,
			want: zap.Event{Kind: zap.KindNewClient, ClientID: "12345678901234567890", Client: map[string]any{
				"id": "12345678901234567890", "email": "jane@example.com",
			}},
		},
		{
			name: "email only",
			body: `{"event":"new_client","client":{"email":"jane@example.com","id":""}}`,
			want: zap.Event{Kind: zap.KindNewClient, Client: map[string]any{"email": "jane@example.com", "id": ""}},
		},
		{
			name: "nested new_appointment",
			body: `{"event":"new_appointment","client":{"id":7},` +
				`"appointment":{"id":"A1","starts_at":"2026-03-02T10:00:00Z","duration":60}}`,
			want: zap.Event{
				Kind: zap.KindNewAppointment, ClientID: "7", Client: map[string]any{"id": "7"},
				Appointment: map[string]any{"id": "A1", "starts_at": "2026-03-02T10:00:00Z", "duration": "60"},
			},
		},
		{
			name: "flattened new_appointment with deeper nesting",
			body: `{"event":"new_appointment","client__email":"jane@example.com",` +
				`"appointment__id":"A1","appointment__package__id":"9","appointment__package__name":"Intro"}`,
			want: zap.Event{
				Kind: zap.KindNewAppointment, Client: map[string]any{"email": "jane@example.com"},
				Appointment: map[string]any{"id": "A1", "package": map[string]any{"id": "9", "name": "Intro"}},
			},
		},
		{
			name: "mixed shapes merge",
			body: `{"event":"New_Client ","client":{"email":"jane@example.com","tags":["a",1]},"client__id":"5"}`,
			want: zap.Event{Kind: zap.KindNewClient, ClientID: "5", Client: map[string]any{
				"email": "jane@example.com", "id": "5", "tags": []any{"a", "1"},
			}},
		},
		{
			name: "same value in both shapes",
			body: `{"event":"new_client","client":{"email":"jane@example.com"},"client__email":"jane@example.com"}`,
			want: zap.Event{Kind: zap.KindNewClient, Client: map[string]any{"email": "jane@example.com"}},
		},
		{
			name: "odd underscores kept as written",
			body: `{"event":"new_client","client":{"id":"1","__x":true,"a____b":null}}`,
			want: zap.Event{Kind: zap.KindNewClient, ClientID: "1", Client: map[string]any{
				"id": "1", "__x": true, "a____b": nil,
			}},
		},
		{
			name: "empty appointment on new_client ignored",
			body: `{"event":"new_client","client":{"id":"1"},"appointment":""}`,
			want: zap.Event{Kind: zap.KindNewClient, ClientID: "1", Client: map[string]any{"id": "1"}},
		},
		{name: "empty body", body: "", wantErr: "zap event: malformed event: empty body"},
		{name: "whitespace body", body: " \n", wantErr: "empty body"},
		{name: "not json", body: "event=new_client&client__email=jane%40example.com", wantErr: "body is not a JSON object"},
		{name: "json array", body: `[{"event":"new_client"}]`, wantErr: "body is not a JSON object"},
		{name: "json null", body: `null`, wantErr: "body is not a JSON object"},
		{name: "trailing data", body: `{"event":"new_client","client":{"id":"1"}} {}`, wantErr: "unexpected data after the JSON object"},
		{name: "missing event", body: `{"client":{"id":"1"}}`, wantErr: "event is required"},
		{name: "event a number", body: `{"event":1,"client":{"id":"1"}}`, wantErr: `unknown event "1"`},
		{name: "event an object", body: `{"event":{},"client":{"id":"1"}}`, wantErr: "event is required"},
		{name: "unknown event", body: `{"event":"new_invoice","client":{"id":"1"}}`, wantErr: `unknown event "new_invoice"`},
		{name: "missing client", body: `{"event":"new_client"}`, wantErr: "zap event: malformed event: client is required"},
		{name: "client not an object", body: `{"event":"new_client","client":"jane"}`, wantErr: "client must be an object"},
		{
			name:    "client without email or id",
			body:    `{"event":"new_client","client":{"first_name":"Jane","email":" "}}`,
			wantErr: "zap event: malformed event: client.email or client.id is required",
		},
		{name: "client id an object", body: `{"event":"new_client","client":{"id":{}}}`, wantErr: "client.id must be a string or number"},
		{
			name:    "missing appointment",
			body:    `{"event":"new_appointment","client":{"id":"1"}}`,
			wantErr: "appointment is required for new_appointment",
		},
		{
			name:    "conflicting values",
			body:    `{"event":"new_client","client":{"email":"a@example.com"},"client__email":"b@example.com"}`,
			wantErr: `field "client__email" has two different values`,
		},
		{
			name:    "flattened under a scalar",
			body:    `{"event":"new_client","client":"x","client__email":"b@example.com"}`,
			wantErr: `field "client__email" needs "client" to be an object`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := zap.Parse([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse succeeded with %+v, want error containing %q", got, tt.wantErr)
				}
				if !errors.Is(err, zap.ErrMalformed) {
					t.Errorf("Parse error %v does not wrap ErrMalformed", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Parse error = %q, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"event":"new_client","client":{"id":1}}`))
	f.Add([]byte(`{"event":"new_appointment","client__email":"a","appointment__x__y":2}`))
	f.Add([]byte(`{"event":"new_client","client":{"a":{"b":1}},"client__a__b":1,"client__a":{"c":[1,{"d__e":2}]}}`))
	f.Add([]byte(`{"a__":1,"__":2,"____":3}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := zap.Parse(body)
		if err != nil {
			if !errors.Is(err, zap.ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if ev.Client == nil || (ev.ClientID == "" && ev.Client["email"] == nil) {
			t.Errorf("Parse accepted an event without a client id or email: %+v", ev)
		}
	})
}
