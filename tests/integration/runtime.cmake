# The runtime API end to end: the real jobcell-api on random ports, tokens minted with the
# orchestrator's code (lib/jwt) by jc-mint-token.
add_executable(jc-mint-token ${CMAKE_CURRENT_LIST_DIR}/../tools/jc_mint_token.c)
target_link_libraries(jc-mint-token PRIVATE jobcell)
set_target_properties(jc-mint-token PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)

find_program(JC_PYTHON3 python3)
if(TARGET jobcell-api AND JC_PYTHON3)
  add_test(NAME runtime_api COMMAND ${JC_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_runtime_api.py)
  set_tests_properties(runtime_api PROPERTIES LABELS "integration;runtime" TIMEOUT 300
    ENVIRONMENT "JC_SOURCE_DIR=${PROJECT_SOURCE_DIR};JC_BUILD_DIR=${PROJECT_BINARY_DIR}")
endif()
if(TARGET jobcell-api AND JC_PYTHON3)
  add_test(NAME runtime_api_offer COMMAND ${JC_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_runtime_offer.py)
  set_tests_properties(runtime_api_offer PROPERTIES LABELS "integration;runtime" TIMEOUT 120
    ENVIRONMENT "JC_SOURCE_DIR=${PROJECT_SOURCE_DIR};JC_BUILD_DIR=${PROJECT_BINARY_DIR}")
endif()
