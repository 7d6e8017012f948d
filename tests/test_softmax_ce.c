/*
 * The fused softmax cross-entropy against plain loops in double: the loss
 * and the logits' adjoint, on batches that split over 2 threads (256 rows
 * of 10 classes, odd rows and classes, a range edge inside the rows) and
 * ones that do not (one long row, few rows), float and double, at 1 and
 * 2 threads, at the baseline and the widest CPU level.  The forward takes
 * its rows in ranges of the pool and adds the rows' losses in order after,
 * and its exponentials give the same bits at every level, so all four
 * runs give the same bits.
 */
#include <adjoint.h>

#include "check_util.h"
#include "ops/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* uniform in [-1, 1) */
static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static const int64_t cases[][2] = {
    {256, 10}, {300, 7}, {129, 10}, {53, 33}, {1000, 3}, {1, 5000}, {17, 100}, {2, 1},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* FNV-1a of n bytes */
static uint64_t bits_hash(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

START_TEST(softmax_ce_matches_plain_loops)
{
    const int64_t rows = cases[_i][0], k = cases[_i][1];
    const size_t n = (size_t)(rows * k);
    double *z = malloc(n * sizeof *z), *want = malloc(n * sizeof *want);
    int32_t *lab = malloc((size_t)rows * sizeof *lab);
    uint64_t s = 7 + (uint64_t)_i, first[2] = {0, 0};
    /* logits of float precision (so both dtypes see the same inputs),
     * spread wide enough that some rows have one dominant class */
    for (size_t i = 0; i < n; i++)
        z[i] = (float)(6 * frand(&s));
    for (int64_t r = 0; r < rows; r++)
        lab[r] = (int32_t)((frand(&s) + 1) / 2 * (double)k) % (int32_t)k;
    /* the plain loops: loss = mean_r (log sum_j e^z_rj - z_r,label),
     * dz = (softmax(z) - onehot(label)) / rows */
    double loss = 0;
    for (int64_t r = 0; r < rows; r++) {
        const double *zr = z + r * k;
        double m = zr[0], sum = 0;
        for (int64_t j = 1; j < k; j++)
            m = zr[j] > m ? zr[j] : m;
        for (int64_t j = 0; j < k; j++)
            sum += exp(zr[j] - m);
        loss += log(sum) + m - zr[lab[r]];
        for (int64_t j = 0; j < k; j++)
            want[r * k + j] = (exp(zr[j] - m) / sum - (j == lab[r])) / (double)rows;
    }
    loss /= (double)rows;
    const int threads = adj_get_threads();
    for (int run = 0; run < 4; run++) {
        const int th = 1 + run % 2, lv = run / 2;
        adj_set_threads(th);
        adj_vm_force_level(lv ? -1 : ADJ_VM_BASE);
        for (int dt = 0; dt < 2; dt++) {
            const int dtype = dt ? ADJ_F64 : ADJ_F32;
            const size_t es = dt ? sizeof(double) : sizeof(float);
            const double eps = dt ? 1e-13 : 2e-6;
            adj_tape *t = adj_tape_new();
            adj_var *x;
            if (dt)
                x = adj_tensor_f64(t, 2, (int64_t[]){rows, k}, z);
            else {
                float *zf = malloc(n * sizeof *zf);
                for (size_t i = 0; i < n; i++)
                    zf[i] = (float)z[i];
                x = adj_tensor_f32(t, 2, (int64_t[]){rows, k}, zf);
                free(zf);
            }
            adj_var *L = adj_softmax_cross_entropy(x, lab);
            ck_assert_int_eq(adj_backward(L), ADJ_OK);
            const double got = adj_item(L);
            ck_assert_msg(fabs(got - loss) <= eps * (1 + fabs(loss)),
                          "case %d dtype %d threads %d level %d: loss %.17g, loops %.17g", _i, dtype, th, lv,
                          got, loss);
            const void *g = adj_grad_data(x);
            for (size_t i = 0; i < n; i++) {
                const double gi = dt ? ((const double *)g)[i] : (double)((const float *)g)[i];
                ck_assert_msg(fabs(gi - want[i]) <= eps * (1.0 / (double)rows + fabs(want[i])),
                              "case %d dtype %d threads %d level %d: dz[%zu] %.17g, loops %.17g",
                              _i, dtype, th, lv, i, gi, want[i]);
            }
            uint64_t h = bits_hash(g, n * es, 14695981039346656037ull);
            if (dt) {
                const double v = got;
                h = bits_hash(&v, sizeof v, h);
            } else {
                const float v = (float)got;
                h = bits_hash(&v, sizeof v, h);
            }
            if (run == 0)
                first[dt] = h;
            else
                ck_assert_msg(h == first[dt], "case %d dtype %d: other bits at %d threads, level %d",
                              _i, dtype, th, lv);
            adj_tape_free(t);
        }
    }
    adj_set_threads(threads);
    adj_vm_force_level(-1);
    free(z);
    free(want);
    free(lab);
}
END_TEST

static Suite *ce_suite(void)
{
    Suite *s = suite_create("softmax-ce");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, softmax_ce_matches_plain_loops, 0, NCASES);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(ce_suite)
