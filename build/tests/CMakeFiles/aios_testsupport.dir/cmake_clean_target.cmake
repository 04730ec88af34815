file(REMOVE_RECURSE
  "libaios_testsupport.a"
)
