provider "ghl" {}
provider "paperbell" {}

sync "a" {
  source    = ghl.contacts
  target    = paperbell.contacts
  direction = "twoway" # ERROR: Invalid direction
}

sync "b" {
  source    = ghl.contacts
  target    = paperbell.contacts
  direction = "two_way"
}

sync "c" {
  source   = ghl.contacts
  target   = paperbell.contacts
  conflict = "source_wins" # ERROR: Conflict rule on a one-way sync
  reverse_map { # ERROR: Reverse map on a one-way sync
    firstName = target.first_name
  }
}

sync "d" {
  source    = ghl.contacts
  target    = paperbell.contacts
  direction = "two_way"
  conflict  = "last_wins" # ERROR: Invalid conflict rule
}

sync "e" {
  source    = ghl.contacts
  target    = paperbell.contacts
  direction = source.direction # ERROR: Record values not allowed here
}
