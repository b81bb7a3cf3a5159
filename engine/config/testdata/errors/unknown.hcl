provider "ghl" {}
provider "paperbell" {}

syncs "contacts" { # ERROR: Unsupported block type
}

sync "contacts" {
  source    = ghl.contacts
  target    = paperbell.contacts
  directon  = "one_way" # ERROR: Unsupported argument
  mapp { # ERROR: Unsupported block type
  }
}

schedule {
  cron     = "@hourly"
  timezone = "UTC" # ERROR: Unsupported argument
}
