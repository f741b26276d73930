# Seccomp profiles loaded for real: the shipped profiles run ordinary scripts and refuse
# the dangerous list (tests/integration/seccomp_live.c), and the profile tools end to end.
if(TARGET jobcell_sandbox)
  add_executable(seccomp_live ${CMAKE_CURRENT_LIST_DIR}/seccomp_live.c)
  target_link_libraries(seccomp_live PRIVATE jobcell_sandbox)
  add_test(NAME seccomp_live COMMAND seccomp_live ${PROJECT_SOURCE_DIR}/profiles)
  set_tests_properties(seccomp_live PROPERTIES LABELS "integration;seccomp" TIMEOUT 600)
endif()
