// Package webhook authenticates and decodes the webhook deliveries that
// GoHighLevel (GHL) posts to a Marketplace app for each installed location.
//
// A [Verifier] checks a delivery in this order and stops at the first
// failure:
//
//  1. Signature, over the exact bytes received. If an x-ghl-signature
//     header is present it must be a valid base64 Ed25519 signature; a bad
//     one is final, even when a valid x-wh-signature is also present,
//     because falling back would let an attacker strip the stronger
//     scheme. Otherwise x-wh-signature must be a valid base64 RSA PKCS #1
//     v1.5 SHA-256 signature. A delivery with neither is rejected.
//  2. Shape: the body must be a JSON object with a non-empty "type".
//  3. Freshness: "timestamp" (RFC 3339 / ISO 8601 with a zone) must be no
//     older than [Verifier.MaxAge] and no more than [FutureSkew] ahead.
//  4. Uniqueness: "webhookId" must not have been seen before, according
//     to the [ReplayStore].
//
// Never verify a body that was decoded and re-encoded: Go does not keep
// key order or whitespace, so the signature would no longer match.
//
// # Errors and HTTP status
//
// Rejections are *[Error] values that match one of the sentinels below
// under errors.Is. [HTTPStatus] suggests the reply for any error Verify
// returns:
//
//	ErrUnsigned      401  neither signature header present
//	ErrBadSignature  401  a signature header present but not valid
//	ErrStale         401  timestamp missing, too old or in the future
//	ErrReplayed      409  webhookId already seen
//	ErrMalformed     400  not a JSON object, no type, bad timestamp,
//	                      no webhookId
//	anything else    429  e.g. the replay store failed
//
// GHL retries a delivery only when the receiver answers 429 (NOTES.md
// §10.1), so failures on our side, where the event itself may be fine,
// suggest 429 to get another attempt. All other statuses are final.
//
// GHL's events are hints, often incomplete: the receiver should re-read
// the record named by [Event.RecordKind] and [Event.RecordID] rather than
// trust the payload.
//
// [Signer] and [GenerateTestKeys] produce deliveries that a Verifier with
// the matching public keys accepts; they serve tests and the emulator.
package webhook
