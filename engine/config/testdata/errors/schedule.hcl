schedule {
  cron       = "*/15 * * *" # ERROR: Invalid cron expression
  time_zone  = "Mars/Olympus_Mons" # ERROR: Invalid time zone
  full_every = "daily" # ERROR: Invalid duration
}

schedule { # ERROR: Duplicate schedule block
  cron = "0 */5 * * * *"
}

webhooks {
  listen = "8080" # ERROR: Invalid listen address
}
