# The seccomp profile parser, resolver and compiler on arbitrary input.
if(TARGET jobcell_sandbox)
  jc_fuzz_target(fuzz_seccomp_profile SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_seccomp_profile.c
                 LIBS jobcell_sandbox)
endif()
