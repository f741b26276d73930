# jobcell-api integration tests: each starts the real server on free loopback ports with a
# temporary store and drives it over HTTP (tests/integration/api/*.py, python3 stdlib only).
if(TARGET jobcell-api)
  find_program(JC_PYTHON3 python3 REQUIRED)
  set(jc_api_test_dir ${CMAKE_CURRENT_SOURCE_DIR}/integration/api)
  foreach(t endpoints claims lease crash startup limits secrets hmac egress)
    add_test(NAME api_${t} COMMAND ${JC_PYTHON3} ${jc_api_test_dir}/test_${t}.py)
    set_tests_properties(api_${t} PROPERTIES LABELS "integration;api" TIMEOUT 300
      ENVIRONMENT "JC_API_BIN=$<TARGET_FILE:jobcell-api>;JC_CLI_BIN=$<TARGET_FILE:jobcell-cli>;PYTHONPATH=${jc_api_test_dir};PYTHONDONTWRITEBYTECODE=1")
  endforeach()
endif()
