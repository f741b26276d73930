/* profiles.c: the seccomp profile names jobs may ask for.
 *
 * The names are those of the *.json files in the configured profile directory (by
 * default the profiles/ folder shipped beside the program); each description is the
 * file's top-level "description". A job naming any other profile is refused before it is
 * stored, so no orchestrator is ever asked for one it cannot have. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"

#define MAX_PROFILES 256

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where profiles/ is when the configuration does not say. */
static char *default_dir(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        static const char *const rel[] = {"/profiles", "/../profiles", "/../../profiles",
                                          "/../share/jobcell/profiles"};
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            char path[PATH_MAX];
            int k = snprintf(path, sizeof(path), "%s%s", exe, rel[i]);
            if (k > 0 && (size_t)k < sizeof(path) && is_dir(path))
                return strdup(path);
        }
    }
#ifdef JC_PROFILE_DIR_DEFAULT
    if (is_dir(JC_PROFILE_DIR_DEFAULT))
        return strdup(JC_PROFILE_DIR_DEFAULT);
#endif
    return NULL;
}

void jc_api_free_profiles(jc_api *api);
void jc_api_free_profiles(jc_api *api) {
    for (size_t i = 0; i < api->nprofiles; i++) {
        free(api->profiles[i]);
        free(api->profile_descriptions[i]);
    }
    free(api->profiles);
    free(api->profile_descriptions);
    api->profiles = api->profile_descriptions = NULL;
    api->nprofiles = 0;
}

int jc_api_load_profiles(jc_api *api, jc_err *err);
int jc_api_load_profiles(jc_api *api, jc_err *err) {
    const char *conf = api->cfg->profile_dir;
    _cleanup_free_ char *dir = conf && *conf ? strdup(conf) : default_dir();
    api->profiles = calloc(MAX_PROFILES + 1, sizeof(char *));
    api->profile_descriptions = calloc(MAX_PROFILES + 1, sizeof(char *));
    if (!api->profiles || !api->profile_descriptions)
        return jc_err_sys(err, ENOMEM, "profiles");
    if (!dir) {
        /* No directory shipped: the one built-in profile every orchestrator has. */
        jc_log(JC_LOG_WARN, "no profile directory found; only \"default\" is accepted", NULL);
        api->profiles[0] = strdup("default");
        api->profile_descriptions[0] = strdup("the default seccomp profile");
        api->nprofiles = 1;
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d)
        return jc_err_sys(err, errno, "profile directory %s", dir);
    struct dirent *de;
    char *names[MAX_PROFILES];
    size_t n = 0;
    while ((de = readdir(d)) && n < MAX_PROFILES) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.')
            continue;
        names[n++] = strndup(de->d_name, len - 5);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
        size_t len;
        jc_err e;
        _cleanup_free_ char *text = jc_read_file(path, 1 << 20, &len, &e);
        _cleanup_json_ json_t *j = text ? json_loadb(text, len, 0, NULL) : NULL;
        const char *desc = json_string_value(json_object_get(j, "description"));
        api->profiles[api->nprofiles] = names[i];
        api->profile_descriptions[api->nprofiles] = strdup(desc ? desc : "");
        api->nprofiles++;
    }
    if (api->nprofiles == 0)
        return jc_err_set(err, JC_E_CONFIG, "profile directory %s holds no *.json profile", dir);
    return 0;
}
