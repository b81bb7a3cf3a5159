# Every block and attribute the language has, as the seed demo uses them.
state {
  backend = "sqlite"
  path    = env("BELLSYNC_TEST_STATE_DIR", "var") # relative to this file
}

provider "ghl" {
  location_id = env("GHL_LOCATION_ID", "LOCbellsyncCorpus001")
  token       = env("GHL_PRIVATE_TOKEN", "")
}

provider "paperbell" {
  base_url = "http://127.0.0.1:9002"
  api_key  = env("PAPERBELL_API_KEY", "")
}

sync "contacts" {
  source    = ghl.contacts
  target    = paperbell.contacts
  direction = "two_way"
  conflict  = "newest_wins"

  match {
    key "email" {
      source = normalize_email(source.email)
      target = [for e in concat([target.email], target.additional_emails) : normalize_email(e)]
    }
    key "phone" {
      source = e164(source.phone, "US")
      target = e164(target.phone, "US")
    }
  }

  map {
    last_name  = source.lastName
    first_name = source.firstName
    email      = normalize_email(source.email)
    phone      = e164(source.phone, "US")
    tags       = normalize_tags(source.tags)
  }

  reverse_map {
    firstName = target.first_name
    lastName  = target.last_name
  }

  ignore_changes = ["time_zone", "time_zone"]
  on_delete      = "retain"
  max_deletes    = "10%"

  on_create {
    create "paperbell" "tasks" {
      title    = "Welcome ${source.firstName}"
      due_date = timeadd(source.dateAdded, "72h")
    }
  }
}

sync "tasks" {
  source      = paperbell.tasks
  target      = ghl.tasks
  parent      = sync.contacts
  max_deletes = 25

  map {
    title     = source.title
    completed = source.status == "completed"
  }
}

schedule {
  cron       = "*/15 * * * *"
  time_zone  = "Europe/Madrid"
  full_every = "12h"
}

webhooks {
  listen         = "127.0.0.1:8080"
  ghl_public_key = file("ghl-webhook.pub")
}
