/* cgroup_internal.h: what the two files of the cgroup module share (cgroup.c: groups,
 * limits, kill, accounting, removal; cgroup_layout.c: where each controller is mounted
 * and the small file helpers). Not part of the module's surface: see cgroup.h. */
#ifndef JOBCELL_SANDBOX_CGROUP_INTERNAL_H
#define JOBCELL_SANDBOX_CGROUP_INTERNAL_H

#include <stdbool.h>

#include "cgroup.h"

enum { C_MEMORY, C_PIDS, C_CPU, C_CPUACCT, C_FREEZER, C_COUNT };
/* "memory", "pids", … by C_* index */
extern const char *const jc_cgroup_ctrl_names[C_COUNT];

#define MAX_HIER 8
#define CG_PATH_MAX 4096

typedef struct hierarchy {
    char mount[CG_PATH_MAX]; /* the hierarchy's root directory */
    char base[CG_PATH_MAX];  /* <mount><own or parent>: where jobcell/ lives */
    char key[256];           /* controller list of its /proc/self/cgroup line ("" = v2) */
    bool v2;
    unsigned ctrls; /* bit per C_* */
} hierarchy;

typedef struct layout {
    hierarchy h[MAX_HIER];
    int n;
    int of[C_COUNT]; /* hierarchy index per controller, -1 when not mounted */
} layout;

/* "<a>/<b>" into out (CG_PATH_MAX bytes); JC_E_INVALID when too long. */
int jc_cgroup_join(char *out, const char *a, const char *b, jc_err *err);
/* Does <dir>/<file> exist? */
bool jc_cgroup_has_file(const char *dir, const char *file);
bool jc_cgroup_is_dir(const char *path);
/* <dir>/<file> read whole (owned by the caller), NULL on error. */
char *jc_cgroup_read(const char *dir, const char *file, jc_err *err);
/* Is word in a list separated by sep (',' in /proc/self/cgroup, ' ' in cgroup.controllers)? */
bool jc_cgroup_list_has(const char *list, const char *word, char sep);
/* An execution group's name: [A-Za-z0-9_-], 1 to 64 characters. */
int jc_cgroup_check_name(const char *name, jc_err *err);
/* Where each controller lives under root, and the base (<own or parent>) in each
 * hierarchy; own is read from opts->proc_self_cgroup (default /proc/self/cgroup). */
int jc_cgroup_detect_layout(const char *root, const char *parent, const jc_cgroup_opts *opts,
                            layout *lay, jc_err *err);

#endif
