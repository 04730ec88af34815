# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test(unit_common_test_common "/work/main/build/tests/unit_common_test_common")
set_tests_properties(unit_common_test_common PROPERTIES  ENVIRONMENT "AIOS_SOURCE_DIR=/work/main;AIOS_BUILD_DIR=/work/main/build;CK_DEFAULT_TIMEOUT=120" LABELS "unit" TIMEOUT "600" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;31;add_test;/work/main/tests/CMakeLists.txt;0;")
