# Unit tests of the audit trail (runtime-api/audit.c, runtime-api/store/sqlite_audit.c).
if(TARGET jobcell_api_core)
  jc_unit_test(test_audit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_audit.c LIBS jobcell_api_core)
endif()
