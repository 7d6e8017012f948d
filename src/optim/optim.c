/*
 * Optimizers as flat loops over a parameter store's contiguous blocks.
 * State lives in blocks of the store's layout and dtype; one kernel per
 * rule, written once for float and once for double through a macro.
 */
#include "optim/optim_internal.h"
#include "core/pool.h"
#include "core/tape.h"
#include "ops/dispatch.h"

#include <math.h>
#include <string.h>

static const char *const names[ADJ_OPTIM_COUNT] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};

const char *adj_optim_name(adj_optim_kind k)
{
    return (unsigned)k < ADJ_OPTIM_COUNT ? names[k] : "?";
}

adj_status adj_optim_parse(const char *name, adj_optim_kind *out)
{
    if (!name || !out)
        return ADJ_EINVAL;
    for (int k = 0; k < ADJ_OPTIM_COUNT; k++)
        if (strcmp(name, names[k]) == 0) {
            *out = (adj_optim_kind)k;
            return ADJ_OK;
        }
    return ADJ_EINVAL;
}

adj_optim_config adj_optim_defaults(adj_optim_kind kind)
{
    adj_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.lr = 1e-3;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.alpha = 0.99;
    switch (kind) {
    case ADJ_OPTIM_ADAMW: c.weight_decay = 1e-2; break;
    case ADJ_OPTIM_RMSPROP: c.lr = 1e-2; break;
    case ADJ_OPTIM_ADAGRAD:
        c.lr = 1e-2;
        c.eps = 1e-10;
        break;
    default: break;
    }
    return c;
}

static int state_blocks(const adj_optim_config *c)
{
    switch (c->kind) {
    case ADJ_OPTIM_SGD: return c->momentum != 0 ? 1 : 0;
    case ADJ_OPTIM_ADAM:
    case ADJ_OPTIM_ADAMW: return 2;
    case ADJ_OPTIM_RMSPROP: return 3;
    case ADJ_OPTIM_ADAGRAD: return 1;
    default: return 0;
    }
}

/* x finite and in [lo, hi) (hi_open) or [lo, hi] */
static int in_range(double x, double lo, double hi, int hi_open)
{
    return isfinite(x) && x >= lo && (hi_open ? x < hi : x <= hi);
}

/* Every setting the kind reads: a learning rate finite and > 0; decays,
 * eps and accumulators finite and >= 0; momentum, betas and alpha in
 * [0, 1); dampening in [0, 1]. */
static int valid(const adj_optim_config *c)
{
    if ((unsigned)c->kind >= ADJ_OPTIM_COUNT)
        return 0;
    if (!(isfinite(c->lr) && c->lr > 0) || !in_range(c->weight_decay, 0, INFINITY, 1) ||
        !in_range(c->eps, 0, INFINITY, 1))
        return 0;
    switch (c->kind) {
    case ADJ_OPTIM_SGD:
        if (!in_range(c->momentum, 0, 1, 1) || !in_range(c->dampening, 0, 1, 0))
            return 0;
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return 0;
        return 1;
    case ADJ_OPTIM_ADAM:
    case ADJ_OPTIM_ADAMW:
        return in_range(c->beta1, 0, 1, 1) && in_range(c->beta2, 0, 1, 1);
    case ADJ_OPTIM_RMSPROP:
        return in_range(c->alpha, 0, 1, 1) && in_range(c->momentum, 0, 1, 1);
    case ADJ_OPTIM_ADAGRAD:
        return in_range(c->lr_decay, 0, INFINITY, 1) &&
               in_range(c->initial_accumulator, 0, INFINITY, 1);
    default:
        return 0;
    }
}

adj_optim *adj_optim_new(adj_params *p, const adj_optim_config *c, adj_status *status)
{
    return adj_optim_new_with(p, c, NULL, status);
}

adj_optim *adj_optim_new_with(adj_params *p, const adj_optim_config *c, const adj_allocator *a,
                              adj_status *status)
{
    adj_status dummy;
    if (!status)
        status = &dummy;
    *status = ADJ_EINVAL;
    if (!p || !c || adj_params_numel(p) == 0 || !valid(c))
        return NULL;
    const adj_allocator *al = a && a->alloc && a->free ? a : &adj_default_allocator;
    adj_optim *o = al->alloc(al->ctx, sizeof *o);
    *status = ADJ_ENOMEM;
    if (!o)
        return NULL;
    memset(o, 0, sizeof *o);
    o->al = *al;
    o->p = p;
    o->c = *c;
    o->n = adj_params_numel(p);
    o->es = adj_dsize(adj_params_dtype(p));
    o->nstate = state_blocks(c);
    size_t bytes = o->n * adj_dsize(adj_params_dtype(p));
    for (int k = 0; k < o->nstate; k++) {
        o->state[k] = al->alloc(al->ctx, bytes);
        if (!o->state[k]) {
            adj_optim_free(o);
            return NULL;
        }
        memset(o->state[k], 0, bytes);
    }
    if (c->kind == ADJ_OPTIM_ADAGRAD && c->initial_accumulator != 0) {
        for (size_t i = 0; i < o->n; i++) {
            if (adj_params_dtype(p) == ADJ_F64)
                ((double *)o->state[0])[i] = c->initial_accumulator;
            else
                ((float *)o->state[0])[i] = (float)c->initial_accumulator;
        }
    }
    *status = ADJ_OK;
    return o;
}

void adj_optim_free(adj_optim *o)
{
    if (!o)
        return;
    size_t bytes = o->n * o->es; /* the store may already be freed */
    for (int k = 0; k < o->nstate; k++)
        if (o->state[k])
            o->al.free(o->al.ctx, o->state[k], bytes);
    adj_allocator al = o->al;
    al.free(al.ctx, o, sizeof *o);
}

adj_status adj_optim_set_lr(adj_optim *o, double lr)
{
    if (!o || !(isfinite(lr) && lr >= 0))
        return ADJ_EINVAL;
    o->c.lr = lr;
    return ADJ_OK;
}
double adj_optim_lr(const adj_optim *o) { return o ? o->c.lr : 0.0; }
int64_t adj_optim_steps(const adj_optim *o) { return o ? o->t : 0; }
const adj_optim_config *adj_optim_get_config(const adj_optim *o) { return o ? &o->c : NULL; }

/* The kernels vectorise only if sqrt need not set errno (the argument is
 * never negative here); GCC is told so per function. */
#if defined(__GNUC__) && !defined(__clang__)
#define VECMATH                                                                                    \
    __attribute__((optimize("no-math-errno", "tree-vectorize", "vect-cost-model=dynamic")))
#else
#define VECMATH
#endif

/* The kernels, for T = float and T = double.  SQRT is sqrtf / sqrt. */
#define KERNELS(T, SUF, SQRT)                                                                      \
    static VECMATH void sgd_##SUF(const adj_optim_config *c, int64_t t, size_t n, T *restrict w,   \
                                  const T *restrict g_, T *restrict buf)                           \
    {                                                                                              \
        const T lr = (T)c->lr, wd = (T)c->weight_decay, mu = (T)c->momentum;                       \
        const T damp = (T)(1.0 - c->dampening);                                                    \
        for (size_t i = 0; i < n; i++) {                                                           \
            T g = g_[i] + wd * w[i];                                                               \
            if (buf) {                                                                             \
                buf[i] = t == 1 ? g : mu * buf[i] + damp * g;                                      \
                g = c->nesterov ? g + mu * buf[i] : buf[i];                                        \
            }                                                                                      \
            w[i] -= lr * g;                                                                        \
        }                                                                                          \
    }                                                                                              \
    static VECMATH void rmsprop_##SUF(const adj_optim_config *c, size_t n, T *restrict w,          \
                                      const T *restrict g_, T *restrict v, T *restrict avg,        \
                                      T *restrict buf)                                             \
    {                                                                                              \
        const T lr = (T)c->lr, a = (T)c->alpha, eps = (T)c->eps;                                   \
        const T wd = (T)c->weight_decay, mu = (T)c->momentum;                                      \
        for (size_t i = 0; i < n; i++) {                                                           \
            T g = g_[i] + wd * w[i];                                                               \
            v[i] = a * v[i] + (1 - a) * g * g;                                                     \
            T vv = v[i];                                                                           \
            if (c->centered) {                                                                     \
                avg[i] = a * avg[i] + (1 - a) * g;                                                 \
                vv -= avg[i] * avg[i];                                                             \
            }                                                                                      \
            T d = SQRT(vv) + eps;                                                                  \
            if (mu > 0) {                                                                          \
                buf[i] = mu * buf[i] + g / d;                                                      \
                w[i] -= lr * buf[i];                                                               \
            } else {                                                                               \
                w[i] -= lr * g / d;                                                                \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static VECMATH void adagrad_##SUF(const adj_optim_config *c, int64_t t, size_t n,              \
                                      T *restrict w, const T *restrict g_, T *restrict s)          \
    {                                                                                              \
        const T clr = (T)(c->lr / (1.0 + (double)(t - 1) * c->lr_decay));                          \
        const T wd = (T)c->weight_decay, eps = (T)c->eps;                                          \
        for (size_t i = 0; i < n; i++) {                                                           \
            T g = g_[i] + wd * w[i];                                                               \
            s[i] += g * g;                                                                         \
            w[i] -= clr * g / (SQRT(s[i]) + eps);                                                  \
        }                                                                                          \
    }

KERNELS(float, f32, sqrtf)
KERNELS(double, f64, sqrt)

/* Adam (and AdamW), compiled once per CPU level of the elementwise kernels
 * (ops/dispatch.h): multiplies, adds, one square root and two divisions,
 * never fused, so every level gives the same bits; the AVX-512 one does
 * the square roots and divisions 16 floats at a time where the baseline
 * does 4 (SSE2), and the step is bound by them rather than by memory. */
#define ADAM(T, SUF, SQRT, ATTR)                                                                   \
    static ATTR VECMATH void adam_##SUF(const adj_optim_config *c, int64_t t, size_t n,            \
                                        T *restrict w, const T *restrict g_, T *restrict m,        \
                                        T *restrict v)                                             \
    {                                                                                              \
        const T b1 = (T)c->beta1, b2 = (T)c->beta2, eps = (T)c->eps;                               \
        const T bc1 = (T)(1.0 - pow(c->beta1, (double)t));                                         \
        const T sbc2 = (T)sqrt(1.0 - pow(c->beta2, (double)t));                                    \
        const T step = (T)c->lr / bc1;                                                             \
        const int decoupled = c->kind == ADJ_OPTIM_ADAMW;                                          \
        const T wd = (T)c->weight_decay, shrink = (T)(1.0 - c->lr * c->weight_decay);              \
        const T l2 = decoupled ? 0 : wd, keep = decoupled ? shrink : 1;                            \
        for (size_t i = 0; i < n; i++) {                                                           \
            T g = g_[i] + l2 * w[i];                                                               \
            w[i] *= keep;                                                                          \
            m[i] = b1 * m[i] + (1 - b1) * g;                                                       \
            v[i] = b2 * v[i] + (1 - b2) * g * g;                                                   \
            w[i] -= step * m[i] / (SQRT(v[i]) / sbc2 + eps);                                       \
        }                                                                                          \
    }

ADAM(float, f32_base, sqrtf, )
ADAM(double, f64_base, sqrt, )
#if ADJ_VM_DISPATCH
ADAM(float, f32_avx2, sqrtf, ADJ_VM_TGT_AVX2)
ADAM(double, f64_avx2, sqrt, ADJ_VM_TGT_AVX2)
ADAM(float, f32_avx512, sqrtf, ADJ_VM_TGT_AVX512)
ADAM(double, f64_avx512, sqrt, ADJ_VM_TGT_AVX512)
/* An optimizer kernel FN at the level's width: the widest the CPU has
 * (AVX2 for short ranges, as the elementwise kernels) */
#define LEVEL_CALL(FN, SUF, ...)                                                                   \
    do {                                                                                           \
        const int l_ = adj_vm_level();                                                             \
        if (l_ == ADJ_VM_AVX512 && n >= ADJ_VM_WIDE_MIN)                                           \
            FN##_##SUF##_avx512(__VA_ARGS__);                                                      \
        else if (l_ >= ADJ_VM_AVX2)                                                                \
            FN##_##SUF##_avx2(__VA_ARGS__);                                                        \
        else                                                                                       \
            FN##_##SUF##_base(__VA_ARGS__);                                                        \
    } while (0)
#else
#define LEVEL_CALL(FN, SUF, ...) FN##_##SUF##_base(__VA_ARGS__)
#endif
#define ADAM_CALL(SUF, ...) LEVEL_CALL(adam, SUF, __VA_ARGS__)

/* Plain SGD (no momentum buffer), once per CPU level like Adam: the
 * same multiply and add as sgd_ without a buffer (same bits at every
 * level); the step reads the weights and gradients just written by the
 * backward, from cache, so wider vectors pay. */
#define SGD_PLAIN(T, SUF, ATTR)                                                                    \
    static ATTR VECMATH void sgd_plain_##SUF(const adj_optim_config *c, size_t n, T *restrict w,   \
                                             const T *restrict g_)                                 \
    {                                                                                              \
        const T lr = (T)c->lr, wd = (T)c->weight_decay;                                            \
        for (size_t i = 0; i < n; i++) {                                                           \
            T g = g_[i] + wd * w[i];                                                               \
            w[i] -= lr * g;                                                                        \
        }                                                                                          \
    }

SGD_PLAIN(float, f32_base, )
SGD_PLAIN(double, f64_base, )
#if ADJ_VM_DISPATCH
SGD_PLAIN(float, f32_avx2, ADJ_VM_TGT_AVX2)
SGD_PLAIN(double, f64_avx2, ADJ_VM_TGT_AVX2)
SGD_PLAIN(float, f32_avx512, ADJ_VM_TGT_AVX512)
SGD_PLAIN(double, f64_avx512, ADJ_VM_TGT_AVX512)
#endif
#define SGD_PLAIN_CALL(SUF, ...) LEVEL_CALL(sgd_plain, SUF, __VA_ARGS__)

/* Elements [lo, hi) of one step: every element's update is independent,
 * so the pool may split the store (same bits whatever the split). */
typedef struct step_job {
    adj_optim *o;
    void *w;
    const void *g;
} step_job;

static void step_range(void *ctx, size_t lo, size_t hi)
{
    const step_job *j = ctx;
    const adj_optim *o = j->o;
    const adj_optim_config *c = &o->c;
    const size_t n = hi - lo;
#define AT(p, T) ((p) ? (T *)(p) + lo : NULL)
    if (adj_params_dtype(o->p) == ADJ_F64) {
        double *w = AT(j->w, double);
        const double *g = AT(j->g, const double);
        double *s0 = AT(o->state[0], double), *s1 = AT(o->state[1], double);
        switch (c->kind) {
        case ADJ_OPTIM_SGD:
            if (s0)
                sgd_f64(c, o->t, n, w, g, s0);
            else
                SGD_PLAIN_CALL(f64, c, n, w, g);
            break;
        case ADJ_OPTIM_ADAM:
        case ADJ_OPTIM_ADAMW: ADAM_CALL(f64, c, o->t, n, w, g, s0, s1); break;
        case ADJ_OPTIM_RMSPROP: rmsprop_f64(c, n, w, g, s0, s1, AT(o->state[2], double)); break;
        case ADJ_OPTIM_ADAGRAD: adagrad_f64(c, o->t, n, w, g, s0); break;
        default: break;
        }
    } else {
        float *w = AT(j->w, float);
        const float *g = AT(j->g, const float);
        float *s0 = AT(o->state[0], float), *s1 = AT(o->state[1], float);
        switch (c->kind) {
        case ADJ_OPTIM_SGD:
            if (s0)
                sgd_f32(c, o->t, n, w, g, s0);
            else
                SGD_PLAIN_CALL(f32, c, n, w, g);
            break;
        case ADJ_OPTIM_ADAM:
        case ADJ_OPTIM_ADAMW: ADAM_CALL(f32, c, o->t, n, w, g, s0, s1); break;
        case ADJ_OPTIM_RMSPROP: rmsprop_f32(c, n, w, g, s0, s1, AT(o->state[2], float)); break;
        case ADJ_OPTIM_ADAGRAD: adagrad_f32(c, o->t, n, w, g, s0); break;
        default: break;
        }
    }
#undef AT
}

adj_status adj_optim_step(adj_optim *o)
{
    if (!o)
        return ADJ_EINVAL;
    if (adj_params_numel(o->p) != o->n)
        return ADJ_ESTATE;
    if (o->c.kind < 0 || o->c.kind >= ADJ_OPTIM_COUNT)
        return ADJ_EINVAL;
    o->t++;
    step_job j = {o, adj_params_values(o->p), adj_params_grads_settled(o->p)};
    adj_par_for(o->n, ADJ_PAR_GRAIN_MAP, step_range, &j);
    return ADJ_OK;
}

/* ----------------------------------------------------------- clipping */

double adj_grad_norm(adj_params *p)
{
    size_t n = adj_params_numel(p);
    const void *g = adj_params_grads_settled(p);
    double s = 0.0;
    if (!g)
        return 0.0;
    if (adj_params_dtype(p) == ADJ_F64)
        for (size_t i = 0; i < n; i++)
            s += ((const double *)g)[i] * ((const double *)g)[i];
    else
        for (size_t i = 0; i < n; i++)
            s += (double)((const float *)g)[i] * (double)((const float *)g)[i];
    return sqrt(s);
}

static void scale_grads(adj_params *p, double k)
{
    size_t n = adj_params_numel(p);
    void *g = adj_params_grads_settled(p);
    if (adj_params_dtype(p) == ADJ_F64)
        for (size_t i = 0; i < n; i++)
            ((double *)g)[i] *= k;
    else
        for (size_t i = 0; i < n; i++)
            ((float *)g)[i] = (float)(((float *)g)[i] * k);
}

double adj_clip_grad_norm(adj_params *p, double max_norm)
{
    if (!(max_norm >= 0))
        return NAN;
    double norm = adj_grad_norm(p);
    if (norm > max_norm && norm > 0)
        scale_grads(p, max_norm / norm);
    return norm;
}

adj_status adj_clip_grad_value(adj_params *p, double clip)
{
    if (!p || !(clip >= 0))
        return ADJ_EINVAL;
    size_t n = adj_params_numel(p);
    void *g = adj_params_grads_settled(p);
    if (!g)
        return ADJ_OK;
    if (adj_params_dtype(p) == ADJ_F64) {
        double *d = g;
        for (size_t i = 0; i < n; i++)
            d[i] = d[i] > clip ? clip : d[i] < -clip ? -clip : d[i];
    } else {
        float *f = g, cf = (float)clip;
        for (size_t i = 0; i < n; i++)
            f[i] = f[i] > cf ? cf : f[i] < -cf ? -cf : f[i];
    }
    return ADJ_OK;
}

/* ------------------------------------------------------- lr schedules */

double adj_lr_at(const adj_lr_schedule *s, int64_t step)
{
    if (!s)
        return 0.0;
    if (step < 0)
        step = 0;
    double lr = s->base_lr;
    switch (s->kind) {
    case ADJ_LR_STEP:
        if (s->step_size > 0)
            lr = s->base_lr * pow(s->gamma, (double)(step / s->step_size));
        break;
    case ADJ_LR_COSINE:
        if (s->total > 0) {
            double f = step >= s->total ? 1.0 : (double)step / (double)s->total;
            lr = s->min_lr +
                 (s->base_lr - s->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * f));
        }
        break;
    default: break;
    }
    if (s->warmup > 0 && step < s->warmup)
        lr *= (double)(step + 1) / (double)s->warmup;
    return lr;
}
