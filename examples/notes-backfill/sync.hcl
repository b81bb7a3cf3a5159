# Notes backfill: copy every note that exists on only one side to the other,
# for people who are in both GoHighLevel and Paperbell, and keep doing so.
#
# What it does, in order:
#   1. contacts: each GHL contact is linked to its Paperbell client (by email,
#      then phone). This link is one way, GHL -> Paperbell, and deliberately
#      timid: a contact with no client gets one (a note needs somewhere to
#      go), but an existing client's fields are never overwritten, and nothing
#      is ever written back to GHL.
#   2. notes: under each linked pair, notes are kept in step both ways. A
#      note whose text is already on the other side is linked, not copied,
#      so running this on two accounts that were half synced by hand never
#      makes a duplicate.
#
# Everything comes from the environment, so this file can be committed as is:
#
#   export GHL_LOCATION_ID=...  GHL_TOKEN=...            # a Private Integration Token
#   export PAPERBELL_BASE_URL=...  PAPERBELL_API_KEY=...
#   bellsync plan  -config examples/notes-backfill/sync.hcl   # look first
#   bellsync apply -config examples/notes-backfill/sync.hcl
#
# Against the bundled emulators, run `bellsync emulate -seed examples/demo/seed`
# and paste the export lines it prints instead.

state {
  # Links and what was last written live here; keep it between runs.
  path = env("BELLSYNC_STATE", ".bellsync/notes-backfill.db")
}

provider "ghl" {
  # The real GHL API unless GHL_BASE_URL says otherwise: on the emulator,
  # export the GHL_BASE_URL that `bellsync emulate` prints.
  base_url    = env("GHL_BASE_URL", "https://services.leadconnectorhq.com")
  location_id = env("GHL_LOCATION_ID")
  token       = env("GHL_TOKEN")
  rate_limit  = tonumber(env("GHL_RATE_LIMIT", "100")) # requests per 10 s
}

provider "paperbell" {
  base_url   = env("PAPERBELL_BASE_URL")
  api_key    = env("PAPERBELL_API_KEY")
  rate_limit = tonumber(env("PAPERBELL_RATE_LIMIT", "60")) # requests per minute
}

# The people. One way: GHL decides, Paperbell follows.
sync "contacts" {
  source = ghl.contacts
  target = paperbell.contacts

  # How a contact finds its client the first time. Once linked, the link
  # (in the state database) decides.
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

  # Used only when a client has to be created for a contact...
  map {
    first_name = source.firstName
    last_name  = source.lastName
    email      = normalize_email(source.email)
    phone      = e164(source.phone, "US")
  }
  # ...because every mapped field is written on create only: an existing
  # client's name, email and phone are left as the coach typed them.
  ignore_changes = ["first_name", "last_name", "email", "phone"]

  # A contact deleted in GHL leaves its client (and the client's notes) alone.
  on_delete = "retain"
}

# The notes, both ways, under each linked contact/client pair.
sync "notes" {
  source    = ghl.notes
  target    = paperbell.notes
  parent    = sync.contacts # only notes of linked people; parents first
  direction = "two_way"
  # If the same note was edited on both sides since the last run, GHL's
  # version wins.
  conflict = "source_wins"

  # The match key is the note's text, trimmed: a note already on both sides
  # is linked instead of copied.
  match {
    key "text" {
      source = trimspace(source.body)
      target = trimspace(target.content)
    }
  }

  # GHL -> Paperbell: the text byte for byte (HTML and long notes included),
  # private to the coach.
  map {
    content    = source.body
    visibility = "private"
  }

  # Paperbell -> GHL: the text, with a title saying where it came from.
  reverse_map {
    body  = target.content
    title = "Paperbell note, ${formatdate("YYYY-MM-DD", target.created_at)}"
  }

  # A note deleted on one side is not deleted on the other.
  on_delete = "retain"
}
