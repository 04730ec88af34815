
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/lib/common/buf.c" "CMakeFiles/aios.dir/src/lib/common/buf.c.o" "gcc" "CMakeFiles/aios.dir/src/lib/common/buf.c.o.d"
  "/work/main/src/lib/common/clock.c" "CMakeFiles/aios.dir/src/lib/common/clock.c.o" "gcc" "CMakeFiles/aios.dir/src/lib/common/clock.c.o.d"
  "/work/main/src/lib/common/err.c" "CMakeFiles/aios.dir/src/lib/common/err.c.o" "gcc" "CMakeFiles/aios.dir/src/lib/common/err.c.o.d"
  "/work/main/src/lib/common/hash.c" "CMakeFiles/aios.dir/src/lib/common/hash.c.o" "gcc" "CMakeFiles/aios.dir/src/lib/common/hash.c.o.d"
  "/work/main/src/lib/common/json.c" "CMakeFiles/aios.dir/src/lib/common/json.c.o" "gcc" "CMakeFiles/aios.dir/src/lib/common/json.c.o.d"
  "/work/main/src/lib/common/log.c" "CMakeFiles/aios.dir/src/lib/common/log.c.o" "gcc" "CMakeFiles/aios.dir/src/lib/common/log.c.o.d"
  "/work/main/src/lib/common/mem.c" "CMakeFiles/aios.dir/src/lib/common/mem.c.o" "gcc" "CMakeFiles/aios.dir/src/lib/common/mem.c.o.d"
  "/work/main/src/lib/common/shutdown.c" "CMakeFiles/aios.dir/src/lib/common/shutdown.c.o" "gcc" "CMakeFiles/aios.dir/src/lib/common/shutdown.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
