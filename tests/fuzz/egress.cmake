# Fuzz target of the egress allow-list entry parser.
jc_fuzz_target(fuzz_egress_spec SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_egress_spec.c)
