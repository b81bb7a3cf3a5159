provider "ghl" {}
provider "paperbell" {}

sync "contacts" {
  source = ghl.contacts
  target = paperbell.contacts
  direction = "two_way"
  conflict  = "source_wins"

  match {
    key "email" {
      source = normalize_email(source.email)
      target = normalize_email(source.email) # ERROR: Unknown variable
    }
    key "phone" {
      source = e164(phone, "US") # ERROR: Unknown variable
      target = [for p in target.phones : e164(p, "US")]
    }
  }
  map {
    first_name = first_name # ERROR: Unknown variable
    last_name  = sourc.lastName # ERROR: Unknown variable
    email      = coalesce(target.email, source.email)
    tags       = [for t in source.tags : lower(t) if t != ""]
    note       = "${source.firstName} ${var.suffix}" # ERROR: Unknown variable
  }
  reverse_map {
    firstName = targt.first_name # ERROR: Unknown variable
    lastName  = try(target.last_name, source.lastName)
  }
  on_create {
    create "paperbell" "tasks" {
      title = "Welcome ${source.firstName}"
      due   = each.value # ERROR: Unknown variable
    }
  }
}
