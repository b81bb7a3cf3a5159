# The full mission: GHL contacts and Paperbell clients kept in step both
# ways, Paperbell tasks and notes mirrored into GHL (and back), a welcome
# task for every new client, and soft deletes. Endpoints and credentials
# come from the environment, as in examples/demo; GHL_BASE_URL too, with no
# default, so a shell without the emulator's exports fails validate instead
# of reaching the real GHL API (for a real account, set it to
# https://services.leadconnectorhq.com).

state {
  path = env("BELLSYNC_STATE", ".bellsync/state.db")
}

provider "ghl" {
  base_url    = env("GHL_BASE_URL") # no default: see the top of this file
  location_id = env("GHL_LOCATION_ID")
  token       = env("GHL_TOKEN")
  rate_limit  = tonumber(env("GHL_RATE_LIMIT", "100")) # per 10 s; GHL's documented limit
}

provider "paperbell" {
  base_url   = env("PAPERBELL_BASE_URL")
  api_key    = env("PAPERBELL_API_KEY")
  rate_limit = tonumber(env("PAPERBELL_RATE_LIMIT", "60")) # per minute
}

sync "contacts" {
  source    = ghl.contacts
  target    = paperbell.contacts
  direction = "two_way"
  # When both sides changed the same field since the last run, the side
  # whose record changed last wins.
  conflict = "newest_wins"

  match {
    key "email" {
      source = normalize_email(source.email)
      target = [for e in concat([target.email], target.additional_emails) : try(normalize_email(e), null)]
    }
    key "phone" {
      source = e164(source.phone, "US")
      target = try(e164(target.phone, "US"), null)
    }
  }

  # GHL -> Paperbell.
  map {
    first_name = source.firstName
    last_name  = source.lastName
    email      = try(contains([for e in target.additional_emails : lower(e)], normalize_email(source.email)), false) ? target.email : normalize_email(source.email)
    phone      = e164(source.phone, "US")
    tags       = normalize_tags(source.tags)
  }

  # Paperbell -> GHL, for edits made in Paperbell and for clients that
  # exist only there.
  reverse_map {
    firstName = target.first_name
    lastName  = target.last_name
    email     = try(normalize_email(target.email), null)
    phone     = try(e164(target.phone, "US"), null)
  }

  # GHL is the system of record for these: an edit in Paperbell is put back.
  ownership {
    email = "source"
    phone = "source"
    tags  = "source"
  }

  # A contact deleted in GHL archives its Paperbell client (history kept);
  # a client deleted in Paperbell tags its GHL contact. The tags go to the
  # survivor on either side wherever it has tags, the archived client too,
  # so the tag names neither system.
  on_delete   = "suspend"
  max_deletes = "10%"
  suspend {
    archive  = true
    tags_add = ["bellsync-suspended"]
  }

  # Once per new client, ever: a welcome onboarding task in Paperbell, due
  # three days after the client was created (`target` is the new client).
  # timeadd(source.dateAdded, "72h") would count from the GHL contact's
  # creation instead, a date long past for contacts older than the sync.
  on_create {
    create "paperbell" "tasks" {
      title       = "Welcome ${coalesce(source.firstName, "new client")}"
      description = "Onboarding call and intake form."
      due_date    = timeadd(target.created_at, "72h")
      status      = "open"
    }
  }
}

sync "tasks" {
  source    = paperbell.tasks
  target    = ghl.tasks
  parent    = sync.contacts
  direction = "two_way"
  conflict  = "source_wins"

  match {
    key "title" {
      source = lower(trimspace(source.title))
      target = lower(trimspace(target.title))
    }
  }

  map {
    title     = source.title
    body      = source.description
    dueDate   = coalesce(source.due_date, source.created_at)
    completed = source.status == "completed"
  }

  # Completing (or re-opening) a task in GHL completes it in Paperbell.
  reverse_map {
    title       = target.title
    description = target.body
    due_date    = target.dueDate
    status      = target.completed ? "completed" : "open"
  }
}

sync "notes" {
  source    = paperbell.notes
  target    = ghl.notes
  parent    = sync.contacts
  direction = "two_way"
  conflict  = "source_wins"

  # A note that exists on both sides (same text) is linked, not copied.
  match {
    key "text" {
      source = trimspace(source.content)
      target = trimspace(target.body)
    }
  }

  map {
    body  = source.content
    title = "Paperbell note, ${formatdate("YYYY-MM-DD", source.created_at)}"
  }

  reverse_map {
    content    = target.body
    visibility = "private"
  }
}
