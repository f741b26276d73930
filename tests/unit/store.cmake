# Unit tests of the store (runtime-api/store/) on a temporary SQLite file.
if(TARGET jobcell_store)
  jc_unit_test(test_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store.c LIBS jobcell_store)
endif()
