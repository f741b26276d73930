/* seccomp_set.c: a directory of profiles — what the orchestrator offers jobs, loaded at
 * start and on SIGHUP — and where `jobcell` finds a profile by name.
 *
 * A broken profile never fails the whole load and never takes a working one away: on a
 * reload it keeps the previous compiled filter, marked stale, with its error. */
#include "jobcell/seccomp.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/cleanup.h"

#define INSTALLED_PROFILE_DIR "/usr/share/jobcell/profiles"

/* ---- a directory of profiles ------------------------------------------------------- */

bool jc_seccomp_name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 64 || !(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
        return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int by_entry_name(const void *a, const void *b) {
    return strcmp(((const jc_seccomp_entry *)a)->name, ((const jc_seccomp_entry *)b)->name);
}

static void load_entry(jc_seccomp_entry *e, const jc_seccomp_set *previous) {
    jc_err err = {0};
    jc_seccomp_profile *p = jc_seccomp_profile_load(e->path, NULL, &err);
    jc_seccomp_resolved r;
    bool ok = false;
    if (p && jc_seccomp_resolve(p, NULL, &r, NULL, &err) == 0) {
        ok = jc_seccomp_compile(&r, &e->filter, &err) == 0;
        jc_seccomp_resolved_free(&r);
    }
    if (ok) {
        e->description = strdup(p->description ? p->description : "");
        if (!e->description) {
            jc_seccomp_filter_free(&e->filter);
            ok = false;
            jc_err_set(&err, JC_E_INTERNAL, "out of memory");
        }
    }
    jc_seccomp_profile_free(p);
    if (ok)
        return;
    e->error = strdup(err.msg);
    /* A broken edit must not take a working profile away from the jobs that name it. */
    const jc_seccomp_entry *old = previous ? jc_seccomp_set_find(previous, e->name) : NULL;
    if (old && jc_seccomp_filter_copy(&old->filter, &e->filter, NULL) == 0) {
        e->description = old->description ? strdup(old->description) : NULL;
        e->stale = true;
    }
}

jc_seccomp_set *jc_seccomp_set_load(const char *dir, const jc_seccomp_set *previous, jc_err *err) {
    DIR *d = opendir(dir);
    if (!d) {
        jc_err_sys(err, errno, "profiles: open directory %s", dir);
        return NULL;
    }
    jc_seccomp_set *set = calloc(1, sizeof(*set));
    size_t cap = 0;
    struct dirent *de;
    while (set && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        char name[72];
        if (n - 5 >= sizeof(name))
            continue;
        memcpy(name, de->d_name, n - 5);
        name[n - 5] = '\0';
        if (!jc_seccomp_name_valid(name))
            continue; /* not a profile name a job could ask for: editor files, backups */
        if (set->n == cap) {
            cap = cap ? cap * 2 : 8;
            jc_seccomp_entry *e = realloc(set->entries, cap * sizeof(*e));
            if (!e)
                break;
            set->entries = e;
        }
        jc_seccomp_entry *e = &set->entries[set->n];
        memset(e, 0, sizeof(*e));
        e->name = strdup(name);
        size_t plen = strlen(dir) + n + 2;
        e->path = malloc(plen);
        if (!e->name || !e->path) {
            free(e->name);
            free(e->path);
            break;
        }
        snprintf(e->path, plen, "%s/%s", dir, de->d_name);
        set->n++;
        load_entry(e, previous);
    }
    closedir(d);
    if (!set) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        return NULL;
    }
    if (set->n)
        qsort(set->entries, set->n, sizeof(*set->entries), by_entry_name);
    return set;
}

const jc_seccomp_entry *jc_seccomp_set_find(const jc_seccomp_set *set, const char *name) {
    for (size_t i = 0; set && i < set->n; i++)
        if (strcmp(set->entries[i].name, name) == 0)
            return set->entries[i].filter.len ? &set->entries[i] : NULL;
    return NULL;
}

void jc_seccomp_set_free(jc_seccomp_set *set) {
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        jc_seccomp_entry *e = &set->entries[i];
        free(e->name);
        free(e->path);
        free(e->description);
        free(e->error);
        jc_seccomp_filter_free(&e->filter);
    }
    free(set->entries);
    free(set);
}

static bool is_profile_dir(const char *dir) {
    char path[4096];
    struct stat st;
    return snprintf(path, sizeof(path), "%s/default.json", dir) < (int)sizeof(path) &&
           stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *jc_seccomp_default_dir(void) {
    const char *env = getenv("JOBCELL_PROFILE_DIR");
    if (env && *env)
        return strdup(env);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        /* Installed: <prefix>/bin/jobcell → <prefix>/share/jobcell/profiles. A build tree:
         * <src>/build/cli/jobcell → <src>/profiles, a few levels up. */
        for (int up = 0; up < 5; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash || slash == exe)
                break;
            *slash = '\0';
            char cand[4096 + 32];
            snprintf(cand, sizeof(cand), "%s/share/jobcell/profiles", exe);
            if (is_profile_dir(cand))
                return strdup(cand);
            snprintf(cand, sizeof(cand), "%s/profiles", exe);
            if (is_profile_dir(cand))
                return strdup(cand);
        }
    }
    return strdup(INSTALLED_PROFILE_DIR);
}

char *jc_seccomp_locate(const char *dir, const char *file_or_name, jc_err *err) {
    size_t n = strlen(file_or_name);
    if (strchr(file_or_name, '/') || (n > 5 && strcmp(file_or_name + n - 5, ".json") == 0)) {
        char *s = strdup(file_or_name);
        if (!s)
            jc_err_set(err, JC_E_INTERNAL, "out of memory");
        return s;
    }
    if (!jc_seccomp_name_valid(file_or_name)) {
        jc_err_set(err, JC_E_INVALID,
                   "'%s' is neither a profile file (a path or NAME.json) nor a profile name",
                   file_or_name);
        return NULL;
    }
    size_t len = strlen(dir) + n + 7;
    char *path = malloc(len);
    if (!path) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        return NULL;
    }
    snprintf(path, len, "%s/%s.json", dir, file_or_name);
    if (access(path, R_OK) < 0) {
        jc_err_set(err, JC_E_NOT_FOUND, "no profile named '%s' in %s", file_or_name, dir);
        free(path);
        return NULL;
    }
    return path;
}
