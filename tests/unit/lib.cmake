# Unit tests of libjobcell (lib/).
jc_unit_test(test_b64url SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_b64url.c)
jc_unit_test(test_jwt SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_jwt.c)
jc_unit_test(test_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config.c)
jc_unit_test(test_auth SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_auth.c)
jc_unit_test(test_random SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_random.c)
jc_unit_test(test_io SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_io.c)
