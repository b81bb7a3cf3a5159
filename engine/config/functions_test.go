package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// testRecord is a source record the way a provider hands it over: fields
// the API left out are typed nulls.
var testRecord = cty.ObjectVal(map[string]cty.Value{
	"firstName":         cty.StringVal("Walk-in"),
	"lastName":          cty.NullVal(cty.String),
	"email":             cty.NullVal(cty.String),
	"phone":             cty.StringVal("(415) 555-0190"),
	"tags":              cty.ListVal([]cty.Value{cty.StringVal(" VIP"), cty.StringVal("vip"), cty.StringVal("Lead "), cty.StringVal("")}),
	"additional_emails": cty.NullVal(cty.List(cty.String)),
	"dateAdded":         cty.StringVal("2026-03-02T15:04:05Z"),
})

// evalExpr evaluates one expression the way the engine does for a record.
func evalExpr(t *testing.T, src, baseDir string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	return expr.Value(EvalContext(map[string]cty.Value{"source": testRecord}, baseDir))
}

func strList(ss ...string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

type funcCase struct {
	name    string
	expr    string
	want    cty.Value
	wantErr string
}

func runFuncCases(t *testing.T, cases []funcCase, baseDir string) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, diags := evalExpr(t, tc.expr, baseDir)
			if tc.wantErr != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.wantErr) {
					t.Fatalf("%s: got %#v, %v; want error containing %q", tc.expr, got, diags, tc.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("%s: %s", tc.expr, diags.Error())
			}
			if !got.RawEquals(tc.want) {
				t.Errorf("%s (-want +got):\n%s", tc.expr, cmp.Diff(tc.want.GoString(), got.GoString()))
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	runFuncCases(t, []funcCase{
		{name: "upper case with spaces", expr: `normalize_email(" JOHN.SMITH@EXAMPLE.COM ")`, want: cty.StringVal("john.smith@example.com")},
		{name: "trailing space", expr: `normalize_email("maria.lopez@example.com ")`, want: cty.StringVal("maria.lopez@example.com")},
		{name: "mixed case", expr: `normalize_email("Maria.Lopez@Example.com")`, want: cty.StringVal("maria.lopez@example.com")},
		{name: "subdomain", expr: `normalize_email("mario.jose@example.com.br")`, want: cty.StringVal("mario.jose@example.com.br")},
		{name: "empty is no value", expr: `normalize_email("")`, want: cty.NullVal(cty.String)},
		{name: "blank is no value", expr: `normalize_email("   ")`, want: cty.NullVal(cty.String)},
		{name: "absent field", expr: `normalize_email(source.email)`, want: cty.NullVal(cty.String)},
		{name: "no at sign", expr: `normalize_email("not-an-email")`, wantErr: `invalid email address "not-an-email"`},
		{name: "double at sign", expr: `normalize_email("jane@@example.com")`, wantErr: `invalid email address "jane@@example.com"`},
		{name: "two at signs apart", expr: `normalize_email("jane@doe@example.com")`, wantErr: "invalid email address"},
		{name: "empty local part", expr: `normalize_email("@example.com")`, wantErr: "invalid email address"},
		{name: "empty domain", expr: `normalize_email("jane@")`, wantErr: "invalid email address"},
		{name: "domain without dot", expr: `normalize_email("jane@localhost")`, wantErr: "invalid email address"},
		{name: "space inside", expr: `normalize_email("jane doe@example.com")`, wantErr: "invalid email address"},
		{name: "empty domain label", expr: `normalize_email("jane@example..com")`, wantErr: "invalid email address"},
		{name: "try gives null", expr: `try(normalize_email("jane@@example.com"), null)`, want: cty.NullVal(cty.DynamicPseudoType)},
	}, ".")
}

// cty normalises every string it holds to NFC, so the NFD case can only be
// seen through the Go form.
func TestNormalizeEmailNFD(t *testing.T) {
	got, ok, err := NormalizeEmail("Jose\u0301.Garci\u0301a@Example.es")
	if err != nil || !ok {
		t.Fatalf("NormalizeEmail: ok=%v err=%v", ok, err)
	}
	if want := "jos\u00e9.garc\u00eda@example.es"; got != want {
		t.Errorf("NormalizeEmail (-want +got):\n%s", cmp.Diff(want, got))
	}
}

func TestE164(t *testing.T) {
	runFuncCases(t, []funcCase{
		{name: "already e164", expr: `e164("+14155550101", "US")`, want: cty.StringVal("+14155550101")},
		{name: "parentheses and space", expr: `e164("(415) 555-0190", "US")`, want: cty.StringVal("+14155550190")},
		{name: "extension dropped", expr: `e164("(422)787-2331x71127", "US")`, want: cty.StringVal("+14227872331")},
		{name: "plus one with dashes", expr: `e164("+1-675-243-7422x9177", "US")`, want: cty.StringVal("+16752437422")},
		{name: "double zero prefix", expr: `e164("001-648-790-9244", "US")`, want: cty.StringVal("+16487909244")},
		{name: "dots", expr: `e164("938.501.2065x13955", "US")`, want: cty.StringVal("+19385012065")},
		{name: "spanish mobile", expr: `e164("+34 612 34 56 78", "US")`, want: cty.StringVal("+34612345678")},
		{name: "national in region", expr: `e164("0612 345 678", "NL")`, want: cty.StringVal("+31612345678")},
		{name: "lower-case region", expr: `e164("(415) 555-0190", "us")`, want: cty.StringVal("+14155550190")},
		{name: "record field", expr: `e164(source.phone, "US")`, want: cty.StringVal("+14155550190")},
		{name: "empty is no value", expr: `e164("", "US")`, want: cty.NullVal(cty.String)},
		{name: "absent field", expr: `e164(source.lastName, "US")`, want: cty.NullVal(cty.String)},
		{name: "area code starting with zero", expr: `e164("(047)752-3122", "US")`, wantErr: `invalid phone number "(047)752-3122"`},
		{name: "letters", expr: `e164("call me", "US")`, wantErr: `invalid phone number "call me"`},
		{name: "too short", expr: `e164("12", "US")`, wantErr: `invalid phone number "12"`},
	}, ".")
}

func TestNormalizeTags(t *testing.T) {
	runFuncCases(t, []funcCase{
		{name: "corpus tag mess", expr: `normalize_tags([" VIP", "vip", "Lead ", ""])`, want: strList("lead", "vip")},
		{name: "record field", expr: `normalize_tags(source.tags)`, want: strList("lead", "vip")},
		{name: "sorted", expr: `normalize_tags(["b", "A"])`, want: strList("a", "b")},
		{name: "empty", expr: `normalize_tags([])`, want: strList()},
		{name: "only blanks", expr: `normalize_tags(["", " "])`, want: strList()},
		{name: "null", expr: `normalize_tags(source.additional_emails)`, want: strList()},
	}, ".")
}

func TestNullPassingFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{name: "lower null", expr: `lower(source.lastName)`, want: cty.NullVal(cty.String)},
		{name: "lower value", expr: `lower(source.firstName)`, want: cty.StringVal("walk-in")},
		{name: "upper null", expr: `upper(source.lastName)`, want: cty.NullVal(cty.String)},
		{name: "trimspace null", expr: `trimspace(source.email)`, want: cty.NullVal(cty.String)},
		{name: "trimspace value", expr: `trimspace("  x ")`, want: cty.StringVal("x")},
		{name: "title null", expr: `title(source.lastName)`, want: cty.NullVal(cty.String)},
		{name: "nfc null", expr: `nfc(source.lastName)`, want: cty.NullVal(cty.String)},
		{name: "nfc value", expr: `nfc("Jos\u00e9")`, want: cty.StringVal("Jos\u00e9")},
		{name: "nested", expr: `lower(trimspace(source.email))`, want: cty.NullVal(cty.String)},
		{name: "replace null", expr: `replace(source.lastName, "a", "b")`, want: cty.NullVal(cty.String)},
		{name: "compact drops nulls", expr: `compact([source.firstName, source.lastName, ""])`, want: strList("Walk-in")},
		{name: "join compact", expr: `join(" ", compact([source.firstName, source.lastName]))`, want: cty.StringVal("Walk-in")},
		{name: "join skips nulls", expr: `join(" ", ["a", source.lastName, "b"])`, want: cty.StringVal("a b")},
		{name: "join all null", expr: `join(" ", [source.lastName])`, want: cty.StringVal("")},
		{name: "concat skips null list", expr: `concat(["a"], source.additional_emails)`, want: cty.TupleVal([]cty.Value{cty.StringVal("a")})},
		{name: "concat lists", expr: `concat(tolist(["a"]), tolist(["b"]))`, want: strList("a", "b")},
		{name: "length null", expr: `length(source.lastName)`, want: cty.Zero},
		{name: "length string", expr: `length("José")`, want: cty.NumberIntVal(4)},
		{name: "length list", expr: `length(source.tags)`, want: cty.NumberIntVal(4)},
		{name: "coalesce", expr: `coalesce(source.lastName, "unknown")`, want: cty.StringVal("unknown")},
		{name: "timeadd", expr: `timeadd(source.dateAdded, "72h")`, want: cty.StringVal("2026-03-05T15:04:05Z")},
		{name: "formatdate", expr: `formatdate("YYYY-MM-DD", source.dateAdded)`, want: cty.StringVal("2026-03-02")},
		{name: "tostring", expr: `tostring(25)`, want: cty.StringVal("25")},
		{name: "can", expr: `can(e164("x", "US"))`, want: cty.False},
		{name: "regex_replace", expr: `regex_replace("a-b-c", "-", "")`, want: cty.StringVal("abc")},
		{name: "reverse", expr: `reverse(["a", "b"])`, want: cty.TupleVal([]cty.Value{cty.StringVal("b"), cty.StringVal("a")})},
	}, ".")
}

func TestEnv(t *testing.T) {
	t.Setenv("BELLSYNC_TEST_SET", "from-env")
	t.Setenv("BELLSYNC_TEST_EMPTY", "")
	runFuncCases(t, []funcCase{
		{name: "set", expr: `env("BELLSYNC_TEST_SET")`, want: cty.StringVal("from-env")},
		{name: "set beats default", expr: `env("BELLSYNC_TEST_SET", "fallback")`, want: cty.StringVal("from-env")},
		{name: "set but empty", expr: `env("BELLSYNC_TEST_EMPTY", "fallback")`, want: cty.StringVal("")},
		{name: "unset with default", expr: `env("BELLSYNC_TEST_UNSET", "fallback")`, want: cty.StringVal("fallback")},
		{name: "unset", expr: `env("BELLSYNC_TEST_UNSET")`, wantErr: "environment variable BELLSYNC_TEST_UNSET is not set"},
		{name: "too many arguments", expr: `env("A", "b", "c")`, wantErr: "at most one default"},
	}, ".")
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key.pub"), []byte("PUBLIC KEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "binary"), []byte{0xff, 0xfe}, 0o600); err != nil {
		t.Fatal(err)
	}
	runFuncCases(t, []funcCase{
		{name: "relative to base dir", expr: `file("key.pub")`, want: cty.StringVal("PUBLIC KEY\n")},
		{name: "absolute", expr: `file("` + filepath.ToSlash(filepath.Join(dir, "key.pub")) + `")`, want: cty.StringVal("PUBLIC KEY\n")},
		{name: "missing", expr: `file("nope.pub")`, wantErr: "no such file"},
		{name: "not utf-8", expr: `file("binary")`, wantErr: "not valid UTF-8"},
	}, dir)
}

func TestConcatAllNull(t *testing.T) {
	runFuncCases(t, []funcCase{
		{name: "all null", expr: `concat(source.additional_emails, null)`, want: cty.EmptyTupleVal},
	}, ".")
}

// TestFunctionsIsolated guards the cache behind Functions: one config's
// map must not leak into another's.
func TestFunctionsIsolated(t *testing.T) {
	a := Functions("a")
	delete(a, "lower")
	if _, ok := Functions("b")["lower"]; !ok {
		t.Error("deleting from one Functions map changed another")
	}
}

// TestInvisibleCharacters: an address or number carrying a zero-width,
// bidi-control or other invisible character looks like a person's real
// one but is another identity (or, with a bidi override, shows digits it
// does not hold), so the Go forms and the HCL functions refuse it with
// the usual invalid-value error, and quote it with the character escaped.
func TestInvisibleCharacters(t *testing.T) {
	invisible := map[string]rune{
		"zero-width space": 0x200B, "zero-width non-joiner": 0x200C, "zero-width joiner": 0x200D,
		"word joiner": 0x2060, "byte order mark": 0xFEFF,
		"LRE": 0x202A, "RLE": 0x202B, "PDF": 0x202C, "LRO": 0x202D, "RLO": 0x202E,
		"LRI": 0x2066, "RLI": 0x2067, "FSI": 0x2068, "PDI": 0x2069,
		"soft hyphen": 0x00AD, "left-to-right mark": 0x200E, "variation selector": 0xFE0F,
		"hangul filler": 0x3164, "NUL": 0x00, "escape": 0x1B, "DEL": 0x7F, "C1 control": 0x9B,
		"private use": 0xE000,
	}
	for name, r := range invisible {
		t.Run(name, func(t *testing.T) {
			for _, email := range []string{
				"jane" + string(r) + "@example.com",
				string(r) + "jane@example.com",
				"jane@example.com" + string(r),
			} {
				if got, ok, err := NormalizeEmail(email); err == nil || ok {
					t.Errorf("NormalizeEmail(%q) = %q, %v, %v; want an error", email, got, ok, err)
				} else if !strings.Contains(err.Error(), "invalid email address") || strings.ContainsRune(err.Error(), r) {
					t.Errorf("NormalizeEmail(%q) error = %v", email, err)
				}
				_, diags := evalExpr(t, "normalize_email("+hclQuote(email)+")", "")
				if !diags.HasErrors() || !strings.Contains(diags.Error(), "invalid email address") {
					t.Errorf("normalize_email(%q): %v", email, diags)
				}
			}
			for _, phone := range []string{
				"+1 415 555" + string(r) + "0190",
				string(r) + "+14155550190",
				"(415) 555-0190" + string(r),
			} {
				if got, ok, err := E164(phone, "US"); err == nil || ok {
					t.Errorf("E164(%q) = %q, %v, %v; want an error", phone, got, ok, err)
				} else if !strings.Contains(err.Error(), "invalid phone number") || strings.ContainsRune(err.Error(), r) {
					t.Errorf("E164(%q) error = %q, want it to name the number with the character escaped", phone, err)
				}
			}
		})
	}
	// Ordinary spacing is not invisible in this sense.
	if got, _, err := NormalizeEmail("\u00a0Jane@Example.com\n"); err != nil || got != "jane@example.com" {
		t.Errorf("NormalizeEmail with surrounding spaces = %q, %v", got, err)
	}
	if _, _, err := NormalizeEmail("jane\xff@example.com"); err == nil {
		t.Error("NormalizeEmail accepted bytes that are not UTF-8")
	}
}

// hclQuote writes s as an HCL string literal, every character outside
// printable ASCII as a \u escape.
func hclQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteRune('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
