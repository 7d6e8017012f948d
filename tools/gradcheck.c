/*
 * adjoint gradcheck — every op of the op table, both dtypes, every shape
 * case, against central finite differences in double.
 */
#include "commands.h"

#include <adjoint.h>
#include <math.h>
#include <string.h>

static void gc_usage(FILE *f)
{
    fprintf(f, "usage: adjoint gradcheck [--seed N] [--json] [--help]\n"
               "Check the backward rule of every op against finite differences, in f64 and\n"
               "f32, for each of the op's shape cases.  Exit status 1 if any check fails.\n"
               "err/tol is the verdict's figure: the largest |analytic - numeric| over\n"
               "atol + rtol |numeric| (<= 1 passes); max rel err divides by the larger of\n"
               "|analytic| and |numeric|, so it is large where a gradient is about 0.\n");
}

/* The verdict's figure for one check: the largest |analytic - numeric| /
 * (atol + rtol |numeric|) over the inputs' worst elements, at the default
 * tolerances that adj_gradcheck_op uses; <= 1 passes. */
static double tol_ratio(const adj_gradcheck_report *rep, adj_dtype dtype)
{
    const double atol = dtype == ADJ_F64 ? ADJ_GRADCHECK_ATOL_F64 : ADJ_GRADCHECK_ATOL_F32;
    const double rtol = dtype == ADJ_F64 ? ADJ_GRADCHECK_RTOL_F64 : ADJ_GRADCHECK_RTOL_F32;
    double worst = 0.0;
    for (int i = 0; i < rep->n_inputs; i++) {
        const double err = rep->inputs[i].abs_err;
        const double q = isfinite(err) ? err / (atol + rtol * fabs(rep->inputs[i].numeric)) : INFINITY;
        if (q > worst || q != q)
            worst = q != q ? INFINITY : q;
    }
    return worst;
}

/* a JSON number, or null for NaN and the infinities (JSON has neither) */
static void json_number(double v)
{
    if (isfinite(v))
        printf("%.3e", v);
    else
        printf("null");
}

int adj_cmd_gradcheck(int argc, char **argv)
{
    int json = 0;
    long seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--seed") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "adjoint gradcheck: --seed needs a value\n");
                return 2;
            }
            if (adj_tool_long("--seed", argv[++i], 0, 0x7fffffffL, &seed))
                return 2;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            gc_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "adjoint gradcheck: unexpected argument '%s'\n", argv[i]);
            gc_usage(stderr);
            return 2;
        }
    }
    int failed = 0, rows = 0;
    if (json)
        printf("{\"seed\": %ld, \"results\": [", seed);
    else
        printf("%-22s %-5s %5s %10s %12s  %s\n", "op", "dtype", "cases", "err/tol", "max rel err",
               "verdict");
    for (int op = 1; op < ADJ_OP_COUNT; op++) {
        for (int dt = 0; dt < 2; dt++) {
            adj_dtype dtype = dt == 0 ? ADJ_F64 : ADJ_F32;
            int cases = adj_gradcheck_op_cases((adj_op)op);
            double worst = 0.0, ratio = 0.0;
            int ok = 1, errored = 0;
            char msg[256] = "";
            for (int c = 0; c < cases; c++) {
                adj_gradcheck_report rep;
                char desc[128];
                adj_status st =
                    adj_gradcheck_op((adj_op)op, dtype, c, (uint64_t)seed, &rep, desc, sizeof desc);
                if (st != ADJ_OK) {
                    errored = 1;
                    ok = 0;
                    snprintf(msg, sizeof msg, "%s", rep.message);
                    continue;
                }
                if (rep.max_rel_err > worst)
                    worst = rep.max_rel_err;
                const double q = tol_ratio(&rep, dtype);
                if (q > ratio || q != q)
                    ratio = q != q ? INFINITY : q;
                if (!rep.passed) {
                    ok = 0;
                    if (!msg[0])
                        snprintf(msg, sizeof msg, "case %d %s", c, desc);
                }
            }
            const char *verdict = cases == 0 ? "skipped" : errored ? "error" : ok ? "ok" : "FAIL";
            failed += cases > 0 && !ok;
            if (json) {
                printf("%s{\"op\": \"%s\", \"dtype\": \"%s\", \"cases\": %d, \"err_over_tol\": ",
                       rows ? ", " : "", adj_op_name((adj_op)op), adj_dtype_name(dtype), cases);
                json_number(ratio);
                printf(", \"max_rel_err\": ");
                json_number(worst);
                printf(", \"verdict\": \"%s\", \"message\": ", verdict);
                adj_tool_json_string(stdout, msg);
                printf("}");
            } else {
                printf("%-22s %-5s %5d %10.3g %12.3e  %s%s%s\n", adj_op_name((adj_op)op),
                       adj_dtype_name(dtype), cases, ratio, worst, verdict, msg[0] ? "  " : "", msg);
            }
            rows++;
        }
    }
    if (json)
        printf("], \"checked\": %d, \"failed\": %d}\n", rows, failed);
    else
        printf("\n%d checks, %d failed\n", rows, failed);
    return failed ? 1 : 0;
}
