# The security suite: one probe program per hostile job of SANDBOX.md ("Hostile jobs that
# must be contained"), each run inside `jobcell run` by security_runner, which judges the
# probes and then checks the host (processes, /tmp, cgroups, mounts).
#
# The probes and the id helper run inside the sandbox: they are built without the project's
# sanitizer and hardening options (a sanitizer runtime inside a sandbox measures the sandbox,
# not the attack), with plain warnings-as-errors instead.
set(jc_security_dir ${PROJECT_BINARY_DIR}/tests/security)
file(GLOB jc_probe_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/probes/p*.c)
set(jc_probe_targets)
foreach(src ${jc_probe_sources})
  get_filename_component(stem ${src} NAME_WE)
  add_executable(secprobe_${stem} ${src})
  set_target_properties(secprobe_${stem} PROPERTIES
    OUTPUT_NAME ${stem}
    RUNTIME_OUTPUT_DIRECTORY ${jc_security_dir}/probes
    COMPILE_OPTIONS "-Wall;-Wextra;-Werror;-O1"
    LINK_OPTIONS "")
  list(APPEND jc_probe_targets secprobe_${stem})
endforeach()

add_executable(secprobe_id_helper ${CMAKE_CURRENT_LIST_DIR}/helpers/id_helper.c)
set_target_properties(secprobe_id_helper PROPERTIES
  OUTPUT_NAME id_helper
  RUNTIME_OUTPUT_DIRECTORY ${jc_security_dir}/helpers
  COMPILE_OPTIONS "-Wall;-Wextra;-Werror;-O1"
  LINK_OPTIONS "")

add_executable(security_runner ${CMAKE_CURRENT_LIST_DIR}/runner.c)
target_link_libraries(security_runner PRIVATE jobcell)
set_target_properties(security_runner PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${jc_security_dir})
add_dependencies(security_runner ${jc_probe_targets} secprobe_id_helper)

if(TARGET jobcell-cli)
  set(jc_init_arg)
  if(TARGET jobcell-init)
    # the copy `jobcell run` executes: the one beside it
    set(jc_init_arg --init $<TARGET_FILE_DIR:jobcell-cli>/jobcell-init)
  endif()
  set(jc_runner_cmd $<TARGET_FILE:security_runner> --jobcell $<TARGET_FILE:jobcell-cli>
      --probes ${jc_security_dir}/probes --helper $<TARGET_FILE:secprobe_id_helper>
      ${jc_init_arg})
  # With the API server in the build, a driver starts it so that items 45 and 46 (the
  # runtime API) are probed too; without it they are reported as not probed.
  find_program(JC_PYTHON3 python3)
  if(TARGET jobcell-api AND TARGET jc-mint-token AND JC_PYTHON3)
    add_test(NAME security_probes
      COMMAND ${JC_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/runtime_probes.py ${jc_runner_cmd})
  else()
    add_test(NAME security_probes COMMAND ${jc_runner_cmd})
  endif()
  # 46 sandboxes, three of which wait for a kill (timeout + grace): under a minute
  set_tests_properties(security_probes PROPERTIES
    LABELS "security;root" TIMEOUT 600 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
    ENVIRONMENT "JC_SOURCE_DIR=${PROJECT_SOURCE_DIR};JC_BUILD_DIR=${PROJECT_BINARY_DIR}")
endif()
