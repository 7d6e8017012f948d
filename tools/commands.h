/*
 * The subcommands of the `adjoint` program.  Each takes the arguments
 * after its name (argv[0] is the subcommand name) and returns the process
 * exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef ADJ_TOOLS_COMMANDS_H
#define ADJ_TOOLS_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

int adj_cmd_train(int argc, char **argv);
int adj_cmd_eval(int argc, char **argv);
int adj_cmd_gradcheck(int argc, char **argv);
/* Teaching: the chain-rule walk-through (tools/explain.c). */
int adj_cmd_explain(int argc, char **argv);

/* ------------------------------------------- helpers shared by commands */

/* Seconds on a monotonic clock. */
double adj_tool_now(void);
/* Parse a non-negative integer / a double; 0 on success, -1 on error
 * (with a message on stderr naming the option). */
int adj_tool_long(const char *opt, const char *s, long lo, long hi, long *out);
int adj_tool_double(const char *opt, const char *s, double *out);
/* Print s as a JSON string literal (quotes and escapes). */
void adj_tool_json_string(FILE *f, const char *s);

/* Loaded data: "idx:DIR" (train split from DIR's train files, test from
 * its t10k files) or "csv:FILE" (test split carved from the file). */
#define ADJ_DEFAULT_DATA "idx:/usr/share/datasets/fashion-mnist"

#endif
