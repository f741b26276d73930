/* cmd_profile.h: the parts of `jobcell profile` that live in their own files. */
#ifndef JOBCELL_CLI_CMD_PROFILE_H
#define JOBCELL_CLI_CMD_PROFILE_H

/* `jobcell profile learn ARGS…` with dir the profile directory; returns the exit status. */
int jc_profile_learn(const char *dir, int argc, char **argv);
/* The profile directory: the option's value, or the default one. Owned string. */
char *jc_profile_dir_option(const char *given);

#endif
