/*
 * The recurrent cell ops (adj_lstm_cell, adj_gru_cell) against plain loops
 * in double written here from the formulas: values and the adjoints of
 * every input under a weighted sum, float and double, batch and hidden
 * sizes that leave partial vectors (odd, 1, and wide enough for the
 * 512-bit code), 1 and 2 threads, with the same bits for both thread
 * counts; the last two sizes are large enough for the passes to be split
 * over two threads, at a range edge inside a row.  Inputs that take no
 * adjoint (constants) leave the others' unchanged.  Inputs that already
 * hold an adjoint when the cell's backward runs (they feed a sum recorded
 * after the cell) get the cell's added to it; the others' are stored.  Finite differences and the tangent rule are checked by the
 * op-table suites.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int SIZES[][2] = {{5, 3}, {4, 67}, {1, 1}, {3, 130}, {37, 67}, {17, 130}};
enum { NSIZES = sizeof SIZES / sizeof SIZES[0], MAXN = 4 * 37 * 67 };

static double sg(double v) { return 1 / (1 + exp(-v)); }
static double val(int i, double k) { return 3 * sin(k * i + 0.4); }

/* y's weights in the loss sum(y w) */
static double wt(int i) { return cos(0.37 * i + 1.1); }

typedef struct result {
    double y[MAXN], g[3][MAXN];
} result;

/* The op on a fresh tape: values and the inputs' adjoints (as doubles);
 * raw copies of the same (in the dtype) go to bits for the thread check.
 * Input k is a constant where bit k of consts is set (no adjoint); where
 * bit k of later is set, sum(input k) is added to the loss after the cell,
 * so its adjoint holds ones before the cell's backward (1 is taken off
 * again in r). */
static void run_op(int gru, adj_dtype dt, int B, int H, unsigned consts, unsigned later,
                   result *r, unsigned char *bits, size_t *nbits)
{
    adj_tape *t = adj_tape_new();
    int G = gru ? 3 : 4, nin = gru ? 3 : 2;
    int64_t shp[3][2] = {{B, G * H}, {B, gru ? G * H : H}, {B, H}};
    adj_var *in[3];
    static double buf[MAXN];
    for (int k = 0; k < nin; k++) {
        int n = (int)(shp[k][0] * shp[k][1]);
        for (int i = 0; i < n; i++)
            buf[i] = val(i, 0.61 + 0.17 * k);
        const int cst = (consts >> k) & 1;
        if (dt == ADJ_F64) {
            in[k] = cst ? adj_constant_f64(t, 2, shp[k], buf) : adj_tensor_f64(t, 2, shp[k], buf);
        } else {
            static float fb[MAXN];
            for (int i = 0; i < n; i++)
                fb[i] = (float)buf[i];
            in[k] = cst ? adj_constant_f32(t, 2, shp[k], fb) : adj_tensor_f32(t, 2, shp[k], fb);
        }
    }
    adj_var *y = gru ? adj_gru_cell(in[0], in[1], in[2]) : adj_lstm_cell(in[0], in[1]);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    int ny = (int)adj_numel(y);
    for (int i = 0; i < ny; i++)
        buf[i] = wt(i);
    int64_t ys[3] = {adj_dim(y, 0), adj_dim(y, 1), gru ? 0 : adj_dim(y, 2)};
    adj_var *w;
    if (dt == ADJ_F64) {
        w = adj_constant_f64(t, adj_ndim(y), ys, buf);
    } else {
        static float fw[MAXN];
        for (int i = 0; i < ny; i++)
            fw[i] = (float)buf[i];
        w = adj_constant_f32(t, adj_ndim(y), ys, fw);
    }
    adj_var *loss = adj_sum(adj_mul(y, w));
    for (int k = 0; k < nin; k++)
        if ((later >> k) & 1)
            loss = adj_add(loss, adj_sum(in[k]));
    ck_assert_int_eq(adj_backward(loss), ADJ_OK);
    size_t es = dt == ADJ_F64 ? 8 : 4, nb = 0;
    for (int i = 0; i < ny; i++)
        r->y[i] = adj_value_at(y, (size_t)i);
    memcpy(bits + nb, adj_data(y), (size_t)ny * es);
    nb += (size_t)ny * es;
    for (int k = 0; k < nin; k++) {
        if ((consts >> k) & 1)
            continue;
        size_t n = adj_numel(in[k]);
        for (size_t i = 0; i < n; i++)
            r->g[k][i] = adj_grad_at(in[k], i) - (double)((later >> k) & 1);
        memcpy(bits + nb, adj_grad_data(in[k]), n * es);
        nb += n * es;
    }
    *nbits = nb;
    adj_tape_free(t);
}

/* The same in plain loops, in double. */
static void reference(int gru, int B, int H, result *r)
{
    memset(r, 0, sizeof *r);
    double a = 0.61, b = 0.78, c = 0.95; /* val's k of each input */
    for (int n = 0; n < B; n++) {
        for (int j = 0; j < H; j++) {
            if (!gru) {
                int z0 = n * 4 * H + j, ci = n * H + j;
                double i = sg(val(z0, a)), f = sg(val(z0 + H, a));
                double g = tanh(val(z0 + 2 * H, a)), o = sg(val(z0 + 3 * H, a));
                double cp = val(ci, b), cn = f * cp + i * g, tc = tanh(cn);
                int hy = n * H + j, cy = (B + n) * H + j;
                r->y[hy] = o * tc;
                r->y[cy] = cn;
                double dh = wt(hy), dcn = wt(cy) + dh * o * (1 - tc * tc);
                r->g[0][z0] = dcn * g * i * (1 - i);
                r->g[0][z0 + H] = dcn * cp * f * (1 - f);
                r->g[0][z0 + 2 * H] = dcn * i * (1 - g * g);
                r->g[0][z0 + 3 * H] = dh * tc * o * (1 - o);
                r->g[1][ci] = dcn * f;
            } else {
                int x0 = n * 3 * H + j, hi = n * H + j;
                double rr = sg(val(x0, a) + val(x0, b)), u = sg(val(x0 + H, a) + val(x0 + H, b));
                double hn = val(x0 + 2 * H, b), nn = tanh(val(x0 + 2 * H, a) + rr * hn);
                double hp = val(hi, c);
                r->y[hi] = (1 - u) * nn + u * hp;
                double dy = wt(hi), dn = dy * (1 - u) * (1 - nn * nn);
                double dr = dn * hn * rr * (1 - rr), du = dy * (hp - nn) * u * (1 - u);
                r->g[0][x0] = r->g[1][x0] = dr;
                r->g[0][x0 + H] = r->g[1][x0 + H] = du;
                r->g[0][x0 + 2 * H] = dn;
                r->g[1][x0 + 2 * H] = dn * rr;
                r->g[2][hi] = dy * u;
            }
        }
    }
}

static void close_all(const double *got, const double *want, int n, double tol, const char *what)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])), "%s[%d]: %.17g, plain loops %.17g",
                      what, i, got[i], want[i]);
}

/* _i: cell (0 LSTM, 1 GRU) x dtype (0 f64, 1 f32) */
START_TEST(cells_match_plain_loops)
{
    int gru = _i / 2;
    adj_dtype dt = _i % 2 ? ADJ_F32 : ADJ_F64;
    double tol = dt == ADJ_F64 ? 1e-13 : 2e-6;
    static result got, want;
    static unsigned char bits[2][8 * 3 * MAXN];
    const unsigned nin = gru ? 3 : 2;
    for (int s = 0; s < NSIZES; s++)
        for (unsigned cl = 0; cl < (1u << nin) * ((1u << nin) - 1); cl++) {
            const unsigned consts = cl >> nin, later = cl & ((1u << nin) - 1);
            int B = SIZES[s][0], H = SIZES[s][1];
            reference(gru, B, H, &want);
            size_t nb[2];
            for (int th = 1; th <= 2; th++) {
                adj_set_threads(th);
                run_op(gru, dt, B, H, consts, later, &got, bits[th - 1], &nb[th - 1]);
                close_all(got.y, want.y, B * H * (gru ? 1 : 2), tol, "y");
                int n[3] = {B * H * (gru ? 3 : 4), B * H * (gru ? 3 : 1), B * H};
                for (unsigned k = 0; k < nin; k++)
                    if (!((consts >> k) & 1))
                        close_all(got.g[k], want.g[k], n[k], tol, "adjoint");
            }
            adj_set_threads(1);
            ck_assert_uint_eq(nb[0], nb[1]);
            ck_assert_msg(memcmp(bits[0], bits[1], nb[0]) == 0,
                          "1 and 2 threads differ (B %d, H %d, constants %u, later %u)", B, H,
                          consts, later);
        }
}
END_TEST

/* adj_gru_cell(a, a, h): one input as both sets of gates.  Its adjoint is
 * the sum of the two that distinct inputs of the same values get (the
 * reference's g[0] + g[1]), f32 and f64, 1 and 2 threads. */
START_TEST(gru_one_input_as_both_gates)
{
    adj_dtype dt = _i ? ADJ_F32 : ADJ_F64;
    double tol = dt == ADJ_F64 ? 1e-13 : 4e-6;
    for (int s = 0; s < NSIZES; s++) {
        int B = SIZES[s][0], H = SIZES[s][1];
        for (int th = 1; th <= 2; th++) {
            adj_set_threads(th);
            adj_tape *t = adj_tape_new();
            int64_t sa[2] = {B, 3 * H}, sh[2] = {B, H};
            static double da[MAXN], dh[MAXN];
            for (int i = 0; i < B * 3 * H; i++)
                da[i] = val(i, 0.61);
            for (int i = 0; i < B * H; i++)
                dh[i] = val(i, 0.95);
            adj_var *a, *h;
            if (dt == ADJ_F64) {
                a = adj_tensor_f64(t, 2, sa, da);
                h = adj_tensor_f64(t, 2, sh, dh);
            } else {
                static float fa[MAXN], fh[MAXN];
                for (int i = 0; i < B * 3 * H; i++)
                    fa[i] = (float)da[i];
                for (int i = 0; i < B * H; i++)
                    fh[i] = (float)dh[i];
                a = adj_tensor_f32(t, 2, sa, fa);
                h = adj_tensor_f32(t, 2, sh, fh);
            }
            adj_var *y = adj_gru_cell(a, a, h);
            ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
            ck_assert_int_eq(adj_backward(adj_sum(y)), ADJ_OK);
            for (int n = 0; n < B; n++)
                for (int j = 0; j < H; j++) {
                    int x0 = n * 3 * H + j;
                    double rr = sg(2 * da[x0]), u = sg(2 * da[x0 + H]);
                    double hn = da[x0 + 2 * H], nn = tanh(hn + rr * hn), hp = dh[n * H + j];
                    double dn = (1 - u) * (1 - nn * nn);
                    double want[3] = {2 * dn * hn * rr * (1 - rr), 2 * (hp - nn) * u * (1 - u),
                                      dn * (1 + rr)};
                    if (dt == ADJ_F32) { /* the float inputs' own values */
                        rr = sg(2 * (double)(float)da[x0]);
                        u = sg(2 * (double)(float)da[x0 + H]);
                        hn = (float)da[x0 + 2 * H];
                        nn = tanh(hn + rr * hn);
                        hp = (float)dh[n * H + j];
                        dn = (1 - u) * (1 - nn * nn);
                        want[0] = 2 * dn * hn * rr * (1 - rr);
                        want[1] = 2 * (hp - nn) * u * (1 - u);
                        want[2] = dn * (1 + rr);
                    }
                    for (int k = 0; k < 3; k++)
                        close_all((double[]){adj_grad_at(a, (size_t)(x0 + k * H))}, &want[k], 1, tol,
                                  "adjoint of the shared gates");
                }
            adj_tape_free(t);
        }
        adj_set_threads(1);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rnn_cell");
    TCase *tc = tcase_create("cells");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, cells_match_plain_loops, 0, 4);
    tcase_add_loop_test(tc, gru_one_input_as_both_gates, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
