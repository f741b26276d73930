# Schedules against the real jobcell-api with the test-only clock (JOBCELL_TEST_CLOCK_FILE):
# the /v1/schedules API, kill -9 at a tick, two servers on one SQLite file.
if(TARGET jobcell-api)
  find_program(JC_PYTHON3 python3 REQUIRED)
  set(jc_sched_test_dir ${CMAKE_CURRENT_SOURCE_DIR}/integration/schedules)
  foreach(t schedules_api schedules_crash schedules_cli)
    add_test(NAME ${t} COMMAND ${JC_PYTHON3} ${jc_sched_test_dir}/test_${t}.py)
    set_tests_properties(${t} PROPERTIES LABELS "integration;schedules" TIMEOUT 120
      ENVIRONMENT "JC_API_BIN=$<TARGET_FILE:jobcell-api>;JC_CLI_BIN=$<TARGET_FILE:jobcell-cli>;PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}/integration/api:${jc_sched_test_dir};PYTHONDONTWRITEBYTECODE=1")
  endforeach()
  # The same on PostgreSQL: two servers sharing one database fire each tick once.
  if(NOT SANITIZE)
    foreach(t schedules_api schedules_crash)
      add_test(NAME ${t}_pg COMMAND ${JC_PYTHON3} ${jc_sched_test_dir}/test_${t}.py)
      set_tests_properties(${t}_pg PROPERTIES LABELS "integration;schedules;pg" TIMEOUT 120
        FIXTURES_REQUIRED jc_pg
        ENVIRONMENT "JC_API_BIN=$<TARGET_FILE:jobcell-api>;JC_CLI_BIN=$<TARGET_FILE:jobcell-cli>;PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}/integration/api:${jc_sched_test_dir};PYTHONDONTWRITEBYTECODE=1;JC_TEST_PG=${JC_PG_CONNINFO}")
    endforeach()
  endif()
endif()
