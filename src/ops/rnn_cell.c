/*
 * Recurrent cell gates: the elementwise part of one LSTM or GRU step in
 * one pass (adjoint/rnn.h).  The products stay outside (linear); these ops
 * read the gate pre-activations and write the new state, so one step is a
 * few nodes instead of a dozen elementwise ones, each with its own pass
 * over memory forward and backward.
 *
 * Sigmoid from e = e^-|x| (nothing positive is exponentiated), tanh from
 * the vectorised tanh (ops/vmath.h); their derivatives from the outputs,
 * y (1 - y) and (1 - y)(1 + y).  The forward keeps the activated gates
 * (5 H values a row for the LSTM, 3 H for the GRU) for the backward, which
 * then evaluates no exponential.  Rows are independent and each
 * element's arithmetic is fixed: a node of at least 2 x CELL_GRAIN
 * elements splits its rows over the pool, and the results do not depend
 * on the thread count; every CPU level gives the same bits
 * (ops/dispatch.h).
 */
#include "core/pool.h"
#include "ops/dispatch.h"
#include "ops/op.h"
#include "ops/vmath.h"

#include <adjoint/ops.h>
#include <adjoint/rnn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below, e = e^-|x|: one
 * division for both branches (a vector division costs several products) */
static inline float sigm_f(float x)
{
    const float e = ADJ_EXP(-fabsf(x)), q = 1.0f / (1.0f + e);
    return x >= 0 ? q : e * q;
}
static inline double sigm_d(double x)
{
    const double e = ADJ_EXP(-fabs(x)), q = 1.0 / (1.0 + e);
    return x >= 0 ? q : e * q;
}
#define SIGMOID_(T, x) _Generic((T)0, float: sigm_f, default: sigm_d)(x)

static size_t rows_of(const adj_var *y) { return (size_t)adj_cold(y->in[0])->shape[0]; }
static size_t hid_of(const adj_var *y) { return (size_t)adj_cold(y->in[adj_nin(y) - 1])->shape[1]; }

/* ------------------------------------------------------------------ LSTM */

/* One row of each kernel, on restrict-qualified rows (so the loop
 * vectorises), for T = float and double at each CPU level.  The forward
 * keeps each row's activated gates in s (LSTM: i, f, g, o and tanh(c'),
 * 5 H; GRU: r, u, n, 3 H), and the backward reads them there instead of
 * recomputing them: the same values, so the same bits.  The backward
 * comes as two rows: one adds into the inputs' adjoints (_add), one
 * stores into them where they hold nothing yet (_set). */

/* the gates of element j of a row z of four H-column blocks, in i, f, g, o */
#define LSTM_GATES_(T, z, H, j)                                                           \
    const T i = SIGMOID_(T, (z)[j]), f = SIGMOID_(T, (z)[(H) + (j)]);                     \
    const T o = SIGMOID_(T, (z)[3 * (H) + (j)]), g = ADJ_TANH((z)[2 * (H) + (j)])
/* r, u, n of element j from the input's gates x and the state's hh */
#define GRU_GATES_(T, x, hh, H, j)                                                        \
    const T r = SIGMOID_(T, (x)[j] + (hh)[j]), u = SIGMOID_(T, (x)[(H) + (j)] + (hh)[(H) + (j)]); \
    const T n = ADJ_TANH((x)[2 * (H) + (j)] + r * (hh)[2 * (H) + (j)])

/* dc' = dy_c + dh o (1 - tanh^2 c'); dz_i = dc' g i (1 - i),
 * dz_f = dc' c f (1 - f), dz_g = dc' i (1 - g^2), dz_o = dh tanh(c') o (1 - o);
 * dc += dc' f */
#define LSTM_BWD_ROW_(T, name, ATTR, ACC)                                                  \
    ATTR static void name(const T *restrict sr, const T *restrict cr, const T *restrict dh, \
                          const T *restrict dn, T *restrict gzr, T *restrict gcr, size_t H) \
    {                                                                                    \
        for (size_t j = 0; j < H; j++) {                                                 \
            const T i = sr[j], f = sr[H + j], g = sr[2 * H + j], o = sr[3 * H + j];       \
            const T tc = sr[4 * H + j];                                                  \
            const T dcn = dn[j] + dh[j] * o * (((T)1 - tc) * ((T)1 + tc));               \
            gzr[j] ACC dcn * g * (i * ((T)1 - i));                                       \
            gzr[H + j] ACC dcn * cr[j] * (f * ((T)1 - f));                               \
            gzr[2 * H + j] ACC dcn * i * (((T)1 - g) * ((T)1 + g));                      \
            gzr[3 * H + j] ACC dh[j] * tc * (o * ((T)1 - o));                            \
            gcr[j] ACC dcn * f;                                                          \
        }                                                                                \
    }

/* h' = o tanh(c'), c' = f c + i g, with i, f, o = sigmoid and g = tanh of
 * the four H-column blocks of z */
#define LSTM_ROWS_(T, sfx, ATTR)                                                          \
    ATTR static void lstm_fwd_row_##sfx(const T *restrict zr, const T *restrict cr,       \
                                        T *restrict hr, T *restrict nr, T *restrict sr,    \
                                        size_t H)                                         \
    {                                                                                    \
        for (size_t j = 0; j < H; j++) {                                                 \
            LSTM_GATES_(T, zr, H, j);                                                    \
            const T cn = f * cr[j] + i * g, tc = ADJ_TANH(cn);                           \
            nr[j] = cn;                                                                  \
            hr[j] = o * tc;                                                              \
            sr[j] = i;                                                                   \
            sr[H + j] = f;                                                               \
            sr[2 * H + j] = g;                                                           \
            sr[3 * H + j] = o;                                                           \
            sr[4 * H + j] = tc;                                                          \
        }                                                                                \
    }                                                                                    \
    LSTM_BWD_ROW_(T, lstm_bwd_add_row_##sfx, ATTR, +=)                                   \
    LSTM_BWD_ROW_(T, lstm_bwd_set_row_##sfx, ATTR, =)                                    \
    /* tc' = ti g + i tg + tf c + f tc; th = to tanh(c') + o (1 - tanh^2 c') tc'      */ \
    ATTR static void lstm_jvp_row_##sfx(const T *restrict zr, const T *restrict cr,       \
                                        const T *restrict tz, const T *restrict tcr,      \
                                        T *restrict th, T *restrict tn, size_t H)          \
    {                                                                                    \
        for (size_t j = 0; j < H; j++) {                                                 \
            LSTM_GATES_(T, zr, H, j);                                                    \
            const T cn = f * cr[j] + i * g, tcn_ = ADJ_TANH(cn);                         \
            const T ti = i * ((T)1 - i) * tz[j], tf = f * ((T)1 - f) * tz[H + j];        \
            const T tg = ((T)1 - g) * ((T)1 + g) * tz[2 * H + j];                        \
            const T to = o * ((T)1 - o) * tz[3 * H + j];                                 \
            const T dcn = ti * g + i * tg + tf * cr[j] + f * tcr[j];                     \
            tn[j] = dcn;                                                                 \
            th[j] = to * tcn_ + o * (((T)1 - tcn_) * ((T)1 + tcn_)) * dcn;               \
        }                                                                                \
    }

/* dn = dy (1 - u)(1 - n^2) = dx_n, dhh_n = dn r; dr = dn hh_n r (1 - r)
 * = dx_r = dhh_r; du = dy (h - n) u (1 - u) = dx_u = dhh_u; dh += dy u */
#define GRU_BWD_ROW_(T, name, ATTR, ACC)                                                   \
    ATTR static void name(const T *restrict sr, const T *restrict gr, const T *restrict hp, \
                          const T *restrict dy, T *restrict gxr, T *restrict ghr,          \
                          T *restrict gpr, size_t H)                                       \
    {                                                                                    \
        for (size_t j = 0; j < H; j++) {                                                 \
            const T r = sr[j], u = sr[H + j], n = sr[2 * H + j];                         \
            const T dn = dy[j] * ((T)1 - u) * (((T)1 - n) * ((T)1 + n));                 \
            const T dr = dn * gr[2 * H + j] * (r * ((T)1 - r));                          \
            const T du = dy[j] * (hp[j] - n) * (u * ((T)1 - u));                         \
            gxr[j] ACC dr;                                                               \
            gxr[H + j] ACC du;                                                           \
            gxr[2 * H + j] ACC dn;                                                       \
            ghr[j] ACC dr;                                                               \
            ghr[H + j] ACC du;                                                           \
            ghr[2 * H + j] ACC dn * r;                                                   \
            gpr[j] ACC dy[j] * u;                                                        \
        }                                                                                \
    }

/* r = sigmoid(x_r + hh_r), u = sigmoid(x_u + hh_u) (the update gate),
 * n = tanh(x_n + r hh_n), h' = n + u (h - n) = (1 - u) n + u h */
#define GRU_ROWS_(T, sfx, ATTR)                                                           \
    ATTR static void gru_fwd_row_##sfx(const T *restrict xr, const T *restrict gr,        \
                                       const T *restrict hp, T *restrict yr,              \
                                       T *restrict sr, size_t H)                          \
    {                                                                                    \
        for (size_t j = 0; j < H; j++) {                                                 \
            GRU_GATES_(T, xr, gr, H, j);                                                 \
            yr[j] = n + u * (hp[j] - n);                                                 \
            sr[j] = r;                                                                   \
            sr[H + j] = u;                                                               \
            sr[2 * H + j] = n;                                                           \
        }                                                                                \
    }                                                                                    \
    GRU_BWD_ROW_(T, gru_bwd_add_row_##sfx, ATTR, +=)                                     \
    GRU_BWD_ROW_(T, gru_bwd_set_row_##sfx, ATTR, =)                                      \
    ATTR static void gru_jvp_row_##sfx(const T *restrict xr, const T *restrict gr,        \
                                       const T *restrict hp, const T *restrict tx,        \
                                       const T *restrict tg, const T *restrict tp,        \
                                       T *restrict tyr, size_t H)                         \
    {                                                                                    \
        for (size_t j = 0; j < H; j++) {                                                 \
            GRU_GATES_(T, xr, gr, H, j);                                                 \
            const T tr = r * ((T)1 - r) * (tx[j] + tg[j]);                               \
            const T tu = u * ((T)1 - u) * (tx[H + j] + tg[H + j]);                       \
            const T tn = ((T)1 - n) * ((T)1 + n) *                                       \
                         (tx[2 * H + j] + tr * gr[2 * H + j] + r * tg[2 * H + j]);       \
            tyr[j] = tn * ((T)1 - u) + tu * (hp[j] - n) + u * tp[j];                     \
        }                                                                                \
    }

/*
 * The passes over rows [b0, b1) of a node (B rows in all), with its kept
 * gates s.  The backward writes into scratch rows (from the arena, one
 * per row) where an input takes no adjoint, so the loops have no branch
 * and rows on different threads share nothing; it stores (set) or adds.
 */
#define CELL_PASSES_(T, sfx)                                                             \
    static void lstm_fwd_##sfx(const adj_var *y, size_t B, size_t H, size_t b0, size_t b1, \
                               void *s_)                                                 \
    {                                                                                    \
        const T *z = y->in[0]->value, *c = y->in[1]->value;                              \
        T *v = y->value, *s = s_;                                                        \
        for (size_t b = b0; b < b1; b++)                                                 \
            lstm_fwd_row_##sfx(z + b * 4 * H, c + b * H, v + b * H, v + (B + b) * H,      \
                               s + b * 5 * H, H);                                        \
    }                                                                                    \
    static void lstm_bwd_##sfx(const adj_var *y, size_t B, size_t H, size_t b0, size_t b1, \
                               const void *s_, void *const *g, void *scratch_, bool set)  \
    {                                                                                    \
        T *scratch = scratch_;                                                           \
        const T *s = s_, *c = y->in[1]->value, *gy = y->grad;                            \
        T *gz = g[0], *gc = g[1];                                                        \
        for (size_t b = b0; b < b1; b++) {                                               \
            T *gzr = gz ? gz + b * 4 * H : scratch + b * 5 * H;                          \
            T *gcr = gc ? gc + b * H : scratch + b * 5 * H + 4 * H;                      \
            if (set)                                                                     \
                lstm_bwd_set_row_##sfx(s + b * 5 * H, c + b * H, gy + b * H,              \
                                       gy + (B + b) * H, gzr, gcr, H);                   \
            else                                                                         \
                lstm_bwd_add_row_##sfx(s + b * 5 * H, c + b * H, gy + b * H,              \
                                       gy + (B + b) * H, gzr, gcr, H);                   \
        }                                                                                \
    }                                                                                    \
    static void lstm_jvp_##sfx(const adj_var *y, size_t B, size_t H, size_t b0, size_t b1, \
                               const void *const *t, void *ty)                           \
    {                                                                                    \
        const T *z = y->in[0]->value, *c = y->in[1]->value, *tz = t[0], *tc = t[1];      \
        T *o = ty;                                                                       \
        for (size_t b = b0; b < b1; b++)                                                 \
            lstm_jvp_row_##sfx(z + b * 4 * H, c + b * H, tz + b * 4 * H, tc + b * H,      \
                               o + b * H, o + (B + b) * H, H);                           \
    }                                                                                    \
    static void gru_fwd_##sfx(const adj_var *y, size_t B, size_t H, size_t b0, size_t b1,  \
                              void *s_)                                                  \
    {                                                                                    \
        (void)B;                                                                         \
        const T *x = y->in[0]->value, *hh = y->in[1]->value, *h = y->in[2]->value;       \
        T *v = y->value, *s = s_;                                                        \
        for (size_t b = b0; b < b1; b++)                                                 \
            gru_fwd_row_##sfx(x + b * 3 * H, hh + b * 3 * H, h + b * H, v + b * H,        \
                              s + b * 3 * H, H);                                         \
    }                                                                                    \
    static void gru_bwd_##sfx(const adj_var *y, size_t B, size_t H, size_t b0, size_t b1,  \
                              const void *s_, void *const *g, void *scratch_, bool set)   \
    {                                                                                    \
        (void)B;                                                                         \
        T *scratch = scratch_;                                                           \
        const T *s = s_, *hh = y->in[1]->value, *h = y->in[2]->value, *gy = y->grad;     \
        T *gx = g[0], *gh = g[1], *gp = g[2];                                            \
        for (size_t b = b0; b < b1; b++) {                                               \
            T *gxr = gx ? gx + b * 3 * H : scratch + b * 7 * H;                          \
            T *ghr = gh ? gh + b * 3 * H : scratch + b * 7 * H + 3 * H;                  \
            T *gpr = gp ? gp + b * H : scratch + b * 7 * H + 6 * H;                      \
            if (set)                                                                     \
                gru_bwd_set_row_##sfx(s + b * 3 * H, hh + b * 3 * H, h + b * H,           \
                                      gy + b * H, gxr, ghr, gpr, H);                     \
            else                                                                         \
                gru_bwd_add_row_##sfx(s + b * 3 * H, hh + b * 3 * H, h + b * H,           \
                                      gy + b * H, gxr, ghr, gpr, H);                     \
        }                                                                                \
    }                                                                                    \
    static void gru_jvp_##sfx(const adj_var *y, size_t B, size_t H, size_t b0, size_t b1,  \
                              const void *const *t, void *ty)                            \
    {                                                                                    \
        (void)B;                                                                         \
        const T *x = y->in[0]->value, *hh = y->in[1]->value, *h = y->in[2]->value;       \
        const T *tx = t[0], *tg = t[1], *tp = t[2];                                      \
        T *o = ty;                                                                       \
        for (size_t b = b0; b < b1; b++)                                                 \
            gru_jvp_row_##sfx(x + b * 3 * H, hh + b * 3 * H, h + b * H, tx + b * 3 * H,   \
                              tg + b * 3 * H, tp + b * H, o + b * H, H);                 \
    }

#if ADJ_VM_DISPATCH
#define CELL_LEVEL_(T, sfx, lvl, ATTR) \
    LSTM_ROWS_(T, sfx##_##lvl, ATTR)   \
    GRU_ROWS_(T, sfx##_##lvl, ATTR)
CELL_LEVEL_(float, f, base, )
CELL_LEVEL_(float, f, avx2, ADJ_VM_TGT_AVX2)
CELL_LEVEL_(float, f, avx512, ADJ_VM_TGT_AVX512)
CELL_LEVEL_(double, d, base, )
CELL_LEVEL_(double, d, avx2, ADJ_VM_TGT_AVX2)
CELL_LEVEL_(double, d, avx512, ADJ_VM_TGT_AVX512)
CELL_PASSES_(float, f_base)
CELL_PASSES_(float, f_avx2)
CELL_PASSES_(float, f_avx512)
CELL_PASSES_(double, d_base)
CELL_PASSES_(double, d_avx2)
CELL_PASSES_(double, d_avx512)
/* 512-bit code where the rows are long enough (ops/dispatch.h) */
#define CELL_CALL_(f, y, B, H, ...)                                                      \
    do {                                                                                 \
        const int l_ = adj_vm_level();                                                   \
        const bool d_ = (y)->dtype == ADJ_F64;                                           \
        if (l_ == ADJ_VM_AVX512 && (H) >= 64) {                                          \
            if (d_)                                                                      \
                f##_d_avx512(y, B, H, __VA_ARGS__);                                      \
            else                                                                         \
                f##_f_avx512(y, B, H, __VA_ARGS__);                                      \
        } else if (l_ >= ADJ_VM_AVX2) {                                                  \
            if (d_)                                                                      \
                f##_d_avx2(y, B, H, __VA_ARGS__);                                        \
            else                                                                         \
                f##_f_avx2(y, B, H, __VA_ARGS__);                                        \
        } else if (d_) {                                                                 \
            f##_d_base(y, B, H, __VA_ARGS__);                                            \
        } else {                                                                         \
            f##_f_base(y, B, H, __VA_ARGS__);                                            \
        }                                                                                \
    } while (0)
#else
LSTM_ROWS_(float, f_base, )
GRU_ROWS_(float, f_base, )
LSTM_ROWS_(double, d_base, )
GRU_ROWS_(double, d_base, )
CELL_PASSES_(float, f_base)
CELL_PASSES_(double, d_base)
#define CELL_CALL_(f, y, B, H, ...)                                                      \
    do {                                                                                 \
        if ((y)->dtype == ADJ_F64)                                                       \
            f##_d_base(y, B, H, __VA_ARGS__);                                            \
        else                                                                             \
            f##_f_base(y, B, H, __VA_ARGS__);                                            \
    } while (0)
#endif

/* ------------------------------------------------------- shapes, hooks */

/* The gates a node's forward keeps for its backward (CELL_KEPT of them per
 * hidden unit and row), in the arena from the shape rule: written by every
 * forward, so a forward run again (a gradient check) leaves them those of
 * the values it read. */
typedef struct cell_attr {
    void *kept;
} cell_attr;

static int kept_of(int gates) { return gates == 4 ? 5 : 3; }

static adj_status cell_shape(adj_var *y, char *why, size_t n, int gates)
{
    const adj_var *z = y->in[0], *s = y->in[adj_nin(y) - 1];
    if (z->ndim != 2 || s->ndim != 2) {
        snprintf(why, n, "the gates and the state must be 2-D (batch, features)");
        return ADJ_ESHAPE;
    }
    const int64_t B = adj_cold(z)->shape[0], G = adj_cold(z)->shape[1], H = adj_cold(s)->shape[1];
    if (adj_cold(s)->shape[0] != B || G != gates * H) {
        snprintf(why, n, "the gates (%lld, %lld) must be (batch, %d x hidden) for a state (%lld, %lld)",
                 (long long)B, (long long)G, gates, (long long)adj_cold(s)->shape[0], (long long)H);
        return ADJ_ESHAPE;
    }
    if (adj_nin(y) == 3) {
        const adj_var *g = y->in[1];
        if (g->ndim != 2 || adj_cold(g)->shape[0] != B || adj_cold(g)->shape[1] != G) {
            snprintf(why, n, "the two sets of gates must have the same shape (batch, %d x hidden)",
                     gates);
            return ADJ_ESHAPE;
        }
        y->ndim = 2;
        adj_cold(y)->shape[0] = B;
        adj_cold(y)->shape[1] = H;
    } else {
        y->ndim = 3;
        adj_cold(y)->shape[0] = 2;
        adj_cold(y)->shape[1] = B;
        adj_cold(y)->shape[2] = H;
    }
    const size_t nk = (size_t)(B * H) * (size_t)kept_of(gates);
    cell_attr *a = ADJ_ATTR(y, cell_attr);
    a->kept = adj_arena_alloc(adj_node_tape(y), (nk ? nk : 1) * adj_dsize(y->dtype));
    if (!a->kept) {
        snprintf(why, n, "out of memory for the gates kept for the backward");
        return ADJ_ENOMEM;
    }
    return ADJ_OK;
}

static adj_status lstm_shape(adj_var *y, char *why, size_t n) { return cell_shape(y, why, n, 4); }
static adj_status gru_shape(adj_var *y, char *why, size_t n) { return cell_shape(y, why, n, 3); }

/* Zeroed scratch for the adjoints of inputs that take none (n elements;
 * its sums are thrown away, but never read uninitialised); NULL after
 * recording ADJ_ENOMEM. */
static void *scratch_of(const adj_var *y, size_t n)
{
    return adj_arena_zalloc(adj_node_tape(y), (n ? n : 1) * adj_dsize(y->dtype));
}

/*
 * The adjoints of a node's k inputs (NULL where one takes none) and
 * whether the backward stores into them: when each buffer is new (its
 * first writer is this backward: adj_grad_buf_fresh).  Else the new ones
 * are zeroed and it adds to all.  An input given twice is one buffer,
 * new only for its first slot.
 */
static bool grads_of(adj_var *y, int k, void **g, size_t *numel)
{
    bool fresh[3] = {false, false, false}, set = true;
    for (int q = 0; q < k; q++) {
        adj_var *x = y->in[q];
        g[q] = (x->flags & ADJ_F_GRAD) ? adj_grad_buf_fresh(x, &fresh[q]) : NULL;
        set = set && (!g[q] || fresh[q]);
    }
    for (int q = 0; !set && q < k; q++)
        if (fresh[q])
            memset(g[q], 0, numel[q] * adj_dsize(y->dtype));
    return set;
}

/*
 * A pass over the pool: the B H elements of h' split into ranges (of at
 * least CELL_GRAIN elements), each taking the rows that start in it.
 * Every element's arithmetic is the same whatever the split, so the
 * results are those of one thread.
 */
enum { CELL_GRAIN = 1024 };

typedef struct cell_job {
    const adj_var *y;
    size_t B, H;
    void *kept;
    void *g[3], *scratch;   /* backward */
    bool set;
    const void *const *t;   /* tangent: the inputs' and the output's */
    void *ty;
} cell_job;

#define CELL_RANGE_(name, ...)                                                            \
    static void name##_range(void *ctx, size_t lo, size_t hi)                            \
    {                                                                                    \
        const cell_job *j = ctx;                                                         \
        const size_t b0 = (lo + j->H - 1) / j->H, b1 = (hi + j->H - 1) / j->H;            \
        if (b0 < b1)                                                                     \
            CELL_CALL_(name, j->y, j->B, j->H, b0, b1, __VA_ARGS__);                     \
    }
CELL_RANGE_(lstm_fwd, j->kept)
CELL_RANGE_(gru_fwd, j->kept)
CELL_RANGE_(lstm_bwd, j->kept, j->g, j->scratch, j->set)
CELL_RANGE_(gru_bwd, j->kept, j->g, j->scratch, j->set)
CELL_RANGE_(lstm_jvp, j->t, j->ty)
CELL_RANGE_(gru_jvp, j->t, j->ty)

static void cell_run(adj_range_fn fn, cell_job *j) { adj_par_for(j->B * j->H, CELL_GRAIN, fn, j); }

static cell_job job_of(const adj_var *y)
{
    return (cell_job){.y = y, .B = rows_of(y), .H = hid_of(y), .kept = ADJ_ATTR(y, cell_attr)->kept};
}

static void lstm_forward(adj_var *y)
{
    cell_job j = job_of(y);
    cell_run(lstm_fwd_range, &j);
}
static void lstm_backward(adj_var *y)
{
    cell_job j = job_of(y);
    j.set = grads_of(y, 2, j.g, (size_t[]){j.B * 4 * j.H, j.B * j.H});
    if (!(j.g[0] && j.g[1]) && !(j.scratch = scratch_of(y, j.B * 5 * j.H)))
        return;
    cell_run(lstm_bwd_range, &j);
}
static void lstm_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    cell_job j = {.y = y, .B = rows_of(y), .H = hid_of(y), .t = tx, .ty = ty};
    cell_run(lstm_jvp_range, &j);
}
static void gru_forward(adj_var *y)
{
    cell_job j = job_of(y);
    cell_run(gru_fwd_range, &j);
}
static void gru_backward(adj_var *y)
{
    cell_job j = job_of(y);
    const size_t B = j.B, H = j.H;
    j.set = grads_of(y, 3, j.g, (size_t[]){B * 3 * H, B * 3 * H, B * H});
    /* gru_cell(a, a, h): the rows' two gate adjoints must not be one buffer
     * (they are restrict); hh's goes to rows of its own, added after */
    void *shared = j.g[0] && j.g[0] == j.g[1] ? j.g[1] : NULL;
    if (shared && !(j.g[1] = scratch_of(y, B * 3 * H)))
        return;
    if (!(j.g[0] && j.g[1] && j.g[2]) && !(j.scratch = scratch_of(y, B * 7 * H)))
        return;
    cell_run(gru_bwd_range, &j);
    for (size_t i = 0; shared && i < B * 3 * H; i++) {
        if (y->dtype == ADJ_F64)
            ((double *)shared)[i] += ((const double *)j.g[1])[i];
        else
            ((float *)shared)[i] += ((const float *)j.g[1])[i];
    }
}
static void gru_jvp(const adj_var *y, const void *const *tx, void *ty)
{
    cell_job j = {.y = y, .B = rows_of(y), .H = hid_of(y), .t = tx, .ty = ty};
    cell_run(gru_jvp_range, &j);
}

/* graph mode: the same values from slices and elementwise ops */
static adj_var *cols(adj_var *g, int k, int64_t h) { return adj_slice(g, 1, k * h, (k + 1) * h, 1); }

static adj_var *lstm_decompose(adj_var *y)
{
    adj_var *z = adj_input(y, 0), *c = adj_input(y, 1);
    const int64_t H = adj_dim(c, 1);
    adj_var *i = adj_sigmoid(cols(z, 0, H)), *f = adj_sigmoid(cols(z, 1, H));
    adj_var *g = adj_tanh(cols(z, 2, H)), *o = adj_sigmoid(cols(z, 3, H));
    adj_var *cn = adj_add(adj_mul(f, c), adj_mul(i, g));
    adj_var *hc[2] = {adj_mul(o, adj_tanh(cn)), cn};
    return adj_stack(2, hc, 0);
}

static adj_var *gru_decompose(adj_var *y)
{
    adj_var *x = adj_input(y, 0), *hh = adj_input(y, 1), *h = adj_input(y, 2);
    const int64_t H = adj_dim(h, 1);
    adj_var *r = adj_sigmoid(adj_add(cols(x, 0, H), cols(hh, 0, H)));
    adj_var *u = adj_sigmoid(adj_add(cols(x, 1, H), cols(hh, 1, H)));
    adj_var *n = adj_tanh(adj_add(cols(x, 2, H), adj_mul(r, cols(hh, 2, H))));
    return adj_add(n, adj_mul(u, adj_sub(h, n)));
}

/* (batch, gates x hidden) with its state (batch, hidden); batch 0 and
 * hidden 1 included */
static const adj_op_case lstm_cases[] = {
    {2, {2, 2}, {{2, 12}, {2, 3}}, NULL, NULL},
    {2, {2, 2}, {{3, 4}, {3, 1}}, NULL, NULL},
    {2, {2, 2}, {{1, 20}, {1, 5}}, NULL, NULL},
    {2, {2, 2}, {{0, 8}, {0, 2}}, NULL, NULL},
};
static const adj_op_case gru_cases[] = {
    {3, {2, 2, 2}, {{2, 9}, {2, 9}, {2, 3}}, NULL, NULL},
    {3, {2, 2, 2}, {{3, 3}, {3, 3}, {3, 1}}, NULL, NULL},
    {3, {2, 2, 2}, {{1, 15}, {1, 15}, {1, 5}}, NULL, NULL},
    {3, {2, 2, 2}, {{0, 6}, {0, 6}, {0, 2}}, NULL, NULL},
};
static const char *const lstm_inputs[] = {"z", "c"};
static const char *const gru_inputs[] = {"x", "hh", "h"};

const adj_op_desc adj_desc_lstm_cell = {
    .name = "lstm_cell", .arity = 2, .inputs = lstm_inputs, .attr_size = sizeof(cell_attr),
    .shape = lstm_shape,
    .forward = lstm_forward, .backward = lstm_backward, .jvp = lstm_jvp,
    .formula = "[i f g o] = [σ σ tanh σ](z); c' = f c + i g; y = [o tanh(c'); c']",
    .rule = "dc' = dy_c + dy_h o (1 - tanh^2 c'); dz = [dc' g i(1-i), dc' c f(1-f), "
            "dc' i (1-g^2), dy_h tanh(c') o(1-o)]; dc += dc' f",
    ADJ_CASES(lstm_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY}, .decompose = lstm_decompose,
};

const adj_op_desc adj_desc_gru_cell = {
    .name = "gru_cell", .arity = 3, .inputs = gru_inputs, .attr_size = sizeof(cell_attr),
    .shape = gru_shape,
    .forward = gru_forward, .backward = gru_backward, .jvp = gru_jvp,
    .formula = "r = σ(x_r + hh_r); u = σ(x_u + hh_u); n = tanh(x_n + r hh_n); y = n + u (h - n)",
    .rule = "dn = dy (1-u)(1-n^2); dr = dn hh_n r(1-r); du = dy (h-n) u(1-u); "
            "dx += [dr, du, dn]; dhh += [dr, du, dn r]; dh += dy u",
    ADJ_CASES(gru_cases), .dom = {ADJ_DOM_ANY, ADJ_DOM_ANY, ADJ_DOM_ANY},
    .decompose = gru_decompose,
};

adj_var *adj_lstm_cell_at(adj_var *z, adj_var *c, const char *file, int line)
{
    adj_var *in[2] = {z, c};
    return adj_record(ADJ_OP_LSTM_CELL, in, 2, NULL, file, line);
}
adj_var *(adj_lstm_cell)(adj_var *z, adj_var *c) { return adj_lstm_cell_at(z, c, NULL, 0); }

adj_var *adj_gru_cell_at(adj_var *x, adj_var *hh, adj_var *h, const char *file, int line)
{
    adj_var *in[3] = {x, hh, h};
    return adj_record(ADJ_OP_GRU_CELL, in, 3, NULL, file, line);
}
adj_var *(adj_gru_cell)(adj_var *x, adj_var *hh, adj_var *h) { return adj_gru_cell_at(x, hh, h, NULL, 0); }
