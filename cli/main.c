/* jobcell: one command for people. Remote subcommands speak the admin API; local ones
 * (run, profile) use the sandbox engine and need root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_COMMANDS 64

static const jc_cli_command *commands[MAX_COMMANDS];
static size_t ncommands;

void jc_cli_register(const jc_cli_command *cmd) {
    if (ncommands < MAX_COMMANDS)
        commands[ncommands++] = cmd;
}

static int by_order(const void *a, const void *b) {
    const jc_cli_command *x = *(const jc_cli_command *const *)a;
    const jc_cli_command *y = *(const jc_cli_command *const *)b;
    return x->order != y->order ? (x->order > y->order) - (x->order < y->order)
                                : strcmp(x->name, y->name);
}

static void usage(FILE *out) {
    fprintf(out, "usage: jobcell COMMAND [OPTIONS] [ARGS]\n\n"
                 "jobcell runs untrusted job scripts in sandboxes. Commands:\n\n");
    for (size_t i = 0; i < ncommands; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n`jobcell COMMAND --help` describes each command.\n");
}

int main(int argc, char **argv) {
    qsort(commands, ncommands, sizeof(commands[0]), by_order);
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
    for (size_t i = 0; i < ncommands; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return commands[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "jobcell: unknown command '%s' (see jobcell --help)\n", argv[1]);
    return 2;
}
