/* main.c: the jobcell-api program: serve, migrate, token create. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "api.h"
#include "handlers.h"
#include "jobcell/auth.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "maintenance.h"
#include "audit.h"
#include "internal_auth.h"
#include "keys.h"
#include "schedules.h"
#include "server.h"
#include "store_export.h"

extern char **environ;

/* The runtime listener's routes come from runtime.c. This weak default keeps the program
 * buildable without it; the server library is linked whole, so a strong definition there
 * always wins. */
__attribute__((weak)) void jc_runtime_routes(jc_router *r, jc_api *api) {
    (void)r;
    (void)api;
}

int jc_api_load_profiles(jc_api *api, jc_err *err);
void jc_api_free_profiles(jc_api *api);

static void usage(FILE *out) {
    fprintf(out,
            "Usage: jobcell-api COMMAND [OPTIONS]\n"
            "\n"
            "The jobcell API server: it keeps the queue of jobs, hands executions to\n"
            "orchestrators and serves job scripts their runtime API.\n"
            "\n"
            "Commands:\n"
            "  serve [--config FILE] [--KEY VALUE ...]   run the server\n"
            "  migrate [--config FILE] [--store-path FILE] apply database migrations\n"
            "  export [--config FILE]                     write the whole store to stdout\n"
            "  import [--config FILE]                     load an export from stdin into an\n"
            "                                           empty store (SQLite or PostgreSQL)\n"
            "  token create --user NAME --role admin|user [--name TEXT] [--config FILE]\n"
            "                                           create an API token and print it once\n"
            "  prune [--dry-run] [--full-vacuum] [--config FILE] [--store-path FILE]\n"
            "                                           remove what is past its retention now\n"
            "  keys CLASS ACTION [OPTIONS]              manage key files and rotate keys\n"
            "  orchestrator add|ls|revoke|rotate ...    manage orchestrator credentials\n"
            "\n"
            "Run 'jobcell-api COMMAND --help' for the options of a command.\n");
}

static bool wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

static void serve_help(void) {
    printf("Usage: jobcell-api serve [--config FILE] [--KEY VALUE ...]\n"
           "\n"
           "Run the API server until SIGTERM or SIGINT. Settings come from the JSON file\n"
           "given with --config, then JOBCELL_* environment variables, then flags. Secrets\n"
           "are read from files (internal_key_file). Settings:\n\n");
    jc_config_print_help(&jc_api_config_schema, stdout);
}

/* Load the configuration for a command; argv[0] is the command name. */
static int load_config(jc_api_config *cfg, int argc, char **argv, jc_err *err) {
    memset(cfg, 0, sizeof(*cfg));
    if (jc_config_init(&jc_api_config_schema, cfg, err) < 0)
        return -1;
    int next = 0;
    if (jc_config_load(&jc_api_config_schema, cfg, argc, argv, environ, &next, err) < 0)
        return -1;
    if (next < argc)
        return jc_err_set(err, JC_E_INVALID, "unexpected argument '%s'", argv[next]);
    int level = jc_log_level_parse(cfg->log_level);
    if (level < 0)
        return jc_err_field(err, JC_E_CONFIG, "log_level",
                            "log_level must be debug, info, warn or error");
    jc_log_set_level((jc_log_level)level);
    return 0;
}

static jc_store *open_store(const jc_api_config *cfg, jc_err *err) {
    return jc_api_open_store(cfg, err);
}

static const char *store_label(const jc_api_config *cfg) {
    return jc_api_store_label(cfg);
}

/* Work queued by another server on the same database: wake this one's long-polls. */
static void work_elsewhere(void *arg) {
    jc_api_notify_work(arg);
}

/* ---- serve -------------------------------------------------------------------------- */

static int cmd_serve(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        serve_help();
        return 0;
    }
    /* Signals are taken by sigwait below; every thread created from here on inherits
     * the mask, so none of them is interrupted by SIGTERM. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    jc_api_config cfg;
    jc_api api = {.cfg = &cfg};
    jc_err err;
    jc_err_clear(&err);
    int rc = 1;
    jc_server *server = NULL;

    if (load_config(&cfg, argc, argv, &err) < 0)
        goto out_cfg;
    /* The internal key is the orchestrators' only credential: refuse to run without a
     * strong one rather than serve an internal API anyone could guess. */
    int key_state = jc_auth_secret_check("internal_key", cfg.internal_key.len, &err);
    if (key_state < 0 || (key_state == 0 && !cfg.require_hmac)) {
        if (err.code == JC_E_OK)
            jc_err_set(&err, JC_E_CONFIG,
                       "internal_key is not set: give internal_key_file (at least %d bytes), "
                       "or set internal_auth.require_hmac",
                       JC_AUTH_MIN_SECRET);
        goto out_cfg;
    }
    if (!cfg.jwt_keyring_file || !*cfg.jwt_keyring_file) {
        jc_err_set(&err, JC_E_CONFIG, "jwt_keyring_file is not set");
        goto out_cfg;
    }
    api.keyring = jc_jwt_keyring_load(cfg.jwt_keyring_file, &err);
    if (!api.keyring)
        goto out_cfg;
    /* Without a master key nothing secret is stored: requests that need one are refused
     * with a message naming master_key_file, never stored in clear. */
    if (cfg.master_key_file && *cfg.master_key_file &&
        !(api.master = jc_master_ring_load(cfg.master_key_file, &err)))
        goto out;
    if (jc_api_load_profiles(&api, &err) < 0)
        goto out;
    api.metrics = jc_metrics_new();
    jc_iauth iauth = {.replay = jc_replay_cache_new((size_t)cfg.replay_cache_entries),
                      .limit =
                          jc_addr_limit_new(4096, cfg.auth_fail_per_minute, cfg.auth_fail_block_s)};
    jc_iauth_init(&iauth, cfg.key_cache_ms);
    api.iauth = &iauth;
    if (!iauth.replay || (cfg.auth_fail_per_minute > 0 && !iauth.limit)) {
        jc_err_sys(&err, ENOMEM, "authentication tables");
        goto out;
    }
    if (cfg.require_hmac && !api.master)
        jc_log(JC_LOG_WARN,
               "internal_auth.require_hmac is set but master_key_file is not: no internal "
               "request can authenticate",
               NULL);
    api.store = open_store(&cfg, &err);
    if (!api.metrics || !api.store)
        goto out;
    if (jc_store_on_work(api.store, work_elsewhere, &api, &err) < 0)
        goto out;
    jc_api_keys_loaded(&api);
    api.audit = jc_audit_start(api.store, (size_t)cfg.audit_queue, cfg.audit_aggregate_s, &err);
    if (!api.audit)
        goto out;
    /* Orchestrators kept running while we were down: give their leases one period to
     * heartbeat before the reaper may call anything lost. */
    size_t extended = 0;
    if (jc_store_extend_leases(api.store, jc_time_now_ms(), cfg.lease_s * 1000, &extended, &err) <
        0)
        goto out;
    if (extended) {
        char n[24];
        snprintf(n, sizeof(n), "%zu", extended);
        jc_log(JC_LOG_INFO, "leases extended after start", "count", n, NULL);
    }
    jc_router *main_router = jc_router_new(JC_ERRSTYLE_API);
    jc_router *runtime_router = jc_router_new(JC_ERRSTYLE_RUNTIME);
    if (!main_router || !runtime_router) {
        jc_router_free(main_router);
        jc_router_free(runtime_router);
        jc_err_sys(&err, ENOMEM, "router");
        goto out;
    }
    if (jc_admin_routes(main_router, &api, &err) < 0 ||
        jc_schedule_routes(main_router, &api, &err) < 0 ||
        jc_signal_routes(main_router, &api, &err) < 0 ||
        jc_audit_routes(main_router, &api, &err) < 0 ||
        jc_internal_routes(main_router, &api, &err) < 0) {
        jc_router_free(main_router);
        jc_router_free(runtime_router);
        goto out;
    }
    jc_runtime_routes(runtime_router, &api);
    server = jc_server_start(&api, main_router, runtime_router, &err);
    if (!server)
        goto out;
    /* the reaper, prune and the detection scan (maintenance.c) */
    if (jc_maintenance_start(&api, &err) < 0)
        goto out;
    if (jc_api_keywatch_start(&api, &err) < 0)
        goto out;
    if (jc_scheduler_start(&api, &err) < 0)
        goto out;
    char port[16], rport[16];
    snprintf(port, sizeof(port), "%d", jc_server_port(server, false));
    snprintf(rport, sizeof(rport), "%d", jc_server_port(server, true));
    jc_log(JC_LOG_INFO, "listening", "listen", cfg.listen, "port", port, "runtime_listen",
           cfg.runtime_listen, "runtime_port", rport, "store", store_label(&cfg), NULL);

    int sig = 0;
    for (;;) {
        while (sigwait(&set, &sig) != 0)
            ;
        if (sig != SIGHUP)
            break;
        /* SIGHUP: reload the key files; requests keep running meanwhile */
        jc_api_keys_reload(&api, "SIGHUP");
    }
    jc_log(JC_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    rc = 0;
out:
    /* no more wake-ups from other servers into a server that is going away */
    if (api.store)
        jc_store_on_work(api.store, NULL, NULL, &err);
    jc_api_keywatch_stop();
    jc_scheduler_stop();
    jc_maintenance_stop();
    jc_server_stop(server);
    jc_audit_stop(api.audit); /* after the server: the last requests' events are written */
    jc_store_close(api.store);
    jc_metrics_free(api.metrics);
    jc_api_free_profiles(&api);
    jc_jwt_keyring_free(api.keyring);
    jc_master_ring_free(api.master);
    jc_api_keys_free_retired();
    if (api.iauth) {
        jc_replay_cache_free(api.iauth->replay);
        jc_addr_limit_free(api.iauth->limit);
        jc_iauth_fini(api.iauth);
    }
out_cfg:
    if (rc != 0)
        fprintf(stderr, "jobcell-api: %s\n", err.msg[0] ? err.msg : "failed");
    else
        jc_log(JC_LOG_INFO, "stopped", NULL);
    jc_config_free(&jc_api_config_schema, &cfg);
    return rc;
}

/* ---- migrate ------------------------------------------------------------------------ */

static int cmd_migrate(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        printf("Usage: jobcell-api migrate [--config FILE] [--store-path FILE]\n"
               "\nApply pending database migrations and print the schema version.\n"
               "The server also does this when it starts.\n");
        return 0;
    }
    jc_api_config cfg;
    jc_err err;
    jc_err_clear(&err);
    if (load_config(&cfg, argc, argv, &err) < 0) {
        fprintf(stderr, "jobcell-api migrate: %s\n", err.msg);
        jc_config_free(&jc_api_config_schema, &cfg);
        return 2;
    }
    jc_store *st = open_store(&cfg, &err);
    int from = 0, to = 0;
    int rc = st && jc_store_migrate(st, &from, &to, &err) == 0 ? 0 : 1;
    if (rc == 0)
        printf("schema version %d (%s)\n", to, store_label(&cfg));
    else
        fprintf(stderr, "jobcell-api migrate: %s\n", err.msg);
    jc_store_close(st);
    jc_config_free(&jc_api_config_schema, &cfg);
    return rc;
}

/* ---- export / import ------------------------------------------------------------------ */

static int cmd_export_import(int argc, char **argv, bool export) {
    if (wants_help(argc, argv)) {
        if (export)
            printf("Usage: jobcell-api export [--config FILE] [--store-path FILE]\n"
                   "                          [--store.url URL] > store.jsonl\n"
                   "\nWrite every table of the store to stdout as JSON lines, for\n"
                   "'jobcell-api import'. Stop the servers that use the store first.\n");
        else
            printf("Usage: jobcell-api import [--config FILE] [--store-path FILE]\n"
                   "                          [--store.url URL] < store.jsonl\n"
                   "\nLoad an export (from stdin) into an empty store, all of it or nothing.\n"
                   "Moving from SQLite to PostgreSQL:\n"
                   "  jobcell-api export --config old.json | jobcell-api import --config "
                   "new.json\n");
        return 0;
    }
    const char *what = export ? "export" : "import";
    jc_api_config cfg;
    jc_err err;
    jc_err_clear(&err);
    if (load_config(&cfg, argc, argv, &err) < 0) {
        fprintf(stderr, "jobcell-api %s: %s\n", what, err.msg);
        jc_config_free(&jc_api_config_schema, &cfg);
        return 2;
    }
    jc_store *st = open_store(&cfg, &err);
    size_t rows = 0;
    int rc = 1;
    if (st) {
        if (export)
            rc = jc_store_export(st, stdout, &rows, &err) == 0 && fflush(stdout) == 0 ? 0 : 1;
        else
            rc = jc_store_import(st, stdin, &rows, &err) == 0 ? 0 : 1;
    }
    if (rc == 0)
        fprintf(stderr, "jobcell-api %s: %zu rows (%s)\n", what, rows, store_label(&cfg));
    else
        fprintf(stderr, "jobcell-api %s: %s\n", what,
                err.msg[0] ? err.msg : "writing the output failed");
    jc_store_close(st);
    jc_config_free(&jc_api_config_schema, &cfg);
    return rc;
}

/* ---- token create ------------------------------------------------------------------- */

static int cmd_token(int argc, char **argv) {
    static const char help[] =
        "Usage: jobcell-api token create --user NAME --role admin|user [--name TEXT]\n"
        "                                [--config FILE] [--store-path FILE]\n"
        "\nCreate an API token for NAME and print it once. Only its SHA-256 is stored:\n"
        "keep the printed token, it cannot be shown again.\n";
    if (wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "create") != 0) {
        fputs(help, stderr);
        return 2;
    }
    const char *user = NULL, *role = "user", *name = "created by jobcell-api", *config = NULL,
               *store_path = NULL;
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--user") == 0         ? &user
                            : strcmp(argv[i], "--role") == 0       ? &role
                            : strcmp(argv[i], "--name") == 0       ? &name
                            : strcmp(argv[i], "--config") == 0     ? &config
                            : strcmp(argv[i], "--store-path") == 0 ? &store_path
                                                                   : NULL;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "jobcell-api token create: unknown or incomplete option '%s'\n%s",
                    argv[i], help);
            return 2;
        }
        *slot = argv[++i];
    }
    if (!user) {
        fprintf(stderr, "jobcell-api token create: --user is required\n%s", help);
        return 2;
    }
    jc_api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    jc_err err;
    jc_err_clear(&err);
    int rc = 1;
    jc_store *st = NULL;
    if (jc_config_init(&jc_api_config_schema, &cfg, &err) < 0 ||
        (config && jc_config_load_file(&jc_api_config_schema, &cfg, config, &err) < 0) ||
        jc_config_apply_env(&jc_api_config_schema, &cfg, environ, &err) < 0 ||
        (store_path && jc_config_set(&jc_api_config_schema, &cfg, "store_path", store_path,
                                     "flag --store-path", false, &err) < 0))
        goto out;
    st = open_store(&cfg, &err);
    if (!st)
        goto out;
    jc_api_token tok;
    char secret[JC_API_TOKEN_LEN + 1];
    if (jc_api_token_issue(st, name, user, role, &tok, secret, &err) < 0)
        goto out;
    jc_audit_event ev;
    jc_api_operator_event(&ev, "token_create", tok.id);
    jc_err aerr;
    if (jc_store_audit_append(st, &ev, 1, &aerr) < 0)
        fprintf(stderr, "jobcell-api token create: warning: audit: %s\n", aerr.msg);
    printf("%s\n", secret);
    fflush(stdout);
    OPENSSL_cleanse(secret, sizeof(secret));
    fprintf(stderr, "token %s for %s (%s) created; it is shown only once\n", tok.id, tok.user,
            tok.role);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "jobcell-api token create: %s\n", err.msg);
        if (err.code == JC_E_INVALID || err.code == JC_E_CONFIG || err.code == JC_E_UNKNOWN_FIELD)
            rc = 2;
    }
    jc_store_close(st);
    jc_config_free(&jc_api_config_schema, &cfg);
    return rc;
}

/* ---- prune -------------------------------------------------------------------------- */

static int cmd_prune(int argc, char **argv) {
    static const char help[] =
        "Usage: jobcell-api prune [--dry-run] [--full-vacuum] [--config FILE]\n"
        "                         [--store-path FILE]\n"
        "\n"
        "Remove what is past its retention now (the server's prune task does the same on\n"
        "its own, every maintenance.prune_interval_s) and print how many rows of each kind\n"
        "went. Finished jobs go with all their executions, results and logs; audit events,\n"
        "idempotency records and security signals by their time; variables are never\n"
        "removed. Rows go in small transactions, so a running server keeps serving.\n"
        "\n"
        "  --dry-run       only count what would be removed\n"
        "  --full-vacuum   afterwards rewrite the whole store once, so that a store created\n"
        "                  by an older version gives freed space back from then on\n"
        "                  (stop every server using the store first)\n";
    if (wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    bool dry = false, full = false;
    const char *config = NULL, *store_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry = true;
        } else if (strcmp(argv[i], "--full-vacuum") == 0) {
            full = true;
        } else if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--store-path") == 0) &&
                   i + 1 < argc) {
            *(argv[i][2] == 'c' ? &config : &store_path) = argv[i + 1];
            i++;
        } else {
            fprintf(stderr, "jobcell-api prune: unknown or incomplete option '%s'\n%s", argv[i],
                    help);
            return 2;
        }
    }
    if (dry && full) {
        fprintf(stderr, "jobcell-api prune: --dry-run and --full-vacuum do not go together\n");
        return 2;
    }
    jc_api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    jc_err err;
    jc_err_clear(&err);
    int rc = 1;
    jc_store *st = NULL;
    if (jc_config_init(&jc_api_config_schema, &cfg, &err) < 0 ||
        (config && jc_config_load_file(&jc_api_config_schema, &cfg, config, &err) < 0) ||
        jc_config_apply_env(&jc_api_config_schema, &cfg, environ, &err) < 0 ||
        (store_path && jc_config_set(&jc_api_config_schema, &cfg, "store_path", store_path,
                                     "flag --store-path", false, &err) < 0))
        goto out;
    st = open_store(&cfg, &err);
    if (!st)
        goto out;
    int64_t now = jc_scheduler_now_ms();
    jc_prune_counts c;
    jc_prune_report rep;
    if (dry) {
        jc_retention r;
        jc_retention_from_config(&cfg, &r);
        if (jc_store_prune_count(st, &r, now, &c, &err) < 0)
            goto out;
    } else {
        if (jc_prune_run(st, &cfg, now, NULL, &rep, &err) < 0)
            goto out;
        c = rep.removed;
    }
    printf("%s\n", dry ? "would remove:" : "removed:");
    printf("  jobs          %" PRId64 "\n", c.rows[JC_KIND_JOBS]);
    printf("  executions    %" PRId64 "\n", c.executions);
    printf("  log chunks    %" PRId64 "\n", c.rows[JC_KIND_LOGS]);
    printf("  audit         %" PRId64 "\n", c.rows[JC_KIND_AUDIT]);
    printf("  idempotency   %" PRId64 "\n", c.rows[JC_KIND_IDEMPOTENCY]);
    printf("  signals       %" PRId64 "\n", c.rows[JC_KIND_SIGNALS]);
    printf("  activity      %" PRId64 "\n", c.rows[JC_KIND_ACTIVITY]);
    printf("  variables     0 (never removed)\n");
    if (!dry) {
        if (rep.vacuum_supported)
            printf("space: %" PRId64 " free pages given back, %" PRId64 " left\n", rep.freed_pages,
                   rep.free_pages);
        else if (!full)
            printf("space: this store was created without incremental vacuum; freed pages are"
                   " reused but not given back (see --full-vacuum)\n");
        if (full) {
            if (jc_store_full_vacuum(st, &err) < 0)
                goto out;
            printf("space: the store was rewritten; freed space is given back from now on\n");
        }
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "jobcell-api prune: %s\n", err.msg);
        if (err.code == JC_E_INVALID || err.code == JC_E_CONFIG || err.code == JC_E_UNKNOWN_FIELD)
            rc = 2;
    }
    jc_store_close(st);
    jc_config_free(&jc_api_config_schema, &cfg);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("jobcell-api %s\n", JC_VERSION);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0) {
        int rc = cmd_serve(argc - 1, argv + 1);
        return rc;
    }
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cmd_export_import(argc - 1, argv + 1, true);
    if (strcmp(cmd, "import") == 0)
        return cmd_export_import(argc - 1, argv + 1, false);
    if (strcmp(cmd, "token") == 0)
        return cmd_token(argc - 1, argv + 1);
    if (strcmp(cmd, "prune") == 0)
        return cmd_prune(argc - 1, argv + 1);
    if (strcmp(cmd, "keys") == 0)
        return jc_api_cmd_keys(argc - 1, argv + 1);
    if (strcmp(cmd, "orchestrator") == 0)
        return jc_api_cmd_orchestrator(argc - 1, argv + 1);
    fprintf(stderr, "jobcell-api: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
