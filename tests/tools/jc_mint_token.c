/* jc-mint-token: mint an execution token exactly as an orchestrator does (lib/jwt), for
 * tests and benchmarks. Never used in production: an orchestrator mints its own.
 *
 *   jc-mint-token --keyring FILE --execution EXE --job JOB --user U --orc O --attempt N
 *                 --lease-token LT [--timeout S] [--grace S] [--now-offset S]
 *
 * --now-offset shifts the clock (negative: a token minted in the past, e.g. expired). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/jwt.h"

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"keyring", required_argument, NULL, 'k'},
        {"execution", required_argument, NULL, 'e'},
        {"job", required_argument, NULL, 'j'},
        {"user", required_argument, NULL, 'u'},
        {"orc", required_argument, NULL, 'o'},
        {"attempt", required_argument, NULL, 'a'},
        {"lease-token", required_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 't'},
        {"grace", required_argument, NULL, 'g'},
        {"now-offset", required_argument, NULL, 'n'},
        {0},
    };
    const char *ring_path = NULL, *exe = NULL, *job = NULL, *user = NULL, *orc = NULL,
               *lease = NULL;
    long long attempt = 1, timeout = 300, grace = 10, offset = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'k': ring_path = optarg; break;
        case 'e': exe = optarg; break;
        case 'j': job = optarg; break;
        case 'u': user = optarg; break;
        case 'o': orc = optarg; break;
        case 'a': attempt = atoll(optarg); break;
        case 'l': lease = optarg; break;
        case 't': timeout = atoll(optarg); break;
        case 'g': grace = atoll(optarg); break;
        case 'n': offset = atoll(optarg); break;
        default: return 2;
        }
    }
    if (!ring_path || !exe || !job || !user || !orc || !lease) {
        fprintf(stderr, "usage: jc-mint-token --keyring FILE --execution EXE --job JOB --user U "
                        "--orc O --attempt N --lease-token LT [--timeout S] [--grace S] "
                        "[--now-offset S]\n");
        return 2;
    }
    jc_err err = {0};
    jc_jwt_keyring *ring = jc_jwt_keyring_load(ring_path, &err);
    if (!ring) {
        fprintf(stderr, "jc-mint-token: %s\n", err.msg);
        return 1;
    }
    jc_jwt_claims c;
    int64_t now = jc_time_now_ms() / 1000 + offset;
    if (jc_jwt_claims_init(&c, exe, job, user, orc, attempt, lease, now, timeout, grace, &err) <
        0) {
        fprintf(stderr, "jc-mint-token: %s\n", err.msg);
        jc_jwt_keyring_free(ring);
        return 1;
    }
    _cleanup_free_ char *tok = jc_jwt_sign(ring, &c, &err);
    jc_jwt_keyring_free(ring);
    if (!tok) {
        fprintf(stderr, "jc-mint-token: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", tok);
    return 0;
}
