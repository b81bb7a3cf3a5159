// Package oauth connects bellsync to a GoHighLevel location through GHL's
// Marketplace OAuth 2.0 flow, and keeps that connection alive.
//
// # Using it from sync.hcl
//
// Give provider "ghl" an oauth block instead of a token:
//
//	provider "ghl" {
//	  location_id = env("GHL_LOCATION_ID")
//	  oauth {
//	    client_id     = env("GHL_CLIENT_ID")
//	    client_secret = env("GHL_CLIENT_SECRET")
//	    redirect_uri  = "http://127.0.0.1:8765/callback"
//	    scopes        = ["contacts.readonly", "contacts.write", "locations.readonly"]
//	  }
//	}
//
// then run `bellsync auth ghl` once. It prints the consent URL (and opens
// a browser when there is a desktop; -no-browser stops that), waits up to
// five minutes for the browser to come back to redirect_uri, checks the
// state parameter, exchanges the code and stores the tokens. Register the
// same redirect_uri on the app; it must be http on a loopback address with
// an explicit port, because bellsync itself receives the callback.
// `bellsync auth status` (or `bellsync check`) then tests the token, the
// granted scopes (naming any missing), the location and a sample contact.
//
// The other settings: user_type = "Company" with company_id connects an
// agency and mints a token for location_id from it; token_file keeps the
// tokens in a 0600 JSON file instead of the state database (a file that
// group or others can read is refused, with the chmod to fix it);
// auth_url and token_url point at another server, such as `bellsync
// emulate`, and must be https except to a loopback address.
//
// Tokens never go into sync.hcl. Access tokens are refreshed shortly
// before they expire and when GHL answers 401 for an expired token (not
// for a missing scope or a bad Version header, which a new token would
// not cure). When GHL refuses the refresh token (the app was uninstalled,
// the grant revoked, or the token used elsewhere), the location's sync
// stops with "access for location X was revoked or has expired; run
// `bellsync auth ghl` to reconnect" and is not retried until new tokens
// are stored.
//
// # Entry points
//
//   - [Authorize] runs the authorization-code flow once, from a terminal:
//     it prints (and tries to open) the consent URL, receives the browser's
//     redirect on a loopback listener, exchanges the code and stores the
//     token. This is what `bellsync auth ghl` runs.
//   - [Source] hands out access tokens to the API client. It refreshes them
//     shortly before they expire and when the API reports one stale, one
//     refresh at a time, and saves every rotated pair before using it,
//     because GHL refresh tokens are single use: a pair that is used but
//     not saved locks the installation out until the user reconnects.
//   - [LocationToken] turns an agency (Company) token into a sub-account
//     token; [NewLocationSource] re-mints such tokens when they expire.
//
// Tokens are stored through [providers.TokenStore] (the state database, or
// a [FileStore]) in the form written by [Token.Marshal]; that form is the
// only place raw token values are written. Everywhere else they travel as
// [secret.String]. The state database holds them unencrypted, like the
// token file: protect it with file permissions (bellsync creates it 0600).
//
// Every call that does I/O takes a context; nothing here keeps one, unlike
// golang.org/x/oauth2's TokenSource (golang/oauth2#388). Token requests are
// posted directly rather than through x/oauth2 so that GHL's non-RFC error
// bodies can be classified (revoked grant, wrong client secret, outage)
// and a spent refresh token is never retried.
package oauth
