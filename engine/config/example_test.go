package config_test

import (
	"fmt"

	"github.com/bellsync/bellsync/engine/config"
	"github.com/zclconf/go-cty/cty"
)

// Parse a config, then evaluate a sync's field map for one record, as the
// engine does for every record it reads.
func ExampleParse() {
	src := []byte(`
provider "ghl" {}
provider "paperbell" {}

sync "contacts" {
  source = ghl.contacts
  target = paperbell.contacts

  map {
    name  = join(" ", compact([source.firstName, source.lastName]))
    email = normalize_email(source.email)
    tags  = normalize_tags(source.tags)
  }
}
`)
	cfg, diags := config.Parse("sync.hcl", src)
	if diags.HasErrors() {
		fmt.Println(diags.Error())
		return
	}

	record := cty.ObjectVal(map[string]cty.Value{
		"firstName": cty.StringVal("John"),
		"lastName":  cty.NullVal(cty.String),
		"email":     cty.StringVal(" JOHN.SMITH@EXAMPLE.COM "),
		"tags":      cty.ListVal([]cty.Value{cty.StringVal(" VIP"), cty.StringVal("vip"), cty.StringVal("Lead ")}),
	})
	evalCtx := config.EvalContext(map[string]cty.Value{"source": record}, cfg.BaseDir)

	s := cfg.Syncs[0]
	fmt.Printf("%s: %s -> %s\n", s.Name, s.Source, s.Target)
	for _, m := range s.Map {
		v, diags := m.Expr.Value(evalCtx)
		if diags.HasErrors() {
			fmt.Println(diags.Error())
			continue
		}
		fmt.Printf("%s = %s\n", m.Field, v.GoString())
	}
	// Output:
	// contacts: ghl.contacts -> paperbell.contacts
	// name = cty.StringVal("John")
	// email = cty.StringVal("john.smith@example.com")
	// tags = cty.ListVal([]cty.Value{cty.StringVal("lead"), cty.StringVal("vip")})
}

// A config with mistakes reports all of them, each at its line.
func ExampleParse_diagnostics() {
	src := []byte(`provider "ghl" {}

sync "contacts" {
  source    = ghl.contacts
  target    = paperbell.contacts
  direction = "both"
  on_delete = "archive"
}
`)
	_, diags := config.Parse("sync.hcl", src)
	for _, d := range diags {
		fmt.Printf("%s: %s\n", d.Subject, d.Summary)
	}
	// Output:
	// sync.hcl:5,15-33: Undeclared provider
	// sync.hcl:6,15-21: Invalid direction
	// sync.hcl:7,15-24: Invalid delete policy
}
