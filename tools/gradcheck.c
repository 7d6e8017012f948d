/*
 * adjoint gradcheck — every op of the op table, both dtypes, every shape
 * case, against central finite differences in double.
 */
#include "commands.h"

#include <adjoint.h>
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
                if (rep.max_tol_ratio > ratio)
                    ratio = rep.max_tol_ratio;
                if (!rep.passed) {
                    ok = 0;
                    if (!msg[0])
                        snprintf(msg, sizeof msg, "case %d %s", c, desc);
                }
            }
            const char *verdict = cases == 0 ? "skipped" : errored ? "error" : ok ? "ok" : "FAIL";
            failed += cases > 0 && !ok;
            if (json) {
                printf(
                    "%s{\"op\": \"%s\", \"dtype\": \"%s\", \"cases\": %d, \"max_tol_ratio\": %.3e, "
                    "\"max_rel_err\": %.3e, \"verdict\": \"%s\", \"message\": ",
                    rows ? ", " : "", adj_op_name((adj_op)op), adj_dtype_name(dtype), cases, ratio,
                    worst, verdict);
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
