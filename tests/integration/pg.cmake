# The throwaway PostgreSQL cluster every *_pg test runs on (tests/pg/pgcluster.sh): a
# ctest fixture started before the first of them and stopped and removed after the last,
# also when tests failed. Unix socket only, in a directory private to this build tree.
string(MD5 jc_pg_hash "${PROJECT_BINARY_DIR}")
string(SUBSTRING "${jc_pg_hash}" 0 12 jc_pg_hash)
set(JC_PG_DIR /tmp/jcpg-${jc_pg_hash})
add_test(NAME pg_cluster_start COMMAND ${PROJECT_SOURCE_DIR}/tests/pg/pgcluster.sh start ${JC_PG_DIR})
set_tests_properties(pg_cluster_start PROPERTIES FIXTURES_SETUP jc_pg LABELS "pg" TIMEOUT 120
  RESOURCE_LOCK jc_pg_cluster)
add_test(NAME pg_cluster_stop COMMAND ${PROJECT_SOURCE_DIR}/tests/pg/pgcluster.sh stop ${JC_PG_DIR})
set_tests_properties(pg_cluster_stop PROPERTIES FIXTURES_CLEANUP jc_pg LABELS "pg" TIMEOUT 60
  RESOURCE_LOCK jc_pg_cluster)
