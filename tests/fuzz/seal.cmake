# Fuzz target of the opening of sealed secrets.
jc_fuzz_target(fuzz_unseal SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_unseal.c)
