# The orchestrator's modules that run without a server or a sandbox: backoff, log chunk
# batching, spool, configuration, the runtime relay and the HTTP client on loopback.
if(TARGET jobcell_orc_core)
  foreach(t orc_backoff orc_logbuf orc_spool orc_config orc_proxy orc_proxy_tls orc_http)
    jc_unit_test(test_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c LIBS jobcell_orc_core
                 LABELS orchestrator)
  endforeach()
endif()
