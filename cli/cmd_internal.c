/* jobcell internal: sign and send one request to the internal API (/internal/v1) with an
 * orchestrator credential, for operators testing that API by hand. The signature scheme
 * is include/jobcell/hmac_sig.h; the secret is read from a file, never from argv. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/config.h"
#include "jobcell/hmac_sig.h"
#include "jobcell/io.h"
#include "util_http.h"

#define BODY_MAX (4u << 20)
#define MAX_HEADERS 8

static const char help[] =
    "usage: jobcell internal METHOD PATH --orchestrator ID --key-id KEY_ID --secret-file FILE\n"
    "                        [--body FILE|-] [--content-type TYPE] [--header 'Name: value']\n"
    "                        [--server URL]\n"
    "\n"
    "Sign one request to the internal API (the API orchestrators use) with an orchestrator\n"
    "credential and send it; print the HTTP status on the first line, then the answer.\n"
    "Meant for testing that API by hand; the credential comes from 'jobcell-api orchestrator\n"
    "add'. Exit status: 0 for a 2xx answer, 1 for any other answer or no answer, 2 for bad\n"
    "usage.\n"
    "\n"
    "  METHOD                  GET, POST, PUT or DELETE\n"
    "  PATH                    the path and query, e.g. /internal/v1/claims or\n"
    "                          '/internal/v1/executions/ID/logs?offset=0'\n"
    "  --orchestrator ID       the orchestrator id the credential belongs to\n"
    "  --key-id KEY_ID         the credential's key id (ok_...)\n"
    "  --secret-file FILE      a file holding the credential's secret (64 hexadecimal\n"
    "                          characters); it must not be readable by others\n"
    "  --body FILE             send the bytes of FILE as the body ('-': standard input)\n"
    "  --content-type TYPE     the body's type (default: application/json)\n"
    "  --header 'Name: value'  one more request header, e.g. 'X-Lease-Token: lt_...'\n"
    "                          (up to 8; X-JC-* and Authorization are refused)\n"
    "  --server URL            the API server (default: $JOBCELL_URL, else " JC_CLI_DEFAULT_URL
    ")\n";

enum { OPT_ORC = 256, OPT_KEY, OPT_SECRET, OPT_BODY, OPT_CTYPE, OPT_HEADER, OPT_SERVER, OPT_HELP };

typedef struct answer {
    char *data;
    size_t len;
    bool too_large;
} answer;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
    answer *a = ud;
    size_t add = size * n;
    if (a->len + add + 1 > BODY_MAX) {
        a->too_large = true;
        return 0;
    }
    char *nd = realloc(a->data, a->len + add + 1);
    if (!nd)
        return 0;
    memcpy(nd + a->len, p, add);
    a->data = nd;
    a->len += add;
    a->data[a->len] = '\0';
    return add;
}

static int usage(const char *msg) {
    fprintf(stderr, "jobcell internal: %s\n%s", msg, help);
    return JC_CLI_EXIT_USAGE;
}

static int internal_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"orchestrator", required_argument, NULL, OPT_ORC},
        {"key-id", required_argument, NULL, OPT_KEY},
        {"secret-file", required_argument, NULL, OPT_SECRET},
        {"body", required_argument, NULL, OPT_BODY},
        {"content-type", required_argument, NULL, OPT_CTYPE},
        {"header", required_argument, NULL, OPT_HEADER},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, OPT_HELP},
        {0},
    };
    const char *orc = NULL, *key_id = NULL, *secret_file = NULL, *body_file = NULL,
               *ctype = "application/json", *server = getenv("JOBCELL_URL");
    const char *headers[MAX_HEADERS];
    size_t nheaders = 0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_ORC: orc = optarg; break;
        case OPT_KEY: key_id = optarg; break;
        case OPT_SECRET: secret_file = optarg; break;
        case OPT_BODY: body_file = optarg; break;
        case OPT_CTYPE: ctype = optarg; break;
        case OPT_SERVER: server = optarg; break;
        case OPT_HEADER:
            if (nheaders == MAX_HEADERS)
                return usage("at most 8 --header options");
            if (!strchr(optarg, ':') || strncasecmp(optarg, "X-JC-", 5) == 0 ||
                strncasecmp(optarg, "Authorization", 13) == 0 || strpbrk(optarg, "\r\n"))
                return usage("--header takes 'Name: value' (not X-JC-* nor Authorization)");
            headers[nheaders++] = optarg;
            break;
        case OPT_HELP: fputs(help, stdout); return JC_CLI_EXIT_OK;
        default: return usage("unknown or incomplete option");
        }
    }
    if (argc - optind != 2)
        return usage("give METHOD and PATH");
    const char *method = argv[optind], *path = argv[optind + 1];
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 &&
        strcmp(method, "DELETE") != 0)
        return usage("METHOD must be GET, POST, PUT or DELETE");
    if (path[0] != '/' || strpbrk(path, " \r\n\t#"))
        return usage("PATH must start with / and hold no spaces");
    if (!orc || !key_id || !secret_file)
        return usage("--orchestrator, --key-id and --secret-file are required");
    if (!jc_orchestrator_id_valid(orc))
        return usage("--orchestrator must match ^[a-z0-9][a-z0-9._-]{0,63}$");
    if (strlen(key_id) > 40 || strpbrk(key_id, " \r\n:"))
        return usage("--key-id is not a key id");
    if (!server || !*server)
        server = JC_CLI_DEFAULT_URL;
    if (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0)
        return usage("--server must be an http:// or https:// URL");

    jc_err err;
    jc_secret sec = {0};
    unsigned char key[JC_HMAC_SECRET_BYTES];
    if (jc_secret_read_file(secret_file, &sec, &err) < 0 ||
        jc_hmac_secret_parse((const char *)sec.data, sec.len, key, &err) < 0) {
        jc_secret_free(&sec);
        fprintf(stderr, "jobcell internal: --secret-file %s: %s\n", secret_file, err.msg);
        return JC_CLI_EXIT_USAGE;
    }
    jc_secret_free(&sec);

    _cleanup_free_ char *body = NULL;
    size_t body_len = 0;
    if (body_file) {
        int fd = strcmp(body_file, "-") == 0 ? fcntl(0, F_DUPFD_CLOEXEC, 3)
                                             : open(body_file, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            body = jc_read_fd(fd, BODY_MAX, &body_len, &err);
            close(fd);
        } else {
            jc_err_sys(&err, errno, "open");
        }
        if (!body) {
            OPENSSL_cleanse(key, sizeof(key));
            fprintf(stderr, "jobcell internal: --body %s: %s\n", body_file, err.msg);
            return JC_CLI_EXIT_USAGE;
        }
    }

    /* the URL is the server and PATH; what is signed is the path part of both */
    size_t slen = strlen(server);
    while (slen > 0 && server[slen - 1] == '/')
        slen--;
    const char *host = strstr(server, "://") + 3;
    const char *prefix = memchr(host, '/', slen - (size_t)(host - server));
    size_t plen = prefix ? slen - (size_t)(prefix - server) : 0;
    size_t ulen = slen + strlen(path) + 1, tlen = plen + strlen(path) + 1;
    _cleanup_free_ char *url = malloc(ulen), *target = malloc(tlen);
    if (!url || !target) {
        OPENSSL_cleanse(key, sizeof(key));
        fprintf(stderr, "jobcell internal: out of memory\n");
        return JC_CLI_EXIT_FAIL;
    }
    snprintf(url, ulen, "%.*s%s", (int)slen, server, path);
    snprintf(target, tlen, "%.*s%s", (int)plen, prefix ? prefix : "", path);
    char stamp[24], sig[JC_HMAC_SIG_HEX + 1];
    snprintf(stamp, sizeof(stamp), "%lld", (long long)(jc_time_now_ms() / 1000));
    int rc = jc_hmac_sign(key, sizeof(key), method, target, orc, stamp, body, body_len, sig, &err);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0) {
        fprintf(stderr, "jobcell internal: %s\n", err.msg);
        return JC_CLI_EXIT_FAIL;
    }

    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    char line[512];
    const char *fixed[][2] = {{"X-Orchestrator-ID", orc},
                              {"X-JC-Key-Id", key_id},
                              {"X-JC-Timestamp", stamp},
                              {"X-JC-Signature", sig},
                              {"Content-Type", body_file ? ctype : NULL},
                              {"Expect", ""}};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (!fixed[i][1])
            continue;
        snprintf(line, sizeof(line), "%s:%s%s", fixed[i][0], fixed[i][1][0] ? " " : "",
                 fixed[i][1]);
        h = curl_slist_append(h, line);
    }
    for (size_t i = 0; i < nheaders; i++)
        h = curl_slist_append(h, headers[i]);
    answer a = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (body_file || strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode cr = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    if (cr != CURLE_OK) {
        free(a.data);
        fprintf(stderr, "jobcell internal: %s: %s\n", url,
                a.too_large ? "answer too large"
                : errbuf[0] ? errbuf
                            : curl_easy_strerror(cr));
        return JC_CLI_EXIT_FAIL;
    }
    printf("HTTP %ld\n", status);
    if (a.len)
        fwrite(a.data, 1, a.len, stdout);
    if (a.len && a.data[a.len - 1] != '\n')
        putchar('\n');
    free(a.data);
    return status >= 200 && status < 300 ? JC_CLI_EXIT_OK : JC_CLI_EXIT_FAIL;
}

JC_CLI_COMMAND(internal_cmd, .name = "internal",
               .summary = "sign and send one internal API request (for testing by hand)",
               .run = internal_run, .order = 40)
