# The jobcell command's remote subcommands, the real binary against the real server.
find_program(JC_PYTHON3 python3)
if(TARGET jobcell-api AND TARGET jobcell-cli AND JC_PYTHON3)
  add_test(NAME cli_remote COMMAND ${JC_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_cli.py)
  set_tests_properties(cli_remote PROPERTIES LABELS "integration;cli" TIMEOUT 300
    ENVIRONMENT "JC_SOURCE_DIR=${PROJECT_SOURCE_DIR};JC_BUILD_DIR=${PROJECT_BINARY_DIR}")
endif()
