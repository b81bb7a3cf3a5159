// Package oauth connects bellsync to a GoHighLevel location through GHL's
// Marketplace OAuth 2.0 flow, and keeps that connection alive.
//
// There are three entry points:
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
// [secret.String].
//
// Every call that does I/O takes a context; nothing here keeps one, unlike
// golang.org/x/oauth2's TokenSource (golang/oauth2#388). Token requests are
// posted directly so that GHL's non-RFC error bodies can be classified.
package oauth
