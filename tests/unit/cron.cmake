# Unit tests of the cron engine and the time zone reader (lib/cron.c, lib/tz.c).
jc_unit_test(test_cron SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cron.c)
