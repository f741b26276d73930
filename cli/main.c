/* jobcell: one command for people.
 *
 * The command is two programs. `jobcell` holds the local commands (run, profile), which
 * link the sandbox engine and must start fast: `jobcell run` competes with bwrap on
 * start-up time, and loading libcurl with its twenty-odd dependencies costs more than a
 * whole bwrap run. The remote commands, which speak the admin API over libcurl, live in
 * `jobcell-remote` beside it; `jobcell` hands any command it does not hold to that program
 * with the same arguments, so to a person they are one command. Both are built from this
 * file (JC_CLI_FRONT set for the first). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define MAX_COMMANDS 64
#define REMOTE_PROGRAM "jobcell-remote"

static const jc_cli_command *commands[MAX_COMMANDS];
static size_t ncommands;

void jc_cli_register(const jc_cli_command *cmd) {
    if (ncommands < MAX_COMMANDS)
        commands[ncommands++] = cmd;
}

/* One line of the help listing, from this program or from the other one. */
typedef struct listing {
    int order;
    char name[32];
    char summary[160];
} listing;

static int by_order(const void *a, const void *b) {
    const listing *x = a, *y = b;
    return x->order != y->order ? (x->order > y->order) - (x->order < y->order)
                                : strcmp(x->name, y->name);
}

#ifdef JC_CLI_FRONT
extern char **environ;

/* The remote program beside this one (the build tree and an install keep them together). */
static int remote_path(char *buf, size_t len) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    int w = snprintf(buf, len, "%s/%s", self, REMOTE_PROGRAM);
    if (w < 0 || (size_t)w >= len || access(buf, X_OK) < 0)
        return -1;
    return 0;
}

/* Append the remote program's commands ("order\tname\tsummary" lines) to the listing. */
static size_t remote_listing(listing *out, size_t max) {
    char path[PATH_MAX];
    if (remote_path(path, sizeof(path)) < 0)
        return 0;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    char *argv[] = {"jobcell", "--list-commands", NULL};
    pid_t pid;
    int r = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    size_t n = 0;
    if (r == 0) {
        FILE *f = fdopen(pipefd[0], "r");
        char line[256];
        while (f && n < max && fgets(line, sizeof(line), f)) {
            listing *l = &out[n];
            if (sscanf(line, "%d\t%31[^\t]\t%159[^\n]", &l->order, l->name, l->summary) == 3)
                n++;
        }
        if (f)
            fclose(f);
        else
            close(pipefd[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    } else {
        close(pipefd[0]);
    }
    return n;
}
#endif

static void usage(FILE *out) {
    listing all[MAX_COMMANDS * 2];
    size_t n = 0;
    for (size_t i = 0; i < ncommands; i++, n++) {
        all[n].order = commands[i]->order;
        snprintf(all[n].name, sizeof(all[n].name), "%s", commands[i]->name);
        snprintf(all[n].summary, sizeof(all[n].summary), "%s", commands[i]->summary);
    }
#ifdef JC_CLI_FRONT
    n += remote_listing(all + n, MAX_COMMANDS);
#endif
    qsort(all, n, sizeof(all[0]), by_order);
    fprintf(out, "usage: jobcell COMMAND [OPTIONS] [ARGS]\n\n"
                 "jobcell runs untrusted job scripts in sandboxes. Commands:\n\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-10s %s\n", all[i].name, all[i].summary);
    fprintf(out, "\n`jobcell COMMAND --help` describes each command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("jobcell %s\n", JC_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--list-commands") == 0) {
        for (size_t i = 0; i < ncommands; i++)
            printf("%d\t%s\t%s\n", commands[i]->order, commands[i]->name, commands[i]->summary);
        return 0;
    }
    for (size_t i = 0; i < ncommands; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return commands[i]->run(argc - 1, argv + 1);
#ifdef JC_CLI_FRONT
    char path[PATH_MAX];
    if (remote_path(path, sizeof(path)) == 0) {
        execv(path, argv);
        fprintf(stderr, "jobcell: cannot run %s: %s\n", path, strerror(errno));
        return 1;
    }
#endif
    fprintf(stderr, "jobcell: unknown command '%s' (see jobcell --help)\n", argv[1]);
    return 2;
}
