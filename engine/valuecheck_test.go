package engine_test

import (
	"strings"
	"testing"
)

// TestExpressionValues: validate evaluates every map, reverse_map,
// on_create and match key expression once with records of unknown
// values, so an expression that would fail or give the wrong type for
// every record is reported at its own range, while expressions that only
// fail for some values (a malformed email) still pass.
func TestExpressionValues(t *testing.T) {
	withRule := func(title string) string {
		return strings.TrimSuffix(contactsSync("", mapNameEmail, ""), "}\n") + `
  on_create {
    create "b" "tasks" {
      title = ` + title + `
    }
  }
}
`
	}
	withKey := func(src string) string {
		return strings.Replace(contactsSync("", mapNameEmail, ""), "source = lower(source.email)", "source = "+src, 1)
	}
	tests := []struct {
		name   string
		cfg    string
		at     string // the text the diagnostic starts at; "" means valid
		detail string // a part of the detail
	}{
		{name: "plain references", cfg: contactsSync("", mapAll, "")},
		{name: "normalisers, try and coalesce over unknowns", cfg: contactsSync("", `    email = normalize_email(source.email)
    phone = try(e164(source.phone, "US"), null)
    name  = coalesce(source.name, source.email, "?")
    tags  = normalize_tags(concat(source.tags, ["lead"]))`, "")},
		{name: "joins, templates, conditionals and for", cfg: contactsSync("", `    name  = join(" ", [source.name, source.id])
    email = "${lower(source.email)}"
    phone = source.phone != null ? replace(source.phone, "-", "") : null
    tags  = [for t in source.tags : upper(t) if t != ""]`, "")},
		{name: "numbers and bools become strings", cfg: contactsSync("", `    name  = length(source.tags)
    email = source.email == null`, "")},
		{name: "a tuple becomes a list", cfg: contactsSync("", `    tags = [source.name, "x"]`, "")},
		{name: "record metadata", cfg: contactsSync("", `    name = formatdate("YYYY", source.updated_at)
    email = source.parent_id`, "")},
		{name: "a reverse map reading both sides", cfg: contactsSync("  direction = \"two_way\"\n  conflict = \"source_wins\"", mapNameEmail,
			`    name = coalesce(target.name, source.name)`)},
		{name: "on_create title from the source", cfg: withRule(`"Welcome ${source.name}"`)},
		{name: "a list key", cfg: withKey(`[for e in concat([source.email], source.tags) : lower(e)]`)},

		{name: "a list where a string belongs", cfg: contactsSync("", `    name = [1, 2]`, ""), at: `[1, 2]`,
			detail: `b.contacts field "name" holds a string, but this expression gives a tuple that cannot be converted to one.`},
		{name: "a string where a list belongs", cfg: contactsSync("", `    tags = "notalist"`, ""), at: `"notalist"`,
			detail: `b.contacts field "tags" holds a list of string, but this expression gives a string`},
		{name: "a list field where a string belongs", cfg: contactsSync("", `    name = source.tags`, ""), at: `source.tags`,
			detail: `holds a string, but this expression gives a list of string`},
		{name: "a constant that cannot convert", cfg: contactsSync("", `    archived = "maybe"`, ""), at: `"maybe"`,
			detail: `b.contacts field "archived" holds a bool, but this expression gives a string`},
		{name: "an object", cfg: contactsSync("", `    email = {a = source.email}`, ""), at: `{a = source.email}`,
			detail: `gives a object`},
		{name: "a function given the wrong type", cfg: contactsSync("", `    name = lower(source.tags)`, ""), at: `source.tags`,
			detail: `string required`},
		{name: "a function that fails on any record", cfg: contactsSync("", `    name = tostring(tonumber("abc"))`, ""), at: `abc"))`,
			detail: `cannot convert "abc" to number`},
		{name: "a reverse map of the wrong type", cfg: contactsSync("  direction = \"two_way\"\n  conflict = \"source_wins\"", mapNameEmail,
			`    tags = target.name`), at: `target.name`, detail: `a.contacts field "tags" holds a list of string, but this expression gives a string`},
		{name: "on_create of the wrong type", cfg: withRule(`source.tags`), at: `source.tags`,
			detail: `b.tasks field "title" holds a string, but this expression gives a list of string`},
		{name: "a bool key", cfg: withKey(`source.email == null`), at: `source.email == null`,
			detail: `Match key "email" must give a string or a list of strings, but this expression gives a bool.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			_, diags := h.openDiags(tt.cfg)
			checkOneError(t, tt.cfg, diags, tt.at, tt.detail)
		})
	}
}
