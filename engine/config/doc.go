// Package config reads sync.hcl, the file in which a user declares what
// bellsync keeps true between two systems.
//
// [Load] and [Parse] return a [Config] and hcl.Diagnostics. Every problem
// the author must fix is a diagnostic with a file:line:col range, and all of
// them are collected before returning, so one `bellsync validate` shows the
// whole list.
//
// # The language
//
// A config has these top-level blocks; anything else is an error, with a
// suggestion when the name is a near miss:
//
//	state {
//	  backend = "sqlite"
//	  path    = ".bellsync/state.db"
//	}
//	provider "ghl" { ... }
//	provider "paperbell" { ... }
//	sync "contacts" { ... }
//	schedule {
//	  cron       = "*/15 * * * *"
//	  time_zone  = "UTC"
//	  full_every = "24h"
//	}
//	webhooks {
//	  listen = "127.0.0.1:8080"
//	  ...
//	}
//
// state is optional; the default is the SQLite file .bellsync/state.db in
// the directory of the config, and a relative path is read from there too.
//
// A provider block's body is not decoded here. Each provider declares its
// own schema and decodes [Provider.Body] itself, so adding a provider never
// changes this package. The webhooks block is decoded here too (keys,
// secret, limits; see [Webhooks]), so validate checks it, and its body
// stays in [Webhooks.Body].
//
// A sync block reads records of one kind from a source and writes them to a
// target:
//
//	sync "contacts" {
//	  source    = ghl.contacts          # PROVIDER.KIND, not quoted
//	  target    = paperbell.contacts
//	  direction = "two_way"             # default "one_way"
//	  conflict  = "newest_wins"         # two_way only; source_wins | target_wins | newest_wins
//
//	  match {                           # identity when no link exists yet, keys in priority order
//	    key "email" {
//	      source = normalize_email(source.email)
//	      target = [for e in concat([target.email], target.additional_emails) : normalize_email(e)]
//	    }
//	  }
//	  map {                             # target field = expression over source
//	    first_name = source.firstName
//	  }
//	  reverse_map {                     # two_way only: source field = expression over target
//	    firstName = target.first_name
//	  }
//	  ignore_changes = ["time_zone"]    # target fields written on create only
//	  on_delete      = "retain"         # see SupportedDeletePolicies
//	  max_deletes    = "10%"            # or a count, 25 or "25"
//
//	  on_create {                       # once per new link
//	    create "paperbell" "tasks" { title = "Welcome ${source.firstName}" }
//	  }
//	}
//
// A child sync (tasks, notes) names the sync that links its parents with
// parent = sync.contacts; parents must exist and must not form a cycle.
// [Config.SyncOrder] lists syncs parents first.
//
// # Two kinds of attribute
//
// Static attributes (state, direction, conflict, on_delete, max_deletes,
// ignore_changes, schedule, webhooks.listen) are evaluated once, at load
// time, with the functions below and no variables; a reference to source or
// target there is an error. Record expressions (match keys, map,
// reverse_map, create attributes) are kept as hcl.Expression, with their
// source ranges, and the engine evaluates them per record with
// EvalContext(map[string]cty.Value{"source": ..., "target": ...}, baseDir).
// Map attributes keep the order they were written in.
//
// # Functions
//
// [Functions] lists what expressions may call: the usual cty standard
// library (lower, join, concat, regex, formatdate, timeadd, tostring, try,
// ...), env(name [, default]), file(path) relative to the config, and the
// identity normalisers normalize_email, e164, normalize_tags and nfc.
//
// Record fields the API left out are typed nulls, so the string functions a
// field usually flows into pass null through (lower(null) is null), join
// and concat skip nulls, and compact drops them. The normalisers return
// null for "no value" and an error for a value that is wrong, such as
// "jane@@example.com"; the engine reports such an error against the one
// record and carries on with the others. To treat a malformed value as no
// value instead, wrap it: try(e164(target.phone, "US"), null).
//
// cty already holds every string in Unicode form C, so nfc() and the NFC
// step of normalize_email only matter for the Go forms [NormalizeEmail]
// and [NormalizeTags], which callers may use on raw API strings.
package config
