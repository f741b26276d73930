# jc_unit_test(NAME SOURCES file.c... [LIBS lib...]): one cmocka executable, one ctest test.
function(jc_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE jobcell PkgConfig::CMOCKA ${T_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${T_LABELS}" TIMEOUT 120
    ENVIRONMENT "JC_SOURCE_DIR=${PROJECT_SOURCE_DIR};JC_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()
