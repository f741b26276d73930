# jobcell-api integration tests: each starts the real server on free loopback ports with a
# temporary store and drives it over HTTP (tests/integration/api/*.py, python3 stdlib only).
# Each runs twice: on SQLite (api_<name>) and on PostgreSQL (api_<name>_pg, a database of
# the throwaway cluster of tests/integration/pg.cmake).
if(TARGET jobcell-api)
  find_program(JC_PYTHON3 python3 REQUIRED)
  set(jc_api_test_dir ${CMAKE_CURRENT_SOURCE_DIR}/integration/api)
  set(jc_api_env "JC_API_BIN=$<TARGET_FILE:jobcell-api>;JC_CLI_BIN=$<TARGET_FILE:jobcell-cli>;PYTHONPATH=${jc_api_test_dir};PYTHONDONTWRITEBYTECODE=1")
  foreach(t endpoints claims lease crash startup limits secrets hmac egress)
    add_test(NAME api_${t} COMMAND ${JC_PYTHON3} ${jc_api_test_dir}/test_${t}.py)
    set_tests_properties(api_${t} PROPERTIES LABELS "integration;api" TIMEOUT 300
      ENVIRONMENT "${jc_api_env}")
  endforeach()
  # Under the sanitizers only a subset: the PostgreSQL backend's memory is checked by the
  # store's unit test and these, without doubling the slowest part of the suite.
  if(SANITIZE)
    set(jc_api_pg_tests endpoints claims)
    set(jc_scale_n 2000)
  else()
    set(jc_api_pg_tests endpoints claims lease crash startup limits hmac)
    set(jc_scale_n 20000)
  endif()
  foreach(t ${jc_api_pg_tests})
    add_test(NAME api_${t}_pg COMMAND ${JC_PYTHON3} ${jc_api_test_dir}/test_${t}.py)
    set_tests_properties(api_${t}_pg PROPERTIES LABELS "integration;api;pg" TIMEOUT 300
      FIXTURES_REQUIRED jc_pg ENVIRONMENT "${jc_api_env};JC_TEST_PG=${JC_PG_CONNINFO}")
  endforeach()
  # export | import: SQLite -> PostgreSQL -> SQLite (test_export.py).
  add_test(NAME api_export_pg COMMAND ${JC_PYTHON3} ${jc_api_test_dir}/test_export.py)
  set_tests_properties(api_export_pg PROPERTIES LABELS "integration;api;pg" TIMEOUT 300
    FIXTURES_REQUIRED jc_pg ENVIRONMENT "${jc_api_env};JC_TEST_PG=${JC_PG_CONNINFO}")
  # Three servers on one database, eight orchestrators, a server killed mid-storm
  # (test_replicas.py); smaller under the sanitizers.
  add_test(NAME api_replicas_pg COMMAND ${JC_PYTHON3} ${jc_api_test_dir}/test_replicas.py)
  set_tests_properties(api_replicas_pg PROPERTIES LABELS "integration;api;pg;scale" TIMEOUT 600
    FIXTURES_REQUIRED jc_pg
    ENVIRONMENT "${jc_api_env};JC_TEST_PG=${JC_PG_CONNINFO};JC_SCALE_N=${jc_scale_n}")
endif()
