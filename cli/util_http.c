/* util_http.c: server URL and token resolution, and HTTP calls for the remote commands. */
#include "util_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "jobcell/config.h"
#include "jobcell/error.h"
#include "jobcell/io.h"

#define MAX_RESPONSE (64u << 20) /* a log can be large; anything past this is refused */

const char jc_cli_common_help[] =
    "  --url URL          the jobcell server (default: $JOBCELL_URL, the config file, or\n"
    "                     " JC_CLI_DEFAULT_URL ")\n"
    "  --token-file FILE  read the API token from FILE (mode 0600); by default the token\n"
    "                     comes from $JOBCELL_TOKEN, $JOBCELL_TOKEN_FILE or the config\n"
    "                     file ~/.config/jobcell/config.json\n"
    "  --token TOKEN      the API token itself (discouraged: other users can see a\n"
    "                     command line)\n"
    "  --json             print the server's JSON answer instead of a table\n"
    "  --help             show this help\n";

int jc_cli_common_option(jc_cli_conn *c, int opt, const char *arg, const char *help,
                         int *exit_now) {
    switch (opt) {
    case JC_CLI_OPT_URL: c->url_flag = arg; return 1;
    case JC_CLI_OPT_TOKEN: c->token_flag = arg; return 1;
    case JC_CLI_OPT_TOKEN_FILE: c->token_file_flag = arg; return 1;
    case JC_CLI_OPT_JSON: c->json = true; return 1;
    case JC_CLI_OPT_HELP:
        fputs(help, stdout);
        fputs(jc_cli_common_help, stdout);
        *exit_now = 0;
        return 1;
    default: return 0;
    }
}

int jc_cli_parse(int argc, char **argv, const struct option *own, const char *help, jc_cli_conn *c,
                 int (*on_own)(int opt, const char *arg, void *ctx), void *ctx, int *exit_code) {
    static const struct option common[] = {JC_CLI_COMMON_OPTIONS};
    struct option all[32];
    size_t n = 0;
    for (; own && own[n].name && n < 24; n++)
        all[n] = own[n];
    for (size_t i = 0; i < JC_ARRAY_LEN(common); i++)
        all[n++] = common[i];
    all[n] = (struct option){0};
    int opt, exit_now = -1;
    optind = 1;
    opterr = 1;
    /* options may follow operands ("show ID --json"); "--" ends them ("var set k -- -1") */
    while ((opt = getopt_long(argc, argv, "", all, NULL)) != -1) {
        if (jc_cli_common_option(c, opt, optarg, help, &exit_now)) {
            if (exit_now >= 0) {
                *exit_code = exit_now;
                return -1;
            }
        } else if (opt == '?' || !on_own || on_own(opt, optarg, ctx) < 0) {
            fputs(help, stderr);
            *exit_code = JC_CLI_EXIT_USAGE;
            return -1;
        }
    }
    return 0;
}

static int set_token(jc_cli_conn *c, const char *value, size_t len) {
    while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r' || value[len - 1] == ' '))
        len--;
    if (len == 0) {
        fprintf(stderr, "jobcell: the API token is empty\n");
        return -1;
    }
    c->token = strndup(value, len);
    if (!c->token) {
        fprintf(stderr, "jobcell: out of memory\n");
        return -1;
    }
    c->token_len = len;
    return 0;
}

static int token_from_file(jc_cli_conn *c, const char *path) {
    jc_secret s = {0};
    jc_err err = {0};
    if (jc_secret_read_file(path, &s, &err) < 0) {
        fprintf(stderr, "jobcell: token file: %s\n", err.msg);
        return -1;
    }
    int r = set_token(c, (const char *)s.data, s.len);
    jc_secret_free(&s);
    return r;
}

/* The config file's path (owned), or NULL when there is no home to look in. */
static char *config_path(void) {
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *p = NULL;
    if (xdg && *xdg) {
        if (asprintf(&p, "%s/jobcell/config.json", xdg) < 0)
            return NULL;
    } else if (home && *home) {
        if (asprintf(&p, "%s/.config/jobcell/config.json", home) < 0)
            return NULL;
    }
    return p;
}

/* Read the optional config file: url, token_file, token (only from a private file). */
static int load_config_file(jc_cli_conn *c, bool need_url, bool need_token) {
    _cleanup_free_ char *path = config_path();
    if (!path)
        return 0;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? 0 : (fprintf(stderr, "jobcell: %s: %m\n", path), -1);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "jobcell: %s is not a regular file\n", path);
        return -1;
    }
    jc_err err = {0};
    size_t len = 0;
    _cleanup_free_ char *text = jc_read_fd(fd, 1u << 20, &len, &err);
    if (!text) {
        fprintf(stderr, "jobcell: %s: %s\n", path, err.msg);
        return -1;
    }
    json_error_t jerr;
    _cleanup_json_ json_t *cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    OPENSSL_cleanse(text, len);
    if (!json_is_object(cfg)) {
        fprintf(stderr, "jobcell: %s: not a JSON object (line %d: %s)\n", path, jerr.line,
                jerr.text);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(cfg, key, v) {
        if (strcmp(key, "url") != 0 && strcmp(key, "token") != 0 &&
            strcmp(key, "token_file") != 0) {
            fprintf(stderr, "jobcell: %s: unknown setting '%s' (known: url, token_file, token)\n",
                    path, key);
            return -1;
        }
        if (!json_is_string(v)) {
            fprintf(stderr, "jobcell: %s: '%s' must be a string\n", path, key);
            return -1;
        }
    }
    const char *url = json_string_value(json_object_get(cfg, "url"));
    if (need_url && url && !(c->url = strdup(url)))
        return -1;
    if (!need_token)
        return 0;
    const char *tf = json_string_value(json_object_get(cfg, "token_file"));
    json_t *tok = json_object_get(cfg, "token");
    int r = 0;
    if (tf) {
        r = token_from_file(c, tf);
    } else if (tok) {
        /* a token written in the file is a secret: refuse it when others can read it */
        if (st.st_mode & (S_IRGRP | S_IROTH)) {
            fprintf(stderr, "jobcell: %s holds a token but others may read it; chmod 600 it\n",
                    path);
            r = -1;
        } else {
            r = set_token(c, json_string_value(tok), json_string_length(tok));
        }
    }
    if (tok)
        OPENSSL_cleanse((void *)json_string_value(tok), json_string_length(tok));
    return r;
}

int jc_cli_connect(jc_cli_conn *c) {
    const char *env_url = getenv("JOBCELL_URL");
    if (c->url_flag)
        c->url = strdup(c->url_flag);
    else if (env_url && *env_url)
        c->url = strdup(env_url);

    const char *env_tok = getenv("JOBCELL_TOKEN");
    const char *env_tok_file = getenv("JOBCELL_TOKEN_FILE");
    int r = 0;
    if (c->token_file_flag)
        r = token_from_file(c, c->token_file_flag);
    else if (c->token_flag)
        r = set_token(c, c->token_flag, strlen(c->token_flag));
    else if (env_tok && *env_tok)
        r = set_token(c, env_tok, strlen(env_tok));
    else if (env_tok_file && *env_tok_file)
        r = token_from_file(c, env_tok_file);
    if (r < 0)
        return -1;
    if ((!c->url || !c->token) && load_config_file(c, !c->url, !c->token) < 0)
        return -1;
    if (!c->url && !(c->url = strdup(JC_CLI_DEFAULT_URL)))
        return -1;
    size_t n = strlen(c->url);
    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0) {
        fprintf(stderr, "jobcell: the server URL must start with http:// or https:// (got '%s')\n",
                c->url);
        return -1;
    }
    if (!c->token) {
        fprintf(stderr, "jobcell: no API token: set JOBCELL_TOKEN, use --token-file FILE, or put "
                        "\"token_file\" in ~/.config/jobcell/config.json\n");
        return -1;
    }
    if (strpbrk(c->token, "\r\n")) {
        fprintf(stderr, "jobcell: the API token contains a line break\n");
        return -1;
    }
    return 0;
}

void jc_cli_conn_free(jc_cli_conn *c) {
    if (c->token) {
        OPENSSL_cleanse(c->token, c->token_len);
        free(c->token);
    }
    free(c->url);
    c->token = c->url = NULL;
}

void jc_cli_resp_free(jc_cli_resp *r) {
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

typedef struct sink {
    char *buf;
    size_t len, cap;
    bool too_large;
    FILE *stream;   /* streaming mode: bytes of a 2xx answer go here */
    CURL *curl;     /* to read the status in streaming mode */
    long stream_ok; /* -1 unknown, 0 error status (buffer), 1 2xx (stream) */
    size_t streamed;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
    sink *s = userdata;
    size_t n = size * nmemb;
    if (s->stream) {
        if (s->stream_ok < 0) {
            long code = 0;
            curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
            s->stream_ok = code >= 200 && code < 300;
        }
        if (s->stream_ok) {
            if (fwrite(ptr, 1, n, s->stream) != n)
                return 0;
            fflush(s->stream);
            s->streamed += n;
            return n;
        }
    }
    if (s->len + n + 1 > MAX_RESPONSE) {
        s->too_large = true;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
            return 0;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static void curl_slist_freep(struct curl_slist **l) {
    curl_slist_free_all(*l);
}

static int perform(jc_cli_conn *c, const char *method, const char *path, const char *body,
                   size_t body_len, sink *s, long *status) {
    static bool global_init;
    if (!global_init) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "jobcell: cannot initialise libcurl\n");
            return -1;
        }
        global_init = true;
    }
    _cleanup_free_ char *url = NULL;
    if (asprintf(&url, "%s%s", c->url, path) < 0)
        return -1;
    CURL *curl = curl_easy_init();
    if (!curl)
        return -1;
    s->curl = curl;
    __attribute__((cleanup(curl_slist_freep))) struct curl_slist *hdrs = NULL;
    _cleanup_free_ char *auth = NULL;
    if (asprintf(&auth, "Authorization: Bearer %s", c->token) < 0) {
        curl_easy_cleanup(curl);
        return -1;
    }
    hdrs = curl_slist_append(hdrs, auth);
    OPENSSL_cleanse(auth, strlen(auth));
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (c->extra_header)
        hdrs = curl_slist_append(hdrs, c->extra_header);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "jobcell-cli/" JC_VERSION);
    if (!s->stream)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(curl);
    /* the Authorization header lives in the slist too: wipe it before it is freed */
    for (struct curl_slist *l = hdrs; l; l = l->next)
        if (strncmp(l->data, "Authorization:", 14) == 0)
            OPENSSL_cleanse(l->data, strlen(l->data));
    if (rc != CURLE_OK) {
        if (s->too_large)
            fprintf(stderr, "jobcell: the server's answer is larger than %u MiB\n",
                    MAX_RESPONSE >> 20);
        else if (*status >= 200 && s->stream)
            fprintf(stderr, "jobcell: the stream from %s broke: %s\n", c->url,
                    curl_easy_strerror(rc));
        else
            fprintf(stderr, "jobcell: cannot reach %s: %s\n", c->url, curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

int jc_cli_request(jc_cli_conn *c, const char *method, const char *path, const char *body,
                   size_t body_len, jc_cli_resp *out) {
    sink s = {.stream_ok = -1};
    *out = (jc_cli_resp){0};
    if (perform(c, method, path, body, body_len, &s, &out->status) < 0) {
        free(s.buf);
        return -1;
    }
    out->body = s.buf ? s.buf : strdup("");
    out->len = s.len;
    return out->body ? 0 : -1;
}

void jc_cli_print_http_error(const jc_cli_resp *r) {
    json_t *doc = r->body && r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(doc, "message"));
    const char *field = json_string_value(json_object_get(doc, "field"));
    if (msg && field && *field)
        fprintf(stderr, "jobcell: %s (field %s, HTTP %ld)\n", msg, field, r->status);
    else if (msg)
        fprintf(stderr, "jobcell: %s (HTTP %ld)\n", msg, r->status);
    else
        fprintf(stderr, "jobcell: the server answered HTTP %ld\n", r->status);
    json_decref(doc);
}

json_t *jc_cli_call(jc_cli_conn *c, const char *method, const char *path, const json_t *body,
                    long *status) {
    _cleanup_free_ char *text = NULL;
    if (body && !(text = json_dumps(body, JSON_COMPACT)))
        return NULL;
    jc_cli_resp r;
    if (status)
        *status = 0;
    if (jc_cli_request(c, method, path, text, text ? strlen(text) : 0, &r) < 0)
        return NULL;
    if (status)
        *status = r.status;
    if (r.status < 200 || r.status >= 300) {
        jc_cli_print_http_error(&r);
        jc_cli_resp_free(&r);
        return NULL;
    }
    json_t *doc = r.len ? json_loadb(r.body, r.len, 0, NULL) : json_null();
    if (!doc)
        fprintf(stderr, "jobcell: the server's answer is not JSON\n");
    jc_cli_resp_free(&r);
    return doc;
}

int jc_cli_stream(jc_cli_conn *c, const char *path, FILE *out, long *status, size_t *written) {
    sink s = {.stream = out, .stream_ok = -1};
    *status = 0;
    int r = perform(c, "GET", path, NULL, 0, &s, status);
    *written = s.streamed;
    if (r == 0 && (*status < 200 || *status >= 300)) {
        jc_cli_resp resp = {.status = *status, .body = s.buf, .len = s.len};
        jc_cli_print_http_error(&resp);
        r = -1;
    }
    free(s.buf);
    return r;
}

char *jc_cli_escape(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    char *p = out;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
            *q == '-' || *q == '.' || *q == '_' || *q == '~') {
            *p++ = (char)*q;
        } else {
            *p++ = '%';
            *p++ = hex[*q >> 4];
            *p++ = hex[*q & 15];
        }
    }
    *p = '\0';
    return out;
}

void jc_cli_print_json(const json_t *v) {
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

const char *jc_cli_str(const json_t *obj, const char *key) {
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "-";
}
