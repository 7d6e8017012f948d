/*
 * Optimizers, clipping and schedules (src/optim): each update rule against
 * steps computed by hand from PyTorch's formulas with literal numbers.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A store with one f64 tensor of n elements set to v. */
static adj_params *store(size_t n, const double *v)
{
    adj_params *p = adj_params_new(ADJ_F64);
    int64_t sh = (int64_t)n;
    adj_params_add(p, "theta", 1, &sh);
    memcpy(adj_params_value(p, 0), v, n * sizeof(double));
    return p;
}

static void set_grad(adj_params *p, const double *g)
{
    memcpy(adj_params_grad(p, 0), g, adj_params_tensor_numel(p, 0) * sizeof(double));
}

static double th(adj_params *p, size_t i) { return ((double *)adj_params_value(p, 0))[i]; }

/* E14: theta <- (1 - alpha lambda) theta - alpha grad */
START_TEST(sgd_weight_decay_e14)
{
    adj_params *p = store(2, (double[]){1, -2});
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.lr = 0.1;
    c.weight_decay = 0.01;
    adj_optim *o = adj_optim_new(p, &c, NULL);
    set_grad(p, (double[]){0.5, 0.5});
    ck_assert_int_eq(adj_optim_step(o), ADJ_OK);
    ck_assert_double_eq_tol(th(p, 0), 0.949, 1e-15);
    ck_assert_double_eq_tol(th(p, 1), -2.048, 1e-15);
    ck_assert_int_eq(adj_optim_steps(o), 1);
    adj_optim_free(o);
    adj_params_free(p);
}
END_TEST

/* Momentum 0.9, lr 0.1, grad 0.5 twice: b1 = 0.5, b2 = 0.95.  Nesterov
 * steps with g + mu b: 0.95, then 0.5 + 0.9 * 0.95 = 1.355. */
START_TEST(sgd_momentum_nesterov)
{
    for (int nest = 0; nest < 2; nest++) {
        adj_params *p = store(1, (double[]){1});
        adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD);
        c.lr = 0.1;
        c.momentum = 0.9;
        c.nesterov = nest;
        adj_optim *o = adj_optim_new(p, &c, NULL);
        ck_assert_ptr_nonnull(o);
        set_grad(p, (double[]){0.5});
        adj_optim_step(o);
        ck_assert_double_eq_tol(th(p, 0), nest ? 1 - 0.1 * 0.95 : 1 - 0.1 * 0.5, 1e-15);
        adj_optim_step(o);
        ck_assert_double_eq_tol(th(p, 0), nest ? 0.905 - 0.1 * 1.355 : 0.95 - 0.1 * 0.95, 1e-15);
        adj_optim_free(o);
        adj_params_free(p);
    }
    /* dampening 0.5: b2 = 0.9 * 0.5 + 0.5 * 0.5 = 0.7 */
    adj_params *p = store(1, (double[]){1});
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.lr = 0.1;
    c.momentum = 0.9;
    c.dampening = 0.5;
    adj_optim *o = adj_optim_new(p, &c, NULL);
    set_grad(p, (double[]){0.5});
    adj_optim_step(o);
    adj_optim_step(o);
    ck_assert_double_eq_tol(th(p, 0), 1 - 0.05 - 0.07, 1e-15);
    adj_optim_free(o);
    adj_params_free(p);
}
END_TEST

/* Adam, two steps with gradients 0.5 then -0.25, lr 0.01. */
START_TEST(adam_two_steps)
{
    adj_params *p = store(1, (double[]){1});
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_ADAM);
    c.lr = 0.01;
    adj_optim *o = adj_optim_new(p, &c, NULL);
    set_grad(p, (double[]){0.5});
    adj_optim_step(o);
    /* m = 0.05, v = 0.00025; mhat = 0.5, vhat = 0.25 */
    double t1 = 1 - 0.01 * 0.5 / (0.5 + 1e-8);
    ck_assert_double_eq_tol(th(p, 0), t1, 1e-14);
    set_grad(p, (double[]){-0.25});
    adj_optim_step(o);
    /* m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225 */
    double mhat = 0.02 / (1 - 0.81), vhat = 0.00031225 / (1 - 0.998001);
    ck_assert_double_eq_tol(th(p, 0), t1 - 0.01 * mhat / (sqrt(vhat) + 1e-8), 1e-13);
    adj_optim_free(o);
    adj_params_free(p);
}
END_TEST

/* Adam with L2 adds wd theta to the gradient; AdamW shrinks theta first. */
START_TEST(adam_vs_adamw_weight_decay)
{
    adj_params *p = store(1, (double[]){2});
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_ADAM);
    c.lr = 0.1;
    c.weight_decay = 0.5;
    adj_optim *o = adj_optim_new(p, &c, NULL);
    set_grad(p, (double[]){-0.5});
    adj_optim_step(o);
    /* g = -0.5 + 0.5 * 2 = 0.5: the first step moves by lr g / |g| */
    ck_assert_double_eq_tol(th(p, 0), 2 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-14);
    adj_optim_free(o);
    adj_params_free(p);

    p = store(1, (double[]){2});
    c = adj_optim_defaults(ADJ_OPTIM_ADAMW);
    ck_assert_double_eq(c.weight_decay, 1e-2);
    c.lr = 0.1;
    c.weight_decay = 0.5;
    o = adj_optim_new(p, &c, NULL);
    set_grad(p, (double[]){-0.5});
    adj_optim_step(o);
    /* theta = 2 (1 - 0.05) = 1.9, then the Adam step on g = -0.5 */
    ck_assert_double_eq_tol(th(p, 0), 1.9 + 0.1 * 0.5 / (0.5 + 1e-8), 1e-14);
    adj_optim_free(o);
    adj_params_free(p);
}
END_TEST

/* RMSProp: v = 0.01 g^2, theta -= lr g / (sqrt(v) + eps). */
START_TEST(rmsprop_steps)
{
    adj_params *p = store(2, (double[]){1, 1});
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_RMSPROP);
    ck_assert_double_eq(c.lr, 1e-2);
    ck_assert_double_eq(c.alpha, 0.99);
    adj_optim *o = adj_optim_new(p, &c, NULL);
    set_grad(p, (double[]){0.5, -2});
    adj_optim_step(o);
    ck_assert_double_eq_tol(th(p, 0), 1 - 0.01 * 0.5 / (0.05 + 1e-8), 1e-14);
    ck_assert_double_eq_tol(th(p, 1), 1 + 0.01 * 2 / (0.2 + 1e-8), 1e-14);
    set_grad(p, (double[]){0.5, 0});
    adj_optim_step(o);
    double v = 0.99 * 0.0025 + 0.01 * 0.25;
    double t1 = 1 - 0.01 * 0.5 / (0.05 + 1e-8);
    ck_assert_double_eq_tol(th(p, 0), t1 - 0.01 * 0.5 / (sqrt(v) + 1e-8), 1e-12);
    adj_optim_free(o);
    adj_params_free(p);

    /* centered with momentum 0.5: v = 0.0025, a = 0.005, d = sqrt(0.0025 - 0.000025) */
    p = store(1, (double[]){1});
    c.centered = 1;
    c.momentum = 0.5;
    o = adj_optim_new(p, &c, NULL);
    ck_assert_ptr_nonnull(o);
    set_grad(p, (double[]){0.5});
    adj_optim_step(o);
    double d1 = sqrt(0.0025 - 0.000025) + 1e-8, b1 = 0.5 / d1;
    ck_assert_double_eq_tol(th(p, 0), 1 - 0.01 * b1, 1e-12);
    adj_optim_step(o);
    double v2 = 0.99 * 0.0025 + 0.0025, a2 = 0.99 * 0.005 + 0.005;
    double b2 = 0.5 * b1 + 0.5 / (sqrt(v2 - a2 * a2) + 1e-8);
    ck_assert_double_eq_tol(th(p, 0), 1 - 0.01 * b1 - 0.01 * b2, 1e-12);
    adj_optim_free(o);
    adj_params_free(p);
}
END_TEST

/* AdaGrad: s = g^2, theta -= lr g / (sqrt(s) + eps); lr decay. */
START_TEST(adagrad_steps)
{
    adj_params *p = store(1, (double[]){1});
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_ADAGRAD);
    ck_assert_double_eq(c.eps, 1e-10);
    c.lr_decay = 0.5;
    adj_optim *o = adj_optim_new(p, &c, NULL);
    set_grad(p, (double[]){0.5});
    adj_optim_step(o);
    ck_assert_double_eq_tol(th(p, 0), 1 - 0.01 * 0.5 / (0.5 + 1e-10), 1e-14);
    adj_optim_step(o);
    /* step 2: lr / (1 + 0.5), s = 0.5 */
    double t1 = 1 - 0.01 * 0.5 / (0.5 + 1e-10);
    ck_assert_double_eq_tol(th(p, 0), t1 - 0.01 / 1.5 * 0.5 / (sqrt(0.5) + 1e-10), 1e-12);
    adj_optim_free(o);
    adj_params_free(p);
}
END_TEST

/* The f32 kernels follow the same rules. */
START_TEST(float_store)
{
    adj_params *p = adj_params_new(ADJ_F32);
    int64_t n = 3;
    adj_params_add(p, "w", 1, &n);
    float *w = adj_params_value(p, 0), *g = adj_params_grad(p, 0);
    w[0] = 1;
    w[1] = 2;
    w[2] = -1;
    for (int k = 0; k < 3; k++)
        g[k] = 0.5f;
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_ADAM);
    c.lr = 0.1;
    adj_optim *o = adj_optim_new(p, &c, NULL);
    adj_optim_step(o);
    ck_assert_float_eq_tol(w[0], 0.9f, 1e-6f);
    ck_assert_float_eq_tol(w[2], -1.1f, 1e-6f);
    adj_optim_free(o);
    adj_params_free(p);
}
END_TEST

/* E14: clipping g = (3, 4) at 1. */
START_TEST(clipping_e14)
{
    adj_params *p = store(2, (double[]){0, 0});
    set_grad(p, (double[]){3, 4});
    ck_assert_int_eq(adj_clip_grad_value(p, 1), ADJ_OK);
    ck_assert_double_eq(((double *)adj_params_grad(p, 0))[0], 1);
    ck_assert_double_eq(((double *)adj_params_grad(p, 0))[1], 1);
    set_grad(p, (double[]){3, 4});
    ck_assert_double_eq_tol(adj_clip_grad_norm(p, 1), 5, 1e-15);
    ck_assert_double_eq_tol(((double *)adj_params_grad(p, 0))[0], 0.6, 1e-15);
    ck_assert_double_eq_tol(((double *)adj_params_grad(p, 0))[1], 0.8, 1e-15);
    /* under the threshold nothing changes */
    set_grad(p, (double[]){3, 4});
    adj_clip_grad_norm(p, 10);
    ck_assert_double_eq(((double *)adj_params_grad(p, 0))[1], 4);
    set_grad(p, (double[]){-3, 0.5});
    adj_clip_grad_value(p, 1);
    ck_assert_double_eq(((double *)adj_params_grad(p, 0))[0], -1);
    ck_assert_double_eq(((double *)adj_params_grad(p, 0))[1], 0.5);
    adj_params_free(p);
}
END_TEST

/* A limit that is NaN or negative is refused and changes nothing. */
START_TEST(clipping_bad_limits)
{
    adj_params *p = store(2, (double[]){0, 0});
    const double bad[] = {NAN, -1, -INFINITY};
    for (int i = 0; i < 3; i++) {
        set_grad(p, (double[]){3, 4});
        ck_assert_int_eq(adj_clip_grad_value(p, bad[i]), ADJ_EINVAL);
        ck_assert(isnan(adj_clip_grad_norm(p, bad[i])));
        ck_assert_double_eq(((double *)adj_params_grad(p, 0))[0], 3);
        ck_assert_double_eq(((double *)adj_params_grad(p, 0))[1], 4);
    }
    ck_assert_int_eq(adj_clip_grad_value(NULL, 1), ADJ_EINVAL);
    /* +inf clips nothing, and is not an error */
    ck_assert_int_eq(adj_clip_grad_value(p, INFINITY), ADJ_OK);
    ck_assert_double_eq_tol(adj_clip_grad_norm(p, INFINITY), 5, 1e-15);
    ck_assert_double_eq(((double *)adj_params_grad(p, 0))[1], 4);
    adj_params_free(p);
}
END_TEST

START_TEST(schedules)
{
    adj_lr_schedule s = {.kind = ADJ_LR_STEP, .base_lr = 0.1, .step_size = 10, .gamma = 0.5};
    ck_assert_double_eq_tol(adj_lr_at(&s, 0), 0.1, 1e-15);
    ck_assert_double_eq_tol(adj_lr_at(&s, 9), 0.1, 1e-15);
    ck_assert_double_eq_tol(adj_lr_at(&s, 10), 0.05, 1e-15);
    ck_assert_double_eq_tol(adj_lr_at(&s, 25), 0.025, 1e-15);
    adj_lr_schedule c = {.kind = ADJ_LR_COSINE, .base_lr = 1, .total = 100, .min_lr = 0};
    ck_assert_double_eq_tol(adj_lr_at(&c, 0), 1, 1e-15);
    ck_assert_double_eq_tol(adj_lr_at(&c, 25), (1 + sqrt(0.5)) / 2, 1e-15);
    ck_assert_double_eq_tol(adj_lr_at(&c, 50), 0.5, 1e-15);
    ck_assert_double_eq_tol(adj_lr_at(&c, 100), 0, 1e-15);
    ck_assert_double_eq_tol(adj_lr_at(&c, 1000), 0, 1e-15);
    c.min_lr = 0.1;
    ck_assert_double_eq_tol(adj_lr_at(&c, 50), 0.55, 1e-15);
    c.warmup = 4;
    ck_assert_double_eq_tol(adj_lr_at(&c, 0), 0.25, 1e-15);
    adj_lr_schedule k = {.kind = ADJ_LR_CONSTANT, .base_lr = 0.3};
    ck_assert_double_eq(adj_lr_at(&k, 12345), 0.3);
}
END_TEST

START_TEST(invalid_configs)
{
    adj_params *p = store(1, (double[]){1});
    adj_status st;
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.nesterov = 1; /* without momentum */
    ck_assert_ptr_null(adj_optim_new(p, &c, &st));
    ck_assert_int_eq(st, ADJ_EINVAL);
    c = adj_optim_defaults(ADJ_OPTIM_ADAM);
    c.beta1 = 1.0;
    ck_assert_ptr_null(adj_optim_new(p, &c, &st));
    c = adj_optim_defaults(ADJ_OPTIM_ADAM);
    c.lr = -1;
    ck_assert_ptr_null(adj_optim_new(p, &c, &st));
    ck_assert_ptr_null(adj_optim_new(NULL, &c, &st));
    c = adj_optim_defaults(ADJ_OPTIM_ADAM);
    adj_optim *o = adj_optim_new(p, &c, &st);
    ck_assert_int_eq(st, ADJ_OK);
    int64_t two = 2;
    adj_params_add(p, "late", 1, &two); /* the store grew after creation */
    ck_assert_int_eq(adj_optim_step(o), ADJ_ESTATE);
    adj_optim_free(o);
    adj_params_free(p);
    adj_optim_kind k;
    ck_assert_int_eq(adj_optim_parse("rmsprop", &k), ADJ_OK);
    ck_assert_int_eq(k, ADJ_OPTIM_RMSPROP);
    ck_assert_int_eq(adj_optim_parse("lbfgs", &k), ADJ_EINVAL);
    ck_assert_str_eq(adj_optim_name(ADJ_OPTIM_ADAMW), "adamw");
}
END_TEST

/* Every setting outside its range is ADJ_EINVAL for every kind that reads
 * it, and a bad learning rate leaves the rate as it was. */
typedef struct bad_setting {
    const char *name;
    adj_optim_kind kind; /* ADJ_OPTIM_COUNT: every kind */
    void (*set)(adj_optim_config *c, double v);
    double v;
} bad_setting;

static void s_lr(adj_optim_config *c, double v) { c->lr = v; }
static void s_wd(adj_optim_config *c, double v) { c->weight_decay = v; }
static void s_eps(adj_optim_config *c, double v) { c->eps = v; }
static void s_mom(adj_optim_config *c, double v) { c->momentum = v; }
static void s_damp(adj_optim_config *c, double v) { c->dampening = v; }
static void s_b1(adj_optim_config *c, double v) { c->beta1 = v; }
static void s_b2(adj_optim_config *c, double v) { c->beta2 = v; }
static void s_alpha(adj_optim_config *c, double v) { c->alpha = v; }
static void s_decay(adj_optim_config *c, double v) { c->lr_decay = v; }
static void s_acc(adj_optim_config *c, double v) { c->initial_accumulator = v; }

static const bad_setting bad[] = {
    {"lr +inf", ADJ_OPTIM_COUNT, s_lr, INFINITY},  {"lr NaN", ADJ_OPTIM_COUNT, s_lr, NAN},
    {"lr 0", ADJ_OPTIM_COUNT, s_lr, 0},            {"lr -1", ADJ_OPTIM_COUNT, s_lr, -1},
    {"weight_decay +inf", ADJ_OPTIM_COUNT, s_wd, INFINITY},
    {"weight_decay NaN", ADJ_OPTIM_COUNT, s_wd, NAN},
    {"weight_decay -0.1", ADJ_OPTIM_COUNT, s_wd, -0.1},
    {"eps +inf", ADJ_OPTIM_COUNT, s_eps, INFINITY}, {"eps NaN", ADJ_OPTIM_COUNT, s_eps, NAN},
    {"sgd momentum 1", ADJ_OPTIM_SGD, s_mom, 1},   {"sgd momentum -0.5", ADJ_OPTIM_SGD, s_mom, -0.5},
    {"sgd momentum NaN", ADJ_OPTIM_SGD, s_mom, NAN}, {"sgd dampening 1.5", ADJ_OPTIM_SGD, s_damp, 1.5},
    {"sgd dampening -1", ADJ_OPTIM_SGD, s_damp, -1},
    {"adam beta1 NaN", ADJ_OPTIM_ADAM, s_b1, NAN}, {"adamw beta2 1", ADJ_OPTIM_ADAMW, s_b2, 1},
    {"rmsprop alpha 1", ADJ_OPTIM_RMSPROP, s_alpha, 1},
    {"rmsprop momentum 1", ADJ_OPTIM_RMSPROP, s_mom, 1},
    {"adagrad lr_decay -0.1", ADJ_OPTIM_ADAGRAD, s_decay, -0.1},
    {"adagrad lr_decay +inf", ADJ_OPTIM_ADAGRAD, s_decay, INFINITY},
    {"adagrad initial_accumulator -1", ADJ_OPTIM_ADAGRAD, s_acc, -1},
    {"adagrad initial_accumulator NaN", ADJ_OPTIM_ADAGRAD, s_acc, NAN},
};

START_TEST(invalid_settings)
{
    const bad_setting *b = &bad[_i];
    adj_params *p = store(1, (double[]){1});
    for (int k = 0; k < ADJ_OPTIM_COUNT; k++) {
        if (b->kind != ADJ_OPTIM_COUNT && (int)b->kind != k)
            continue;
        adj_optim_config c = adj_optim_defaults((adj_optim_kind)k);
        b->set(&c, b->v);
        adj_status st = ADJ_OK;
        adj_optim *o = adj_optim_new(p, &c, &st);
        ck_assert_msg(!o && st == ADJ_EINVAL, "%s accepted by %s", b->name,
                      adj_optim_name((adj_optim_kind)k));
        adj_optim_free(o);
    }
    adj_params_free(p);
}
END_TEST

/* The optimizer keeps what it needs to free itself: freeing it after its
 * store is safe (AddressSanitizer checks the reads in CI). */
START_TEST(free_after_store)
{
    for (int k = 0; k < ADJ_OPTIM_COUNT; k++) {
        adj_params *p = store(3, (double[]){1, 2, 3});
        adj_optim_config c = adj_optim_defaults((adj_optim_kind)k);
        c.momentum = k == ADJ_OPTIM_SGD || k == ADJ_OPTIM_RMSPROP ? 0.5 : c.momentum;
        adj_optim *o = adj_optim_new(p, &c, NULL);
        ck_assert_ptr_nonnull(o);
        adj_params_free(p);
        adj_optim_free(o);
    }
}
END_TEST

START_TEST(set_lr_checks)
{
    adj_params *p = store(1, (double[]){1});
    for (int k = 0; k < ADJ_OPTIM_COUNT; k++) {
        adj_optim_config c = adj_optim_defaults((adj_optim_kind)k);
        adj_optim *o = adj_optim_new(p, &c, NULL);
        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(adj_optim_set_lr(o, 0.5), ADJ_OK);
        const double bad_lr[] = {-1, NAN, INFINITY, -INFINITY};
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(adj_optim_set_lr(o, bad_lr[i]), ADJ_EINVAL);
            ck_assert_double_eq(adj_optim_lr(o), 0.5);
        }
        /* a schedule may reach 0 */
        ck_assert_int_eq(adj_optim_set_lr(o, 0), ADJ_OK);
        ck_assert_double_eq(adj_optim_lr(o), 0);
        adj_optim_free(o);
    }
    ck_assert_int_eq(adj_optim_set_lr(NULL, 0.1), ADJ_EINVAL);
    adj_params_free(p);
}
END_TEST

/* Gradients from the tape drive an optimizer to the minimum of
 * f(w) = sum (w - c)^2, c = (1, -2, 3). */
START_TEST(minimises_quadratic)
{
    const adj_optim_kind kinds[] = {ADJ_OPTIM_SGD, ADJ_OPTIM_ADAM, ADJ_OPTIM_ADAMW,
                                    ADJ_OPTIM_RMSPROP, ADJ_OPTIM_ADAGRAD};
    const double lr[] = {0.1, 0.05, 0.05, 0.01, 0.5};
    for (int k = 0; k < 5; k++) {
        adj_params *p = store(3, (double[]){0, 0, 0});
        adj_optim_config c = adj_optim_defaults(kinds[k]);
        c.lr = lr[k];
        c.weight_decay = 0;
        adj_optim *o = adj_optim_new(p, &c, NULL);
        adj_tape *t = adj_tape_new();
        int64_t n = 3;
        for (int it = 0; it < 2000; it++) {
            adj_tape_reset(t);
            adj_var *w = adj_param(t, p, 0);
            adj_var *cv = adj_constant_f64(t, 1, &n, ((double[]){1, -2, 3}));
            adj_var *f = adj_sum(adj_square(adj_sub(w, cv)));
            adj_params_zero_grad(p);
            ck_assert_int_eq(adj_backward(f), ADJ_OK);
            adj_optim_step(o);
        }
        ck_assert_msg(
            fabs(th(p, 0) - 1) < 1e-2 && fabs(th(p, 1) + 2) < 1e-2 && fabs(th(p, 2) - 3) < 1e-2,
            "%s ended at (%g, %g, %g)", adj_optim_name(kinds[k]), th(p, 0), th(p, 1), th(p, 2));
        adj_tape_free(t);
        adj_optim_free(o);
        adj_params_free(p);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, sgd_weight_decay_e14);
    tcase_add_test(tc, sgd_momentum_nesterov);
    tcase_add_test(tc, adam_two_steps);
    tcase_add_test(tc, adam_vs_adamw_weight_decay);
    tcase_add_test(tc, rmsprop_steps);
    tcase_add_test(tc, adagrad_steps);
    tcase_add_test(tc, float_store);
    tcase_add_test(tc, clipping_e14);
    tcase_add_test(tc, clipping_bad_limits);
    tcase_add_test(tc, schedules);
    tcase_add_test(tc, invalid_configs);
    tcase_add_loop_test(tc, invalid_settings, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, set_lr_checks);
    tcase_add_test(tc, free_after_store);
    tcase_add_test(tc, minimises_quadratic);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
