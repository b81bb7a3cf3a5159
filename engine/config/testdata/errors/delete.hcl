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

sync "d" {
  source      = ghl.contacts
  target      = paperbell.contacts
  max_deletes = 99999999999999999999999 # ERROR: Invalid max_deletes
}

sync "e" {
  source      = ghl.contacts
  target      = paperbell.contacts
  max_deletes = "99999999999999999999999%" # ERROR: Invalid max_deletes
}

sync "f" {
  source      = ghl.contacts
  target      = paperbell.contacts
  max_deletes = -1 # ERROR: Invalid max_deletes
}

sync "g" {
  source      = ghl.contacts
  target      = paperbell.contacts
  max_deletes = "0%"
}

sync "h" {
  source      = ghl.contacts
  target      = paperbell.contacts
  max_deletes = 0
}
