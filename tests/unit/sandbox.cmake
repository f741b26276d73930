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
# jobcell-init's spec reader against malformed specs (runs the binary, never as pid 1).
if(TARGET jobcell_sandbox AND TARGET jobcell-init)
  jc_unit_test(test_sandbox_init SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sandbox_init.c
               LIBS jobcell_sandbox LABELS sandbox)
  target_include_directories(test_sandbox_init PRIVATE ${PROJECT_SOURCE_DIR}/orchestrator/sandbox)
  add_dependencies(test_sandbox_init jobcell-init)
  set_property(TEST test_sandbox_init APPEND PROPERTY ENVIRONMENT
               "JOBCELL_INIT=$<TARGET_FILE:jobcell-init>")
endif()
