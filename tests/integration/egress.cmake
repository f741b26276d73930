# Egress networks end to end, in network namespaces the test creates (root; skipped with
# 77 otherwise). Serial: it times 100 jobs and uses the sandbox's uid range.
if(TARGET jobcell-cli AND TARGET jobcell-init)
  add_test(NAME egress_world
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/egress/egress_world.sh $<TARGET_FILE:jobcell-cli>)
  set_tests_properties(egress_world PROPERTIES
    LABELS "integration;sandbox;root;egress" TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
    ENVIRONMENT "JOBCELL_INIT=$<TARGET_FILE:jobcell-init>;JOBCELL_PROFILE_DIR=${PROJECT_SOURCE_DIR}/profiles")
endif()
