# The scheduler with an injected clock against a real SQLite store (runtime-api/scheduler.c).
if(TARGET jobcell_api_core)
  jc_unit_test(test_scheduler SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_scheduler.c
    LIBS jobcell_api_core LABELS schedules)
endif()
