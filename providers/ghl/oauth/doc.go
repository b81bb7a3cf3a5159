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
// # golang.org/x/oauth2
//
// The consent URL ([Config.AuthorizeURL]) and the authorization-code
// exchange ([Exchange]) go through golang.org/x/oauth2, with the client
// credentials in the form body (AuthStyleInParams), GHL's user_type added
// to the exchange, and GHL's extra answer fields (locationId, companyId,
// userType, scope) read from the token's Extra. Failures come back as
// *oauth2.RetrieveError, whose response and body are classified here
// (revoked grant, wrong client secret, outage) with the values we sent
// scrubbed out; x/oauth2's own message, which quotes the whole body, is
// not shown.
//
// Two token requests are still posted directly:
//
//   - The refresh grant, because x/oauth2's refresh sends only grant_type
//     and refresh_token and takes no extra fields, while GHL's token
//     request names the type of token wanted in user_type for every grant
//     (apps/oauth.json). Without it an agency refresh asks for a Location
//     token; the emulator refuses that with invalid_grant, which reads
//     as a revoked grant and would stop the sync until someone reconnects.
//   - POST /oauth/locationToken, which is not an OAuth grant: it takes
//     the agency token as a bearer and a Version header.
//
// No x/oauth2 TokenSource is kept, because one keeps the context it was
// made with (golang/oauth2#388) and caches tokens on its own, outside the
// one-refresh-at-a-time and save-before-use rules of [Source]. Every call
// that does I/O takes a context, and no token request is retried: a
// refresh that reached the server has already spent the old refresh
// token.
package oauth
