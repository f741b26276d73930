# The scheduler with an injected clock against a real store (runtime-api/scheduler.c): on
# SQLite, and on PostgreSQL (test_scheduler_pg: the exactly-once rule across two stores
# holds there too).
if(TARGET jobcell_api_core)
  jc_unit_test(test_scheduler SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_scheduler.c
    LIBS jobcell_api_core PkgConfig::PQ LABELS schedules)
  add_test(NAME test_scheduler_pg COMMAND test_scheduler)
  set_tests_properties(test_scheduler_pg PROPERTIES LABELS "unit;schedules;pg" TIMEOUT 120
    FIXTURES_REQUIRED jc_pg ENVIRONMENT "JC_TEST_PG=${JC_PG_CONNINFO}")
endif()
