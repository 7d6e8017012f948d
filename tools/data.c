/*
 * Loading the training command's data: "idx:DIR" or "csv:FILE", split
 * into training, validation and test sets.
 */
#include "data.h"

#include <string.h>

void adj_tool_data_free(adj_tool_data *d)
{
    adj_dataset_free(d->train);
    adj_dataset_free(d->val);
    adj_dataset_free(d->test);
    memset(d, 0, sizeof *d);
}

int adj_tool_data_spec_check(const char *spec)
{
    int idx = strncmp(spec, "idx:", 4) == 0, csv = strncmp(spec, "csv:", 4) == 0;
    if (!idx && !csv)
        fprintf(stderr, "adjoint: --data must be idx:DIR or csv:FILE, got '%s'\n", spec);
    else if (!spec[4])
        fprintf(stderr, "adjoint: --data %s needs a %s after the colon\n", spec,
                idx ? "directory" : "file name");
    else
        return 0;
    return -1;
}

/* Every set the command uses is there and has the features of the
 * others: a model is built for one input width, and a set of another
 * width would be read past its rows or silently misread.  0, or -1 after
 * printing the error and freeing the sets. */
static int check_sets(const char *spec, adj_tool_data *d, int test_only)
{
    const char *what = d->kind == ADJ_TOOL_IDX ? "images" : "rows";
    const char *test_src = d->kind == ADJ_TOOL_IDX ? "its t10k files" : "the file";
    if (test_only && d->test->rows == 0) {
        fprintf(stderr, "adjoint: %s: no test set (%s hold no %s)\n", spec, test_src, what);
        goto fail;
    }
    if (!test_only && d->train->rows == 0) {
        fprintf(stderr, "adjoint: %s: no training %s (%s)\n", spec, what,
                d->kind == ADJ_TOOL_IDX ? "its train files hold none, or none are left after the validation split"
                                        : "too few rows to train on");
        goto fail;
    }
    const adj_dataset *ref = test_only ? d->test : d->train;
    if (ref->cols == 0) {
        fprintf(stderr, "adjoint: %s: the %s have no features (0 values each)\n", spec, what);
        goto fail;
    }
    if (!test_only && d->test->rows && d->test->cols != ref->cols) {
        fprintf(stderr,
                "adjoint: %s: the test images (t10k files) have %zu values each, the training "
                "images %zu: every set must fit the model's input of %zu\n",
                spec, d->test->cols, ref->cols, ref->cols);
        goto fail;
    }
    return 0;
fail:
    adj_tool_data_free(d);
    return -1;
}

int adj_tool_data_load(const char *spec, const char *label, double val_frac, uint64_t seed,
                       int test_only, adj_tool_data *out)
{
    adj_error err;
    memset(out, 0, sizeof *out);
    if (adj_tool_data_spec_check(spec))
        return -1;
    if (strncmp(spec, "idx:", 4) == 0) {
        const char *dir = spec + 4;
        out->kind = ADJ_TOOL_IDX;
        if (adj_dataset_load_idx(dir, "t10k", &out->test, &err) != ADJ_OK)
            goto fail;
        if (test_only)
            return check_sets(spec, out, test_only);
        adj_dataset *all = NULL;
        if (adj_dataset_load_idx(dir, "train", &all, &err) != ADJ_OK)
            goto fail;
        adj_status st = adj_dataset_split(all, val_frac, seed, &out->train, &out->val, &err);
        adj_dataset_free(all);
        if (st != ADJ_OK)
            goto fail;
    } else if (strncmp(spec, "csv:", 4) == 0) {
        adj_dataset *all = NULL;
        out->kind = ADJ_TOOL_CSV;
        if (adj_csv_read(spec + 4, label, &all, &err) != ADJ_OK)
            goto fail;
        if (test_only) {
            out->test = all;
            return check_sets(spec, out, test_only);
        }
        adj_dataset *rest = NULL;
        adj_status st = adj_dataset_split(all, 0.2, seed, &rest, &out->test, &err);
        adj_dataset_free(all);
        if (st == ADJ_OK)
            st = adj_dataset_split(rest, val_frac, seed + 1, &out->train, &out->val, &err);
        adj_dataset_free(rest);
        if (st != ADJ_OK)
            goto fail;
    } else {
        fprintf(stderr, "adjoint: --data must be idx:DIR or csv:FILE, got '%s'\n", spec);
        return -1;
    }
    return check_sets(spec, out, test_only);
fail:
    fprintf(stderr, "adjoint: %s\n", err.message);
    adj_tool_data_free(out);
    return -1;
}

int adj_tool_classes(const adj_tool_data *d)
{
    int c = 1;
    const adj_dataset *s[3] = {d->train, d->val, d->test};
    for (int i = 0; i < 3; i++)
        if (s[i] && s[i]->classes > c)
            c = s[i]->classes;
    return c;
}
