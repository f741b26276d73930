# Housekeeping and detection against the real jobcell-api (tests/integration/api/
# test_upkeep.py): signals, /health degraded, thresholds, prune, idempotent replays.
if(TARGET jobcell-api)
  find_program(JC_PYTHON3 python3 REQUIRED)
  add_test(NAME api_upkeep COMMAND ${JC_PYTHON3}
           ${CMAKE_CURRENT_SOURCE_DIR}/integration/api/test_upkeep.py)
  set_tests_properties(api_upkeep PROPERTIES LABELS "integration;api" TIMEOUT 180
    ENVIRONMENT "JC_API_BIN=$<TARGET_FILE:jobcell-api>;JC_CLI_BIN=$<TARGET_FILE:jobcell-cli>;PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}/integration/api;PYTHONDONTWRITEBYTECODE=1")
endif()
