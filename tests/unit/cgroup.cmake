# The cgroup module of the sandbox engine: both backends against fake trees, and the v1
# backend for real on a host that has it (needs root; reports "skipped" elsewhere).
if(TARGET jobcell_sandbox)
  jc_unit_test(test_cgroup SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cgroup.c
               LIBS jobcell_sandbox LABELS sandbox)
  jc_unit_test(test_cgroup_host SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cgroup_host.c
               LIBS jobcell_sandbox LABELS "sandbox;root")
  set_tests_properties(test_cgroup_host PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
