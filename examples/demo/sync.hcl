# The demo: GHL contacts -> Paperbell clients, one way, on the bundled
# emulators. Every endpoint and credential comes from the environment, so the
# same file works against real accounts:
#
#   GHL_BASE_URL, GHL_LOCATION_ID, GHL_TOKEN, PAPERBELL_BASE_URL,
#   PAPERBELL_API_KEY, and BELLSYNC_STATE for the state database.
#
# GHL_BASE_URL has no default here: this file is mostly run against the
# emulator, and a shell that forgot the emulator's export lines would
# otherwise send its requests to the real GHL API. For a real account, set
# GHL_BASE_URL=https://services.leadconnectorhq.com.

state {
  path = env("BELLSYNC_STATE", ".bellsync/state.db")
}

provider "ghl" {
  base_url    = env("GHL_BASE_URL") # no default: see the top of this file
  location_id = env("GHL_LOCATION_ID")
  token       = env("GHL_TOKEN")
}

provider "paperbell" {
  base_url = env("PAPERBELL_BASE_URL")
  api_key  = env("PAPERBELL_API_KEY")
  # Requests per minute. Paperbell's real limit is unknown; 60 is the safe
  # default. The demo's emulator is local, so the demo goes faster.
  rate_limit = tonumber(env("PAPERBELL_RATE_LIMIT", "3000"))
}

sync "contacts" {
  source = ghl.contacts
  target = paperbell.contacts

  # How a GHL contact finds its Paperbell client before they are linked:
  # by email first (including the client's additional emails), then by phone.
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

  # Each attribute sets a Paperbell field from the GHL contact (`source`);
  # `target` is the linked client as it is now, or null for a new one.
  map {
    first_name = source.firstName
    last_name  = source.lastName
    # Keep a client's primary email when the contact's address is already
    # one of the client's additional emails (that is how they were matched).
    email     = try(contains([for e in target.additional_emails : lower(e)], normalize_email(source.email)), false) ? target.email : normalize_email(source.email)
    phone     = e164(source.phone, "US")
    time_zone = source.timezone
    tags      = normalize_tags(source.tags)
  }

  on_delete = "retain"
}
