/*
 * The batched product (adj_matmul on operands that are not both 2-D)
 * against loops written here: values and both adjoints for shapes whose
 * products go to BLIS and are spread over the pool, operands given as
 * views of every kind (transposed, step-sliced, reversed, expanded), the
 * same bits at 1 and 2 threads, NumPy's 1-D rules, and exact small cases.
 * The op-table checks (test_ops.c) cover small shapes with finite
 * differences and forward mode.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(adj_rng *r, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = adj_rng_uniform_range(r, -1.0, 1.0);
}

/* Element offset of batch digits idx (over the result's nb batch dims)
 * in an operand of nbx batch dims bshape, row-major, broadcast dims read
 * at 0. */
static size_t bat(int nb, const int64_t *idx, int nbx, const int64_t *bshape)
{
    size_t off = 0;
    for (int e = 0; e < nbx; e++) {
        int d = e + nb - nbx;
        off = off * (size_t)bshape[e] + (bshape[e] == 1 ? 0 : (size_t)idx[d]);
    }
    return off;
}

/*
 * a (na dims: batch..., m, k) and b (batch..., k, n), both at least 2-D,
 * row-major: C, and for L = sum(C * R), dA and dB, by loops in double.
 */
typedef struct ref {
    int nb;
    int64_t bshape[8];
    size_t nbatch, m, n, k;
} ref;

static void ref_plan(ref *p, int na, const int64_t *as, int nbd, const int64_t *bs)
{
    int ba = na - 2, bb = nbd - 2;
    p->nb = ba > bb ? ba : bb;
    p->nbatch = 1;
    for (int d = 0; d < p->nb; d++) {
        int ea = d - (p->nb - ba), eb = d - (p->nb - bb);
        int64_t sa = ea >= 0 ? as[ea] : 1, sb = eb >= 0 ? bs[eb] : 1;
        p->bshape[d] = sa == 1 ? sb : sa;
        p->nbatch *= (size_t)p->bshape[d];
    }
    p->m = (size_t)as[na - 2];
    p->k = (size_t)as[na - 1];
    p->n = (size_t)bs[nbd - 1];
}

static void ref_run(const ref *p, int na, const int64_t *as, int nbd, const int64_t *bs,
                    const double *a, const double *b, const double *r, double *c, double *da,
                    double *db)
{
    size_t m = p->m, n = p->n, k = p->k;
    for (size_t i = 0; i < p->nbatch; i++) {
        int64_t idx[8];
        size_t q = i;
        for (int d = p->nb - 1; d >= 0; d--) {
            idx[d] = (int64_t)(q % (size_t)p->bshape[d]);
            q /= (size_t)p->bshape[d];
        }
        const size_t oa = bat(p->nb, idx, na - 2, as) * m * k;
        const size_t ob = bat(p->nb, idx, nbd - 2, bs) * k * n;
        for (size_t x = 0; x < m; x++)
            for (size_t y = 0; y < n; y++) {
                double s = 0, w = r[i * m * n + x * n + y];
                for (size_t z = 0; z < k; z++) {
                    s += a[oa + x * k + z] * b[ob + z * n + y];
                    da[oa + x * k + z] += w * b[ob + z * n + y];
                    db[ob + z * n + y] += a[oa + x * k + z] * w;
                }
                c[i * m * n + x * n + y] = s;
            }
    }
}

static size_t numel(int nd, const int64_t *s)
{
    size_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= (size_t)s[d];
    return n;
}

static void close_to(const char *what, const double *got, const double *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])), "%s[%zu]: %.17g vs %.17g",
                      what, i, got[i], want[i]);
}

/* How operand a or b is handed to adj_matmul: as it is, or as a view of
 * another leaf holding the same values. */
enum { PLAIN, TRANSPOSED, STEPPED, REVERSED, NFEED };
static const char *const feed_name[] = {"plain", "transposed", "step-sliced", "reversed"};

/*
 * A var with the values v of shape (nd, s) fed as `how`, and the leaf that
 * takes the gradient.  TRANSPOSED stores the last two axes swapped and
 * transposes them back; STEPPED stores every other element of the last
 * axis; REVERSED stores the last axis backwards and flips it (a
 * negative stride, which the product gathers).
 */
static adj_var *feed(adj_tape *t, int how, int nd, const int64_t *s, const double *v, adj_var **leaf,
                     double **store)
{
    size_t n = numel(nd, s), rows = (size_t)s[nd - 2], cols = (size_t)s[nd - 1];
    size_t mats = n / (rows * cols);
    int64_t st[8];
    memcpy(st, s, (size_t)nd * sizeof *s);
    double *w = malloc((2 * n + 1) * sizeof *w);
    ck_assert_ptr_nonnull(w);
    *store = w;
    switch (how) {
    case TRANSPOSED:
        st[nd - 2] = s[nd - 1], st[nd - 1] = s[nd - 2];
        for (size_t q = 0; q < mats; q++)
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++)
                    w[q * rows * cols + j * rows + i] = v[q * rows * cols + i * cols + j];
        *leaf = adj_tensor_f64(t, nd, st, w);
        return adj_transpose_axes(*leaf, -1, -2);
    case STEPPED:
        st[nd - 1] = 2 * s[nd - 1];
        for (size_t i = 0; i < n; i++)
            w[2 * i] = v[i], w[2 * i + 1] = 99.0;
        *leaf = adj_tensor_f64(t, nd, st, w);
        return adj_slice(*leaf, -1, 0, INT64_MAX, 2);
    case REVERSED:
        for (size_t i = 0; i < n / cols; i++)
            for (size_t j = 0; j < cols; j++)
                w[i * cols + j] = v[i * cols + cols - 1 - j];
        *leaf = adj_tensor_f64(t, nd, st, w);
        return adj_slice(*leaf, -1, -1, INT64_MIN, -1);
    default:
        memcpy(w, v, n * sizeof *w);
        *leaf = adj_tensor_f64(t, nd, st, w);
        return *leaf;
    }
}

/* The gradient of the leaf fed as `how`, back in the operand's layout. */
static void unfeed_grad(int how, int nd, const int64_t *s, adj_var *leaf, double *g)
{
    size_t n = numel(nd, s), rows = (size_t)s[nd - 2], cols = (size_t)s[nd - 1];
    size_t mats = n / (rows * cols);
    double *raw = malloc((2 * n + 1) * sizeof *raw);
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(adj_copy_grad(leaf, raw), ADJ_OK);
    for (size_t q = 0; q < mats; q++)
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) {
                size_t o = q * rows * cols + i * cols + j;
                g[o] = how == TRANSPOSED ? raw[q * rows * cols + j * rows + i]
                       : how == STEPPED  ? raw[2 * o]
                       : how == REVERSED ? raw[q * rows * cols + i * cols + cols - 1 - j]
                                         : raw[o];
            }
    free(raw);
}

typedef struct shapes {
    int na, nb;
    int64_t a[4], b[4];
} shapes;

static const shapes big[] = {
    {3, 3, {6, 20, 30}, {6, 30, 25}},          /* BLIS, several tasks */
    {4, 3, {3, 1, 20, 30}, {4, 30, 25}},       /* (B,1,T,D) x (H,D,S) */
    {2, 3, {20, 30}, {5, 30, 25}},             /* (T,D) x (B,D,E) */
    {4, 4, {2, 4, 64, 32}, {2, 4, 32, 64}},    /* attention's q k^T, pool-split */
    {3, 2, {3, 7, 5}, {5, 6}},                 /* small loop products */
    {3, 3, {1, 70, 80}, {1, 80, 60}},          /* one product: adj_gemm */
    {3, 2, {4, 50, 64}, {64, 40}},             /* batches folded into rows: one product */
};

/* values and both adjoints of every shape, each operand fed every way,
 * at 1 and 2 threads */
START_TEST(batched_against_loops)
{
    const shapes *sh = &big[_i];
    ref p;
    ref_plan(&p, sh->na, sh->a, sh->nb, sh->b);
    size_t na = numel(sh->na, sh->a), nb = numel(sh->nb, sh->b), nc = p.nbatch * p.m * p.n;
    double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *r = malloc(nc * sizeof *r);
    double *c = malloc(nc * sizeof *c), *da = calloc(na, sizeof *da), *db = calloc(nb, sizeof *db);
    double *got = malloc((nc + na + nb) * sizeof *got);
    ck_assert(a && b && r && c && da && db && got);
    adj_rng g;
    adj_rng_seed(&g, 7u + (unsigned)_i);
    fill(&g, a, na);
    fill(&g, b, nb);
    fill(&g, r, nc);
    ref_run(&p, sh->na, sh->a, sh->nb, sh->b, a, b, r, c, da, db);
    for (int threads = 1; threads <= 2; threads++)
        for (int fa = 0; fa < NFEED; fa++)
            for (int fb = 0; fb < NFEED; fb++) {
                if (fa != PLAIN && fb != PLAIN && fa != fb)
                    continue;
                adj_set_threads(threads);
                adj_tape *t = adj_tape_new();
                adj_var *la, *lb;
                double *sa, *sb;
                adj_var *A = feed(t, fa, sh->na, sh->a, a, &la, &sa);
                adj_var *B = feed(t, fb, sh->nb, sh->b, b, &lb, &sb);
                adj_var *C = adj_matmul(A, B);
                ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
                ck_assert_uint_eq(adj_numel(C), nc);
                ck_assert_int_eq(adj_copy_value(C, got), ADJ_OK);
                close_to(feed_name[fa], got, c, nc, 1e-12);
                ck_assert_int_eq(adj_backward_seeded(C, r), ADJ_OK);
                unfeed_grad(fa, sh->na, sh->a, la, got);
                close_to("dA", got, da, na, 1e-12);
                unfeed_grad(fb, sh->nb, sh->b, lb, got);
                close_to("dB", got, db, nb, 1e-12);
                adj_tape_free(t);
                free(sa);
                free(sb);
            }
    adj_set_threads(1);
    free(a), free(b), free(r), free(c), free(da), free(db), free(got);
}
END_TEST

/* (32,64,64) x (32,64,64) and its adjoints: the same bits at 1, 2 and 3
 * threads (each batch is one product on one thread) */
START_TEST(bits_do_not_depend_on_threads)
{
    int64_t s[3] = {32, 64, 64};
    size_t n = 32 * 64 * 64;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *r = malloc(n * sizeof *r);
    double *out[3];
    adj_rng g;
    adj_rng_seed(&g, 3);
    fill(&g, a, n);
    fill(&g, b, n);
    fill(&g, r, n);
    for (int th = 1; th <= 3; th++) {
        adj_set_threads(th);
        adj_tape *t = adj_tape_new();
        adj_var *A = adj_tensor_f64(t, 3, s, a), *B = adj_tensor_f64(t, 3, s, b);
        adj_var *C = adj_matmul(A, adj_transpose_axes(B, 1, 2));
        out[th - 1] = malloc(3 * n * sizeof(double));
        ck_assert_int_eq(adj_copy_value(C, out[th - 1]), ADJ_OK);
        ck_assert_int_eq(adj_backward_seeded(C, r), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(A, out[th - 1] + n), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(B, out[th - 1] + 2 * n), ADJ_OK);
        adj_tape_free(t);
    }
    adj_set_threads(1);
    ck_assert(memcmp(out[0], out[1], 3 * n * sizeof(double)) == 0);
    ck_assert(memcmp(out[0], out[2], 3 * n * sizeof(double)) == 0);
    for (int th = 0; th < 3; th++)
        free(out[th]);
    free(a), free(b), free(r);
}
END_TEST

/* NumPy's 1-D rules, with values worked out by hand */
START_TEST(one_dimensional_operands)
{
    adj_tape *t = adj_tape_new();
    adj_var *u = adj_tensor_f64(t, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    adj_var *v = adj_tensor_f64(t, 1, (int64_t[]){3}, (double[]){4, -5, 6});
    adj_var *m = adj_tensor_f64(t, 2, (int64_t[]){3, 2}, (double[]){1, 0, 0, 1, 2, -1});
    adj_var *bt = adj_tensor_f64(t, 3, (int64_t[]){2, 3, 1}, (double[]){1, 1, 1, 2, 0, -1});
    adj_var *dot = adj_matmul(u, v);           /* 4 - 10 + 18 */
    adj_var *um = adj_matmul(u, m);            /* (3) x (3,2) -> (2): (1+6, 2-3) */
    adj_var *mu = adj_matmul(adj_transpose(m), v); /* (2,3) x (3) -> (2): (4+12, -5-6) */
    adj_var *ub = adj_matmul(u, bt);           /* (3) x (2,3,1) -> (2,1): 6, -1 */
    ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
    ck_assert_int_eq(adj_ndim(dot), 0);
    ck_assert_double_eq(adj_item(dot), 12);
    ck_assert_int_eq(adj_ndim(um), 1);
    ck_assert_int_eq(adj_dim(um, 0), 2);
    ck_assert_double_eq(adj_value_at(um, 0), 7);
    ck_assert_double_eq(adj_value_at(um, 1), -1);
    ck_assert_int_eq(adj_ndim(mu), 1);
    ck_assert_double_eq(adj_value_at(mu, 0), 16);
    ck_assert_double_eq(adj_value_at(mu, 1), -11);
    ck_assert_int_eq(adj_ndim(ub), 2);
    ck_assert_int_eq(adj_dim(ub, 0), 2);
    ck_assert_int_eq(adj_dim(ub, 1), 1);
    ck_assert_double_eq(adj_value_at(ub, 0), 6);
    ck_assert_double_eq(adj_value_at(ub, 1), -1);
    /* d(u.v)/du = v; d(sum ub)/du = sum over the batch of bt's columns (3, 1, 0) */
    ck_assert_int_eq(adj_backward(adj_add(dot, adj_sum(ub))), ADJ_OK);
    ck_assert_double_eq(adj_grad_at(u, 0), 4 + 3);
    ck_assert_double_eq(adj_grad_at(u, 1), -5 + 1);
    ck_assert_double_eq(adj_grad_at(u, 2), 6 + 0);
    ck_assert_double_eq(adj_grad_at(bt, 0), 1);
    ck_assert_double_eq(adj_grad_at(bt, 5), 3);
    adj_tape_free(t);
}
END_TEST

/* an operand expanded (stride 0 along a batch and in its matrix) is
 * gathered; its adjoint sums back through the expand */
START_TEST(expanded_operand)
{
    adj_tape *t = adj_tape_new();
    adj_var *row = adj_tensor_f64(t, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    adj_var *A = adj_expand(row, 3, ((int64_t[]){2, 4, 3})); /* every row (1,2,3) */
    adj_var *B = adj_tensor_f64(t, 2, (int64_t[]){3, 1}, (double[]){1, 10, 100});
    adj_var *C = adj_matmul(A, B); /* (2,4,1): 321 each */
    ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
    for (size_t i = 0; i < 8; i++)
        ck_assert_double_eq(adj_value_at(C, i), 321);
    ck_assert_int_eq(adj_backward(adj_sum(C)), ADJ_OK);
    /* dB = sum over 8 rows of A^T 1; d row = 8 B^T */
    ck_assert_double_eq(adj_grad_at(B, 0), 8);
    ck_assert_double_eq(adj_grad_at(B, 2), 24);
    ck_assert_double_eq(adj_grad_at(row, 1), 80);
    adj_tape_free(t);
}
END_TEST

/* h(A, B) = sum(S * 2 (A B) B^T) by forward ops only (the graph-mode
 * gradient of L = sum((A B)^2) in A, contracted with S) */
static double h_forward(int na, const int64_t *as, const double *a, int nb, const int64_t *bs,
                        const double *b, const double *sv)
{
    adj_tape *t = adj_tape_new();
    adj_var *A = adj_constant_f64(t, na, as, a), *B = adj_constant_f64(t, nb, bs, b);
    adj_var *G = adj_matmul(adj_matmul(A, B), adj_transpose_axes(B, -1, -2));
    adj_var *S = adj_constant_f64(t, na, as, sv);
    double h = 2 * adj_item(adj_sum(adj_mul(G, S)));
    ck_assert_msg(adj_tape_status(t) == ADJ_OK, "%s", adj_tape_message(t));
    adj_tape_free(t);
    return h;
}

/* Graph mode (create_graph): the first-order gradients equal the numeric
 * backward's, and the second order (d/dB of sum(S * dL/dA)) equals central
 * differences of that expression computed by forward ops */
START_TEST(double_backward)
{
    static const shapes cases2[] = {
        {3, 3, {2, 3, 4}, {2, 4, 2}},
        {4, 4, {2, 2, 3, 2}, {2, 2, 2, 3}},
        {4, 3, {2, 1, 3, 4}, {3, 4, 2}}, /* broadcast on both sides: summed back */
        {3, 2, {2, 3, 4}, {4, 2}},       /* folded into one product */
    };
    const adj_backward_opts graph = {.create_graph = 1};
    for (size_t c = 0; c < sizeof cases2 / sizeof cases2[0]; c++) {
        const shapes *sh = &cases2[c];
        size_t na = numel(sh->na, sh->a), nb = numel(sh->nb, sh->b);
        double a[64], b[64], sv[64], ga[64], gb[64], hb[64];
        adj_rng g;
        adj_rng_seed(&g, 5u + (unsigned)c);
        fill(&g, a, na);
        fill(&g, b, nb);
        fill(&g, sv, na);
        adj_tape *t = adj_tape_new();
        adj_var *A = adj_tensor_f64(t, sh->na, sh->a, a), *B = adj_tensor_f64(t, sh->nb, sh->b, b);
        adj_var *L = adj_sum(adj_square(adj_matmul(A, B)));
        ck_assert_int_eq(adj_backward(L), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(A, ga), ADJ_OK);
        ck_assert_int_eq(adj_copy_grad(B, gb), ADJ_OK);
        adj_var *ab[2] = {A, B}, *d[2], *dd[2];
        ck_assert_int_eq(adj_grad(L, 2, ab, d, &graph), ADJ_OK);
        for (size_t i = 0; i < na; i++)
            ck_assert_double_eq_tol(adj_value_at(d[0], i), ga[i], 1e-12);
        for (size_t i = 0; i < nb; i++)
            ck_assert_double_eq_tol(adj_value_at(d[1], i), gb[i], 1e-12);
        adj_var *h = adj_sum(adj_mul(d[0], adj_constant_f64(t, sh->na, sh->a, sv)));
        ck_assert_msg(adj_grad(h, 2, ab, dd, &graph) == ADJ_OK, "%s", adj_tape_message(t));
        ck_assert_int_eq(adj_copy_value(dd[1], hb), ADJ_OK);
        for (size_t j = 0; j < nb; j++) {
            const double eps = 1e-5, b0 = b[j];
            b[j] = b0 + eps;
            double hp = h_forward(sh->na, sh->a, a, sh->nb, sh->b, b, sv);
            b[j] = b0 - eps;
            double hm = h_forward(sh->na, sh->a, a, sh->nb, sh->b, b, sv);
            b[j] = b0;
            ck_assert_msg(fabs(hb[j] - (hp - hm) / (2 * eps)) <= 1e-7 * (1 + fabs(hb[j])),
                          "case %zu: d2 [%zu] %.12g vs %.12g", c, j, hb[j], (hp - hm) / (2 * eps));
        }
        adj_tape_free(t);
    }
}
END_TEST

static Suite *bmm_suite(void)
{
    Suite *s = suite_create("bmm");
    TCase *tc = tcase_create("batched");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, batched_against_loops, 0, (int)(sizeof big / sizeof big[0]));
    tcase_add_test(tc, bits_do_not_depend_on_threads);
    tcase_add_test(tc, one_dimensional_operands);
    tcase_add_test(tc, expanded_operand);
    tcase_add_test(tc, double_backward);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(bmm_suite)
