# Unit tests of the store (runtime-api/store/): on a temporary SQLite file, and on a fresh
# database of the throwaway PostgreSQL cluster (tests/integration/pg.cmake).
# The cluster's conninfo (the directory is derived from the build tree, as in pg.cmake).
string(MD5 jc_pg_hash "${PROJECT_BINARY_DIR}")
string(SUBSTRING "${jc_pg_hash}" 0 12 jc_pg_hash)
set(JC_PG_CONNINFO "host=/tmp/jcpg-${jc_pg_hash} user=postgres dbname=postgres")
if(TARGET jobcell_store)
  jc_unit_test(test_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store.c
    LIBS jobcell_store PkgConfig::PQ)
  add_test(NAME test_store_pg COMMAND test_store)
  set_tests_properties(test_store_pg PROPERTIES LABELS "unit;pg" TIMEOUT 120
    FIXTURES_REQUIRED jc_pg ENVIRONMENT "JC_TEST_PG=${JC_PG_CONNINFO}")
endif()
