# Housekeeping and detection against the real jobcell-api (tests/integration/api/
# test_upkeep.py): signals, /health degraded, thresholds, prune, idempotent replays.
if(TARGET jobcell-api)
  find_program(JC_PYTHON3 python3 REQUIRED)
  add_test(NAME api_upkeep COMMAND ${JC_PYTHON3}
           ${CMAKE_CURRENT_SOURCE_DIR}/integration/api/test_upkeep.py)
  set_tests_properties(api_upkeep PROPERTIES LABELS "integration;api" TIMEOUT 180
    ENVIRONMENT "JC_API_BIN=$<TARGET_FILE:jobcell-api>;JC_CLI_BIN=$<TARGET_FILE:jobcell-cli>;PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}/integration/api;PYTHONDONTWRITEBYTECODE=1")
endif()

# A prune of 200,000 finished jobs while claims run (tests/integration/upkeep/).
if(TARGET jobcell_api_core)
  add_executable(upkeep_prune_claims ${CMAKE_CURRENT_SOURCE_DIR}/integration/upkeep/prune_claims.c
                                     ${CMAKE_CURRENT_SOURCE_DIR}/integration/upkeep/prune_fixture.c)
  target_link_libraries(upkeep_prune_claims PRIVATE jobcell_api_core jobcell_store
                        PkgConfig::SQLITE)
  set_target_properties(upkeep_prune_claims PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                        ${PROJECT_BINARY_DIR}/tests)
  add_test(NAME upkeep_prune_claims COMMAND upkeep_prune_claims)
  set_tests_properties(upkeep_prune_claims PROPERTIES LABELS "integration;upkeep" TIMEOUT 600)
endif()
