provider "ghl" {}
provider "paperbell" {}

sync "a" {
  source      = ghl.contacts
  target      = paperbell.contacts
  on_delete   = "suspend"
  max_deletes = "10 %" # ERROR: Invalid max_deletes
}

sync "b" {
  source      = ghl.contacts
  target      = paperbell.contacts
  on_delete   = "delete"
  max_deletes = "150%" # ERROR: Invalid max_deletes
}

sync "c" {
  source      = ghl.contacts
  target      = paperbell.contacts
  on_delete   = "archive" # ERROR: Invalid delete policy
  max_deletes = 2.5 # ERROR: Invalid max_deletes
}
