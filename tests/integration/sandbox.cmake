# Real sandboxes, as root (each test reports "skipped" with 77 otherwise). They run
# serially: they count processes and cgroups of the host, and time limits.
if(TARGET jobcell-cli AND TARGET jobcell-init)
  add_test(NAME sandbox_run
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sandbox_run.sh $<TARGET_FILE:jobcell-cli>)
  add_test(NAME sandbox_leaks
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sandbox_leaks.sh $<TARGET_FILE:jobcell-cli> 200)
  set_tests_properties(sandbox_run sandbox_leaks PROPERTIES
    LABELS "integration;sandbox;root" TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
    ENVIRONMENT "JOBCELL_INIT=$<TARGET_FILE:jobcell-init>;JOBCELL_PROFILE_DIR=${PROJECT_SOURCE_DIR}/profiles;JC_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()
if(TARGET jobcell_sandbox AND TARGET jobcell-init)
  add_executable(sandbox_api ${CMAKE_CURRENT_LIST_DIR}/sandbox_api.c)
  target_link_libraries(sandbox_api PRIVATE jobcell_sandbox jobcell)
  target_include_directories(sandbox_api PRIVATE ${PROJECT_SOURCE_DIR}/orchestrator/sandbox)
  add_test(NAME sandbox_api COMMAND sandbox_api)
  set_tests_properties(sandbox_api PROPERTIES
    LABELS "integration;sandbox;root" TIMEOUT 120 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
    ENVIRONMENT "JOBCELL_INIT=$<TARGET_FILE:jobcell-init>")
endif()
