/* util_profile_learn.c: `jobcell profile learn` — needs the sandbox engine. */
#include <stdio.h>

#include "cmd_profile.h"

int jc_profile_learn(const char *dir, int argc, char **argv) {
    (void)dir;
    (void)argc;
    (void)argv;
    fprintf(stderr, "jobcell profile learn: not available in this build\n");
    return 1;
}
