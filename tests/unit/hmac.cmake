jc_unit_test(test_hmac_sig SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hmac_sig.c)
