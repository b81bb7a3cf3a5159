provider "ghl" {}
provider "paperbell" {}
provider "ghl" {} # ERROR: Duplicate provider block

sync "contacts" {
  source = "ghl.contacts" # ERROR: Invalid resource reference
  target = paperbell # ERROR: Invalid resource reference
}

sync "contacts" { # ERROR: Duplicate sync block
  source = ghl.contacts
  target = paperbell.contacts
}

sync "notes" {
  source = ghl.notes
  target = paperbel.notes # ERROR: Undeclared provider
  parent = sync.contact # ERROR: Unknown parent sync
  on_create {
    create "hubspot" "tasks" { # ERROR: Undeclared provider
      title = source.title
    }
  }
}

sync "a" {
  source = ghl.tasks
  target = paperbell.tasks
  parent = sync.b # ERROR: Cycle in sync parents
}

sync "b" {
  source = ghl.tasks
  target = paperbell.tasks
  parent = sync.a # ERROR: Cycle in sync parents
}

sync "self" {
  source = ghl.tasks
  target = paperbell.tasks
  parent = "contacts" # ERROR: Invalid parent reference
}

sync "maps" {
  source = ghl.contacts
  target = paperbell.contacts
  match { # ERROR: Empty match block
  }
}
