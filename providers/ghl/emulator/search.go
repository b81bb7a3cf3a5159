package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// fieldType decides how a search filter compares a contact field.
type fieldType int

const (
	ftString fieldType = iota
	ftDate
	ftBool
	ftArray
)

// searchFields are the filterable fields; GHL answers 400 "Invalid field X"
// for others. Nested dndSettings/inboundDndSettings paths are allowed too.
var searchFields = map[string]fieldType{
	"id": ftString, "email": ftString, "phone": ftString, "name": ftString,
	"firstName": ftString, "lastName": ftString, "firstNameLowerCase": ftString,
	"lastNameLowerCase": ftString, "fullNameLowerCase": ftString, "companyName": ftString,
	"businessName": ftString, "city": ftString, "state": ftString, "country": ftString,
	"postalCode": ftString, "address1": ftString, "source": ftString, "type": ftString,
	"assignedTo": ftString, "timezone": ftString, "website": ftString, "businessId": ftString,
	"dateAdded": ftDate, "dateUpdated": ftDate, "lastActivity": ftDate, "dateOfBirth": ftDate,
	"dnd": ftBool, "validEmail": ftBool,
	"tags": ftArray, "additionalEmails": ftArray, "additionalPhones": ftArray, "followers": ftArray,
}

var sortFields = map[string]fieldType{
	"dateAdded": ftDate, "dateUpdated": ftDate, "firstNameLowerCase": ftString,
	"lastNameLowerCase": ftString, "fullNameLowerCase": ftString, "email": ftString,
}

func searchFieldType(name string) (fieldType, bool) {
	if t, ok := searchFields[name]; ok {
		return t, true
	}
	if strings.HasPrefix(name, "dndSettings.") || strings.HasPrefix(name, "inboundDndSettings.") {
		return ftString, true
	}
	return 0, false
}

func lookup(ct Contact, path string) (any, bool) {
	var cur any = map[string]any(ct)
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

type predicate func(Contact) bool

// compileFilters turns the filters array into one predicate (top level is
// AND). Errors are returned as the 400 message.
func compileFilters(raw []any) (predicate, string) {
	var preds []predicate
	for _, item := range raw {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, "filters must be objects"
		}
		p, msg := compileFilter(m)
		if msg != "" {
			return nil, msg
		}
		preds = append(preds, p)
	}
	return func(ct Contact) bool {
		for _, p := range preds {
			if !p(ct) {
				return false
			}
		}
		return true
	}, ""
}

func compileFilter(m map[string]any) (predicate, string) {
	if g, ok := m["group"]; ok {
		sub, _ := m["filters"].([]any)
		var preds []predicate
		for _, item := range sub {
			sm, ok := item.(map[string]any)
			if !ok {
				return nil, "filters must be objects"
			}
			p, msg := compileFilter(sm)
			if msg != "" {
				return nil, msg
			}
			preds = append(preds, p)
		}
		switch strings.ToUpper(str(g)) {
		case "AND":
			return func(ct Contact) bool {
				for _, p := range preds {
					if !p(ct) {
						return false
					}
				}
				return true
			}, ""
		case "OR":
			return func(ct Contact) bool {
				for _, p := range preds {
					if p(ct) {
						return true
					}
				}
				return false
			}, ""
		}
		return nil, fmt.Sprintf("Invalid group %v", g)
	}
	name := str(m["field"])
	ft, ok := searchFieldType(name)
	if !ok {
		return nil, "Invalid field " + name
	}
	op := str(m["operator"])
	val, hasVal := m["value"]
	needVal := op != "exists" && op != "not_exists"
	if needVal && (!hasVal || val == nil) {
		return nil, "value is required for operator " + op
	}
	if name == "phone" {
		if s, ok := val.(string); ok {
			if p, ok := normalizePhone(s); ok {
				val = p
			}
		}
	}
	switch op {
	case "eq":
		return func(ct Contact) bool { return matchEq(ct, name, ft, val) }, ""
	case "not_eq":
		return func(ct Contact) bool { return !matchEq(ct, name, ft, val) }, ""
	case "contains":
		return func(ct Contact) bool { return matchContains(ct, name, val) }, ""
	case "not_contains":
		return func(ct Contact) bool { return !matchContains(ct, name, val) }, ""
	case "exists":
		return func(ct Contact) bool { return present(ct, name) }, ""
	case "not_exists":
		return func(ct Contact) bool { return !present(ct, name) }, ""
	case "range":
		bounds, ok := val.(map[string]any)
		if !ok || len(bounds) == 0 {
			return nil, "range value must be an object with gte, gt, lte or lt"
		}
		for k := range bounds {
			switch k {
			case "gte", "gt", "lte", "lt":
			default:
				return nil, "Invalid range operator " + k
			}
		}
		return func(ct Contact) bool { return matchRange(ct, name, ft, bounds) }, ""
	}
	return nil, "Invalid operator " + op
}

func present(ct Contact, name string) bool {
	v, ok := lookup(ct, name)
	if !ok {
		return false
	}
	switch x := v.(type) {
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	}
	return true
}

func valuesOf(val any) []any {
	if a, ok := val.([]any); ok {
		return a
	}
	return []any{val}
}

func matchEq(ct Contact, name string, ft fieldType, val any) bool {
	v, ok := lookup(ct, name)
	if !ok {
		return false
	}
	for _, want := range valuesOf(val) {
		switch ft {
		case ftArray:
			for _, e := range valuesOf(v) {
				if strings.EqualFold(strings.TrimSpace(fmt.Sprint(e)), strings.TrimSpace(fmt.Sprint(want))) {
					return true
				}
			}
		case ftBool:
			if b, ok := want.(bool); ok && v == b {
				return true
			}
			if s, ok := want.(string); ok && fmt.Sprint(v) == s {
				return true
			}
		case ftDate:
			a, ok1 := parseTime(v)
			b, ok2 := parseTime(want)
			if ok1 && ok2 && a.Equal(b) {
				return true
			}
		default:
			if strings.EqualFold(strings.TrimSpace(fmt.Sprint(v)), strings.TrimSpace(fmt.Sprint(want))) {
				return true
			}
		}
	}
	return false
}

func matchContains(ct Contact, name string, val any) bool {
	v, ok := lookup(ct, name)
	if !ok {
		return false
	}
	needle := strings.ToLower(fmt.Sprint(val))
	for _, e := range valuesOf(v) {
		if strings.Contains(strings.ToLower(fmt.Sprint(e)), needle) {
			return true
		}
	}
	return false
}

func matchRange(ct Contact, name string, ft fieldType, bounds map[string]any) bool {
	v, ok := lookup(ct, name)
	if !ok {
		return false
	}
	for op, b := range bounds {
		var c int
		if ft == ftDate {
			a, ok1 := parseTime(v)
			bt, ok2 := parseTime(b)
			if !ok1 || !ok2 {
				return false
			}
			c = a.Compare(bt)
		} else {
			c = strings.Compare(fmt.Sprint(v), fmt.Sprint(b))
		}
		switch {
		case op == "gte" && c < 0, op == "gt" && c <= 0, op == "lte" && c > 0, op == "lt" && c >= 0:
			return false
		}
	}
	return true
}

type sortKey struct {
	field string
	ft    fieldType
	desc  bool
}

// sortValue is what goes into searchAfter: epoch ms for dates, the
// lower-cased string otherwise.
func sortValue(ct Contact, k sortKey) any {
	v, _ := lookup(ct, k.field)
	if k.ft == ftDate {
		t, ok := parseTime(v)
		if !ok {
			return int64(0)
		}
		return t.UnixMilli()
	}
	return strings.ToLower(str(v))
}

func cmpValues(a, b any) int {
	switch x := a.(type) {
	case int64:
		y := b.(int64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		return strings.Compare(x, b.(string))
	}
	return 0
}

// cursorValue reads one searchAfter element back into sortValue's form.
func cursorValue(v any, ft fieldType) (any, bool) {
	if ft == ftDate {
		switch x := v.(type) {
		case json.Number:
			n, err := x.Int64()
			return n, err == nil
		case string:
			t, ok := parseTime(x)
			return t.UnixMilli(), ok
		}
		return nil, false
	}
	s, ok := v.(string)
	return strings.ToLower(s), ok
}

type searchReq struct {
	pageLimit int
	page      int
	keys      []sortKey
	after     []any
	filter    predicate
	query     string
}

func parseSearch(body map[string]any) (*searchReq, *reply) {
	fail := func(r reply) (*searchReq, *reply) { return nil, &r }
	if msgs := searchDTO.validate(body); len(msgs) > 0 {
		return fail(unprocessable(msgs))
	}
	sr := &searchReq{page: 1}
	n, err := body["pageLimit"].(json.Number).Int64()
	switch {
	case err != nil:
		return fail(unprocessable([]string{"pageLimit must be an integer number"}))
	case n > 500:
		return fail(unprocessable([]string{"pageLimit must not be greater than 500"}))
	case n < 1:
		return fail(unprocessable([]string{"pageLimit must not be less than 1"}))
	}
	sr.pageLimit = int(n)
	if p, ok := body["page"].(json.Number); ok {
		pn, err := p.Int64()
		if err != nil || pn < 1 {
			return fail(unprocessable([]string{"page must not be less than 1"}))
		}
		sr.page = int(pn)
	}
	sr.query = str(body["query"])
	if len([]rune(sr.query)) > 75 {
		return fail(unprocessable([]string{"query must be shorter than or equal to 75 characters"}))
	}
	if raw, ok := body["sort"].([]any); ok {
		for _, item := range raw {
			m, _ := item.(map[string]any)
			name := str(m["field"])
			ft, ok := sortFields[name]
			if !ok {
				return fail(badRequest("Invalid sort field " + name))
			}
			dir := strings.ToLower(str(m["direction"]))
			if dir != "asc" && dir != "desc" {
				return fail(badRequest("Invalid sort direction " + str(m["direction"])))
			}
			sr.keys = append(sr.keys, sortKey{name, ft, dir == "desc"})
		}
	}
	if len(sr.keys) == 0 {
		sr.keys = []sortKey{{"dateAdded", ftDate, true}}
	}
	if raw, ok := body["searchAfter"].([]any); ok && len(raw) > 0 {
		if _, hasPage := body["page"]; hasPage {
			return fail(badRequest("page and searchAfter cannot be used together"))
		}
		if len(raw) != len(sr.keys)+1 {
			return fail(badRequest("searchAfter must have one value per sort field plus the contact id"))
		}
		for i, k := range sr.keys {
			v, ok := cursorValue(raw[i], k.ft)
			if !ok {
				return fail(badRequest("Invalid searchAfter value"))
			}
			sr.after = append(sr.after, v)
		}
		id, ok := raw[len(raw)-1].(string)
		if !ok {
			return fail(badRequest("Invalid searchAfter value"))
		}
		sr.after = append(sr.after, id)
	}
	if sr.page*sr.pageLimit > 10000 {
		return fail(badRequest("page and pageLimit reach beyond 10000 records; use searchAfter"))
	}
	sr.filter = func(Contact) bool { return true }
	if raw, ok := body["filters"].([]any); ok {
		p, msg := compileFilters(raw)
		if msg != "" {
			return fail(badRequest(msg))
		}
		sr.filter = p
	}
	return sr, nil
}

func matchQuery(ct Contact, q string) bool {
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	for _, k := range []string{"name", "firstName", "lastName", "email", "phone", "companyName"} {
		if strings.Contains(strings.ToLower(str(ct[k])), q) {
			return true
		}
	}
	return false
}

// sortTuple is a contact's position in the result order: the sort values,
// then the id, which makes the order total so cursors never skip or repeat.
func sortTuple(ct Contact, keys []sortKey) []any {
	t := make([]any, 0, len(keys)+1)
	for _, k := range keys {
		t = append(t, sortValue(ct, k))
	}
	return append(t, ct.ID())
}

// cmpTuple orders a before b in result order (honouring each direction;
// the id tie-break follows the last key's direction).
func cmpTuple(a, b []any, keys []sortKey) int {
	for i := range a {
		desc := keys[min(i, len(keys)-1)].desc
		c := cmpValues(a[i], b[i])
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func (s *Server) searchContacts(c *call) reply {
	body, rep := parseBody(c.body)
	if rep != nil {
		return *rep
	}
	sr, rep := parseSearch(body)
	if rep != nil {
		return *rep
	}
	if str(body["locationId"]) != c.location {
		return forbiddenLocation()
	}
	rows := s.sortedRows(c.location, sr.keys)
	// Rows are in sort order, so the cursor is a binary search and a page
	// is the next pageLimit rows that pass the filters. Counting the total
	// still visits every row, as the real index reports it on every page.
	from := 0
	if sr.after != nil {
		from = sort.Search(len(rows), func(i int) bool { return cmpTuple(rows[i].tuple, sr.after, sr.keys) > 0 })
	}
	skip := 0
	if sr.after == nil {
		skip = (sr.page - 1) * sr.pageLimit
	}
	total := 0
	var page []sortRow
	for i, r := range rows {
		if !sr.filter(r.ct) || !matchQuery(r.ct, sr.query) {
			continue
		}
		total++
		if i < from || len(page) >= sr.pageLimit {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		page = append(page, r)
	}
	start := 0
	out := make([]any, 0, len(page)-start)
	for _, r := range page[start:] {
		m := cloneMap(r.ct)
		m["searchAfter"] = r.tuple
		out = append(out, m)
	}
	return reply{http.StatusOK, map[string]any{"contacts": out, "total": total}}
}

// indexSnapshot returns the contacts of loc as the lagging search index
// sees them at now, pruning revisions no reader can see any more.
func (s *Server) indexSnapshot(loc string, now time.Time) []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := now.Add(-s.opts.SearchLag)
	var out []Contact
	for id, e := range s.contacts {
		ct := e.asOf(cutoff)
		if e.prune(cutoff) {
			delete(s.contacts, id)
		}
		if ct != nil && ct.LocationID() == loc {
			out = append(out, ct)
		}
	}
	return out
}

// sortedIndex is the search index sorted for one sort order, valid while
// the contacts' generation is unchanged.
type sortedIndex struct {
	loc        string
	keys       string
	generation int
	rows       []sortRow
}

// sortedRows returns the contacts of loc in the order of keys. Without a
// search lag the sorted index is reused until the next write; with one,
// what search sees depends on the time, so it is built afresh.
func (s *Server) sortedRows(loc string, keys []sortKey) []sortRow {
	s.mu.Lock()
	gen := s.generation
	s.mu.Unlock()
	sig := fmt.Sprint(keys)
	if s.opts.SearchLag == 0 {
		s.cacheMu.Lock()
		c := s.sorted
		s.cacheMu.Unlock()
		if c.rows != nil && c.loc == loc && c.keys == sig && c.generation == gen {
			return c.rows
		}
	}
	hits := s.indexSnapshot(loc, s.now())
	rows := make([]sortRow, len(hits))
	for i, ct := range hits {
		rows[i] = sortRow{ct, sortTuple(ct, keys)}
	}
	sort.Slice(rows, func(i, j int) bool { return cmpTuple(rows[i].tuple, rows[j].tuple, keys) < 0 })
	if s.opts.SearchLag == 0 {
		s.cacheMu.Lock()
		s.sorted = sortedIndex{loc: loc, keys: sig, generation: gen, rows: rows}
		s.cacheMu.Unlock()
	}
	return rows
}

type sortRow struct {
	ct    Contact
	tuple []any
}
