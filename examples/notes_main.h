/*
 * The common main of the lecture-notes example programs (eNN_*.c): run the
 * named example from the library's collection (src/teach/notes.c, where
 * each example's tape is written out), print its chain-rule trace and
 * tape, write its graph, then let the program print the example's extra
 * facts.
 *
 *     eNN [--quiet] [--dot FILE] [--KNOB VALUE ...]
 *
 * --dot defaults to eNN.dot in the current directory.
 */
#ifndef ADJ_EXAMPLES_NOTES_MAIN_H
#define ADJ_EXAMPLES_NOTES_MAIN_H

#include <adjoint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Record ex with knobs k on t, run backward; the named node's value /
 * adjoint (element i). */
static inline adj_var *run_on(adj_tape *t, const adj_example *ex, const double *k)
{
    adj_tape_reset(t);
    adj_var *y = adj_example_build(ex, t, k);
    if (adj_backward(y) != ADJ_OK)
        fprintf(stderr, "%s: %s\n", ex->name, adj_tape_message(t));
    return y;
}
static inline double val(adj_tape *t, const char *name, size_t i)
{
    return adj_value_at(adj_tape_find(t, name), i);
}
static inline double grad(adj_tape *t, const char *name, size_t i)
{
    double g = adj_grad_at(adj_tape_find(t, name), i);
    return g == 0 ? 0 : g; /* print 0, not -0 */
}

/* The program's extra facts; NULL for none.  k holds the knobs in use. */
typedef void (*extra_fn)(const adj_example *ex, const double *k);

static int notes_main(const char *name, extra_fn extra, int argc, char **argv)
{
    const adj_example *ex = adj_example_find(name);
    if (!ex)
        return 1;
    double k[ADJ_EXAMPLE_MAX_KNOBS];
    for (int i = 0; i < ex->nknobs; i++)
        k[i] = ex->knobs[i].value;
    char dot_default[64];
    snprintf(dot_default, sizeof dot_default, "%s.dot", ex->name);
    const char *dot_path = dot_default;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        int kn = strncmp(argv[i], "--", 2) == 0 ? adj_example_knob_index(ex, argv[i] + 2) : -1;
        if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "--dot") == 0 && i + 1 < argc) {
            dot_path = argv[++i];
        } else if (kn >= 0 && i + 1 < argc) {
            k[kn] = strtod(argv[++i], NULL);
        } else {
            fprintf(stderr, "usage: %s [--quiet] [--dot FILE]", argv[0]);
            for (int j = 0; j < ex->nknobs; j++)
                fprintf(stderr, " [--%s VALUE]", ex->knobs[j].name);
            fputc('\n', stderr);
            return 2;
        }
    }
    FILE *dot = fopen(dot_path, "w");
    if (!dot) {
        fprintf(stderr, "%s: cannot write %s\n", argv[0], dot_path);
        return 1;
    }
    adj_status s = adj_example_run(ex, k, quiet ? NULL : stdout, dot, NULL);
    if (fclose(dot) != 0 && s == ADJ_OK)
        s = ADJ_EIO;
    if (s != ADJ_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], adj_status_string(s));
        return 1;
    }
    if (!quiet) {
        printf("\ngraph written to %s (render: dot -Tsvg %s -o %s.svg)\n", dot_path, dot_path,
               ex->name);
        if (extra) {
            printf("\n");
            extra(ex, k);
        }
    }
    return 0;
}

#endif
