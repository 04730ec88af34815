file(REMOVE_RECURSE
  "CMakeFiles/aios.dir/src/lib/common/buf.c.o"
  "CMakeFiles/aios.dir/src/lib/common/buf.c.o.d"
  "CMakeFiles/aios.dir/src/lib/common/clock.c.o"
  "CMakeFiles/aios.dir/src/lib/common/clock.c.o.d"
  "CMakeFiles/aios.dir/src/lib/common/err.c.o"
  "CMakeFiles/aios.dir/src/lib/common/err.c.o.d"
  "CMakeFiles/aios.dir/src/lib/common/hash.c.o"
  "CMakeFiles/aios.dir/src/lib/common/hash.c.o.d"
  "CMakeFiles/aios.dir/src/lib/common/json.c.o"
  "CMakeFiles/aios.dir/src/lib/common/json.c.o.d"
  "CMakeFiles/aios.dir/src/lib/common/log.c.o"
  "CMakeFiles/aios.dir/src/lib/common/log.c.o.d"
  "CMakeFiles/aios.dir/src/lib/common/mem.c.o"
  "CMakeFiles/aios.dir/src/lib/common/mem.c.o.d"
  "CMakeFiles/aios.dir/src/lib/common/shutdown.c.o"
  "CMakeFiles/aios.dir/src/lib/common/shutdown.c.o.d"
  "libaios.a"
  "libaios.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/aios.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
