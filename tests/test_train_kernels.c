/*
 * Kernels of a training step against plain loops written here.
 *
 * Adam, AdamW and plain SGD (src/optim/optim.c) are compiled once per CPU
 * level of the elementwise kernels: every level, at 1 and 2 threads, in f32 and
 * f64, over sizes that leave vector tails and split over the threads, must
 * give the bits of the formula evaluated element by element.  Dropout's
 * mask (src/nn/layers.c) steps the generator inline: it must be the mask
 * of adj_rng_next's draws, two per 64 bits, and leave the generator where
 * those draws leave it.  The sums along an axis (src/ops/reduce.c), split
 * over the columns and compiled per level, must give the bits of the
 * compensated sum of each column in row order.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include "ops/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The reference: one element at a time, in T, the operations of PyTorch's
 * Adam in the library's order (no fused multiply-add: the build has
 * -ffp-contract=off). */
#define REF_ADAM(T, SQRT)                                                                          \
    do {                                                                                           \
        const T b1 = (T)c->beta1, b2 = (T)c->beta2, eps = (T)c->eps;                               \
        const T bc1 = (T)(1.0 - pow(c->beta1, (double)t));                                         \
        const T sbc2 = (T)sqrt(1.0 - pow(c->beta2, (double)t));                                    \
        const T step = (T)c->lr / bc1;                                                             \
        const int dec = c->kind == ADJ_OPTIM_ADAMW;                                                \
        const T l2 = dec ? 0 : (T)c->weight_decay;                                                 \
        const T keep = dec ? (T)(1.0 - c->lr * c->weight_decay) : 1;                               \
        T *w = w_, *m = m_, *v = v_;                                                               \
        const T *gg = g_;                                                                          \
        for (size_t i = 0; i < n; i++) {                                                           \
            T g = gg[i] + l2 * w[i];                                                               \
            w[i] *= keep;                                                                          \
            m[i] = b1 * m[i] + (1 - b1) * g;                                                       \
            v[i] = b2 * v[i] + (1 - b2) * g * g;                                                   \
            T d = SQRT(v[i]) / sbc2 + eps;                                                         \
            w[i] -= step * m[i] / d;                                                               \
        }                                                                                          \
    } while (0)

/* SGD without momentum: g + wd w, then w -= lr g, in T */
#define REF_SGD(T)                                                                                 \
    do {                                                                                           \
        const T lr = (T)c->lr, wd = (T)c->weight_decay;                                            \
        T *w = w_;                                                                                 \
        const T *gg = g_;                                                                          \
        for (size_t i = 0; i < n; i++) {                                                           \
            T g = gg[i] + wd * w[i];                                                               \
            w[i] -= lr * g;                                                                        \
        }                                                                                          \
    } while (0)

static void ref_adam(adj_dtype dt, const adj_optim_config *c, int64_t t, size_t n, void *w_,
                     const void *g_, void *m_, void *v_)
{
    if (c->kind == ADJ_OPTIM_SGD) {
        if (dt == ADJ_F64)
            REF_SGD(double);
        else
            REF_SGD(float);
    } else if (dt == ADJ_F64)
        REF_ADAM(double, sqrt);
    else
        REF_ADAM(float, sqrtf);
}

/* Three steps of kind on n elements at the given level and thread count
 * (SGD: with weight decay wd). */
static void check_step(adj_dtype dt, adj_optim_kind kind, size_t n, int level, int threads,
                       double wd)
{
    size_t es = dt == ADJ_F64 ? 8 : 4;
    adj_params *p = adj_params_new(dt);
    int64_t sh = (int64_t)n;
    ck_assert_int_ge(adj_params_add(p, "w", 1, &sh), 0);
    void *w = adj_params_value(p, 0), *g = adj_params_grad(p, 0);
    void *rw = malloc(n * es), *rm = calloc(n, es), *rv = calloc(n, es);
    adj_rng r;
    adj_rng_seed(&r, 7 + n);
    for (size_t i = 0; i < n; i++) {
        double x = adj_rng_uniform_range(&r, -2.0, 2.0);
        if (dt == ADJ_F64)
            ((double *)w)[i] = x;
        else
            ((float *)w)[i] = (float)x;
    }
    memcpy(rw, w, n * es);
    adj_optim_config c = adj_optim_defaults(kind);
    c.lr = 3e-3;
    if (kind == ADJ_OPTIM_ADAM)
        c.weight_decay = 1e-2;
    if (kind == ADJ_OPTIM_SGD)
        c.weight_decay = wd;
    adj_optim *o = adj_optim_new(p, &c, NULL);
    ck_assert_ptr_nonnull(o);
    adj_set_threads(threads);
    adj_vm_force_level(level);
    for (int64_t t = 1; t <= 3; t++) {
        for (size_t i = 0; i < n; i++) {
            /* gradients over many magnitudes, zeros and a sign flip */
            double x = i % 13 == 0 ? 0.0 : adj_rng_normal(&r) * pow(10.0, (double)(i % 7) - 4);
            if (dt == ADJ_F64)
                ((double *)g)[i] = x;
            else
                ((float *)g)[i] = (float)x;
        }
        ref_adam(dt, &c, t, n, rw, g, rm, rv);
        ck_assert_int_eq(adj_optim_step(o), ADJ_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(memcmp((char *)w + i * es, (char *)rw + i * es, es) == 0,
                          "%s %s n %zu level %d threads %d step %lld: element %zu differs",
                          adj_optim_name(kind), dt == ADJ_F64 ? "f64" : "f32", n, level, threads,
                          (long long)t, i);
    }
    adj_vm_force_level(-1);
    adj_set_threads(0);
    adj_optim_free(o);
    adj_params_free(p);
    free(rw);
    free(rm);
    free(rv);
}

static const size_t sizes[] = {1, 15, 17, 1023, 1041, 70001};

START_TEST(adam_levels_against_loop)
{
    for (int level = ADJ_VM_BASE; level <= ADJ_VM_AVX512; level++)
        for (int threads = 1; threads <= 2; threads++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                check_step(ADJ_F32, ADJ_OPTIM_ADAM, sizes[s], level, threads, 0);
                check_step(ADJ_F32, ADJ_OPTIM_ADAMW, sizes[s], level, threads, 0);
                check_step(ADJ_F64, ADJ_OPTIM_ADAM, sizes[s], level, threads, 0);
                check_step(ADJ_F64, ADJ_OPTIM_ADAMW, sizes[s], level, threads, 0);
            }
}
END_TEST

/* plain SGD (no momentum), with and without weight decay */
START_TEST(sgd_levels_against_loop)
{
    for (int level = ADJ_VM_BASE; level <= ADJ_VM_AVX512; level++)
        for (int threads = 1; threads <= 2; threads++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
                for (int d = 0; d < 2; d++) {
                    check_step(ADJ_F32, ADJ_OPTIM_SGD, sizes[s], level, threads, d ? 1e-2 : 0);
                    check_step(ADJ_F64, ADJ_OPTIM_SGD, sizes[s], level, threads, d ? 1e-2 : 0);
                }
}
END_TEST

/* adj_dropout's mask, values and input adjoint against adj_rng_next's
 * draws, and the generator left where they leave it: odd and even sizes,
 * f32 and f64, every level, 1 and 2 threads (the largest shape splits),
 * the input's adjoint fresh or already holding another term. */
START_TEST(dropout_mask_against_draws)
{
    static const int64_t rows[] = {1, 3, 7, 128};
    static const int64_t cols[] = {1, 5, 256, 513};
    for (int d = 0; d < 2; d++)
        for (size_t a = 0; a < sizeof rows / sizeof rows[0]; a++)
            for (size_t b = 0; b < sizeof cols / sizeof cols[0]; b++)
                for (int level = ADJ_VM_BASE; level <= ADJ_VM_AVX512; level++)
                    for (int threads = 1; threads <= 2; threads++)
                        for (int twice = 0; twice < 2; twice++) {
                            adj_dtype dt = d ? ADJ_F64 : ADJ_F32;
                            int64_t sh[2] = {rows[a], cols[b]};
                            size_t n = (size_t)(rows[a] * cols[b]);
                            adj_set_threads(threads);
                            adj_vm_force_level(level);
                            adj_tape *t = adj_tape_new();
                            double *xd = malloc(n * sizeof *xd);
                            float *xf = malloc(n * sizeof *xf);
                            adj_rng rx;
                            adj_rng_seed(&rx, 3 + n);
                            for (size_t i = 0; i < n; i++)
                                xf[i] = (float)(xd[i] = adj_rng_normal(&rx));
                            adj_var *x = dt == ADJ_F64 ? adj_tensor_f64(t, 2, sh, xd) : adj_tensor_f32(t, 2, sh, xf);
                            adj_rng r, ref;
                            adj_rng_seed(&r, 11 + n);
                            ref = r;
                            adj_var *y = adj_dropout(x, 0.2, 1, &r);
                            adj_var *loss = adj_sum(y);
                            if (twice) /* x's adjoint also gets 1 from sum(x) */
                                loss = adj_add(loss, adj_sum(x));
                            ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
                            ck_assert_int_eq(adj_backward(loss), ADJ_OK);
                            const double keep = 0.8, scale = 1.0 / keep;
                            uint64_t thr = (uint64_t)(keep * 4294967296.0), draw = 0;
                            for (size_t i = 0; i < n; i++) {
                                if (i % 2 == 0)
                                    draw = adj_rng_next(&ref);
                                int kept = (i % 2 ? draw >> 32 : draw & 0xffffffffu) < thr;
                                double xv = adj_value_at(x, i), yv = adj_value_at(y, i);
                                double gv = adj_grad_at(x, i);
                                double want, wantg;
                                if (dt == ADJ_F64) {
                                    want = xv * (kept ? scale : 0.0);
                                    wantg = (kept ? scale : 0.0) + (twice ? 1.0 : 0.0);
                                } else {
                                    want = (double)((float)xv * (kept ? (float)scale : 0.0f));
                                    wantg = (double)((kept ? (float)scale : 0.0f) + (twice ? 1.0f : 0.0f));
                                }
                                ck_assert_msg(yv == want && gv == wantg,
                                              "(%lld,%lld) %s level %d threads %d twice %d element %zu: "
                                              "y %g want %g, dx %g want %g",
                                              (long long)rows[a], (long long)cols[b], d ? "f64" : "f32",
                                              level, threads, twice, i, yv, want, gv, wantg);
                            }
                            ck_assert(memcmp(r.s, ref.s, sizeof r.s) == 0);
                            adj_tape_free(t);
                            adj_vm_force_level(-1);
                            adj_set_threads(0);
                            free(xd);
                            free(xf);
                        }
}
END_TEST

/* The compensated sum of column i of xs (o, len, inner) over l, in the
 * order of the rows: Neumaier's variant, as the library documents. */
static double ref_col_sum(const double *xs, size_t o, size_t len, size_t inner, size_t i)
{
    double hi = 0, lo = 0;
    for (size_t l = 0; l < len; l++) {
        double x = xs[(o * len + l) * inner + i], t = hi + x;
        lo += fabs(hi) >= fabs(x) ? (hi - t) + x : (x - t) + hi;
        hi = t;
    }
    return hi + lo;
}

/* sum_axis and mean_axis, forward and backward, at every level and 1 and 2
 * threads, against the loop above: shapes whose columns split over the
 * threads, odd widths, an inner axis and a middle one. */
START_TEST(axis_sums_against_loop)
{
    static const int64_t shapes[][3] = {
        {128, 512, 1}, {128, 257, 1}, {7, 33, 1}, {1000, 70, 1}, {3, 1041, 5}, {2, 300, 129},
    };
    static const int axes[] = {0, 0, 0, 0, 1, 1};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (int d = 0; d < 2; d++)
            for (int mean = 0; mean < 2; mean++)
                for (int level = ADJ_VM_BASE; level <= ADJ_VM_AVX512; level++)
                    for (int threads = 1; threads <= 2; threads++) {
                        int nd = shapes[k][2] > 1 ? 3 : 2, ax = axes[k];
                        int64_t sh[3] = {shapes[k][0], shapes[k][1], shapes[k][2]};
                        size_t n = (size_t)(sh[0] * sh[1] * sh[2]);
                        size_t outer = ax ? (size_t)sh[0] : 1, len = (size_t)sh[ax];
                        size_t inner = n / outer / len;
                        double *xd = malloc(n * sizeof *xd), *dy = malloc(outer * inner * sizeof *dy);
                        float *xf = malloc(n * sizeof *xf);
                        adj_rng r;
                        adj_rng_seed(&r, 5 + k);
                        for (size_t i = 0; i < n; i++) {
                            xf[i] = (float)adj_rng_normal(&r) * (float)(1 + i % 5) + (i % 3 ? 1e3f : 0);
                            xd[i] = d ? adj_rng_normal(&r) * (double)(1 + i % 7) : (double)xf[i];
                        }
                        for (size_t i = 0; i < outer * inner; i++)
                            dy[i] = (double)(float)adj_rng_normal(&r);
                        adj_set_threads(threads);
                        adj_vm_force_level(level);
                        adj_tape *t = adj_tape_new();
                        adj_var *x = d ? adj_tensor_f64(t, nd, sh, xd) : adj_tensor_f32(t, nd, sh, xf);
                        adj_var *y = mean ? adj_mean_axis(x, ax) : adj_sum_axis(x, ax);
                        int64_t ysh[2] = {ax ? sh[0] : sh[1], ax ? sh[2] : 1};
                        float *dyf = malloc(outer * inner * sizeof *dyf);
                        for (size_t i = 0; i < outer * inner; i++)
                            dyf[i] = (float)dy[i];
                        adj_var *w = d ? adj_constant_f64(t, nd - 1, ysh, dy)
                                       : adj_constant_f32(t, nd - 1, ysh, dyf);
                        ck_assert_int_eq(adj_backward(adj_sum(adj_mul(y, w))), ADJ_OK);
                        double scale = mean ? 1.0 / (double)len : 1.0;
                        for (size_t o = 0; o < outer; o++)
                            for (size_t i = 0; i < inner; i++) {
                                double want = ref_col_sum(xd, o, len, inner, i) * scale;
                                if (!d)
                                    want = (double)(float)want;
                                double got = adj_value_at(y, o * inner + i);
                                ck_assert_msg(got == want,
                                              "shape %zu %s %s level %d threads %d: y[%zu,%zu] %.17g want %.17g",
                                              k, d ? "f64" : "f32", mean ? "mean" : "sum", level,
                                              threads, o, i, got, want);
                                for (size_t l = 0; l < len; l += 1 + len / 7) {
                                    double g = d ? dy[o * inner + i] * scale
                                                 : (double)(float)(dy[o * inner + i] * scale);
                                    ck_assert(adj_grad_at(x, (o * len + l) * inner + i) == g);
                                }
                            }
                        adj_tape_free(t);
                        adj_vm_force_level(-1);
                        adj_set_threads(0);
                        free(xd);
                        free(xf);
                        free(dy);
                        free(dyf);
                    }
}
END_TEST

static Suite *train_kernels_suite(void)
{
    Suite *s = suite_create("train-kernels");
    TCase *tc = tcase_create("train-kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, adam_levels_against_loop);
    tcase_add_test(tc, sgd_levels_against_loop);
    tcase_add_test(tc, dropout_mask_against_draws);
    tcase_add_test(tc, axis_sums_against_loop);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(train_kernels_suite)
