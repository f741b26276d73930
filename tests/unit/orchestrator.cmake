# The orchestrator's pure modules: backoff, log chunk batching, spool, configuration.
if(TARGET jobcell_orc_core)
  foreach(t orc_backoff orc_logbuf orc_spool orc_config orc_proxy)
    jc_unit_test(test_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c LIBS jobcell_orc_core
                 LABELS orchestrator)
  endforeach()
endif()
