// Package emulator is an offline, in-memory GoHighLevel API v2 (Version
// 2021-07-28) for tests and for `bellsync emulate`.
//
// A [Server] is an http.Handler: wrap it in httptest.NewServer in tests or
// in an http.Server for the CLI. It serves the contacts, search, tags,
// tasks, notes and location endpoints bellsync uses with GHL's status codes
// and error bodies, checks the bearer token and the Version header, limits
// each location with a sliding window and sets the X-RateLimit-* headers,
// lets search lag behind writes, and can inject faults (latency, 5xx, 429
// bursts, dropped connections, writes applied before the connection drops,
// garbage bodies). Seed it with [Server.LoadDir] from the corpus JSON.
//
// Time and randomness come from [Options.Now] and [Options.Rand], so tests
// drive the rate limiter and the search lag without sleeping.
//
// README.md in this directory lists what is faithful to the real API and
// what is assumed where GHL's documentation is silent.
package emulator
