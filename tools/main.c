/*
 * adjoint — the command-line program: a table of subcommands and a
 * dispatcher.  Adding a subcommand is one row here and one file.
 */
#include "commands.h"
#include "lm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", adj_cmd_train,
     "train an MLP (Fashion-MNIST by default) or a language model (--model rnn|lstm|gru|gpt)"},
    {"eval", adj_cmd_eval, "evaluate a saved model: test accuracy and confusion matrix, or loss"},
    {"sample", adj_cmd_sample, "sample text from a language model"},
    {"gradcheck", adj_cmd_gradcheck, "check every op's gradient against finite differences"},
    {"info", adj_cmd_info, "the version, kernels, BLIS configuration and threads in use"},
/* explain: the teaching walk-through, implemented in tools/explain.c.
 * meson defines HAVE_EXPLAIN when that file exists. */
#ifdef HAVE_EXPLAIN
    {"explain", adj_cmd_explain, "explain backward as chain-rule arithmetic"},
#endif
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: adjoint COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'adjoint COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return adj_tool_flush(stdout, "the standard output") ? 1 : 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            int rc = commands[i].run(argc - 1, argv + 1);
            /* output that could not be written is a failure (> /dev/full,
             * a closed pipe's reader gone, a full disk) */
            if (adj_tool_flush(stdout, "the standard output") != 0 && rc == 0)
                rc = 1;
            return rc;
        }
    fprintf(stderr, "adjoint: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
