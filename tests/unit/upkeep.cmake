# Retention, maintenance leases, signals and the detection scan (store_upkeep.h,
# maintenance.c, signals.c) on a temporary SQLite file.
if(TARGET jobcell_api_core)
  jc_unit_test(test_upkeep SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_upkeep.c
               LIBS jobcell_api_core jobcell_store PkgConfig::SQLITE)
endif()
