# End-to-end: a real jobcell-api and jobcell-orchestrator running real sandboxes (root).
# Each test starts its own server and daemon on free loopback ports in a temp directory
# and stops them by pid, also on failure. Exit 77 (skip) when not root.
if(TARGET jobcell-orchestrator AND TARGET jobcell-api)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  foreach(t mixed sdk crash outage cancel drain profiles cronium tls job_secrets signed key_rotation)
    add_test(NAME e2e_orchestrator_${t}
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/${t}.py
                     ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
    set_tests_properties(e2e_orchestrator_${t} PROPERTIES LABELS "e2e;orchestrator"
                         TIMEOUT 300 SKIP_RETURN_CODE 77 RESOURCE_LOCK e2e_orchestrator)
  endforeach()
  # 50 jobs calling the runtime API: minutes on a loaded machine (each SDK call forks)
  set_tests_properties(e2e_orchestrator_key_rotation PROPERTIES TIMEOUT 600)
endif()
