file(REMOVE_RECURSE
  "CMakeFiles/aios_testsupport.dir/check_main.c.o"
  "CMakeFiles/aios_testsupport.dir/check_main.c.o.d"
  "libaios_testsupport.a"
  "libaios_testsupport.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/aios_testsupport.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
