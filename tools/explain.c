/*
 * adjoint explain: run one of the lecture notes' worked examples and show
 * backward as chain-rule arithmetic.
 *
 *     adjoint explain --list
 *     adjoint explain e02 --x 2
 *     adjoint explain hidden-unit --out 0 --dot e04.dot
 *     adjoint explain e05 --json
 *     adjoint explain e02 --html e02.html
 */
#include "commands.h"

#include <adjoint.h>

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: adjoint explain NAME [--KNOB VALUE ...] [--dot FILE] [--html FILE] [--json]\n"
          "       adjoint explain --list\n"
          "       adjoint explain NAME --help\n"
          "\n"
          "Runs a worked example of the lecture notes (E1 ... E15, and E16: a\n"
          "second derivative through a recorded backward sweep), prints its\n"
          "backward pass as chain-rule arithmetic (each edge's contribution\n"
          "df/da += df/dc * dc/da, in reverse order) and the tape as a table.\n"
          "NAME is e01 ... e16, 1 ... 16 or an alias (adjoint explain --list).\n"
          "Each example takes its inputs as knobs: --x 2, --w2 1.5, ...\n"
          "\n"
          "  --dot FILE  write the graph (Graphviz DOT; render with dot -Tsvg);\n"
          "              FILE - is the standard output\n"
          "  --html FILE write a page that steps through the backward and forward\n"
          "              sweeps (one file, opens in a browser without a network);\n"
          "              FILE - is the standard output\n"
          "  --json      print the values and gradients as JSON instead\n"
          "  --list      list the examples and their knobs\n"
          "  --help      this text, or an example's knobs\n",
          f);
}

static void list(FILE *f)
{
    for (int i = 0; i < adj_example_count(); i++) {
        const adj_example *ex = adj_example_at(i);
        fprintf(f, "%s  %-12s %s\n", ex->name, ex->alias, ex->title);
        for (int k = 0; k < ex->nknobs; k++)
            fprintf(f, "         --%s %g  (%s)\n", ex->knobs[k].name, ex->knobs[k].value,
                    ex->knobs[k].help);
    }
}

/* The page, built in memory and written as one file like --dot's. */
static int write_html(const adj_example *ex, const double *knobs, const char *path)
{
    if (strcmp(path, "-") == 0) {
        adj_status s = adj_example_html(ex, knobs, stdout);
        if (s != ADJ_OK && !(s == ADJ_EIO && ferror(stdout)))
            fprintf(stderr, "adjoint explain: --html: %s: %s\n", ex->name, adj_status_string(s));
        return s != ADJ_OK;
    }
    if (adj_tool_check_target("adjoint explain: --html", path))
        return 1;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        fprintf(stderr, "adjoint explain: out of memory for %s\n", path);
        return 1;
    }
    adj_status s = adj_example_html(ex, knobs, f);
    if (fclose(f) != 0 && s == ADJ_OK)
        s = ADJ_ENOMEM;
    adj_error err;
    if (s == ADJ_OK && (s = adj_file_write(path, text, len, &err)) != ADJ_OK)
        fprintf(stderr, "adjoint explain: --html: %s\n", err.message);
    else if (s != ADJ_OK)
        fprintf(stderr, "adjoint explain: --html: %s: %s\n", ex->name, adj_status_string(s));
    free(text);
    return s != ADJ_OK;
}

int adj_cmd_explain(int argc, char **argv)
{
    const adj_example *ex = NULL;
    const char *dot_path = NULL, *html_path = NULL;
    int json = 0, help = 0;
    double knobs[ADJ_EXAMPLE_MAX_KNOBS];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help = 1;
        } else if (strcmp(a, "--list") == 0) {
            list(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--html") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "adjoint explain: --html needs a file name\n");
                return 2;
            }
            html_path = argv[i];
        } else if (strcmp(a, "--dot") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "adjoint explain: --dot needs a file name\n");
                return 2;
            }
            dot_path = argv[i];
        } else if (strncmp(a, "--", 2) == 0) {
            int k = adj_example_knob_index(ex, a + 2);
            if (!ex) {
                fprintf(stderr, "adjoint explain: name the example before its knob %s\n", a);
                return 2;
            }
            if (k < 0) {
                fprintf(stderr, "adjoint explain: %s has no knob %s (try adjoint explain %s --help)\n",
                        ex->name, a, ex->name);
                return 2;
            }
            if (++i >= argc) {
                fprintf(stderr, "adjoint explain: %s needs a value\n", a);
                return 2;
            }
            if (adj_tool_double(a, argv[i], &knobs[k]) != 0)
                return 2;
        } else if (!ex) {
            ex = adj_example_find(a);
            if (!ex) {
                fprintf(stderr, "adjoint explain: no example %s (adjoint explain --list)\n", a);
                return 2;
            }
            for (int k = 0; k < ex->nknobs; k++)
                knobs[k] = ex->knobs[k].value;
        } else {
            fprintf(stderr, "adjoint explain: unexpected argument %s\n", a);
            return 2;
        }
    }
    if (help) {
        usage(stdout);
        if (ex) {
            fprintf(stdout, "\n%s (%s): %s\n", ex->name, ex->alias, ex->title);
            for (int k = 0; k < ex->nknobs; k++)
                fprintf(stdout, "  --%s VALUE  %s (default %g)\n", ex->knobs[k].name,
                        ex->knobs[k].help, ex->knobs[k].value);
        }
        return 0;
    }
    if (!ex) {
        usage(stderr);
        return 2;
    }
    /* the graph is built in memory and written as one file (atomically,
     * never over a device or a directory); "-" is the standard output */
    FILE *dot = NULL;
    char *dot_text = NULL;
    size_t dot_len = 0;
    int dot_stdout = dot_path && strcmp(dot_path, "-") == 0;
    if (dot_path && !dot_stdout) {
        if (adj_tool_check_target("adjoint explain: --dot", dot_path))
            return 1;
        dot = open_memstream(&dot_text, &dot_len);
        if (!dot) {
            fprintf(stderr, "adjoint explain: out of memory for %s\n", dot_path);
            return 1;
        }
    }
    int html_stdout = html_path && strcmp(html_path, "-") == 0;
    adj_status s = adj_example_run(ex, knobs, json || dot_stdout || html_stdout ? NULL : stdout,
                                   dot_stdout ? stdout : dot, json ? stdout : NULL);
    if (dot && fclose(dot) != 0 && s == ADJ_OK)
        s = ADJ_ENOMEM;
    if (s != ADJ_OK) {
        /* a failed write to the standard output is reported by main() */
        if (!(s == ADJ_EIO && ferror(stdout)))
            fprintf(stderr, "adjoint explain: %s: %s\n", ex->name, adj_status_string(s));
        free(dot_text);
        return 1;
    }
    if (dot) {
        adj_error err;
        s = adj_file_write(dot_path, dot_text, dot_len, &err);
        free(dot_text);
        if (s != ADJ_OK) {
            fprintf(stderr, "adjoint explain: --dot: %s\n", err.message);
            return 1;
        }
    }
    return html_path ? write_html(ex, knobs, html_path) : 0;
}
