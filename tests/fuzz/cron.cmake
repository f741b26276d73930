# Fuzz targets of the cron parser and the time zone reader.
jc_fuzz_target(fuzz_cron SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_cron.c)
jc_fuzz_target(fuzz_tzif SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_tzif.c)
