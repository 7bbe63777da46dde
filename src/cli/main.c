/*
 * main.c - the `weft` command: option parsing common to all commands,
 * the command table, `--version`, `--help` and `weft help COMMAND`.
 *
 * A command is a function `int run(int argc, char **argv)` in its own
 * src/cli/cmd_*.c file; adding one means adding a row to `commands` below.
 * Unknown commands and options get a one-line error and a pointer to help,
 * with exit status 2.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cmd_check(int argc, char **argv);
int cmd_config(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const cli_command commands[] = {
    {"check", cmd_check, "validate a configuration and report every problem",
     "usage: weft check [-c FILE]\n"
     "\n"
     "Loads the configuration (default: config.toml) and reports every problem,\n"
     "one per line, as FILE:LINE:COL: error|warning: MESSAGE.\n"
     "\n"
     "  -c, --config FILE   the configuration to check\n"
     "\n"
     "Exit status: 0 when there is no error (warnings allowed), 1 when there is an\n"
     "error, 2 on a usage error.\n"},
    {"config", cmd_config, "print the effective configuration as TOML",
     "usage: weft config [-c FILE] [--raw]\n"
     "\n"
     "Prints the configuration as TOML that `weft check` accepts: defaults applied,\n"
     "inherited keys copied, ENV[...] values resolved.\n"
     "\n"
     "  -c, --config FILE   the configuration to print (default: config.toml)\n"
     "  --raw               print values as written, ENV[...] unresolved\n"
     "\n"
     "Exit status: 0 on success, 1 when the configuration has errors, 2 on a usage error.\n"},
    {"help", cmd_help, "show help for a command",
     "usage: weft help [COMMAND]\n"
     "\n"
     "Shows the help of COMMAND, or the list of commands.\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("weft: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd)
        fprintf(stderr, "Try 'weft help %s'.\n", cmd);
    else
        fputs("Try 'weft --help'.\n", stderr);
    return CLI_USAGE;
}

int cli_config_opt(const char *cmd, int argc, char **argv, int *i, const char **path)
{
    const char *a = argv[*i];
    if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
        if (*i + 1 >= argc) {
            cli_usage_error(cmd, "option '%s' needs a file name", a);
            return -1;
        }
        *path = argv[++*i];
        return 1;
    }
    if (strncmp(a, "--config=", 9) == 0) {
        *path = a + 9;
        return 1;
    }
    return 0;
}

static void print_usage(FILE *out)
{
    fputs("usage: weft [--version] [--help] COMMAND [ARGS]\n"
          "\n"
          "weft runs data pipelines declared in a Taipy-compatible config.toml.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun 'weft help COMMAND' for a command's options.\n", out);
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stdout);
        return CLI_OK;
    }
    if (argc > 2) return cli_usage_error("help", "too many arguments");
    const cli_command *c = cli_find(argv[1]);
    if (!c) return cli_usage_error(NULL, "'%s' is not a weft command", argv[1]);
    fputs(c->help, stdout);
    return CLI_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_USAGE;
    }
    const char *a = argv[1];
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
        printf("weft %s\n", weft_version());
        return CLI_OK;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        print_usage(stdout);
        return CLI_OK;
    }
    if (a[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", a);
    const cli_command *c = cli_find(a);
    if (!c) return cli_usage_error(NULL, "'%s' is not a weft command", a);
    /* `weft CMD --help` is the same as `weft help CMD`. */
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(c->help, stdout);
            return CLI_OK;
        }
    return c->run(argc - 1, argv + 1);
}
