/*
 * The fast kernels against naive reference loops written here: layer and
 * RMS norm forward and backward (the fused, vectorised row passes), at
 * every CPU level the build has (ops/dispatch.h), which must give the
 * same bits; an adjoint written in place of zero-fill-and-add (a second
 * sweep and a fan-out must still add); and the arena across resets (no
 * allocation in a steady loop, reserved bytes bounded when step sizes
 * vary); and the scalar recording path of the public elementwise
 * functions against the general path.
 */
#include <adjoint.h>

#include "check_util.h"
#include "ops/dispatch.h"
#include "tensor/transpose.h"

#include <math.h>
#include <string.h>

static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* ------------------------------------------------------------ row norms */

/* Layer norm (center) or RMS norm of rows (r, k) in double, the textbook
 * formulas; dy given; writes y, dx, dw, db (dw, db summed over rows). */
static void norm_ref(int center, size_t rows, size_t k, const double *x, const double *w,
                     const double *b, const double *dy, double eps, double *y, double *dx,
                     double *dw, double *db)
{
    memset(dw, 0, k * sizeof *dw);
    memset(db, 0, k * sizeof *db);
    for (size_t r = 0; r < rows; r++) {
        const double *xr = x + r * k, *dr = dy + r * k;
        double mu = 0, var = 0;
        if (center) {
            for (size_t j = 0; j < k; j++)
                mu += xr[j];
            mu /= (double)k;
        }
        for (size_t j = 0; j < k; j++)
            var += (xr[j] - mu) * (xr[j] - mu);
        double rs = 1.0 / sqrt(var / (double)k + eps), mg = 0, mgx = 0;
        for (size_t j = 0; j < k; j++) {
            double xh = (xr[j] - mu) * rs, g = dr[j] * w[j];
            y[r * k + j] = xh * w[j] + (b ? b[j] : 0.0);
            mg += g / (double)k;
            mgx += g * xh / (double)k;
            dw[j] += dr[j] * xh;
            db[j] += dr[j];
        }
        for (size_t j = 0; j < k; j++) {
            double xh = (xr[j] - mu) * rs;
            dx[r * k + j] = rs * (dr[j] * w[j] - (center ? mg : 0.0) - xh * mgx);
        }
    }
}

/* Worst |a - b| / (1 + |b|) */
static double maxrel(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]) / (1.0 + fabs(b[i])));
    return m;
}

/* A leaf of dtype dt holding d (copied). */
static adj_var *leaf(adj_tape *t, adj_dtype dt, int nd, const int64_t *shape, const double *d)
{
    if (dt == ADJ_F64)
        return adj_tensor_f64(t, nd, shape, d);
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)d[i];
    adj_var *v = adj_tensor_f32(t, nd, shape, f);
    free(f);
    return v;
}

/* One run of layer norm (center) or RMS norm at the current level, with
 * w (affine >= 1) and b (affine 2, layer norm); out gets y, dx, dw, db
 * concatenated (doubles; zeros for a missing parameter). */
static void norm_run(int center, int affine, adj_dtype dt, size_t rows, size_t k, const double *x,
                     const double *w, const double *b, const double *dy, double *out)
{
    adj_tape *t = adj_tape_new();
    int64_t sx[2] = {(int64_t)rows, (int64_t)k}, sk[1] = {(int64_t)k};
    adj_var *xv = leaf(t, dt, 2, sx, x);
    adj_var *wv = affine ? leaf(t, dt, 1, sk, w) : NULL;
    adj_var *bv = center && affine == 2 ? leaf(t, dt, 1, sk, b) : NULL;
    adj_var *y = center ? adj_layer_norm(xv, 1, wv, bv, 1e-5) : adj_rms_norm(xv, wv, 1e-5);
    ck_assert_int_eq(adj_backward_seeded(y, dy), ADJ_OK);
    size_t n = rows * k;
    ck_assert_int_eq(adj_copy_value(y, out), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(xv, out + n), ADJ_OK);
    if (wv)
        ck_assert_int_eq(adj_copy_grad(wv, out + 2 * n), ADJ_OK);
    else
        memset(out + 2 * n, 0, k * sizeof *out);
    if (bv)
        ck_assert_int_eq(adj_copy_grad(bv, out + 2 * n + k), ADJ_OK);
    else
        memset(out + 2 * n + k, 0, k * sizeof *out);
    adj_tape_free(t);
}

/* Rows of 771, 1, 15, 17 and 767 (not a multiple of 16: the tails run
 * too), of 16, and 1367 rows of 768 (over 4 MB in float: the outputs are
 * streamed), without
 * and with w and b, at 1 and 2 threads: every level and thread count
 * gives the bits of level 0 at that thread count. */
START_TEST(row_norms_match_reference_at_every_level)
{
    static const size_t ks[7] = {771, 1, 15, 17, 767, 16, 768};
    static const size_t nrows[7] = {37, 37, 37, 37, 37, 37, 1367};
    for (int kc = 0; kc < 7; kc++)
        for (int center = 0; center < 2; center++)
            for (int d = 0; d < 2; d++)
                for (int affine = 0; affine < (center ? 3 : 2); affine++) {
                    adj_dtype dt = d ? ADJ_F64 : ADJ_F32;
                    size_t rows = nrows[kc], k = ks[kc], n = rows * k;
                    uint64_t s = 5;
                    double *x = malloc(n * sizeof *x), *dy = malloc(n * sizeof *dy);
                    double *w = malloc(k * sizeof *w), *b = malloc(k * sizeof *b);
                    for (size_t i = 0; i < n; i++) {
                        double v = 3.0 + frand(&s) * 2.0;
                        x[i] = dt == ADJ_F32 ? (double)(float)v : v;
                        v = frand(&s);
                        dy[i] = dt == ADJ_F32 ? (double)(float)v : v;
                    }
                    for (size_t j = 0; j < k; j++) {
                        w[j] = dt == ADJ_F32 ? (double)(float)(1.0 + 0.3 * frand(&s)) : 1.0 + 0.3 * frand(&s);
                        b[j] = dt == ADJ_F32 ? (double)(float)(0.2 * frand(&s)) : 0.2 * frand(&s);
                        if (!affine)
                            w[j] = 1.0;
                    }
                    size_t m = 2 * n + 2 * k;
                    double *ref = malloc(m * sizeof *ref), *got = malloc(m * sizeof *got);
                    double *first = malloc(m * sizeof *first);
                    norm_ref(center, rows, k, x, w, center && affine == 2 ? b : NULL, dy, 1e-5, ref,
                             ref + n, ref + 2 * n, ref + 2 * n + k);
                    if (!affine)
                        memset(ref + 2 * n, 0, k * sizeof *ref);
                    if (!(center && affine == 2))
                        memset(ref + 2 * n + k, 0, k * sizeof *ref);
                    double tol = dt == ADJ_F64 ? 1e-12 : 2e-5;
                    for (int threads = 1; threads <= 2; threads++) {
                        adj_set_threads(threads);
                        for (int level = 0; level <= adj_vm_max_level(); level++) {
                            ck_assert_int_eq(adj_vm_force_level(level), level);
                            norm_run(center, affine, dt, rows, k, x, w, b, dy, got);
                            double e = maxrel(got, ref, m);
                            ck_assert_msg(e <= tol, "%s k %zu affine %d %s threads %d level %d: error %g",
                                          center ? "layer" : "rms", k, affine, d ? "f64" : "f32",
                                          threads, level, e);
                            if (level == 0)
                                memcpy(first, got, m * sizeof *got);
                            else
                                ck_assert_msg(memcmp(first, got, m * sizeof *got) == 0,
                                              "threads %d level %d gives other bits than level 0",
                                              threads, level);
                        }
                    }
                    adj_set_threads(1);
                    adj_vm_force_level(-1);
                    free(x), free(dy), free(w), free(b), free(ref), free(got), free(first);
                }
}
END_TEST

/* An adjoint written in place (not zero-filled then added to): a second
 * sweep on the same tape gives the same gradient, and an input used twice
 * gets both contributions whichever writes first. */
START_TEST(written_adjoints_still_accumulate)
{
    adj_tape *t = adj_tape_new();
    double xd[12], up[12];
    for (int i = 0; i < 12; i++) {
        xd[i] = sin(i + 1.0);
        up[i] = cos(2.0 * i);
    }
    adj_var *x = adj_tensor_f64(t, 2, ((int64_t[]){3, 4}), xd);
    adj_var *y = adj_layer_norm(x, 1, NULL, NULL, 1e-5);
    ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
    double g1[12], g2[12];
    ck_assert_int_eq(adj_copy_grad(x, g1), ADJ_OK);
    ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(x, g2), ADJ_OK);
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq(g1[i], g2[i]);
    /* z = layer_norm(x) + 2 x: dz/dx = g1 + 2 up */
    adj_var *z = adj_add(y, adj_scale(x, 2.0));
    ck_assert_int_eq(adj_backward_seeded(z, up), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(x, g2), ADJ_OK);
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq_tol(g2[i], g1[i] + 2.0 * up[i], 1e-15);
    /* and the other order: the scale's adjoint first (recorded later) */
    adj_var *u = adj_add(adj_scale(x, 2.0), adj_layer_norm(x, 1, NULL, NULL, 1e-5));
    ck_assert_int_eq(adj_backward_seeded(u, up), ADJ_OK);
    ck_assert_int_eq(adj_copy_grad(x, g2), ADJ_OK);
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq_tol(g2[i], g1[i] + 2.0 * up[i], 1e-15);
    adj_tape_free(t);
}
END_TEST

/* ------------------------------------------------------- binary kernels */

typedef adj_var *(*bin_fn)(adj_var *, adj_var *);
static adj_var *add_(adj_var *a, adj_var *b) { return adj_add(a, b); }
static adj_var *mul_(adj_var *a, adj_var *b) { return adj_mul(a, b); }
static adj_var *div_(adj_var *a, adj_var *b) { return adj_div(a, b); }
static adj_var *max_(adj_var *a, adj_var *b) { return adj_maximum(a, b); }

/* a (R, C) op b of shape (R, C), (C) or (R, 1), float: y and both
 * adjoints against plain loops (y exactly; the broadcast operand's summed
 * adjoint to rounding), and the same bits at every level. */
START_TEST(binary_kernels_match_plain_loops)
{
    enum { R = 67, C = 133 };
    static const bin_fn fns[4] = {add_, mul_, div_, max_};
    static float a[R * C], b[R * C], up[R * C];
    static double upd[R * C], first[3][R * C];
    uint64_t s = 17;
    for (int i = 0; i < R * C; i++) {
        a[i] = (float)frand(&s);
        b[i] = (float)(1.5 + frand(&s)); /* away from 0 for div */
        up[i] = (float)frand(&s);
        upd[i] = up[i];
    }
    for (int f = 0; f < 4; f++)
        for (int shape = 0; shape < 3; shape++)
            for (int level = 0; level <= adj_vm_max_level(); level++) {
                ck_assert_int_eq(adj_vm_force_level(level), level);
                adj_tape *t = adj_tape_new();
                int64_t sb[2] = {shape == 2 ? R : C, 1};
                adj_var *av = adj_tensor_f32(t, 2, ((int64_t[]){R, C}), a);
                adj_var *bv = shape == 0   ? adj_tensor_f32(t, 2, ((int64_t[]){R, C}), b)
                              : shape == 1 ? adj_tensor_f32(t, 1, sb, b)
                                           : adj_tensor_f32(t, 2, sb, b);
                adj_var *y = fns[f](av, bv);
                ck_assert_int_eq(adj_backward_seeded(y, upd), ADJ_OK);
                const float *yv = adj_data(y), *ga = adj_grad_data(av), *gb = adj_grad_data(bv);
                size_t nb = shape == 0 ? R * C : shape == 1 ? C : R;
                double *sum = calloc(nb, sizeof *sum);
                for (int i = 0; i < R; i++)
                    for (int j = 0; j < C; j++) {
                        const size_t k = (size_t)(i * C + j);
                        const size_t kb = shape == 0 ? k : shape == 1 ? (size_t)j : (size_t)i;
                        const float x = a[k], z = b[kb], dy = up[k];
                        float want, da, db;
                        switch (f) {
                        case 0: want = x + z, da = dy, db = dy; break;
                        case 1: want = x * z, da = dy * z, db = dy * x; break;
                        case 2: want = x / z, da = dy / z, db = -dy * want / z; break;
                        default: want = x > z ? x : z, da = x > z ? dy : 0, db = x > z ? 0 : dy; break;
                        }
                        ck_assert_msg(yv[k] == want, "op %d shape %d y[%zu]", f, shape, k);
                        ck_assert_msg(ga[k] == da, "op %d shape %d da[%zu] %g %g", f, shape, k, ga[k], da);
                        sum[kb] += db;
                    }
                for (size_t k = 0; k < nb; k++)
                    ck_assert_msg(fabs(gb[k] - sum[k]) <= 1e-6 * (1 + fabs(sum[k])),
                                  "op %d shape %d db[%zu] %g %g", f, shape, k, gb[k], sum[k]);
                double *out = first[0];
                ck_assert_int_eq(adj_copy_value(y, level ? first[1] : out), ADJ_OK);
                if (level) {
                    ck_assert(memcmp(first[1], first[0], sizeof first[0]) == 0);
                }
                free(sum);
                adj_tape_free(t);
            }
    adj_vm_force_level(-1);
}
END_TEST

/* A bias added to rows where the rows' adjoint already holds another
 * use's contribution (it must add, not store), and where it is written
 * first (the scale, recorded before, is reached after). */
START_TEST(bias_add_adjoints_accumulate)
{
    enum { R = 9, C = 40 };
    double a[R * C], b[C], up[R * C];
    uint64_t s = 2;
    for (int i = 0; i < R * C; i++) {
        a[i] = frand(&s);
        up[i] = frand(&s);
    }
    for (int j = 0; j < C; j++)
        b[j] = frand(&s);
    for (int order = 0; order < 2; order++) {
        adj_tape *t = adj_tape_new();
        adj_var *av = adj_tensor_f64(t, 2, ((int64_t[]){R, C}), a);
        adj_var *bv = adj_tensor_f64(t, 1, ((int64_t[]){C}), b);
        adj_var *y = order ? adj_add(adj_scale(av, 3.0), adj_add(av, bv))
                           : adj_add(adj_add(av, bv), adj_scale(av, 3.0));
        ck_assert_int_eq(adj_backward_seeded(y, up), ADJ_OK);
        const double *ga = adj_grad_data(av), *gb = adj_grad_data(bv);
        for (int i = 0; i < R * C; i++)
            ck_assert_double_eq_tol(ga[i], 4.0 * up[i], 1e-15);
        for (int j = 0; j < C; j++) {
            double sum = 0;
            for (int i = 0; i < R; i++)
                sum += up[i * C + j];
            ck_assert_double_eq_tol(gb[j], sum, 1e-14);
        }
        adj_tape_free(t);
    }
}
END_TEST

/* A float bias over more rows than one block of the column sums (about
 * 2^16 elements each: 4 blocks here), on either side of the add and of a mul, with the
 * rows' adjoint written first or added to: against plain loops, and the
 * same bits at 1 and 2 threads. */
START_TEST(float_bias_adjoint_blocks)
{
    enum { R = 701, C = 200 };
    static float a[R * C], up[R * C];
    static double upd[R * C];
    float b[C], first[2][C];
    uint64_t s = 23;
    for (int i = 0; i < R * C; i++) {
        a[i] = (float)frand(&s);
        up[i] = (float)frand(&s);
        upd[i] = up[i];
    }
    for (int j = 0; j < C; j++)
        b[j] = (float)(1.0 + frand(&s));
    const int threads = adj_get_threads();
    for (int kind = 0; kind < 6; kind++) {
        for (int th = 1; th <= 2; th++) {
            adj_set_threads(th);
            adj_tape *t = adj_tape_new();
            adj_var *av = adj_tensor_f32(t, 2, ((int64_t[]){R, C}), a);
            adj_var *bv = adj_tensor_f32(t, 1, ((int64_t[]){C}), b);
            adj_var *y;
            switch (kind) {
            case 0: y = adj_add(av, bv); break;
            case 1: y = adj_add(bv, av); break;
            case 2: y = adj_mul(av, bv); break;
            case 3: y = adj_mul(bv, av); break;
            case 4: y = adj_add(adj_add(av, bv), adj_scale(av, 3.0)); break;
            default: y = adj_add(adj_scale(av, 3.0), adj_add(av, bv)); break;
            }
            ck_assert_int_eq(adj_backward_seeded(y, upd), ADJ_OK);
            const float *ga = adj_grad_data(av), *gb = adj_grad_data(bv);
            for (int j = 0; j < C; j++) {
                double sum = 0;
                for (int i = 0; i < R; i++) {
                    const int k = i * C + j;
                    const int m = kind == 2 || kind == 3;
                    const double da = m ? (double)(up[k] * b[j]) : kind >= 4 ? 4.0 * up[k] : up[k];
                    ck_assert_msg(fabs(ga[k] - da) <= 1e-6 * (1 + fabs(da)), "kind %d da[%d] %g %g",
                                  kind, k, ga[k], da);
                    sum += m ? (double)(up[k] * a[k]) : up[k];
                }
                ck_assert_msg(fabs(gb[j] - sum) <= 1e-6 * (1 + fabs(sum)), "kind %d db[%d] %g %g",
                              kind, j, gb[j], sum);
                first[th - 1][j] = gb[j];
            }
            adj_tape_free(t);
        }
        ck_assert_msg(memcmp(first[0], first[1], sizeof first[0]) == 0,
                      "kind %d: other bits at 2 threads", kind);
    }
    adj_set_threads(threads);
}
END_TEST

/* A float seed read in place (adj_backward_seeded_view): the same
 * gradients as the copying call, y's adjoint is the seed itself, and a
 * later sweep that reaches y leaves the seed as it was. */
START_TEST(seed_view_is_read_in_place)
{
    enum { R = 5, C = 48 };
    float x[R * C], seed[R * C], kept[R * C];
    uint64_t s = 31;
    for (int i = 0; i < R * C; i++) {
        x[i] = (float)(2.0 + frand(&s));
        seed[i] = kept[i] = (float)frand(&s);
    }
    float want[R * C], got[R * C];
    for (int view = 0; view < 2; view++) {
        adj_tape *t = adj_tape_new();
        adj_var *xv = adj_tensor_f32(t, 2, ((int64_t[]){R, C}), x);
        adj_var *y = adj_layer_norm(adj_exp(xv), 1, NULL, NULL, 1e-5);
        adj_status st = view ? adj_backward_seeded_view(y, ADJ_F32, seed)
                             : adj_backward_seeded_as(y, ADJ_F32, seed);
        ck_assert_int_eq(st, ADJ_OK);
        memcpy(view ? got : want, adj_grad_data(xv), sizeof got);
        if (view) {
            ck_assert_ptr_eq(adj_grad_data(y), seed);
            /* a second sweep through y: y's adjoint restarts in the arena */
            ck_assert_int_eq(adj_backward(adj_sum(adj_scale(y, 2.0))), ADJ_OK);
            ck_assert_ptr_ne(adj_grad_data(y), seed);
            for (int i = 0; i < R * C; i++)
                ck_assert_double_eq(adj_grad_at(y, (size_t)i), 2.0);
            ck_assert(memcmp(seed, kept, sizeof seed) == 0);
            /* and the view again on the same tape */
            ck_assert_int_eq(adj_backward_seeded_view(y, ADJ_F32, seed), ADJ_OK);
            ck_assert_ptr_eq(adj_grad_data(y), seed);
            ck_assert(memcmp(adj_grad_data(xv), want, sizeof want) == 0);
        }
        adj_tape_free(t);
    }
    ck_assert(memcmp(got, want, sizeof got) == 0);
    ck_assert(memcmp(seed, kept, sizeof seed) == 0);
}
END_TEST

/* ----------------------------------------------------------- transposes */

/* Tiles with edges in both directions (sizes not multiples of 8), leading
 * dimensions larger than the tile, copy and accumulate, both element
 * sizes, every level: the same bits as the plain loop. */
START_TEST(tile_transposes_match_plain_loops)
{
    enum { R = 27, C = 21, SLD = 29, DLD = 31 };
    static const int64_t sizes[][2] = {{R, C}, {8, 8}, {16, 3}, {1, 9}, {5, 5}, {0, 4}};
    uint64_t s = 9;
    double sd[R * SLD], dd0[C * DLD], want[C * DLD], got[C * DLD];
    float sf[R * SLD], df0[C * DLD], wantf[C * DLD], gotf[C * DLD];
    for (int i = 0; i < R * SLD; i++) {
        sd[i] = frand(&s);
        sf[i] = (float)frand(&s);
    }
    for (int i = 0; i < C * DLD; i++) {
        dd0[i] = frand(&s);
        df0[i] = (float)frand(&s);
    }
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (int acc = 0; acc < 2; acc++)
            for (int level = 0; level <= adj_vm_max_level(); level++) {
                const int64_t rows = sizes[z][0], cols = sizes[z][1];
                memcpy(want, dd0, sizeof want);
                memcpy(wantf, df0, sizeof wantf);
                for (int64_t i = 0; i < rows; i++)
                    for (int64_t j = 0; j < cols; j++) {
                        if (acc) {
                            want[j * DLD + i] += 0.75 * sd[i * SLD + j];
                            wantf[j * DLD + i] += 0.75f * sf[i * SLD + j];
                        } else {
                            want[j * DLD + i] = sd[i * SLD + j];
                            wantf[j * DLD + i] = sf[i * SLD + j];
                        }
                    }
                memcpy(got, dd0, sizeof got);
                memcpy(gotf, df0, sizeof gotf);
                ck_assert_int_eq(adj_vm_force_level(level), level);
                if (acc) {
                    adj_transpose_tile_acc(ADJ_F64, 0.75, got, DLD, sd, SLD, rows, cols);
                    adj_transpose_tile_acc(ADJ_F32, 0.75, gotf, DLD, sf, SLD, rows, cols);
                } else {
                    adj_transpose_tile(8, got, DLD, sd, SLD, rows, cols);
                    adj_transpose_tile(4, gotf, DLD, sf, SLD, rows, cols);
                }
                ck_assert_msg(memcmp(got, want, sizeof got) == 0, "f64 %lldx%lld acc %d level %d",
                              (long long)rows, (long long)cols, acc, level);
                ck_assert_msg(memcmp(gotf, wantf, sizeof gotf) == 0, "f32 %lldx%lld acc %d level %d",
                              (long long)rows, (long long)cols, acc, level);
            }
    adj_vm_force_level(-1);
}
END_TEST

/* exp of a transposed view (the tiled walk: tiles of 256 x 8 with edges)
 * and its backward into the base's adjoint, against plain loops. */
START_TEST(unary_on_transposed_view_matches_plain_loops)
{
    enum { M = 300, N = 37 };
    static float xd[M * N];
    uint64_t s = 3;
    for (int i = 0; i < M * N; i++)
        xd[i] = (float)frand(&s);
    for (int level = 0; level <= adj_vm_max_level(); level++) {
        ck_assert_int_eq(adj_vm_force_level(level), level);
        adj_tape *t = adj_tape_new();
        adj_var *x = adj_tensor_f32(t, 2, ((int64_t[]){M, N}), xd);
        adj_var *y = adj_exp(adj_transpose(x)); /* (N, M) */
        adj_var *L = adj_sum(adj_mul(y, y));    /* dL/dx[i][j] = 2 exp(2 x[i][j]) */
        ck_assert_int_eq(adj_backward(L), ADJ_OK);
        const float *yv = adj_data(y), *g = adj_grad_data(x);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float e = yv[j * M + i];
                ck_assert_msg(fabs(e - exp(xd[i * N + j])) <= 1e-6 * exp(xd[i * N + j]), "y[%d][%d]", j, i);
                float want = (float)(2.0f * e) * e; /* dy = 2y, dx = dy y */
                ck_assert_msg(g[i * N + j] == want, "dx[%d][%d] = %g, expected %g", i, j, g[i * N + j], want);
            }
        adj_tape_free(t);
    }
    adj_vm_force_level(-1);
}
END_TEST

/* ------------------------------------------------------- max_pool2d 2x2 */

/* 2x2 stride 2 on planes with odd sizes (a row and a column no window
 * covers), rows of 11, 18 and 256 windows (vector chunks whole, masked,
 * overlapping, scalar tails), ties and NaNs: y, the place of each maximum
 * (its first maximum, a NaN counting as the maximum) through the
 * gradient, whether x's adjoint is written fresh or added to, and the
 * tangent, against loops, at every level and at 1 and 2 threads.  The
 * second and third shapes' fresh adjoints (over 4 MB in both dtypes,
 * planes not 32-byte aligned) are streamed out plane by plane (the
 * second's through a buffer), and the third's planes are split over the
 * threads. */
START_TEST(max_pool_2x2_matches_plain_loops)
{
    static const int shapes[3][4] = {{2, 3, 7, 23}, {2, 530, 27, 37}, {3, 41, 67, 513}};
    const int N = shapes[_i][0], C = shapes[_i][1], H = shapes[_i][2], W = shapes[_i][3];
    const int HO = H / 2, WO = W / 2;
    double *x = malloc(sizeof(double) * N * C * H * W), *tx = malloc(sizeof(double) * N * C * H * W);
    double *up = malloc(sizeof(double) * N * C * HO * WO);
    uint64_t s = 21;
    for (int i = 0; i < N * C * H * W; i++) {
        x[i] = (double)(float)frand(&s);
        if (i % 5 == 0)
            x[i] = 0.5; /* ties */
        tx[i] = frand(&s);
    }
    x[3 * W + 4] = NAN;         /* plane 0, window (1, 2) */
    x[H * W + 2 * W + 17] = NAN; /* plane 1 */
    for (int i = 0; i < N * C * HO * WO; i++)
        up[i] = (double)(float)frand(&s);
    for (int d = 0; d < 2; d++)
        for (int level = 0; level <= adj_vm_max_level(); level++)
            for (int run = 0; run < 4; run++) {
                const int twice = run & 1;
                adj_set_threads(1 + (run >> 1));
                ck_assert_int_eq(adj_vm_force_level(level), level);
                adj_dtype dt = d ? ADJ_F64 : ADJ_F32;
                adj_tape *t = adj_tape_new();
                adj_var *xv = leaf(t, dt, 4, ((int64_t[]){N, C, H, W}), x);
                const adj_pool2d_opts o = {{2, 2}, {2, 2}, {0, 0}};
                adj_var *y = adj_max_pool2d(xv, &o);
                /* twice: x also feeds a second node, so one adds to the other */
                adj_var *out = twice ? adj_add(adj_sum(adj_scale(xv, 0.0)), adj_sum(adj_mul(y, leaf(t, dt, 4, ((int64_t[]){N, C, HO, WO}), up))))
                                     : y;
                ck_assert_int_eq(twice ? adj_backward(out) : adj_backward_seeded(y, up), ADJ_OK);
                double *yv = malloc(sizeof(double) * N * C * HO * WO);
                double *g = malloc(sizeof(double) * N * C * H * W);
                ck_assert_int_eq(adj_copy_value(y, yv), ADJ_OK);
                ck_assert_int_eq(adj_copy_grad(xv, g), ADJ_OK);
                double *want_g = calloc(N * C * H * W, sizeof(double));
                int *at = malloc(sizeof(int) * N * C * HO * WO);
                int bad_y = -1, bad_g = -1;
                for (int pl = 0; pl < N * C; pl++)
                    for (int i = 0; i < HO; i++)
                        for (int j = 0; j < WO; j++) {
                            int best = -1;
                            double m = 0;
                            for (int a = 0; a < 2; a++)
                                for (int b = 0; b < 2; b++) {
                                    int k = pl * H * W + (2 * i + a) * W + 2 * j + b;
                                    if (best < 0 || (isnan(x[k]) && !isnan(m)) || x[k] > m)
                                        best = k, m = x[k];
                                }
                            int oi = (pl * HO + i) * WO + j;
                            /* one assertion a run (Check logs each that passes) */
                            if (!((isnan(m) && isnan(yv[oi])) || yv[oi] == m) && bad_y < 0)
                                bad_y = oi;
                            want_g[best] += up[oi];
                            at[oi] = best;
                        }
                ck_assert_msg(bad_y < 0, "%s level %d run %d: y[%d]", d ? "f64" : "f32", level, run, bad_y);
                for (int k = 0; k < N * C * H * W && bad_g < 0; k++)
                    if (g[k] != want_g[k])
                        bad_g = k;
                ck_assert_msg(bad_g < 0, "%s level %d run %d: dx[%d] = %g, expected %g",
                              d ? "f64" : "f32", level, run, bad_g, bad_g < 0 ? 0.0 : g[bad_g],
                              bad_g < 0 ? 0.0 : want_g[bad_g]);
                if (!twice) {
                    /* the tangent reads each window's maximum back */
                    adj_tape *t2 = adj_tape_new();
                    adj_var *x2 = leaf(t2, dt, 4, ((int64_t[]){N, C, H, W}), x);
                    adj_var *y2 = adj_max_pool2d(x2, &o);
                    double *ty = malloc(sizeof(double) * N * C * HO * WO);
                    ck_assert_int_eq(adj_jvp(y2, 1, (adj_var *[]){x2}, (const double *[]){tx}, ty), ADJ_OK);
                    int bad_t = -1;
                    for (int oi = 0; oi < N * C * HO * WO && bad_t < 0; oi++)
                        if (ty[oi] != (d ? tx[at[oi]] : (double)(float)tx[at[oi]]))
                            bad_t = oi;
                    ck_assert_msg(bad_t < 0, "tangent %d level %d run %d", bad_t, level, run);
                    free(ty);
                    adj_tape_free(t2);
                }
                free(yv), free(g), free(want_g), free(at);
                adj_tape_free(t);
            }
    adj_vm_force_level(-1);
    adj_set_threads(1);
    free(x), free(tx), free(up);
}
END_TEST

/* ---------------------------------------------------------------- arena */

/* Steps of 4 MB and of 64 KB alternating, then a larger one: after the
 * first steps no allocator call, and the bytes kept stay within twice the
 * high-water mark (reset keeps big blocks, never piles them up). */
START_TEST(arena_keeps_blocks_within_bounds)
{
    test_alloc c = {.countdown = -1};
    adj_allocator al = {test_alloc_alloc, test_alloc_free, &c};
    adj_tape *t = adj_tape_new_with(&al);
    size_t calls_at = 0;
    for (int it = 0; it < 60; it++) {
        int64_t rows = it % 2 ? 8 : 1024;
        if (it == 40)
            rows = 4096;
        adj_var *x = adj_tensor_f32(t, 2, ((int64_t[]){rows, 256}), NULL);
        adj_var *y = adj_layer_norm(adj_exp(x), 1, NULL, NULL, 1e-5);
        ck_assert_int_eq(adj_backward(adj_sum(y)), ADJ_OK);
        adj_tape_stats st;
        adj_tape_get_stats(t, &st);
        ck_assert_uint_le(st.bytes_reserved, 2 * st.high_water + (1u << 20));
        adj_tape_reset(t);
        if (it == 10 || it == 45)
            calls_at = c.calls;
        if (it == 39 || it == 59)
            ck_assert_uint_eq(c.calls, calls_at);
    }
    adj_tape_free(t);
    ck_assert_uint_eq(c.calls, c.frees);
    ck_assert_uint_eq(c.live, 0);
}
END_TEST


/* ------------------------------------------------------- scalar recording */

/* x and y alike: equal, or both NaN */
static int same_num(double x, double y) { return x == y || (isnan(x) && isnan(y)); }

/* One public elementwise function on f64 0-D operands (the scalar path of
 * core/scalar.h: the node written by the function itself) and on
 * one-element 1-D tensors (the general path: shape rule, kernel, sweep):
 * the same value and the same adjoints.  nb: 1 or 2 inputs. */
static void scalar_path_agrees(const char *name, adj_var *(*f1)(adj_var *),
                               adj_var *(*f2)(adj_var *, adj_var *), double a, double b)
{
    adj_tape *t = adj_tape_new();
    const int64_t one[1] = {1};
    adj_var *sa = adj_scalar(t, a), *sb = adj_scalar(t, b);
    adj_var *ta = adj_tensor_f64(t, 1, one, &a), *tb = adj_tensor_f64(t, 1, one, &b);
    size_t id0 = adj_var_id(tb);
    adj_var *sy = f1 ? f1(sa) : f2(sa, sb);
    adj_var *ty = f1 ? f1(ta) : f2(ta, tb);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_uint_eq(adj_var_id(sy), id0 + 1);
    ck_assert_uint_eq(adj_var_id(ty), id0 + 2);
    ck_assert_int_eq(adj_ndim(sy), 0);
    ck_assert_int_eq(adj_requires_grad(sy), 1);
    ck_assert_msg(same_num(adj_item(sy), adj_item(ty)), "%s(%g, %g): scalar %.17g, tensor %.17g",
                  name, a, b, adj_item(sy), adj_item(ty));
    const double seed = 1.0;
    ck_assert_int_eq(adj_backward(sy), ADJ_OK);
    ck_assert_int_eq(adj_backward_seeded(ty, &seed), ADJ_OK);
    ck_assert_msg(same_num(adj_grad_item(sa), adj_grad_at(ta, 0)),
                  "%s(%g, %g): da scalar %.17g, tensor %.17g", name, a, b, adj_grad_item(sa),
                  adj_grad_at(ta, 0));
    if (f2)
        ck_assert_msg(same_num(adj_grad_item(sb), adj_grad_at(tb, 0)),
                      "%s(%g, %g): db scalar %.17g, tensor %.17g", name, a, b, adj_grad_item(sb),
                      adj_grad_at(tb, 0));
    adj_tape_free(t);
}

START_TEST(scalar_recording_matches_general_path)
{
    static const struct { const char *name; adj_var *(*f)(adj_var *); } un[] = {
        {"sigmoid", adj_sigmoid}, {"tanh", adj_tanh}, {"relu", adj_relu},
        {"softplus", adj_softplus}, {"gelu", adj_gelu}, {"gelu_tanh", adj_gelu_tanh},
        {"silu", adj_silu}, {"exp", adj_exp}, {"log", adj_log}, {"sqrt", adj_sqrt},
        {"square", adj_square}, {"abs", adj_abs}, {"sin", adj_sin}, {"cos", adj_cos},
        {"neg", adj_neg},
    };
    static const struct { const char *name; adj_var *(*f)(adj_var *, adj_var *); } bin[] = {
        {"add", adj_add}, {"sub", adj_sub}, {"mul", adj_mul}, {"div", adj_div},
        {"maximum", adj_maximum}, {"minimum", adj_minimum},
    };
    static const double xs[] = {0.3, -0.8, 1.7, 4.0, -25.0, 0.0, NAN};
    static const double pairs[][2] = {{0.7, -1.3}, {2.0, 0.5}, {-0.25, 3.0}, {1.5, 1.5},
                                      {4.0, 0.0}, {NAN, 1.0}};
    for (size_t i = 0; i < sizeof un / sizeof un[0]; i++)
        for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++)
            scalar_path_agrees(un[i].name, un[i].f, NULL, xs[k], 0.0);
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++)
        for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
            scalar_path_agrees(bin[i].name, NULL, bin[i].f, pairs[k][0], pairs[k][1]);

    /* anomaly mode checks a scalar node's value; a stale or foreign input
     * is reported by the general path with the op's name */
    adj_tape *t = adj_tape_new(), *u = adj_tape_new();
    adj_tape_set_anomaly(t, 1);
    adj_log(adj_scalar(t, -1.0));
    ck_assert_int_eq(adj_tape_status(t), ADJ_ENUMERIC);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_log"));
    adj_tape_set_anomaly(t, 0);
    adj_tape_reset(t);
    adj_var *x = adj_scalar(t, 2.0), *v = adj_scalar(u, 3.0);
    adj_mul(x, v);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ETAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_mul"));
    adj_tape_reset(t);
    adj_tanh(x);
    ck_assert_int_eq(adj_tape_status(t), ADJ_ETAPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_tanh"));
    adj_tape_free(u);
    adj_tape_free(t);
}
END_TEST

/* A leaf read in place (adj_tensor_view) and a seed in y's dtype
 * (adj_backward_seeded_as) give the same adjoints as a copied leaf and a
 * double seed holding the same values; dx of 2 x is 2 seed exactly. */
START_TEST(view_leaf_and_typed_seed)
{
    enum { R = 3, K = 37, N = R * K };
    float x[N], sf[N];
    double sd[N], wd[K];
    uint64_t s = 9;
    for (int i = 0; i < N; i++) {
        x[i] = (float)(1.5 + frand(&s));
        sf[i] = (float)frand(&s);
        sd[i] = sf[i];
    }
    for (int j = 0; j < K; j++)
        wd[j] = 1.0 + 0.25 * frand(&s);
    float x0[N];
    memcpy(x0, x, sizeof x);
    const int64_t sh[2] = {R, K}, sk[1] = {K};
    float got[2][N];
    for (int path = 0; path < 2; path++) {
        adj_tape *t = adj_tape_new();
        adj_var *xv = path ? adj_tensor_view(t, ADJ_F32, 2, sh, x) : adj_tensor_f32(t, 2, sh, x);
        if (path)
            ck_assert_ptr_eq(adj_data(xv), x); /* read in place */
        adj_var *y = adj_layer_norm(xv, 1, leaf(t, ADJ_F32, 1, sk, wd), NULL, 1e-5);
        for (int sweep = 0; sweep < 2; sweep++) { /* the second adds to a zeroed buffer */
            ck_assert_int_eq(path ? adj_backward_seeded_as(y, ADJ_F32, sf) : adj_backward_seeded(y, sd),
                             ADJ_OK);
            memcpy(got[path], adj_grad_data(xv), sizeof got[path]);
            if (sweep)
                for (int i = 0; i < N; i++)
                    ck_assert_float_eq(got[path][i], ((const float *)adj_grad_data(xv))[i]);
        }
        adj_var *z = adj_scale(xv, 2.0);
        ck_assert_int_eq(adj_backward_seeded_as(z, ADJ_F32, sf), ADJ_OK);
        for (int i = 0; i < N; i++)
            ck_assert_float_eq(((const float *)adj_grad_data(xv))[i], 2.0f * sf[i]);
        ck_assert_int_eq(adj_backward_seeded_as(z, ADJ_F64, sd), ADJ_OK); /* converted */
        ck_assert_float_eq(((const float *)adj_grad_data(xv))[4], 2.0f * sf[4]);
        adj_tape_free(t);
    }
    ck_assert_int_eq(memcmp(got[0], got[1], sizeof got[0]), 0);
    for (int i = 0; i < N; i++) /* x untouched by the sweeps */
        ck_assert_float_eq(x[i], x0[i]);

    /* refusals: a float seed for a double y, an i32 leaf wanting a gradient, NULL data */
    adj_tape *t = adj_tape_new();
    adj_var *y = adj_scale(adj_tensor_f64(t, 1, sk, wd), 3.0);
    ck_assert_int_eq(adj_backward_seeded_as(y, ADJ_F32, sf), ADJ_EDTYPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_backward_seeded_as"));
    adj_tape_reset(t);
    adj_tensor_view(t, ADJ_I32, 1, sk, x);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EDTYPE);
    ck_assert_ptr_nonnull(strstr(adj_tape_message(t), "adj_tensor_view"));
    adj_tape_reset(t);
    adj_tensor_view(t, ADJ_F32, 1, sk, NULL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_EINVAL);
    adj_tape_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fastpaths");
    TCase *tc = tcase_create("fastpaths");
    tcase_add_test(tc, row_norms_match_reference_at_every_level);
    tcase_add_test(tc, written_adjoints_still_accumulate);
    tcase_add_test(tc, binary_kernels_match_plain_loops);
    tcase_add_test(tc, bias_add_adjoints_accumulate);
    tcase_add_test(tc, float_bias_adjoint_blocks);
    tcase_add_test(tc, seed_view_is_read_in_place);
    tcase_add_test(tc, tile_transposes_match_plain_loops);
    tcase_add_test(tc, unary_on_transposed_view_matches_plain_loops);
    tcase_add_loop_test(tc, max_pool_2x2_matches_plain_loops, 0, 3);
    tcase_add_test(tc, arena_keeps_blocks_within_bounds);
    tcase_add_test(tc, view_leaf_and_typed_seed);
    tcase_add_test(tc, scalar_recording_matches_general_path);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
