# The egress resolver proxy's query parser and answer parser on arbitrary bytes.
if(TARGET jobcell_sandbox)
  jc_fuzz_target(fuzz_dns_query SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_dns_query.c
                 LIBS jobcell_sandbox)
  jc_fuzz_target(fuzz_dns_answer SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_dns_answer.c
                 LIBS jobcell_sandbox)
  foreach(t fuzz_dns_query fuzz_dns_answer)
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/orchestrator/sandbox)
  endforeach()
endif()
