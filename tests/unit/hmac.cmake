jc_unit_test(test_hmac_sig SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hmac_sig.c)
# The orchestrator credentials in the store, and the server's replay cache and
# auth-failure limit.
if(TARGET jobcell_store)
  jc_unit_test(test_store_creds SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store_creds.c
               LIBS jobcell_store)
endif()
if(TARGET jobcell_api_core)
  jc_unit_test(test_internal_auth SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_internal_auth.c
               LIBS jobcell_api_core)
  target_include_directories(test_internal_auth PRIVATE ${PROJECT_SOURCE_DIR}/runtime-api)
endif()
