# Duplicate attributes are caught by the parser, which stops decoding.
sync "maps" {
  source = ghl.contacts
  target = paperbell.contacts
  map {
    email = source.email
    email = source.email # ERROR: Attribute redefined
  }
}
