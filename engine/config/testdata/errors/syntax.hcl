sync "contacts" {
  source = ghl.contacts target = paperbell.contacts # ERROR: Missing newline after argument
}
