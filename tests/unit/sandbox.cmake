# The sandbox engine's pure parts (spec validation, result record, id range check) and
# the options of `jobcell run`. No sandbox is started: see tests/integration/sandbox.cmake.
if(TARGET jobcell_sandbox)
  jc_unit_test(test_sandbox SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sandbox.c
               ${PROJECT_SOURCE_DIR}/cli/util_run_options.c
               LIBS jobcell_sandbox LABELS sandbox)
  target_include_directories(test_sandbox PRIVATE ${PROJECT_SOURCE_DIR}/orchestrator/sandbox
                             ${PROJECT_SOURCE_DIR}/cli)
  target_link_libraries(test_sandbox PRIVATE m)
endif()
