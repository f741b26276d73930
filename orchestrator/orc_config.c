#include "orc_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "jobcell/auth.h"
#include "jobcell/hmac_sig.h"
#include "jobcell/random.h"
#include "jobcell/log.h"

#define F(k, t, m, d, lo, hi, h)                                                                   \
    { k, t, offsetof(jc_orc_config, m), d, lo, hi, 0, 0, h }

static const jc_cfg_field fields[] = {
    F("server_url", JC_CFG_STRING, server_url, "http://127.0.0.1:8080", 0, 0,
      "the API server's internal API (admin and internal listener)"),
    F("runtime_url", JC_CFG_STRING, runtime_url, "http://127.0.0.1:8081", 0, 0,
      "the API server's runtime API, where jobs' runtime calls are relayed (http:// or https://)"),
    F("runtime_ca_file", JC_CFG_STRING, runtime_ca_file, "", 0, 0,
      "PEM CA certificates to trust for an https:// runtime_url instead of the system store"),
    F("internal_key", JC_CFG_SECRET, internal_key, NULL, 0, 0,
      "the internal API key shared with the API server (give internal_key_file)"),
    F("internal_key_id", JC_CFG_STRING, internal_key_id, "", 0, 0,
      "this host's credential key id (from 'jobcell-api orchestrator add'); when set every "
      "internal request is signed with internal_secret_file"),
    F("internal_secret", JC_CFG_SECRET, internal_secret, NULL, 0, 0,
      "the secret of internal_key_id (give internal_secret_file, mode 0600)"),
    F("keyring_file", JC_CFG_STRING, keyring_file, "/etc/jobcell/jwt-keys.json", 0, 0,
      "the execution-token key ring shared with the API server (mode 0600)"),
    F("orchestrator_id", JC_CFG_STRING, orchestrator_id, "", 0, 0,
      "this host's id; empty: generated once and kept in state_dir"),
    F("state_dir", JC_CFG_STRING, state_dir, "/var/lib/jobcell", 0, 0,
      "where the orchestrator id and the result spool live"),
    F("run_dir", JC_CFG_STRING, run_dir, "/run/jobcell", 0, 0, "per-execution runtime directories"),
    F("slots", JC_CFG_INT, slots, "4", 1, 64, "jobs run at once"),
    F("uid_base", JC_CFG_INT, uid_base, "1879048192", 65536, 4026531840LL,
      "first host uid/gid of slot 0; slot n uses uid_base + n * 65536"),
    F("profile_dir", JC_CFG_STRING, profile_dir, "/usr/share/jobcell/profiles", 0, 0,
      "seccomp profiles (*.json)"),
    F("sdk_dir", JC_CFG_STRING, sdk_dir, "", 0, 0,
      "the job-side helpers to bind at /usr/local/lib/jobcell; empty: the installed ones"),
    F("init_path", JC_CFG_STRING, init_path, "", 0, 0,
      "the jobcell-init program; empty: next to this program"),
    F("cgroup_parent", JC_CFG_STRING, cgroup_parent, "", 0, 0,
      "cgroup to nest sandboxes under; empty: the daemon's own"),
    F("kill_grace_s", JC_CFG_INT, kill_grace_s, "5", 0, 60,
      "seconds between SIGTERM and SIGKILL when a job is stopped"),
    F("drain_timeout_s", JC_CFG_INT, drain_timeout_s, "60", 0, 86400,
      "on SIGTERM, how long running jobs may finish before they are canceled"),
    F("claim_wait_s", JC_CFG_INT, claim_wait_s, "30", 0, 30, "long-poll wait for new work"),
    F("backoff_base_ms", JC_CFG_INT, backoff_base_ms, "200", 1, 60000,
      "first retry delay after an API error"),
    F("backoff_max_ms", JC_CFG_INT, backoff_max_ms, "30000", 1, 600000,
      "longest retry delay after API errors"),
    F("admin_listen", JC_CFG_STRING, admin_listen, "127.0.0.1:9464", 0, 0,
      "address for /metrics and /health; empty: off"),
    F("log_file", JC_CFG_STRING, log_file, "", 0, 0,
      "append logs to this file (reopened on SIGHUP); empty: stderr"),
    F("log_level", JC_CFG_STRING, log_level, "info", 0, 0, "debug, info, warn or error"),
    F("spool_fsync", JC_CFG_BOOL, spool_fsync, "true", 0, 0, "fsync spooled results"),
    F("spool_after_ms", JC_CFG_INT, spool_after_ms, "1000", 0, 600000,
      "spool a finished result to disk when the server has not acknowledged it within this "
      "time (or at its first failure); 0: spool every result before sending it"),
    F("egress.enabled", JC_CFG_BOOL, egress_enabled, "false", 0, 0,
      "run jobs with network \"egress\" (needs nftables and net.ipv4.ip_forward=1); when "
      "false such jobs end in a setup_error"),
    F("egress.pool", JC_CFG_STRING, egress_pool, "100.96.0.0/16", 0, 0,
      "IPv4 pool of the egress jobs' /30 subnets (the same on every jobcell of a host)"),
    F("egress.allow_private", JC_CFG_JSON, egress_allow_private, "[]", 0, 0,
      "private ranges (CIDR) egress jobs may reach when their allow-list names them"),
    F("egress.deny_always", JC_CFG_JSON, egress_deny_always, "[]", 0, 0,
      "ranges (CIDR) no egress job may reach, whatever its allow-list says"),
    F("egress.resolvers", JC_CFG_JSON, egress_resolvers, "[]", 0, 0,
      "DNS servers egress jobs' queries go to (\"addr\" or \"addr:port\"); empty: the "
      "nameservers of /etc/resolv.conf"),
};

const jc_cfg_schema jc_orc_config_schema = {fields, sizeof(fields) / sizeof(fields[0])};

int jc_orc_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, jc_err *err) {
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return jc_err_set(err, JC_E_INVALID, "address %s: expected [host]:port", s);
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return jc_err_set(err, JC_E_INVALID, "address %s: expected host:port", s);
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return jc_err_set(err, JC_E_INVALID, "address %s: bad host", s);
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || p < 0 || p > 65535)
        return jc_err_set(err, JC_E_INVALID, "address %s: bad port", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

int jc_orc_parse_http_url(const char *url, char *host, size_t hostlen, uint16_t *port, bool *tls,
                          jc_err *err) {
    bool https = strncmp(url, "https://", 8) == 0;
    if (!https && strncmp(url, "http://", 7) != 0)
        return jc_err_set(err, JC_E_CONFIG, "%s: expected an http:// or https:// URL", url);
    if (tls)
        *tls = https;
    const char *hp = url + (https ? 8 : 7);
    size_t n = strcspn(hp, "/");
    if (hp[n] == '/' && hp[n + 1] != '\0')
        return jc_err_set(err, JC_E_CONFIG, "%s: the runtime URL takes no path", url);
    char buf[300];
    if (n == 0 || n >= sizeof(buf) - 4)
        return jc_err_set(err, JC_E_CONFIG, "%s: bad host", url);
    memcpy(buf, hp, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) /* no user info, query, fragment or spaces */
        if (buf[i] <= ' ' || buf[i] >= 0x7f || strchr("@?#", buf[i]))
            return jc_err_set(err, JC_E_CONFIG, "%s: bad host", url);
    bool has_port = buf[0] == '[' ? strstr(buf, "]:") != NULL : strchr(buf, ':') != NULL;
    if (!has_port) {
        if (buf[0] == '[') {
            size_t bl = strlen(buf);
            if (bl < 3 || buf[bl - 1] != ']' || bl - 2 >= hostlen)
                return jc_err_set(err, JC_E_CONFIG, "%s: bad host", url);
            memcpy(host, buf + 1, bl - 2);
            host[bl - 2] = '\0';
        } else {
            if (n >= hostlen)
                return jc_err_set(err, JC_E_CONFIG, "%s: bad host", url);
            memcpy(host, buf, n + 1);
        }
        *port = https ? 443 : 80;
        return 0;
    }
    if (jc_orc_split_hostport(buf, host, hostlen, port, err) < 0)
        return jc_err_prefix(err, "%s", url);
    return 0;
}

int jc_orc_config_check(const jc_orc_config *c, jc_err *err) {
    bool signing = c->internal_key_id && c->internal_key_id[0];
    bool has_secret = c->internal_secret.data && c->internal_secret.len;
    if (signing) {
        if (!jc_id_valid(c->internal_key_id, "ok_", 26))
            return jc_err_field(err, JC_E_CONFIG, "internal_key_id",
                                "internal_key_id must be a key id as printed by 'jobcell-api "
                                "orchestrator add' (ok_ and 26 characters)");
        unsigned char k[JC_HMAC_SECRET_BYTES];
        if (!has_secret)
            return jc_err_field(err, JC_E_CONFIG, "internal_secret",
                                "internal_key_id needs its secret: give internal_secret_file");
        if (jc_hmac_secret_parse((const char *)c->internal_secret.data, c->internal_secret.len, k,
                                 err) < 0)
            return jc_err_prefix(err, "internal_secret_file");
        OPENSSL_cleanse(k, sizeof(k));
    } else if (has_secret) {
        return jc_err_field(err, JC_E_CONFIG, "internal_key_id",
                            "internal_secret_file is set but internal_key_id is not");
    }
    if (!signing && (!c->internal_key.data || c->internal_key.len == 0))
        return jc_err_field(err, JC_E_CONFIG, "internal_key",
                            "internal_key is required: give internal_key_file (or sign requests "
                            "with internal_key_id and internal_secret_file)");
    if (jc_auth_secret_check("internal_key", c->internal_key.len, err) < 0)
        return -1;
    for (size_t i = 0; i < c->internal_key.len; i++)
        if (c->internal_key.data[i] <= ' ' || c->internal_key.data[i] >= 0x7f)
            return jc_err_field(err, JC_E_CONFIG, "internal_key",
                                "internal_key must be printable ASCII without spaces");
    if (c->orchestrator_id[0] && !jc_orchestrator_id_valid(c->orchestrator_id))
        return jc_err_field(err, JC_E_CONFIG, "orchestrator_id",
                            "orchestrator_id must match ^[a-z0-9][a-z0-9._-]{0,63}$");
    if (strncmp(c->server_url, "http://", 7) != 0 && strncmp(c->server_url, "https://", 8) != 0)
        return jc_err_field(err, JC_E_CONFIG, "server_url",
                            "server_url must be an http:// or https:// URL");
    char host[256];
    uint16_t port;
    bool tls;
    if (jc_orc_parse_http_url(c->runtime_url, host, sizeof(host), &port, &tls, err) < 0)
        return jc_err_prefix(err, "runtime_url");
    if (c->runtime_ca_file[0] && c->runtime_ca_file[0] != '/')
        return jc_err_field(err, JC_E_CONFIG, "runtime_ca_file",
                            "runtime_ca_file must be an absolute path");
    if (c->runtime_ca_file[0] && !tls)
        return jc_err_field(err, JC_E_CONFIG, "runtime_ca_file",
                            "runtime_ca_file is only used with an https:// runtime_url");
    if (c->admin_listen[0] &&
        jc_orc_split_hostport(c->admin_listen, host, sizeof(host), &port, err) < 0)
        return jc_err_prefix(err, "admin_listen");
    if (jc_log_level_parse(c->log_level) < 0)
        return jc_err_field(err, JC_E_CONFIG, "log_level",
                            "log_level must be debug, info, warn or error");
    if (c->backoff_max_ms < c->backoff_base_ms)
        return jc_err_field(err, JC_E_CONFIG, "backoff_max_ms",
                            "backoff_max_ms must be at least backoff_base_ms");
    /* the slots' uid ranges must fit below 2^32 - 1 (the invalid uid) */
    if (c->uid_base + c->slots * 65536 > 4294967295LL)
        return jc_err_field(err, JC_E_CONFIG, "uid_base",
                            "uid_base + slots * 65536 is past the last valid uid");
    if (c->sdk_dir[0] && c->sdk_dir[0] != '/')
        return jc_err_field(err, JC_E_CONFIG, "sdk_dir", "sdk_dir must be an absolute path");
    if (!c->state_dir[0] || c->state_dir[0] != '/')
        return jc_err_field(err, JC_E_CONFIG, "state_dir", "state_dir must be an absolute path");
    return 0;
}

int jc_orc_config_load(jc_orc_config *c, int argc, char **argv, char **envp, int *next,
                       jc_err *err) {
    memset(c, 0, sizeof(*c));
    if (jc_config_init(&jc_orc_config_schema, c, err) < 0)
        return -1;
    if (jc_config_load(&jc_orc_config_schema, c, argc, argv, envp, next, err) < 0)
        return -1;
    return jc_orc_config_check(c, err);
}

void jc_orc_config_free(jc_orc_config *c) {
    jc_config_free(&jc_orc_config_schema, c);
}
