// Package zap authenticates and decodes the Paperbell events that a Zap
// posts to bellsync. Paperbell's only automation surface is a Zapier app
// with "New Client" and "New Appointment" triggers; the user pairs a
// trigger with a "Webhooks by Zapier" POST to bellsync's /paperbell
// endpoint (providers/paperbell/MODEL.md, "Inbound events").
//
// # Authentication
//
// [Verify] accepts either of two headers, both derived from a secret
// shared between the Zap and sync.hcl:
//
//   - X-Bellsync-Signature: sha256=<hex HMAC-SHA256 of the body>. This is
//     preferred: the secret never travels, and a captured request cannot
//     be altered. Use it when the Zap can compute it (a "Code by Zapier"
//     step before the webhook).
//   - X-Bellsync-Secret: <the secret>. Zapier's plain webhook action can
//     only send static headers, so this is the practical default. It
//     relies on TLS to keep the secret private.
//
// If the signature header is present it alone decides; a bad signature
// does not fall back to the secret header.
//
// Neither form carries a timestamp or an event id, so a captured request
// can be replayed. That is tolerable because an event is only a hint:
// the engine re-reads the client and diffs, so a replay costs an API
// call, not a wrong write.
//
// # Body
//
// [Parse] accepts the JSON the Zap builds in either shape Zapier
// produces: nested objects ({"event": "new_client", "client": {"email":
// ...}}) or keys flattened with "__" ({"event": "new_client",
// "client__email": ...}). Numbers arrive as strings or as numbers
// depending on how the Zap was built, so Parse turns every number into
// its decimal text; the field maps in sync.hcl then see one form.
//
// # Errors and HTTP status
//
// Suggested replies: [ErrUnsigned] and [ErrBadSecret] 401, [ErrMalformed]
// 400, any other error 500. Zapier shows a failed step in the Zap's
// history and can be set to replay it, so a 4xx tells the user to fix
// the Zap.
package zap
