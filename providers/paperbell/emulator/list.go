package emulator

import (
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paging limits. The default is what a client gets when it sends no limit.
const (
	defaultLimit = 50
	maxLimit     = 100
)

// listQuery is the parsed paging part of a listing request.
type listQuery struct {
	limit int
	// since filters to rows updated at or after it; it also switches the
	// order from id to (updated_at, id), so that a cursor taken in the
	// middle of rows sharing one timestamp still resumes at the right row.
	since *time.Time
	after *position
}

// position is where a cursor resumes: after the row with this key.
type position struct {
	byUpdated bool
	updated   time.Time
	id        string
}

type fieldError struct{ field, why string }

func (e *fieldError) Error() string { return e.field + ": " + e.why }

var errBadCursor = errors.New("invalid cursor")

func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return lq, &fieldError{"limit", "must be an integer from 1 to 100"}
		}
		lq.limit = n
	}
	if v := q.Get("updated_since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return lq, &fieldError{"updated_since", "must be an RFC 3339 timestamp"}
		}
		lq.since = &t
	}
	if v := q.Get("cursor"); v != "" {
		p, err := decodeCursor(v)
		if err != nil {
			return lq, errBadCursor
		}
		if p.byUpdated != (lq.since != nil) {
			// A cursor from one ordering cannot resume the other.
			return lq, errBadCursor
		}
		lq.after = &p
	}
	return lq, nil
}

// The cursor is opaque to clients; inside it is "v1|u|<unix ms>|<id>" for
// the (updated_at, id) order or "v1|i|<id>" for the id order.
func encodeCursor(p position) string {
	s := "v1|i|" + p.id
	if p.byUpdated {
		s = "v1|u|" + strconv.FormatInt(p.updated.UnixMilli(), 10) + "|" + p.id
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(c string) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return position{}, err
	}
	parts := strings.Split(string(b), "|")
	switch {
	case len(parts) == 3 && parts[0] == "v1" && parts[1] == "i":
		return position{id: parts[2]}, nil
	case len(parts) == 4 && parts[0] == "v1" && parts[1] == "u":
		ms, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			return position{}, err
		}
		return position{byUpdated: true, updated: time.UnixMilli(ms).UTC(), id: parts[3]}, nil
	}
	return position{}, errBadCursor
}

// compareIDs orders numeric-looking ids as numbers and anything else
// consistently after that.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// paginate returns one page of rows and the cursor of the next, or "".
func paginate[T any](rows []T, key func(T) (time.Time, string), q listQuery) ([]T, string) {
	byUpdated := q.since != nil
	if byUpdated {
		rows = slices.DeleteFunc(rows, func(r T) bool {
			u, _ := key(r)
			return u.Before(*q.since)
		})
	}
	cmp := func(au time.Time, aid string, bu time.Time, bid string) int {
		if byUpdated {
			if c := au.Compare(bu); c != 0 {
				return c
			}
		}
		return compareIDs(aid, bid)
	}
	slices.SortFunc(rows, func(a, b T) int {
		au, aid := key(a)
		bu, bid := key(b)
		return cmp(au, aid, bu, bid)
	})
	start := 0
	if q.after != nil {
		start = len(rows)
		for i, r := range rows {
			u, id := key(r)
			if cmp(u, id, q.after.updated, q.after.id) > 0 {
				start = i
				break
			}
		}
	}
	end := min(start+q.limit, len(rows))
	page := rows[start:end]
	if end >= len(rows) {
		return page, ""
	}
	u, id := key(page[len(page)-1])
	return page, encodeCursor(position{byUpdated: byUpdated, updated: u, id: id})
}
