provider "ghl" {}
provider "paperbell" {}

sync "contacts" {
  source = ghl.contacts
  target = paperbell.contacts
  ignore_changes = [
    "time_zone",
    "", # ERROR: Empty field name
  ]
  suspend {
    tags_add = "gone" # ERROR: Incorrect attribute value type
  }
}

sync "tasks" {
  source = ghl.tasks
  target = paperbell.tasks
  ignore_changes = [source.title] # ERROR: Record values not allowed here
}
