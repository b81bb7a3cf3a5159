package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"golang.org/x/text/unicode/norm"
)

// The identity functions below turn the values people type into the form
// match keys compare. They return null for "no value" (absent, empty or
// blank), so the engine can tell a record without an email from one whose
// email is wrong; a wrong value is a function error, which the engine
// reports against that one record.

var normalizeEmailFunc = function.New(&function.Spec{
	Description: "Trims, NFC-normalises and lower-cases an email address; blank gives null, an invalid address is an error.",
	Params: []function.Parameter{
		{Name: "email", Type: cty.String, AllowNull: true},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.NullVal(cty.String), nil
		}
		s, ok, err := NormalizeEmail(args[0].AsString())
		if err != nil || !ok {
			return cty.NullVal(cty.String), err
		}
		return cty.StringVal(s), nil
	},
})

// NormalizeEmail is the Go form of normalize_email: ok is false for a blank
// input, and err is set for an address that cannot be valid.
func NormalizeEmail(raw string) (email string, ok bool, err error) {
	s := strings.ToLower(norm.NFC.String(strings.TrimSpace(raw)))
	if s == "" {
		return "", false, nil
	}
	if hasInvisible(s) || !validEmail(s) {
		return "", false, fmt.Errorf("invalid email address %s", quoteVisible(raw))
	}
	return s, true, nil
}

// hasInvisible reports characters that change what an identity is
// without changing how it looks: zero-width and bidi controls (U+200B-D,
// U+2060, U+FEFF, U+202A-E, U+2066-9 and the rest of category Cf), other
// default-ignorable code points and variation selectors, control and
// private-use characters, and bytes that are not UTF-8. An address that
// carries one would become a second identity for the person it looks
// like, or display as someone else's, so it is rejected rather than
// stripped: stripping would silently merge two addresses that differ.
func hasInvisible(s string) bool {
	return strings.IndexFunc(s, invisible) >= 0
}

func invisible(r rune) bool {
	return r == utf8.RuneError ||
		unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Co, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r) ||
		unicode.IsControl(r) && !unicode.IsSpace(r)
}

// quoteVisible is %q with every invisible character escaped as well,
// including those Go counts as printable (U+3164, variation selectors),
// so an error shows why a value that looks right is refused.
func quoteVisible(s string) string {
	q := strconv.Quote(s)
	if strings.IndexFunc(q, invisible) < 0 {
		return q
	}
	var b strings.Builder
	for _, r := range q {
		switch {
		case !invisible(r):
			b.WriteRune(r)
		case r > 0xFFFF:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// validEmail is deliberately a structural check, not RFC 5322: quoted local
// parts and IP-literal domains are rare in a CRM, while typos such as a
// doubled @ or a missing domain are common and must not become identities.
func validEmail(s string) bool {
	local, domain, found := strings.Cut(s, "@")
	if !found || local == "" || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 || strings.ContainsAny(s, "<>()[],;:\\\"") {
		return false
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return true
}

var e164Func = function.New(&function.Spec{
	Description: "Parses a phone number, reading national numbers in the default region, " +
		"and formats it as E.164 without extension; blank gives null.",
	Params: []function.Parameter{
		{Name: "phone", Type: cty.String, AllowNull: true},
		{Name: "default_region", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.NullVal(cty.String), nil
		}
		s, ok, err := E164(args[0].AsString(), args[1].AsString())
		if err != nil || !ok {
			return cty.NullVal(cty.String), err
		}
		return cty.StringVal(s), nil
	},
})

// nanpNational is the loosest shape of a North American number: ten
// digits with an area code that starts with 2-9. The exchange is not
// checked, because CRMs hold numbers (and test data) that break that rule
// and still identify someone.
var nanpNational = regexp.MustCompile(`^[2-9][0-9]{9}$`)

// E164 is the Go form of e164: ok is false for a blank input, and err is
// set for a number that cannot be parsed or is not valid.
//
// Two leniencies keep typed numbers usable. A leading "00" is read as the
// international prefix, as in most of the world, even when the default
// region dials out differently ("001-648-790-9244" is +1 648...). And a
// North American number is accepted when it has roughly the right shape
// even if the phone metadata does not list its area code, because new
// area codes appear faster than the metadata is updated and a CRM is a
// poor place to reject a number people have been dialling.
func E164(raw, region string) (phone string, ok bool, err error) {
	key := region + "\x00" + raw
	if r, hit := e164Cache.get(key); hit {
		return r.phone, r.ok, r.err
	}
	phone, ok, err = e164(raw, region)
	e164Cache.put(key, e164Result{phone, ok, err})
	return phone, ok, err
}

type e164Result struct {
	phone string
	ok    bool
	err   error
}

// e164Cache remembers recent results: parsing is the costliest step of a
// plan (tens of microseconds a number), and every phone is parsed at least
// twice, once as a match key and once as a mapped field.
var e164Cache = &boundedCache[e164Result]{max: 200_000}

// boundedCache is a map that forgets everything when it grows past max;
// crude, but plans touch each value a few times in a burst.
type boundedCache[V any] struct {
	max int
	// mu guards m.
	mu sync.Mutex
	m  map[string]V
}

func (c *boundedCache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *boundedCache[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[string]V)
	}
	c.m[k] = v
}

func e164(raw, region string) (phone string, ok bool, err error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", false, nil
	}
	// The parser skips characters it does not know, so a bidi override
	// would let a number display as other digits than it matches as.
	if hasInvisible(s) {
		return "", false, fmt.Errorf("invalid phone number %s: it contains an invisible or control character", quoteVisible(raw))
	}
	region = strings.ToUpper(strings.TrimSpace(region))
	n, err := phonenumbers.Parse(s, region)
	if (err != nil || !acceptable(n)) && strings.HasPrefix(s, "00") {
		if alt, altErr := phonenumbers.Parse("+"+s[2:], region); altErr == nil && acceptable(alt) {
			n, err = alt, nil
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("invalid phone number %q: %w", raw, err)
	}
	if !acceptable(n) {
		return "", false, fmt.Errorf("invalid phone number %q", raw)
	}
	n.Extension = nil
	return phonenumbers.Format(n, phonenumbers.E164), true, nil
}

func acceptable(n *phonenumbers.PhoneNumber) bool {
	if phonenumbers.IsValidNumber(n) {
		return true
	}
	national := fmt.Sprint(n.GetNationalNumber())
	return n.GetCountryCode() == 1 && nanpNational.MatchString(national)
}

var normalizeTagsFunc = function.New(&function.Spec{
	Description: "Trims and lower-cases tags, dropping empty ones and duplicates, and sorts them; null gives an empty list.",
	Params: []function.Parameter{
		{Name: "tags", Type: cty.List(cty.String), AllowNull: true},
	},
	Type: function.StaticReturnType(cty.List(cty.String)),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.ListValEmpty(cty.String), nil
		}
		var raw []string
		for it := args[0].ElementIterator(); it.Next(); {
			if _, v := it.Element(); !v.IsNull() {
				raw = append(raw, v.AsString())
			}
		}
		tags := NormalizeTags(raw)
		if len(tags) == 0 {
			return cty.ListValEmpty(cty.String), nil
		}
		vals := make([]cty.Value, len(tags))
		for i, t := range tags {
			vals[i] = cty.StringVal(t)
		}
		return cty.ListVal(vals), nil
	},
})

// NormalizeTags is the Go form of normalize_tags. The result is never nil.
func NormalizeTags(raw []string) []string {
	out := []string{}
	for _, t := range raw {
		t = strings.ToLower(norm.NFC.String(strings.TrimSpace(t)))
		if t != "" {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var nfcFunc = function.New(&function.Spec{
	Description: "Returns the string in Unicode normalisation form C; null gives null.",
	Params: []function.Parameter{
		{Name: "s", Type: cty.String, AllowNull: true},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].IsNull() {
			return cty.NullVal(cty.String), nil
		}
		return cty.StringVal(norm.NFC.String(args[0].AsString())), nil
	},
})
