# Unit tests of the sealing of secrets at rest (lib/seal.c).
jc_unit_test(test_seal SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_seal.c)
