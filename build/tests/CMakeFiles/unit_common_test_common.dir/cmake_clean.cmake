file(REMOVE_RECURSE
  "CMakeFiles/unit_common_test_common.dir/unit/common/test_common.c.o"
  "CMakeFiles/unit_common_test_common.dir/unit/common/test_common.c.o.d"
  "unit_common_test_common"
  "unit_common_test_common.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/unit_common_test_common.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
