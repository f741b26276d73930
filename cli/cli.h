/* cli.h: how the `jobcell` command's subcommands join it.
 *
 * Each subcommand lives in its own cmd_<name>.c and registers itself at start-up with
 * JC_CLI_COMMAND, so adding one never edits a shared table. A subcommand's run function
 * gets argv with argv[0] = its own name and returns the process exit status. Every
 * subcommand answers --help. Exit 2 means bad usage. */
#ifndef JOBCELL_CLI_H
#define JOBCELL_CLI_H

typedef struct jc_cli_command {
    const char *name;
    const char *summary; /* one line for `jobcell --help` */
    int (*run)(int argc, char **argv);
    int order; /* position in the help listing, lower first */
} jc_cli_command;

void jc_cli_register(const jc_cli_command *cmd);

#define JC_CLI_COMMAND(ident, ...)                                                                 \
    static const jc_cli_command ident = {__VA_ARGS__};                                             \
    __attribute__((constructor)) static void register_##ident(void) {                              \
        jc_cli_register(&ident);                                                                   \
    }

#endif
