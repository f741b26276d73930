# The bash, Python and Node helpers against the real server, and a client that speaks to
# the runtime API exactly as Cronium's helpers do.
find_program(JC_PYTHON3 python3)
if(TARGET jobcell-api AND JC_PYTHON3)
  add_test(NAME sdk_helpers COMMAND ${JC_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_sdk.py)
  set_tests_properties(sdk_helpers PROPERTIES LABELS "integration;sdk" TIMEOUT 300
    ENVIRONMENT "JC_SOURCE_DIR=${PROJECT_SOURCE_DIR};JC_BUILD_DIR=${PROJECT_BINARY_DIR}")
  add_test(NAME sdk_cronium_compat COMMAND ${JC_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_cronium_compat.py)
  set_tests_properties(sdk_cronium_compat PROPERTIES LABELS "integration;sdk" TIMEOUT 300
    ENVIRONMENT "JC_SOURCE_DIR=${PROJECT_SOURCE_DIR};JC_BUILD_DIR=${PROJECT_BINARY_DIR}")
endif()
if(TARGET jobcell-api AND JC_PYTHON3)
  add_test(NAME sdk_cronium_corpus COMMAND ${JC_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_cronium_corpus.py)
  set_tests_properties(sdk_cronium_corpus PROPERTIES LABELS "integration;sdk" TIMEOUT 300
    ENVIRONMENT "JC_SOURCE_DIR=${PROJECT_SOURCE_DIR};JC_BUILD_DIR=${PROJECT_BINARY_DIR}")
endif()
