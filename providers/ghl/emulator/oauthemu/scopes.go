package oauthemu

import (
	"net/http"
	"slices"
)

// RouteScopes maps the API routes bellsync uses, as http.ServeMux patterns,
// to the scope GHL requires for each (NOTES §2.2, from docs/oauth/Scopes.md
// and the per-operation security of apps/*.json). The bulk tag route
// declares no scope in the spec and is left out; treat a route missing
// here as needing only a valid token.
var RouteScopes = map[string]string{
	"GET /contacts/{contactId}":                          "contacts.readonly",
	"GET /contacts/":                                     "contacts.readonly",
	"POST /contacts/search":                              "contacts.readonly",
	"GET /contacts/search/duplicate":                     "contacts.readonly",
	"GET /contacts/{contactId}/tasks":                    "contacts.readonly",
	"GET /contacts/{contactId}/tasks/{taskId}":           "contacts.readonly",
	"GET /contacts/{contactId}/notes":                    "contacts.readonly",
	"GET /contacts/{contactId}/notes/{id}":               "contacts.readonly",
	"GET /contacts/{contactId}/appointments":             "contacts.readonly",
	"POST /contacts/":                                    "contacts.write",
	"PUT /contacts/{contactId}":                          "contacts.write",
	"DELETE /contacts/{contactId}":                       "contacts.write",
	"POST /contacts/upsert":                              "contacts.write",
	"POST /contacts/{contactId}/tags":                    "contacts.write",
	"DELETE /contacts/{contactId}/tags":                  "contacts.write",
	"POST /contacts/{contactId}/tasks":                   "contacts.write",
	"PUT /contacts/{contactId}/tasks/{taskId}":           "contacts.write",
	"DELETE /contacts/{contactId}/tasks/{taskId}":        "contacts.write",
	"PUT /contacts/{contactId}/tasks/{taskId}/completed": "contacts.write",
	"POST /contacts/{contactId}/notes":                   "contacts.write",
	"PUT /contacts/{contactId}/notes/{id}":               "contacts.write",
	"DELETE /contacts/{contactId}/notes/{id}":            "contacts.write",
	"GET /locations/{locationId}":                        "locations.readonly",
	"GET /locations/{locationId}/customFields":           "locations/customFields.readonly",
	"POST /locations/{locationId}/tasks/search":          "locations/tasks.readonly",
	"GET /users/": "users.readonly",
}

// Bodies GHL sends for auth failures (NOTES §3).
const (
	invalidTokenBody = `{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`
	scopeBody        = `{"statusCode":401,"message":"The token is not authorized for this scope."}`
)

// WriteInvalidToken answers 401 as GHL does for an unknown, expired or
// revoked access token. Clients refresh on this body and only this one.
func WriteInvalidToken(w http.ResponseWriter) {
	writeRaw(w, http.StatusUnauthorized, invalidTokenBody)
}

// RequireScope reports whether granted holds scope. If not, it writes
// GHL's 401 for a missing scope to w and returns false, so a handler can
// `if !RequireScope(w, scopes, s) { return }`. An empty scope is always
// satisfied.
func RequireScope(w http.ResponseWriter, granted []string, scope string) bool {
	if scope == "" || slices.Contains(granted, scope) {
		return true
	}
	writeRaw(w, http.StatusUnauthorized, scopeBody)
	return false
}

// WriteAuthError answers a [Server.Validate] error the way GHL would: an
// agency token on a sub-account route looks like a missing scope, any
// other failure like an invalid token.
func WriteAuthError(w http.ResponseWriter, err error) {
	if err == ErrNotLocationToken {
		writeRaw(w, http.StatusUnauthorized, scopeBody)
		return
	}
	WriteInvalidToken(w)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}
