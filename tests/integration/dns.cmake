# The egress resolver proxy live, in three network namespaces the test creates (and
# removes) itself: a fake upstream, the proxy, a client and glibc. Needs root (77 otherwise).
if(TARGET jobcell_sandbox)
  add_executable(dns_proxy_driver ${CMAKE_CURRENT_LIST_DIR}/dns_proxy_driver.c)
  target_link_libraries(dns_proxy_driver PRIVATE jobcell_sandbox jobcell)
  add_test(NAME dns_netns
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/dns_netns.py test
                   $<TARGET_FILE:dns_proxy_driver>)
  set_tests_properties(dns_netns PROPERTIES LABELS "integration;dns;root" TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
