/*
 * model_close A B RTOL ATOL — compare two model files parameter by
 * parameter: exit 0 if they have the same architecture and every value
 * satisfies |a - b| <= ATOL + RTOL |b|, 1 otherwise, 2 on a usage or
 * file error.  Prints the largest differences either way.  Used by the
 * distributed-training checks, where B is the single-process oracle.
 */
#include <adjoint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double value(adj_params *p, size_t i)
{
    if (adj_params_dtype(p) == ADJ_F64)
        return ((const double *)adj_params_values(p))[i];
    return ((const float *)adj_params_values(p))[i];
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: model_close A.adj B.adj RTOL ATOL\n");
        return 2;
    }
    double rtol = strtod(argv[3], NULL), atol = strtod(argv[4], NULL);
    adj_mlp *a = NULL, *b = NULL;
    adj_error err;
    if (adj_model_load(argv[1], &a, &err) != ADJ_OK ||
        adj_model_load_into(a, argv[2], &err) != ADJ_OK || /* same architecture */
        adj_model_load(argv[2], &b, &err) != ADJ_OK) {
        fprintf(stderr, "model_close: %s\n", err.message);
        adj_mlp_free(a);
        adj_mlp_free(b);
        return 2;
    }
    /* load_into overwrote a with b's values: load a again */
    adj_mlp_free(a);
    if (adj_model_load(argv[1], &a, &err) != ADJ_OK) {
        fprintf(stderr, "model_close: %s\n", err.message);
        adj_mlp_free(b);
        return 2;
    }
    adj_params *pa = adj_mlp_params(a), *pb = adj_mlp_params(b);
    size_t n = adj_params_numel(pa), bad = 0, identical = 0;
    double max_abs = 0, max_rel = 0;
    for (size_t i = 0; i < n; i++) {
        double x = value(pa, i), y = value(pb, i), d = fabs(x - y);
        identical += x == y;
        if (d > max_abs)
            max_abs = d;
        if (y != 0 && d / fabs(y) > max_rel)
            max_rel = d / fabs(y);
        if (!(d <= atol + rtol * fabs(y)))
            bad++;
    }
    printf("model_close: %zu values, %zu identical, largest difference %.3g (relative %.3g), "
           "%zu outside rtol %g atol %g\n",
           n, identical, max_abs, max_rel, bad, rtol, atol);
    adj_mlp_free(a);
    adj_mlp_free(b);
    return bad ? 1 : 0;
}
