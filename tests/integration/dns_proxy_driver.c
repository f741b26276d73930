/* dns_proxy_driver: the resolver proxy on its own, for the network-namespace test and the
 * benchmark (not installed).
 *
 *   dns_proxy_driver --listen ADDR:PORT --upstream ADDR[:PORT]... [--allow NAME]...
 *                    [--events FILE] [--resolv-conf FILE] [--thread]
 *
 * Serves one job ("exe_test") until its standard input closes. Every address the proxy
 * reports is appended to FILE as "NAME FAMILY ADDRESS TTL"; at exit the job's counters are
 * appended as "stats queries=… refused=… …". Prints "ready" once listening. --thread runs
 * the proxy on its own thread (as `jobcell run` does) instead of the poll loop here. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobcell/dns_proxy.h"

#define MAX_ALLOW 64

static FILE *events;

static void on_address(void *ctx, const char *name, int family, const void *addr, uint32_t ttl) {
    (void)ctx;
    char text[INET6_ADDRSTRLEN];
    if (!events || !inet_ntop(family, addr, text, sizeof(text)))
        return;
    fprintf(events, "%s %d %s %u\n", name, family == AF_INET ? 4 : 6, text, ttl);
    fflush(events);
}

static int usage(void) {
    fprintf(stderr, "usage: dns_proxy_driver --listen ADDR:PORT --upstream ADDR[:PORT]... "
                    "[--allow NAME]... [--events FILE] [--resolv-conf FILE] [--thread]\n");
    return 2;
}

int main(int argc, char **argv) {
    struct sockaddr_storage listen_addr, upstreams[JC_DNS_MAX_UPSTREAMS];
    size_t n_up = 0, n_allow = 0;
    const char *allow[MAX_ALLOW + 1];
    const char *events_path = NULL, *resolv_path = NULL;
    int have_listen = 0, thread_mode = 0;
    jc_err err;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--thread") == 0) {
            thread_mode = 1;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--listen") == 0) {
            if (jc_dns_upstream_parse(v, &listen_addr, &err) < 0)
                return fprintf(stderr, "--listen: %s\n", err.msg), 2;
            have_listen = 1;
        } else if (strcmp(a, "--upstream") == 0) {
            if (n_up == JC_DNS_MAX_UPSTREAMS ||
                jc_dns_upstream_parse(v, &upstreams[n_up], &err) < 0)
                return fprintf(stderr, "--upstream %s: bad or too many\n", v), 2;
            n_up++;
        } else if (strcmp(a, "--allow") == 0) {
            if (n_allow == MAX_ALLOW)
                return usage();
            allow[n_allow++] = v;
        } else if (strcmp(a, "--events") == 0) {
            events_path = v;
        } else if (strcmp(a, "--resolv-conf") == 0) {
            resolv_path = v;
        } else {
            return usage();
        }
    }
    allow[n_allow] = NULL;
    if (!have_listen || n_up == 0)
        return usage();
    if (events_path && !(events = fopen(events_path, "ae"))) {
        perror(events_path);
        return 1;
    }
    if (resolv_path) {
        char text[512];
        FILE *f = fopen(resolv_path, "we");
        if (jc_dns_resolv_conf_text((struct sockaddr *)&listen_addr, text, sizeof(text), &err) <
                0 ||
            !f || fputs(text, f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "resolv.conf: %s\n", err.msg);
            return 1;
        }
    }

    jc_dns_proxy *p = jc_dns_proxy_new(upstreams, n_up, &err);
    if (!p || jc_dns_proxy_add_job(p, "exe_test", (struct sockaddr *)&listen_addr, allow,
                                   on_address, NULL, &err) < 0) {
        fprintf(stderr, "dns_proxy_driver: %s\n", err.msg);
        jc_dns_proxy_free(p);
        return 1;
    }
    if (thread_mode && jc_dns_proxy_start_thread(p, &err) < 0) {
        fprintf(stderr, "dns_proxy_driver: %s\n", err.msg);
        jc_dns_proxy_free(p);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    for (;;) {
        struct pollfd fds[2] = {{.fd = 0, .events = POLLIN},
                                {.fd = thread_mode ? -1 : jc_dns_proxy_fd(p), .events = POLLIN}};
        int r = poll(fds, 2, thread_mode ? -1 : jc_dns_proxy_next_timeout_ms(p));
        if (r < 0 && errno != EINTR)
            break;
        if (fds[0].revents) {
            char buf[64];
            if (read(0, buf, sizeof(buf)) <= 0)
                break; /* stdin closed: the test is done with us */
        }
        if (!thread_mode)
            jc_dns_proxy_handle(p);
    }

    jc_dns_stats st;
    if (events && jc_dns_proxy_stats(p, "exe_test", &st, &err) == 0)
        fprintf(events,
                "stats queries=%llu refused=%llu nodata=%llu forwarded=%llu answered=%llu "
                "servfail=%llu formerr=%llu addresses=%llu\n",
                (unsigned long long)st.queries, (unsigned long long)st.refused,
                (unsigned long long)st.nodata, (unsigned long long)st.forwarded,
                (unsigned long long)st.answered, (unsigned long long)st.servfail,
                (unsigned long long)st.formerr, (unsigned long long)st.addresses);
    jc_dns_proxy_free(p);
    if (events)
        fclose(events);
    return 0;
}
