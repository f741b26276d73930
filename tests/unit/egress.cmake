# Unit tests of the egress allow-list parser (lib/egress_spec.c).
jc_unit_test(test_egress_spec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_egress_spec.c)
