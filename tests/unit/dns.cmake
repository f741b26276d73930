# The egress resolver proxy's message parser and builder, its upstream list and its job
# table (no network beyond binding 127.0.0.1). The live proxy: tests/integration/dns.cmake.
if(TARGET jobcell_sandbox)
  jc_unit_test(test_dns_wire SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dns_wire.c
               LIBS jobcell_sandbox LABELS dns)
  target_include_directories(test_dns_wire PRIVATE ${PROJECT_SOURCE_DIR}/orchestrator/sandbox)
endif()
