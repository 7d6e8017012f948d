/*
 * Fast kernels against naive references.
 *
 * Matrix products take one of two paths (src/ops/gemm.c): products of at
 * most 4096 multiply-adds run a plain loop, larger ones go to BLIS.  Both
 * are compared here, forward and backward, every transpose combination,
 * with a triple loop in double written in this file.  The elementwise
 * kernels that rely on the compiler vectorising a select (leaky ReLU, ELU)
 * or sqrt are compared with their formulas evaluated element by element.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include "ops/dispatch.h"
#include "ops/gemm.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(adj_rng *r, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = adj_rng_uniform_range(r, -1.0, 1.0);
}

/* op(M)[i][j] of a stored (rows, cols) matrix */
static double at(const double *m, size_t cols, int t, size_t i, size_t j)
{
    return t ? m[j * cols + i] : m[i * cols + j];
}

/*
 * C = op(A) op(B), L = sum(C * R): checks C, dA = R op(B)^T (stored
 * transposed back when ta) and dB likewise, in dtype, against the loop.
 */
static void check_matmul(adj_dtype dtype, size_t m, size_t n, size_t k, int ta, int tb,
                         uint64_t seed)
{
    adj_rng r;
    adj_rng_seed(&r, seed);
    size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    double *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
    double *w = malloc(m * n * sizeof *w), *c = malloc(m * n * sizeof *c);
    double *da = calloc(m * k, sizeof *da), *db = calloc(k * n, sizeof *db);
    double *got = malloc((m * n + m * k + k * n) * sizeof *got);
    ck_assert(a && b && w && c && da && db && got);
    fill(&r, a, m * k);
    fill(&r, b, k * n);
    fill(&r, w, m * n);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += at(a, ac, ta, i, p) * at(b, bc, tb, p, j);
            c[i * n + j] = s;
            for (size_t p = 0; p < k; p++) {
                /* dop(A)[i][p] += R[i][j] op(B)[p][j]; dop(B)[p][j] += op(A)[i][p] R[i][j] */
                double *ga = ta ? &da[p * ac + i] : &da[i * ac + p];
                double *gb = tb ? &db[j * bc + p] : &db[p * bc + j];
                *ga += w[i * n + j] * at(b, bc, tb, p, j);
                *gb += at(a, ac, ta, i, p) * w[i * n + j];
            }
        }
    adj_tape *t = adj_tape_new();
    adj_var *A, *B, *R;
    if (dtype == ADJ_F64) {
        A = adj_tensor_f64(t, 2, (int64_t[]){(int64_t)ar, (int64_t)ac}, a);
        B = adj_tensor_f64(t, 2, (int64_t[]){(int64_t)br, (int64_t)bc}, b);
        R = adj_constant_f64(t, 2, (int64_t[]){(int64_t)m, (int64_t)n}, w);
    } else {
        float *fa = malloc(m * k * sizeof *fa), *fb = malloc(k * n * sizeof *fb);
        float *fw = malloc(m * n * sizeof *fw);
        for (size_t i = 0; i < m * k; i++)
            fa[i] = (float)a[i];
        for (size_t i = 0; i < k * n; i++)
            fb[i] = (float)b[i];
        for (size_t i = 0; i < m * n; i++)
            fw[i] = (float)w[i];
        A = adj_tensor_f32(t, 2, (int64_t[]){(int64_t)ar, (int64_t)ac}, fa);
        B = adj_tensor_f32(t, 2, (int64_t[]){(int64_t)br, (int64_t)bc}, fb);
        R = adj_constant_f32(t, 2, (int64_t[]){(int64_t)m, (int64_t)n}, fw);
        free(fa);
        free(fb);
        free(fw);
    }
    adj_var *C = adj_matmul_t(A, B, ta, tb);
    ck_assert_int_eq(adj_backward(adj_sum(adj_mul(C, R))), ADJ_OK);
    adj_copy_value(C, got);
    adj_copy_grad(A, got + m * n);
    adj_copy_grad(B, got + m * n + m * k);
    double tol = (dtype == ADJ_F64 ? 1e-12 : 2e-5) * (double)(k > m ? k : m) * 4;
    for (size_t i = 0; i < m * n; i++)
        ck_assert_msg(fabs(got[i] - c[i]) <= tol, "C[%zu] %g vs %g (%zux%zux%zu ta %d tb %d)", i,
                      got[i], c[i], m, n, k, ta, tb);
    for (size_t i = 0; i < m * k; i++)
        ck_assert_msg(fabs(got[m * n + i] - da[i]) <= tol, "dA[%zu] %g vs %g (%zux%zux%zu ta %d tb %d)",
                      i, got[m * n + i], da[i], m, n, k, ta, tb);
    for (size_t i = 0; i < k * n; i++)
        ck_assert_msg(fabs(got[m * n + m * k + i] - db[i]) <= tol,
                      "dB[%zu] %g vs %g (%zux%zux%zu ta %d tb %d)", i, got[m * n + m * k + i], db[i],
                      m, n, k, ta, tb);
    adj_tape_free(t);
    free(a);
    free(b);
    free(w);
    free(c);
    free(da);
    free(db);
    free(got);
}

/* Shapes on both sides of the 4096 multiply-add threshold, and edges. */
static const size_t shapes[][3] = {
    {1, 1, 1}, {4, 8, 2}, {4, 1, 8}, {3, 5, 0}, {16, 16, 16}, {16, 16, 17},
    {1, 64, 64}, {64, 1, 65}, {33, 17, 9}, {64, 40, 70},
};

START_TEST(matmul_small_and_blis_paths)
{
    const size_t *s = shapes[_i];
    for (int dt = 0; dt < 2; dt++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                check_matmul(dt ? ADJ_F32 : ADJ_F64, s[0], s[1], s[2], ta, tb,
                             (uint64_t)(100 + _i * 8 + dt * 4 + ta * 2 + tb));
}
END_TEST

/* The products that split over k at 2 threads or more (adj_gemm_ksplit_bytes):
 * adj_matmul_t with every transpose flag against the double reference
 * (value and both adjoints), at 2 and 3 threads; then the natural first
 * layer, adj_matmul(x, adj_transpose(w)), and adj_linear(x, w, NULL) give
 * the bits of adj_matmul_t(x, w, 0, 1) and of a second run, and
 * adj_linear(x, w, b) agrees with the double reference. */
START_TEST(matmul_split_over_k)
{
    const size_t dims[][3] = {{131, 37, 300}, {200, 150, 419}};
    for (int th = 2; th <= 3; th++) {
        adj_set_threads(th);
        for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
            const size_t m = dims[c][0], n = dims[c][1], k = dims[c][2];
            ck_assert_uint_ne(adj_gemm_ksplit_bytes(ADJ_F32, m, n, k), 0);
            for (int dt = 0; dt < 2; dt++)
                for (int tr = 0; tr < 4; tr++)
                    check_matmul(dt ? ADJ_F32 : ADJ_F64, m, n, k, tr & 1, tr & 2,
                                 (uint64_t)(300 + c * 8 + (size_t)dt * 4 + (size_t)tr));
            adj_rng r;
            adj_rng_seed(&r, 61 + c);
            float *x = malloc(m * k * sizeof *x), *w = malloc(n * k * sizeof *w);
            double *z[4];
            for (size_t i = 0; i < m * k; i++)
                x[i] = (float)adj_rng_uniform_range(&r, -1, 1);
            for (size_t i = 0; i < n * k; i++)
                w[i] = (float)adj_rng_uniform_range(&r, -1, 1);
            for (int v = 0; v < 4; v++) {
                adj_tape *t = adj_tape_new();
                adj_var *X = adj_constant_f32(t, 2, (int64_t[]){(int64_t)m, (int64_t)k}, x);
                adj_var *W = adj_constant_f32(t, 2, (int64_t[]){(int64_t)n, (int64_t)k}, w);
                adj_var *Z = v == 0 ? adj_matmul_t(X, W, 0, 1)
                             : v == 1 ? adj_matmul(X, adj_transpose(W))
                             : v == 2 ? adj_linear(X, W, NULL)
                                      : adj_matmul_t(X, W, 0, 1);
                ck_assert_ptr_nonnull(Z);
                z[v] = malloc(m * n * sizeof *z[v]);
                ck_assert_int_eq(adj_copy_value(Z, z[v]), ADJ_OK);
                adj_tape_free(t);
            }
            for (int v = 1; v < 4; v++)
                ck_assert_msg(memcmp(z[0], z[v], m * n * sizeof *z[0]) == 0,
                              "%zux%zux%zu, %d threads: form %d differs from adj_matmul_t", m, n, k, th, v);
            for (int v = 0; v < 4; v++)
                free(z[v]);
            /* with a bias, through a tape: against the double reference */
            float *bias = malloc(n * sizeof *bias);
            for (size_t j = 0; j < n; j++)
                bias[j] = (float)adj_rng_uniform_range(&r, -1, 1);
            adj_tape *t = adj_tape_new();
            adj_var *Z = adj_linear(adj_constant_f32(t, 2, (int64_t[]){(int64_t)m, (int64_t)k}, x),
                                    adj_constant_f32(t, 2, (int64_t[]){(int64_t)n, (int64_t)k}, w),
                                    adj_constant_f32(t, 1, (int64_t[]){(int64_t)n}, bias));
            ck_assert_ptr_nonnull(Z);
            double *zb = malloc(m * n * sizeof *zb);
            ck_assert_int_eq(adj_copy_value(Z, zb), ADJ_OK);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    double ref = bias[j];
                    for (size_t p = 0; p < k; p++)
                        ref += (double)x[i * k + p] * (double)w[j * k + p];
                    ck_assert_msg(fabs(zb[i * n + j] - ref) <= 1e-5 * (double)k,
                                  "linear with a bias %zux%zux%zu, %d threads: Z[%zu][%zu] %g vs %g", m, n, k,
                                  th, i, j, zb[i * n + j], ref);
                }
            adj_tape_free(t);
            free(zb), free(bias);
            free(x), free(w);
        }
    }
    adj_set_threads(1);
}
END_TEST

/* Z = X W^T + b in both paths, with the adjoints of X, W and b. */
START_TEST(linear_small_and_blis_paths)
{
    const size_t cases[][3] = {{4, 2, 8}, {4, 8, 1}, {16, 784, 32}, {3, 7, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t m = cases[c][0], in = cases[c][1], out = cases[c][2];
        adj_rng r;
        adj_rng_seed(&r, 7 + c);
        double *x = malloc(m * in * sizeof *x), *w = malloc(out * in * sizeof *w);
        double *b = malloc(out * sizeof *b), *rr = malloc(m * out * sizeof *rr);
        double *got = malloc((m * out + m * in + out * in + out) * sizeof *got);
        fill(&r, x, m * in);
        fill(&r, w, out * in);
        fill(&r, b, out);
        fill(&r, rr, m * out);
        adj_tape *t = adj_tape_new();
        adj_var *X = adj_tensor_f64(t, 2, (int64_t[]){(int64_t)m, (int64_t)in}, x);
        adj_var *W = adj_tensor_f64(t, 2, (int64_t[]){(int64_t)out, (int64_t)in}, w);
        adj_var *B = adj_tensor_f64(t, 1, (int64_t[]){(int64_t)out}, b);
        adj_var *R = adj_constant_f64(t, 2, (int64_t[]){(int64_t)m, (int64_t)out}, rr);
        adj_var *Z = adj_linear(X, W, B);
        ck_assert_int_eq(adj_backward(adj_sum(adj_mul(Z, R))), ADJ_OK);
        adj_copy_value(Z, got);
        adj_copy_grad(X, got + m * out);
        adj_copy_grad(W, got + m * out + m * in);
        adj_copy_grad(B, got + m * out + m * in + out * in);
        for (size_t i = 0; i < m; i++)
            for (size_t o = 0; o < out; o++) {
                double s = b[o];
                for (size_t p = 0; p < in; p++)
                    s += x[i * in + p] * w[o * in + p];
                ck_assert(fabs(got[i * out + o] - s) < 1e-10);
            }
        for (size_t i = 0; i < m; i++)
            for (size_t p = 0; p < in; p++) { /* dX = R W */
                double s = 0;
                for (size_t o = 0; o < out; o++)
                    s += rr[i * out + o] * w[o * in + p];
                ck_assert(fabs(got[m * out + i * in + p] - s) < 1e-10);
            }
        for (size_t o = 0; o < out; o++) {
            double sb = 0;
            for (size_t i = 0; i < m; i++)
                sb += rr[i * out + o];
            ck_assert(fabs(got[m * out + m * in + out * in + o] - sb) < 1e-10);
            for (size_t p = 0; p < in; p++) { /* dW = R^T X */
                double s = 0;
                for (size_t i = 0; i < m; i++)
                    s += rr[i * out + o] * x[i * in + p];
                ck_assert(fabs(got[m * out + m * in + o * in + p] - s) < 1e-10);
            }
        }
        adj_tape_free(t);
        free(x);
        free(w);
        free(b);
        free(rr);
        free(got);
    }
}
END_TEST

/* linear's float bias adjoint: column sums against a long double sum of
 * the same floats, on blocks of columns cut at every boundary, one row and
 * many, with sums that cancel: within one float rounding of the exact
 * sum plus the bound on m double additions. */
START_TEST(linear_col_sums_f32_against_long_double)
{
    const size_t sizes[][2] = {{1, 1}, {1, 300}, {32, 255}, {32, 256}, {7, 257}, {1024, 512}, {300, 1000}};
    adj_rng r;
    adj_rng_seed(&r, 41);
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        const size_t m = sizes[c][0], out = sizes[c][1];
        float *dz = malloc(m * out * sizeof *dz), *db = malloc(out * sizeof *db);
        for (size_t i = 0; i < m * out; i++) /* every other row cancels most of the one before */
            dz[i] = (float)(adj_rng_uniform_range(&r, -1, 1) * ((i / out) % 2 ? -1e3 : 1e3) +
                            adj_rng_uniform_range(&r, -1, 1));
        for (size_t o = 0; o < out; o++)
            db[o] = (float)adj_rng_uniform_range(&r, -1, 1);
        long double *want = malloc(out * sizeof *want);
        double *mag = malloc(out * sizeof *mag);
        for (size_t o = 0; o < out; o++) {
            want[o] = 0;
            mag[o] = 0;
            for (size_t i = 0; i < m; i++) {
                want[o] += dz[i * out + o];
                mag[o] += fabs((double)dz[i * out + o]);
            }
            want[o] += db[o];
        }
        adj_linear_col_sums_f32(dz, m, out, out, db);
        for (size_t o = 0; o < out; o++) {
            double tol = fabs((double)want[o]) * FLT_EPSILON + (double)m * mag[o] * DBL_EPSILON;
            ck_assert_msg(fabs((double)db[o] - (double)want[o]) <= tol, "(%zu, %zu) column %zu: %.9g, want %.12Lg",
                          m, out, o, (double)db[o], want[o]);
        }
        free(dz);
        free(db);
        free(want);
        free(mag);
    }
}
END_TEST

/* C = 1 init^T + op(A) op(B) (adj_gemm_rows) against a double triple loop,
 * at 1 and 2 threads, on shapes that split C by rows and by columns or not
 * at all, with a row stride wider than C (the gap must stay untouched), a
 * bias and none; and bit for bit the same as filling C first and calling
 * adj_gemm with beta = 1 at the same thread count. */
START_TEST(gemm_rows_against_loop)
{
    const size_t dims[][3] = {{1, 1, 1},  {33, 17, 9},  {257, 70, 40}, {20, 500, 100}, {130, 129, 33},
                              {4, 8, 2},  {4, 1, 8},    {13, 9, 5},    {3, 17, 7},     {8, 2, 4},
                              {6, 11, 0}, {11, 6, 3}, {70, 200, 30}, {127, 130, 9}};
    adj_rng r;
    adj_rng_seed(&r, 43);
    for (int lv = 0; lv < 2; lv++)
    for (int th = 1; th <= 2; th++)
        for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++)
            for (int dt = 0; dt < 2; dt++)
                for (int tr = 0; tr < 4; tr++) {
                        const int bias = (int)(c + (size_t)tr) % 2;
                        const size_t m = dims[c][0], n = dims[c][1], k = dims[c][2];
                        const size_t rsc = n + 3, es = dt ? sizeof(float) : sizeof(double);
                        const bool ta = tr & 1, tb = tr & 2;
                        double *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
                        double *init = malloc(n * sizeof *init);
                        fill(&r, a, m * k);
                        fill(&r, b, k * n);
                        fill(&r, init, n);
                        void *A = malloc(m * k * es), *B = malloc(k * n * es), *I = malloc(n * es);
                        void *C = malloc(m * rsc * es), *C2 = malloc(m * rsc * es), *Z = calloc(n, es);
                        for (size_t i = 0; i < m * k; i++)
                            dt ? (void)(((float *)A)[i] = (float)a[i]) : (void)(((double *)A)[i] = a[i]);
                        for (size_t i = 0; i < k * n; i++)
                            dt ? (void)(((float *)B)[i] = (float)b[i]) : (void)(((double *)B)[i] = b[i]);
                        for (size_t i = 0; i < n; i++)
                            dt ? (void)(((float *)I)[i] = (float)init[i]) : (void)(((double *)I)[i] = init[i]);
                        memset(C, 0x7f, m * rsc * es);
                        memset(C2, 0x7f, m * rsc * es);
                        const int dtype = dt ? ADJ_F32 : ADJ_F64;
                        /* op(A) is (m,k): A stored (k,m) when ta; op(B) (k,n): B stored (n,k) when tb */
                        const size_t rsa = ta ? m : k, rsb = tb ? k : n;
                        adj_set_threads(th);
                        adj_vm_force_level(lv ? -1 : ADJ_VM_BASE);
                        adj_gemm_rows(dtype, ta, tb, m, n, k, A, rsa, 1, B, rsb, 1, bias ? I : NULL, C, rsc, NULL);
                        for (size_t i = 0; i < m; i++)
                            memcpy((char *)C2 + i * rsc * es, bias ? I : Z, n * es);
                        adj_gemm(dtype, ta, tb, m, n, k, A, rsa, 1, B, rsb, 1, 1.0, C2, rsc, 1);
                        ck_assert_msg(memcmp(C, C2, m * rsc * es) == 0, "%zux%zux%zu %s tr %d %d threads: not adj_gemm's bits",
                                      m, n, k, dt ? "f32" : "f64", tr, th);
                        for (size_t i = 0; i < m; i++)
                            for (size_t j = 0; j < rsc; j++) {
                                double got = dt ? ((float *)C)[i * rsc + j] : ((double *)C)[i * rsc + j];
                                if (j >= n) {
                                    unsigned char pad[sizeof(double)];
                                    memset(pad, 0x7f, sizeof pad);
                                    ck_assert(memcmp((char *)C + (i * rsc + j) * es, pad, es) == 0);
                                    continue;
                                }
                                double s = bias ? (dt ? (double)(float)init[j] : init[j]) : 0;
                                for (size_t p = 0; p < k; p++) {
                                    double x = ta ? a[p * m + i] : a[i * k + p];
                                    double y = tb ? b[j * k + p] : b[p * n + j];
                                    s += dt ? (double)(float)x * (double)(float)y : x * y;
                                }
                                ck_assert_msg(fabs(got - s) <= (dt ? 1e-5 : 1e-13) * (double)(k + 1),
                                              "%zux%zux%zu %s tr %d, %d threads, C[%zu][%zu] %g vs %g", m, n,
                                              k, dt ? "f32" : "f64", tr, th, i, j, got, s);
                            }
                        free(a), free(b), free(init), free(A), free(B), free(I), free(C), free(C2), free(Z);
                    }
    adj_vm_force_level(-1);
    adj_set_threads(1);
}
END_TEST

/* C (m x n, row stride rsc, of float when dt else double) of an
 * adj_gemm_rows call on a, b (the double values its operands were rounded
 * from; transposes tr & 1 and tr & 2) and the bias init (or none), against
 * a double triple loop on the rounded values; the gap past n in each row
 * must still hold the 0x7f bytes it was filled with. */
static void check_rows_result(const void *C, size_t rsc, size_t m, size_t n, size_t k, const double *a,
                              const double *b, const double *init, int dt, int tr, int th)
{
    const size_t es = dt ? sizeof(float) : sizeof(double);
    const bool ta = tr & 1, tb = tr & 2;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < rsc; j++) {
            if (j >= n) {
                unsigned char pad[sizeof(double)];
                memset(pad, 0x7f, sizeof pad);
                ck_assert(memcmp((const char *)C + (i * rsc + j) * es, pad, es) == 0);
                continue;
            }
            double got = dt ? ((const float *)C)[i * rsc + j] : ((const double *)C)[i * rsc + j];
            double s = init ? (dt ? (double)(float)init[j] : init[j]) : 0;
            for (size_t p = 0; p < k; p++) {
                double x = ta ? a[p * m + i] : a[i * k + p];
                double y = tb ? b[j * k + p] : b[p * n + j];
                s += dt ? (double)(float)x * (double)(float)y : x * y;
            }
            ck_assert_msg(fabs(got - s) <= (dt ? 1e-5 : 1e-13) * (double)(k + 1),
                          "%zux%zux%zu %s tr %d, %d threads, C[%zu][%zu] %g vs %g", m, n, k, dt ? "f32" : "f64",
                          tr, th, i, j, got, s);
        }
}

/* adj_gemm_rows split over k (adj_gemm_ksplit_bytes): against a double
 * triple loop at 2 and 3 threads, f32 and f64, every transpose, with a
 * bias and without, a row stride wider than C (the gap untouched) and k
 * not a multiple of the parts; the same bits from a second call; no
 * scratch asked for at 1 thread, on shapes below 128 rows or with k
 * under twice m and n.  A split that leaves out a part, adds a part
 * twice or reads a part's columns at the wrong offset fails it. */
START_TEST(gemm_rows_split_over_k)
{
    const size_t dims[][3] = {{128, 64, 301}, {131, 37, 300}, {200, 150, 419}, {256, 256, 784}};
    adj_rng r;
    adj_rng_seed(&r, 47);
    adj_set_threads(1);
    ck_assert_uint_eq(adj_gemm_ksplit_bytes(ADJ_F32, 256, 256, 784), 0);
    adj_set_threads(2);
    ck_assert_uint_eq(adj_gemm_ksplit_bytes(ADJ_F32, 127, 64, 784), 0);
    ck_assert_uint_eq(adj_gemm_ksplit_bytes(ADJ_F32, 256, 256, 511), 0);
    ck_assert_uint_eq(adj_gemm_ksplit_bytes(ADJ_F32, 256, 256, 512), 256 * 256 * sizeof(float));
    ck_assert_uint_eq(adj_gemm_ksplit_bytes(ADJ_F64, 256, 256, 784), 256 * 256 * sizeof(double));
    for (int th = 2; th <= 3; th++)
        for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++)
            for (int dt = 0; dt < 2; dt++)
                for (int tr = 0; tr < 4; tr++) {
                    const int bias = (int)(c + (size_t)tr) % 2;
                    const size_t m = dims[c][0], n = dims[c][1], k = dims[c][2];
                    const size_t rsc = n + 3, es = dt ? sizeof(float) : sizeof(double);
                    const bool ta = tr & 1, tb = tr & 2;
                    const int dtype = dt ? ADJ_F32 : ADJ_F64;
                    adj_set_threads(th);
                    const size_t ns = adj_gemm_ksplit_bytes(dtype, m, n, k);
                    ck_assert_msg(ns == (size_t)(th - 1) * m * n * es, "%zux%zux%zu %d threads: %zu bytes",
                                  m, n, k, th, ns);
                    double *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
                    double *init = malloc(n * sizeof *init);
                    fill(&r, a, m * k);
                    fill(&r, b, k * n);
                    fill(&r, init, n);
                    void *A = malloc(m * k * es), *B = malloc(k * n * es), *I = malloc(n * es);
                    void *C = malloc(m * rsc * es), *C2 = malloc(m * rsc * es), *P = malloc(ns);
                    for (size_t i = 0; i < m * k; i++)
                        dt ? (void)(((float *)A)[i] = (float)a[i]) : (void)(((double *)A)[i] = a[i]);
                    for (size_t i = 0; i < k * n; i++)
                        dt ? (void)(((float *)B)[i] = (float)b[i]) : (void)(((double *)B)[i] = b[i]);
                    for (size_t i = 0; i < n; i++)
                        dt ? (void)(((float *)I)[i] = (float)init[i]) : (void)(((double *)I)[i] = init[i]);
                    memset(C, 0x7f, m * rsc * es);
                    memset(C2, 0x7f, m * rsc * es);
                    memset(P, 0x7f, ns);
                    const size_t rsa = ta ? m : k, rsb = tb ? k : n;
                    adj_gemm_rows(dtype, ta, tb, m, n, k, A, rsa, 1, B, rsb, 1, bias ? I : NULL, C, rsc, P);
                    memset(P, 0x7f, ns);
                    adj_gemm_rows(dtype, ta, tb, m, n, k, A, rsa, 1, B, rsb, 1, bias ? I : NULL, C2, rsc, P);
                    ck_assert_msg(memcmp(C, C2, m * rsc * es) == 0, "%zux%zux%zu %s tr %d %d threads: not reproducible",
                                  m, n, k, dt ? "f32" : "f64", tr, th);
                    check_rows_result(C, rsc, m, n, k, a, b, bias ? init : NULL, dt, tr, th);
                    free(a), free(b), free(init), free(A), free(B), free(I), free(C), free(C2), free(P);
                }
    adj_set_threads(1);
}
END_TEST

/* adj_gemm_rows on shapes that adj_gemm splits by columns from 128 rows
 * on (C at least 4 times wider than tall, k too small for the split over
 * k): against a double triple loop at 2 and 3 threads, f32 and f64, every
 * transpose, with a bias and without, a row stride wider than C (the gap
 * untouched), n not a multiple of the blocks; the same bits from a second
 * call and from adj_gemm after filling C.  A block that starts at the
 * wrong column of op(B) or of C, or is left out, fails it. */
START_TEST(gemm_rows_split_by_columns)
{
    const size_t dims[][3] = {{128, 512, 37}, {131, 525, 19}, {200, 803, 261}};
    ck_assert(!adj_gemm_splits_by_rows(128, 512));
    ck_assert(adj_gemm_splits_by_rows(128, 511));
    ck_assert(adj_gemm_splits_by_rows(256, 784));
    ck_assert(!adj_gemm_splits_by_rows(64, 256));
    ck_assert(adj_gemm_splits_by_rows(64, 64));
    adj_rng r;
    adj_rng_seed(&r, 53);
    for (int th = 2; th <= 3; th++)
        for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++)
            for (int dt = 0; dt < 2; dt++)
                for (int tr = 0; tr < 4; tr++) {
                    const int bias = (int)(c + (size_t)tr) % 2;
                    const size_t m = dims[c][0], n = dims[c][1], k = dims[c][2];
                    const size_t rsc = n + 3, es = dt ? sizeof(float) : sizeof(double);
                    const bool ta = tr & 1, tb = tr & 2;
                    const int dtype = dt ? ADJ_F32 : ADJ_F64;
                    adj_set_threads(th);
                    ck_assert_uint_eq(adj_gemm_ksplit_bytes(dtype, m, n, k), 0);
                    double *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
                    double *init = malloc(n * sizeof *init);
                    fill(&r, a, m * k);
                    fill(&r, b, k * n);
                    fill(&r, init, n);
                    void *A = malloc(m * k * es), *B = malloc(k * n * es), *I = malloc(n * es);
                    void *C = malloc(m * rsc * es), *C2 = malloc(m * rsc * es);
                    for (size_t i = 0; i < m * k; i++)
                        dt ? (void)(((float *)A)[i] = (float)a[i]) : (void)(((double *)A)[i] = a[i]);
                    for (size_t i = 0; i < k * n; i++)
                        dt ? (void)(((float *)B)[i] = (float)b[i]) : (void)(((double *)B)[i] = b[i]);
                    for (size_t i = 0; i < n; i++)
                        dt ? (void)(((float *)I)[i] = (float)init[i]) : (void)(((double *)I)[i] = init[i]);
                    memset(C, 0x7f, m * rsc * es);
                    memset(C2, 0x7f, m * rsc * es);
                    const size_t rsa = ta ? m : k, rsb = tb ? k : n;
                    adj_gemm_rows(dtype, ta, tb, m, n, k, A, rsa, 1, B, rsb, 1, bias ? I : NULL, C, rsc, NULL);
                    adj_gemm_rows(dtype, ta, tb, m, n, k, A, rsa, 1, B, rsb, 1, bias ? I : NULL, C2, rsc, NULL);
                    ck_assert_msg(memcmp(C, C2, m * rsc * es) == 0, "%zux%zux%zu %s tr %d %d threads: not reproducible",
                                  m, n, k, dt ? "f32" : "f64", tr, th);
                    for (size_t i = 0; i < m; i++) {
                        if (bias)
                            memcpy((char *)C2 + i * rsc * es, I, n * es);
                        else
                            memset((char *)C2 + i * rsc * es, 0, n * es);
                    }
                    adj_gemm(dtype, ta, tb, m, n, k, A, rsa, 1, B, rsb, 1, 1.0, C2, rsc, 1);
                    ck_assert_msg(memcmp(C, C2, m * rsc * es) == 0, "%zux%zux%zu %s tr %d %d threads: not adj_gemm's bits",
                                  m, n, k, dt ? "f32" : "f64", tr, th);
                    check_rows_result(C, rsc, m, n, k, a, b, bias ? init : NULL, dt, tr, th);
                    free(a), free(b), free(init), free(A), free(B), free(I), free(C), free(C2);
                }
    adj_set_threads(1);
}
END_TEST

/* The reference formulas of the vectorised selects, in double. */
static double ref_fwd(adj_op op, double x, double c)
{
    switch (op) {
    case ADJ_OP_LEAKY_RELU: return x >= 0 ? x : c * x;
    case ADJ_OP_ELU: return x >= 0 ? x : c * expm1(x);
    default: return sqrt(x);
    }
}

static double ref_bwd(adj_op op, double x, double dy, double c)
{
    switch (op) {
    case ADJ_OP_LEAKY_RELU: return x >= 0 ? dy : c * dy;
    case ADJ_OP_ELU: return x >= 0 ? dy : dy * (c * expm1(x) + c);
    default: return dy / (2 * sqrt(x));
    }
}

START_TEST(elementwise_against_formulas)
{
    const adj_op ops[] = {ADJ_OP_LEAKY_RELU, ADJ_OP_ELU, ADJ_OP_SQRT};
    adj_op op = ops[_i];
    enum { N = 1037 }; /* not a multiple of any vector width */
    double x[N], dy[N], gx[N];
    float xf[N], dyf[N];
    adj_rng r;
    adj_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        x[i] = op == ADJ_OP_SQRT ? adj_rng_uniform_range(&r, 0.01, 4) : adj_rng_uniform_range(&r, -3, 3);
        if (op != ADJ_OP_SQRT && i % 97 == 0)
            x[i] = 0.0; /* the kink: derivative 1 there, as the notes define */
        dy[i] = adj_rng_uniform_range(&r, -1, 1);
        xf[i] = (float)x[i];
        dyf[i] = (float)dy[i];
    }
    const double c = op == ADJ_OP_LEAKY_RELU ? 0.01 : 1.3;
    for (int dt = 0; dt < 2; dt++) {
        adj_tape *t = adj_tape_new();
        adj_var *X = dt ? adj_tensor_f32(t, 1, (int64_t[]){N}, xf) : adj_tensor_f64(t, 1, (int64_t[]){N}, x);
        adj_var *Y = op == ADJ_OP_LEAKY_RELU ? adj_leaky_relu(X, c)
                     : op == ADJ_OP_ELU      ? adj_elu(X, c)
                                             : adj_sqrt(X);
        ck_assert_int_eq(adj_backward_seeded(Y, dy), ADJ_OK);
        adj_copy_grad(X, gx);
        double tol = dt ? 1e-6 : 1e-15;
        for (int i = 0; i < N; i++) {
            double xi = dt ? (double)xf[i] : x[i], di = dt ? (double)dyf[i] : dy[i];
            double yf = ref_fwd(op, xi, c), gb = ref_bwd(op, xi, di, c);
            ck_assert_msg(fabs(adj_value_at(Y, (size_t)i) - yf) <= tol * fmax(1, fabs(yf)),
                          "adj_%s(%g) = %g, formula %g", adj_op_name(op), xi, adj_value_at(Y, (size_t)i), yf);
            ck_assert_msg(fabs(gx[i] - gb) <= 4 * tol * fmax(1, fabs(gb)), "adj_%s'(%g): %g vs %g",
                          adj_op_name(op), xi, gx[i], gb);
        }
        adj_tape_free(t);
    }
}
END_TEST

/* The plain loop of small products gives, element by element, the bits
 * of a dot product summed from 0 in the order of p (then beta C added):
 * both dtypes, both transposes (rows of op(B) or columns of op(A) strided
 * or not), strided and contiguous C, beta 0 (C holding NaN, never read)
 * and 0.5, rows of C longer than the loop's column block and than a
 * vector, more rows than columns (the vectors then run down C's
 * columns), remainders of rows and lanes, k = 0; at the baseline CPU
 * level (the scalar loop) and at the widest (the vector one). */
#define SMALL_REF(T)                                                           \
    do {                                                                       \
        const T *A_ = A, *B_ = B;                                              \
        T *C_ = C;                                                             \
        for (size_t i = 0; i < m; i++)                                         \
            for (size_t j = 0; j < n; j++) {                                   \
                T sum = 0;                                                     \
                for (size_t p = 0; p < k; p++)                                 \
                    sum += (ta ? A_[p * rsa + i] : A_[i * rsa + p]) *          \
                           (tb ? B_[j * rsb + p] : B_[p * rsb + j]);           \
                T *c = &C_[i * rsc + j * csc];                                 \
                *c = beta == 0 ? sum : (T)beta * *c + sum;                     \
            }                                                                  \
    } while (0)

static void small_ref(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                      size_t rsa, const void *B, size_t rsb, double beta, void *C, size_t rsc,
                      size_t csc)
{
    if (dtype == ADJ_F64)
        SMALL_REF(double);
    else
        SMALL_REF(float);
}

START_TEST(small_gemm_bits_of_dot_order)
{
    const size_t sh[][3] = {{4, 8, 2}, {4, 1, 8}, {1, 8, 4}, {3, 5, 0}, {2, 100, 3}, {5, 130, 6},
                            {8, 2, 4}, {9, 3, 5}, {6, 6, 3}, {4, 4, 0},
                            {7, 9, 11}, {1, 1, 1}, {13, 3, 7}, {3, 13, 7}, {5, 4, 1},
                            {17, 9, 5}, {1, 20, 9}, {20, 1, 9}, {12, 12, 12}, {64, 64, 1},
                            {9, 17, 0}, {4, 3, 2}, {3, 4, 2}};
    adj_rng r;
    adj_rng_seed(&r, 41);
    for (int lv = 0; lv < 2; lv++)
    for (size_t c = 0; c < sizeof sh / sizeof sh[0]; c++)
        for (int dt = 0; dt < 2; dt++)
            for (int v = 0; v < 16; v++) {
                const int dtype = dt ? ADJ_F32 : ADJ_F64;
                const bool ta = v & 1, tb = (v >> 1) & 1;
                const double beta = (v >> 2) & 1 ? 0.5 : 0.0;
                const size_t m = sh[c][0], n = sh[c][1], k = sh[c][2];
                const size_t rsa = (ta ? m : k) + 1, rsb = (tb ? k : n) + 2;
                const size_t csc = (v >> 3) & 1 ? 1 : 2, rsc = n * csc + 3, es = dt ? 4 : 8;
                const size_t na = (ta ? k : m) * rsa + 1, nb = (tb ? n : k) * rsb + 1;
                const size_t nc = m * rsc + 1;
                double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
                double *c0 = malloc(nc * sizeof *c0);
                fill(&r, a, na);
                fill(&r, b, nb);
                fill(&r, c0, nc);
                void *A = malloc(na * es), *B = malloc(nb * es), *C1 = malloc(nc * es),
                     *C2 = malloc(nc * es);
                for (size_t i = 0; i < na; i++)
                    dt ? (void)(((float *)A)[i] = (float)a[i]) : (void)(((double *)A)[i] = a[i]);
                for (size_t i = 0; i < nb; i++)
                    dt ? (void)(((float *)B)[i] = (float)b[i]) : (void)(((double *)B)[i] = b[i]);
                for (size_t i = 0; i < nc; i++) {
                    double x = beta == 0 && i % 2 == 0 ? NAN : c0[i];
                    dt ? (void)(((float *)C1)[i] = (float)x) : (void)(((double *)C1)[i] = x);
                }
                memcpy(C2, C1, nc * es);
                ck_assert(adj_gemm_is_small(m, n, k));
                adj_vm_force_level(lv ? -1 : ADJ_VM_BASE);
                adj_gemm_1t(dtype, ta, tb, m, n, k, A, rsa, 1, B, rsb, 1, beta, C1, rsc, csc);
                small_ref(dtype, ta, tb, m, n, k, A, rsa, B, rsb, beta, C2, rsc, csc);
                ck_assert_msg(memcmp(C1, C2, nc * es) == 0,
                              "%zux%zux%zu dtype %d ta %d tb %d beta %g csc %zu level %d: not the dot order's bits",
                              m, n, k, dtype, ta, tb, beta, csc, adj_vm_level());
                free(a);
                free(b);
                free(c0);
                free(A);
                free(B);
                free(C1);
                free(C2);
            }
    adj_vm_force_level(-1);
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, matmul_small_and_blis_paths, 0, (int)(sizeof shapes / sizeof shapes[0]));
    tcase_add_test(tc, linear_small_and_blis_paths);
    tcase_add_test(tc, linear_col_sums_f32_against_long_double);
    tcase_add_test(tc, gemm_rows_against_loop);
    tcase_add_test(tc, gemm_rows_split_over_k);
    tcase_add_test(tc, gemm_rows_split_by_columns);
    tcase_add_test(tc, matmul_split_over_k);
    tcase_add_test(tc, small_gemm_bits_of_dot_order);
    suite_add_tcase(s, tc);
    tc = tcase_create("elementwise");
    tcase_add_loop_test(tc, elementwise_against_formulas, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(kernels_suite)
