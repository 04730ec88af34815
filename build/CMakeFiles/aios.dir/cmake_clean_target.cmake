file(REMOVE_RECURSE
  "libaios.a"
)
