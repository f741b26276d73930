# Seccomp profiles: parser, resolution, compiler, explain/check/diff, directory sets.
if(TARGET jobcell_sandbox)
  jc_unit_test(test_seccomp SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_seccomp.c
               LIBS jobcell_sandbox LABELS seccomp)
endif()
