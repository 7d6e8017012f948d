/*
 * The subcommands of the `adjoint` program.  Each takes the arguments
 * after its name (argv[0] is the subcommand name) and returns the process
 * exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef ADJ_TOOLS_COMMANDS_H
#define ADJ_TOOLS_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include <adjoint.h>

int adj_cmd_train(int argc, char **argv);
int adj_cmd_eval(int argc, char **argv);
int adj_cmd_gradcheck(int argc, char **argv);
/* What this build and machine run (tools/info.c). */
int adj_cmd_info(int argc, char **argv);
/* Teaching: the chain-rule walk-through (tools/explain.c). */
int adj_cmd_explain(int argc, char **argv);

/* ------------------------------------------- helpers shared by commands */

/* Seconds on a monotonic clock. */
double adj_tool_now(void);
/* Parse a non-negative integer / a double; 0 on success, -1 on error
 * (with a message on stderr naming the option). */
int adj_tool_long(const char *opt, const char *s, long lo, long hi, long *out);
int adj_tool_double(const char *opt, const char *s, double *out);
/* Parse a finite number in the interval from lo to hi, each end open
 * (excluded) or closed; on error print "--lr needs a number in (0, inf),
 * got '0'" and return -1. */
int adj_tool_number(const char *opt, const char *s, double lo, int lo_open, double hi,
                    int hi_open, double *out);
/* Flush f and check it for write errors; on error print "cannot write
 * <what>: <reason>" and return -1. */
int adj_tool_flush(FILE *f, const char *what);
/* 0 if an output file may be written at path (absent, a regular file or
 * a symbolic link to one); else print "<cmd>: <path> is a directory, not
 * a regular file: ..." and return -1.  For failing before the work that
 * produces the file; the write itself (adj_file_write) checks again. */
int adj_tool_check_target(const char *cmd, const char *path);
/* Print s as a JSON string literal (quotes and escapes). */
void adj_tool_json_string(FILE *f, const char *s);
/* The elements of a store's tensors, for "N parameters": adj_params_numel
 * is the length of the store's blocks, which includes the padding that
 * aligns each tensor. */
size_t adj_tool_param_elems(const adj_params *p);

/* Loaded data: "idx:DIR" (train split from DIR's train files, test from
 * its t10k files) or "csv:FILE" (test split carved from the file). */
#define ADJ_DEFAULT_DATA "idx:/usr/share/datasets/fashion-mnist"

#endif
