#include "profiles.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/log.h"
#include "jobcell/seccomp.h"

struct jc_orc_profiles {
    char *dir;
    jc_seccomp_set *set;
};

static void log_broken(const jc_seccomp_set *set) {
    for (size_t i = 0; i < set->n; i++) {
        const jc_seccomp_entry *e = &set->entries[i];
        if (e->error)
            jc_log(JC_LOG_ERROR,
                   e->stale ? "profile broken; keeping its previous version"
                            : "profile broken; not offered",
                   "profile", e->name, "error", e->error, NULL);
    }
}

static size_t usable(const jc_seccomp_set *set) {
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += set->entries[i].filter.len > 0;
    return n;
}

jc_orc_profiles *jc_orc_profiles_load(const char *dir, jc_err *err) {
    jc_orc_profiles *p = calloc(1, sizeof(*p));
    if (!p || !(p->dir = strdup(dir))) {
        free(p);
        jc_err_sys(err, ENOMEM, "profiles: allocate");
        return NULL;
    }
    p->set = jc_seccomp_set_load(dir, NULL, err);
    if (!p->set) {
        jc_err_prefix(err, "profile_dir %s", dir);
        jc_orc_profiles_free(p);
        return NULL;
    }
    log_broken(p->set);
    if (usable(p->set) == 0) {
        jc_err_set(err, JC_E_CONFIG, "profile_dir %s: no usable seccomp profile", dir);
        jc_orc_profiles_free(p);
        return NULL;
    }
    return p;
}

int jc_orc_profiles_reload(jc_orc_profiles *p) {
    jc_err err = {0};
    jc_seccomp_set *set = jc_seccomp_set_load(p->dir, p->set, &err);
    if (!set) {
        jc_log(JC_LOG_ERROR, "profiles: reload failed; keeping the loaded set", "error", err.msg,
               NULL);
        return -1;
    }
    log_broken(set);
    int bad = 0;
    for (size_t i = 0; i < set->n; i++)
        bad += set->entries[i].error != NULL;
    jc_seccomp_set_free(p->set);
    p->set = set;
    return bad;
}

const struct jc_seccomp_filter *jc_orc_profiles_get(const jc_orc_profiles *p, const char *name) {
    const jc_seccomp_entry *e = jc_seccomp_set_find(p->set, name);
    return e && e->filter.len ? &e->filter : NULL;
}

json_t *jc_orc_profiles_names(const jc_orc_profiles *p) {
    json_t *a = json_array();
    for (size_t i = 0; p && a && i < p->set->n; i++)
        if (p->set->entries[i].filter.len)
            json_array_append_new(a, json_string(p->set->entries[i].name));
    return a;
}

void jc_orc_profiles_free(jc_orc_profiles *p) {
    if (!p)
        return;
    jc_seccomp_set_free(p->set);
    free(p->dir);
    free(p);
}
