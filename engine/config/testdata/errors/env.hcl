state {
  backend = "postgres" # ERROR: Unsupported state backend
  path    = env("BELLSYNC_TEST_SURELY_UNSET_VARIABLE") # ERROR: Error in function call
}

state { # ERROR: Duplicate state block
}
