# Seccomp profiles loaded for real: the shipped profiles run ordinary scripts and refuse
# the dangerous list (tests/integration/seccomp_live.c), and the profile tools end to end.
if(TARGET jobcell_sandbox)
  add_executable(seccomp_live ${CMAKE_CURRENT_LIST_DIR}/seccomp_live.c)
  target_link_libraries(seccomp_live PRIVATE jobcell_sandbox)
  add_test(NAME seccomp_live COMMAND seccomp_live ${PROJECT_SOURCE_DIR}/profiles)
  set_tests_properties(seccomp_live PROPERTIES LABELS "integration;seccomp" TIMEOUT 600)
endif()
if(TARGET jobcell-cli AND TARGET jobcell_sandbox)
  add_test(NAME profile_cli COMMAND ${CMAKE_CURRENT_LIST_DIR}/profile_cli.sh
           $<TARGET_FILE:jobcell-cli> ${PROJECT_SOURCE_DIR})
  set_tests_properties(profile_cli PROPERTIES LABELS "integration;seccomp" TIMEOUT 120)
endif()
# Not under sanitizers: an instrumented jobcell-init makes system calls of its own between
# loading the learn filter and execve (sigaltstack, …); they would wait for a listener that
# is not handed over yet. The parent side's code is the same in both builds.
if(TARGET jobcell-cli AND TARGET jobcell_sandbox AND NOT SANITIZE)
  add_test(NAME profile_learn COMMAND ${CMAKE_CURRENT_LIST_DIR}/profile_learn.sh
           $<TARGET_FILE:jobcell-cli> ${PROJECT_SOURCE_DIR})
  set_tests_properties(profile_learn PROPERTIES LABELS "integration;seccomp" TIMEOUT 300
                       SKIP_RETURN_CODE 77)
endif()
