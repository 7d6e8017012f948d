/*
 * Misuse of the public API beyond the ops (those are in test_errors.c):
 * parameters, layers, models, optimizers, data and model files, gradient
 * and forward-mode checks, the teaching functions.  Every case is one row:
 * a call with a NULL argument, a mismatched shape or dtype, a var from
 * another tape or from before a reset, an invalid axis, size or option,
 * an empty tensor, or a corrupt file.  Each must return the documented
 * status, put a message naming the problem wherever the function has a
 * place for one (tape, store, adj_error, report), leave its objects
 * usable, and leak nothing: every tape, store, model and optimizer of the
 * fixture allocates through a counting allocator that must be back to
 * zero at the end (the rest is checked by LeakSanitizer and valgrind).
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* -------------------------------------------------------------- fixture */

typedef struct fx {
    test_alloc cnt;
    adj_allocator al;
    adj_tape *t, *other;
    adj_params *p32, *p64, *empty;
    adj_dense layer;          /* 3 -> 2 in p32 */
    adj_mlp *mlp;             /* f64 3-4-2 with batch norm */
    adj_batchnorm *bn;        /* 3 features in p64 */
    adj_var *x23, *x25, *x23d, *v3, *s, *stale, *foreign, *cube;
    adj_rng rng;
    char dir[64];
    char path[256];           /* scratch file name in dir */
    char model[256];          /* a valid model file of `mlp` */
    char msg[512];            /* the message of the case just run */
} fx;

static const char *fx_file(fx *f, const char *name, const void *bytes, size_t n)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    FILE *fp = fopen(f->path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(bytes, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
    return f->path;
}

static const char *fx_text(fx *f, const char *name, const char *text)
{
    return fx_file(f, name, text, strlen(text));
}

static void fx_init(fx *f)
{
    memset(f, 0, sizeof *f);
    f->al = test_alloc_init(&f->cnt);
    f->cnt.max_request = (size_t)1 << 30; /* refuse absurd requests before malloc sees them */
    f->t = adj_tape_new_with(&f->al);
    f->other = adj_tape_new_with(&f->al);
    f->p32 = adj_params_new_with(ADJ_F32, &f->al);
    f->p64 = adj_params_new_with(ADJ_F64, &f->al);
    f->empty = adj_params_new_with(ADJ_F64, &f->al);
    ck_assert_int_eq(adj_dense_add(f->p32, "fc", 3, 2, 1, &f->layer), ADJ_OK);
    adj_error err;
    f->bn = adj_batchnorm_new(f->p64, "bn", 3, 0, 0, &err);
    ck_assert_ptr_nonnull(f->bn);
    adj_rng_seed(&f->rng, 5);
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    c.batchnorm = 1;
    ck_assert_int_eq(adj_mlp_config_set_sizes(&c, 3, (int64_t[]){3, 4, 2}, ADJ_ACT_TANH), ADJ_OK);
    f->mlp = adj_mlp_new_with(&c, &f->rng, &f->al, &err);
    ck_assert_ptr_nonnull(f->mlp);

    /* a var recorded before a reset, at a position no case reaches again */
    for (int i = 0; i < 1000; i++)
        adj_scalar(f->t, 1.0);
    f->stale = adj_tensor_f64(f->t, 2, ((int64_t[]){2, 3}), NULL);
    adj_tape_reset(f->t);
    f->x23 = adj_constant_f32(f->t, 2, ((int64_t[]){2, 3}), NULL);
    f->x25 = adj_constant_f32(f->t, 2, ((int64_t[]){2, 5}), NULL);
    f->x23d = adj_tensor_f64(f->t, 2, ((int64_t[]){2, 3}), ((double[]){1, 2, 3, 4, 5, 7}));
    f->v3 = adj_tensor_f64(f->t, 1, ((int64_t[]){3}), NULL);
    f->s = adj_scalar(f->t, 2.0);
    f->cube = adj_tensor_f64(f->t, 3, ((int64_t[]){2, 2, 2}), NULL);
    f->foreign = adj_tensor_f64(f->other, 2, ((int64_t[]){2, 3}), NULL);

    snprintf(f->dir, sizeof f->dir, "/tmp/adj-api-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->model, sizeof f->model, "%s/model.adj", f->dir);
    ck_assert_int_eq(adj_model_save(f->mlp, f->model, &err), ADJ_OK);
}

static void fx_free(fx *f)
{
    adj_tape_free(f->t);
    adj_tape_free(f->other);
    adj_batchnorm_free(f->bn);
    adj_params_free(f->p32);
    adj_params_free(f->p64);
    adj_params_free(f->empty);
    adj_mlp_free(f->mlp);
    ck_assert_msg(f->cnt.live == 0, "%zu bytes leaked", f->cnt.live);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The outcome of a call through its channel. */
static adj_status from_tape(fx *f)
{
    snprintf(f->msg, sizeof f->msg, "%s", adj_tape_message(f->t));
    return adj_tape_status(f->t);
}
static adj_status from_err(fx *f, adj_status s, const adj_error *e)
{
    snprintf(f->msg, sizeof f->msg, "%s", e->message);
    ck_assert_int_eq(e->status, s); /* the status returned is the one kept */
    return s;
}
static adj_status from_store(fx *f, adj_params *p, int ret)
{
    snprintf(f->msg, sizeof f->msg, "%s", adj_params_message(p));
    ck_assert_int_eq(ret, -1);
    return adj_params_status(p);
}

/* ---------------------------------------------------------------- cases */

typedef adj_status (*case_fn)(fx *f);

/* parameters */
static adj_status params_ndim(fx *f)
{
    return from_store(f, f->p64, adj_params_add(f->p64, "w", 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}));
}
static adj_status params_null_shape(fx *f) { return from_store(f, f->p64, adj_params_add(f->p64, "w", 2, NULL)); }
static adj_status params_negative(fx *f)
{
    return from_store(f, f->p64, adj_params_add(f->p64, "w", 2, (int64_t[]){3, -1}));
}
static adj_status params_overflow(fx *f)
{
    int64_t big = INT64_C(1) << 20;
    return from_store(f, f->p64, adj_params_add(f->p64, "w", 4, (int64_t[]){big, big, big, big}));
}
static adj_status params_huge(fx *f)
{
    return from_store(f, f->p64, adj_params_add(f->p64, "w", 2, (int64_t[]){INT64_C(1) << 40, 1024}));
}
static adj_status params_dtype(fx *f)
{
    return adj_params_new_with((adj_dtype)7, &f->al) ? ADJ_OK : ADJ_EINVAL;
}
static adj_status param_index(fx *f) { adj_param(f->t, f->p32, 7); return from_tape(f); }
static adj_status param_negative(fx *f) { adj_param(f->t, f->p32, -1); return from_tape(f); }
static adj_status param_mixed(fx *f) { adj_add(adj_param(f->t, f->p32, 0), adj_tensor_f64(f->t, 2, ((int64_t[]){2, 3}), NULL)); return from_tape(f); }
static adj_status param_empty_store(fx *f) { adj_param(f->t, f->empty, 0); return from_tape(f); }

/* activations, initialisers, dense layers, dropout */
static adj_status act_unknown(fx *f) { adj_activate(f->x23, (adj_activation)99); return from_tape(f); }
static adj_status act_parse(fx *f) { adj_activation act; (void)f; return adj_activation_parse("swish", &act); }
static adj_status act_parse_null(fx *f) { (void)f; return adj_activation_parse("relu", NULL); }
static adj_status init_index(fx *f) { return adj_init_tensor(f->p32, 5, ADJ_INIT_ZEROS, 0, NULL); }
static adj_status init_kind(fx *f) { return adj_init_tensor(f->p32, 0, (adj_init)42, 0, &f->rng); }
static adj_status init_no_rng(fx *f) { return adj_init_tensor(f->p32, 0, ADJ_INIT_HE_NORMAL, 0, NULL); }
static adj_status init_null(fx *f) { return adj_init_tensor(NULL, 0, ADJ_INIT_ZEROS, 0, &f->rng); }
static adj_status dense_zero(fx *f) { adj_dense d; return adj_dense_add(f->p32, "d", 0, 2, 1, &d); }
static adj_status dense_negative(fx *f) { adj_dense d; return adj_dense_add(f->p32, "d", 3, -2, 1, &d); }
static adj_status dense_null(fx *f) { return adj_dense_add(f->p32, "d", 3, 2, 1, NULL); }
static adj_status dense_width(fx *f) { adj_dense_forward(f->p32, &f->layer, f->x25); return from_tape(f); }
static adj_status dense_dtype(fx *f) { adj_dense_forward(f->p32, &f->layer, f->x23d); return from_tape(f); }
static adj_status dense_stale(fx *f) { adj_dense_forward(f->p32, &f->layer, f->stale); return from_tape(f); }
static adj_status dense_no_layer(fx *f) { adj_dense_forward(f->p32, NULL, f->x23); return from_tape(f); }
static adj_status dense_no_store(fx *f) { adj_dense_forward(NULL, &f->layer, f->x23); return from_tape(f); }
static adj_status dense_3d(fx *f) { adj_dense_forward(f->p64, &(adj_dense){0, -1, 3, 2}, f->cube); return from_tape(f); }
static adj_status dropout_one(fx *f) { adj_dropout(f->x23d, 1.0, 1, &f->rng); return from_tape(f); }
static adj_status dropout_nan(fx *f) { adj_dropout(f->x23d, NAN, 1, &f->rng); return from_tape(f); }
static adj_status dropout_negative(fx *f) { adj_dropout(f->x23d, -0.5, 0, &f->rng); return from_tape(f); }
static adj_status dropout_no_rng(fx *f) { adj_dropout(f->x23d, 0.5, 1, NULL); return from_tape(f); }
static adj_status dropout_stale(fx *f) { adj_dropout(f->stale, 0.5, 1, &f->rng); return from_tape(f); }
static adj_status mask_null(fx *f) { adj_dropout_mask(f->x23d, NULL, 0.5); return from_tape(f); }
static adj_status mask_prob(fx *f)
{
    static const uint8_t m[6] = {1, 0, 1, 1, 0, 1};
    adj_dropout_mask(f->x23d, m, 0.0);
    return from_tape(f);
}

/* batch norm */
static adj_status bn_no_store(fx *f)
{
    adj_error e;
    adj_batchnorm *bn = adj_batchnorm_new(NULL, "b", 3, 0, 0, &e);
    ck_assert_ptr_null(bn);
    return from_err(f, e.status, &e);
}
static adj_status bn_features(fx *f)
{
    adj_error e;
    adj_batchnorm *bn = adj_batchnorm_new(f->p64, "b", 0, 0, 0, &e);
    ck_assert_ptr_null(bn);
    return from_err(f, e.status, &e);
}
static adj_status bn_setting(fx *f, double eps, double momentum)
{
    adj_error e;
    adj_batchnorm *bn = adj_batchnorm_new(f->p64, "b", 3, eps, momentum, &e);
    ck_assert_ptr_null(bn);
    return from_err(f, e.status, &e);
}
static adj_status bn_momentum_big(fx *f) { return bn_setting(f, 0, 1.5); }
static adj_status bn_momentum_neg(fx *f) { return bn_setting(f, 0, -0.5); }
static adj_status bn_momentum_nan(fx *f) { return bn_setting(f, 0, NAN); }
static adj_status bn_eps_inf(fx *f) { return bn_setting(f, INFINITY, 0.1); }
/* training on one row: its variance is 0/0 in the unbiased sense and the
 * output would be beta whatever X is */
static adj_status bn_one_row(fx *f)
{
    adj_batchnorm_forward(f->bn, f->p64, adj_tensor_f64(f->t, 2, ((int64_t[]){1, 3}), NULL), 1);
    return from_tape(f);
}
static adj_status bn_width(fx *f)
{
    adj_batchnorm_forward(f->bn, f->p64, adj_tensor_f64(f->t, 2, ((int64_t[]){2, 5}), NULL), 1);
    return from_tape(f);
}
static adj_status bn_1d(fx *f) { adj_batchnorm_forward(f->bn, f->p64, f->v3, 1); return from_tape(f); }
static adj_status bn_null(fx *f) { adj_batchnorm_forward(NULL, f->p64, f->x23d, 1); return from_tape(f); }
static adj_status bn_dtype(fx *f) { adj_batchnorm_forward(f->bn, f->p64, f->x23, 0); return from_tape(f); }
static adj_status bn_stale(fx *f) { adj_batchnorm_forward(f->bn, f->p64, f->stale, 1); return from_tape(f); }
static adj_status bn_stale_eval(fx *f) { adj_batchnorm_forward(f->bn, f->p64, f->stale, 0); return from_tape(f); }

/* multi-layer perceptrons */
static adj_status cfg_count(fx *f)
{
    adj_mlp_config c = adj_mlp_config_default();
    (void)f;
    return adj_mlp_config_set_sizes(&c, 1, (int64_t[]){3}, ADJ_ACT_RELU);
}
static adj_status cfg_size(fx *f)
{
    adj_mlp_config c = adj_mlp_config_default();
    (void)f;
    return adj_mlp_config_set_sizes(&c, 3, (int64_t[]){3, 0, 2}, ADJ_ACT_RELU);
}
static adj_status mlp_bad(fx *f, void (*edit)(adj_mlp_config *), int null_rng)
{
    adj_mlp_config c = adj_mlp_config_default();
    adj_mlp_config_set_sizes(&c, 3, (int64_t[]){3, 4, 2}, ADJ_ACT_RELU);
    if (edit)
        edit(&c);
    adj_error e;
    adj_mlp *m = adj_mlp_new_with(&c, null_rng ? NULL : &f->rng, &f->al, &e);
    ck_assert_ptr_null(m);
    return from_err(f, e.status, &e);
}
static void ed_layers(adj_mlp_config *c) { c->n_sizes = ADJ_MLP_MAX_LAYERS + 2; }
static void ed_one(adj_mlp_config *c) { c->n_sizes = 1; }
static void ed_negative(adj_mlp_config *c) { c->sizes[1] = -3; }
static void ed_huge(adj_mlp_config *c) { c->sizes[0] = INT64_C(1) << 25; }
static void ed_act(adj_mlp_config *c) { c->act[0] = (adj_activation)99; }
static void ed_init(adj_mlp_config *c) { c->init = (adj_init)99; }
static void ed_dropout(adj_mlp_config *c) { c->dropout = 1.0; }
static void ed_dropout_nan(adj_mlp_config *c) { c->dropout = NAN; }
static void ed_dtype(adj_mlp_config *c) { c->dtype = (adj_dtype)5; }
static adj_status mlp_layers(fx *f) { return mlp_bad(f, ed_layers, 0); }
static adj_status mlp_one(fx *f) { return mlp_bad(f, ed_one, 0); }
static adj_status mlp_negative(fx *f) { return mlp_bad(f, ed_negative, 0); }
static adj_status mlp_huge(fx *f) { return mlp_bad(f, ed_huge, 0); }
static adj_status mlp_act(fx *f) { return mlp_bad(f, ed_act, 0); }
static adj_status mlp_init(fx *f) { return mlp_bad(f, ed_init, 0); }
static adj_status mlp_dropout(fx *f) { return mlp_bad(f, ed_dropout, 0); }
static adj_status mlp_dropout_nan(fx *f) { return mlp_bad(f, ed_dropout_nan, 0); }
static adj_status mlp_dtype(fx *f) { return mlp_bad(f, ed_dtype, 0); }
static adj_status mlp_rng(fx *f) { return mlp_bad(f, NULL, 1); }
static adj_status mlp_null_cfg(fx *f)
{
    adj_error e;
    ck_assert_ptr_null(adj_mlp_new(NULL, &f->rng, &e));
    return from_err(f, e.status, &e);
}
static adj_status mlp_fwd_null(fx *f) { adj_mlp_forward(NULL, f->x23d); return from_tape(f); }
static adj_status mlp_fwd_width(fx *f)
{
    adj_mlp_forward(f->mlp, adj_tensor_f64(f->t, 2, ((int64_t[]){2, 5}), NULL));
    return from_tape(f);
}
static adj_status mlp_fwd_dtype(fx *f) { adj_mlp_forward(f->mlp, f->x23); return from_tape(f); }
static adj_status mlp_fwd_stale(fx *f) { adj_mlp_forward(f->mlp, f->stale); return from_tape(f); }
static adj_status mlp_fwd_foreign(fx *f)
{
    adj_mlp_forward(f->mlp, f->foreign);
    return adj_tape_status(f->t) == ADJ_OK && adj_tape_status(f->other) == ADJ_OK ? ADJ_OK : ADJ_ESTATE;
}
static adj_status predict_null(fx *f) { int32_t out[2]; return adj_mlp_predict(NULL, f->t, (double[6]){0}, 2, 0, out); }
static adj_status predict_no_tape(fx *f) { int32_t out[2]; return adj_mlp_predict(f->mlp, NULL, (double[6]){0}, 2, 0, out); }
static adj_status predict_no_out(fx *f) { return adj_mlp_predict(f->mlp, f->t, (double[6]){0}, 2, 0, NULL); }
static adj_status transform_null(fx *f) { return adj_mlp_set_input_transform(f->mlp, NULL, (double[3]){1, 1, 1}); }
static adj_status argmax_3d(fx *f) { int32_t out[4]; return adj_argmax_rows(f->cube, out); }
static adj_status argmax_null(fx *f) { (void)f; return adj_argmax_rows(NULL, (int32_t[1]){0}); }
static adj_status argmax_empty(fx *f)
{
    int32_t out[2] = {-1, -1};
    return adj_argmax_rows(adj_tensor_f64(f->t, 2, ((int64_t[]){2, 0}), NULL), out);
}
static adj_status confusion_classes(fx *f)
{
    int64_t m[1];
    (void)f;
    return adj_confusion_matrix((int32_t[]){0}, (int32_t[]){0}, 1, 0, m);
}
static adj_status confusion_label(fx *f)
{
    int64_t m[4];
    (void)f;
    return adj_confusion_matrix((int32_t[]){0, 1}, (int32_t[]){0, 2}, 2, 2, m);
}

/* optimizers */
static adj_status optim_bad(fx *f, adj_params *p, void (*edit)(adj_optim_config *), adj_optim_kind k)
{
    adj_optim_config c = adj_optim_defaults(k);
    if (edit)
        edit(&c);
    adj_status s = ADJ_OK;
    adj_optim *o = adj_optim_new_with(p, &c, &f->al, &s);
    ck_assert_ptr_null(o);
    return s;
}
static void oe_lr(adj_optim_config *c) { c->lr = -1; }
static void oe_lr_nan(adj_optim_config *c) { c->lr = NAN; }
static void oe_nesterov(adj_optim_config *c) { c->nesterov = 1; }
static void oe_nesterov_damp(adj_optim_config *c) { c->nesterov = 1; c->momentum = 0.9; c->dampening = 0.1; }
static void oe_beta1(adj_optim_config *c) { c->beta1 = 1.0; }
static void oe_beta2(adj_optim_config *c) { c->beta2 = -0.1; }
static void oe_alpha(adj_optim_config *c) { c->alpha = 1.0; }
static void oe_kind(adj_optim_config *c) { c->kind = (adj_optim_kind)17; }
static void oe_eps(adj_optim_config *c) { c->eps = -1e-8; }
static void oe_wd(adj_optim_config *c) { c->weight_decay = -0.1; }
static adj_status optim_null_store(fx *f) { return optim_bad(f, NULL, NULL, ADJ_OPTIM_SGD); }
static adj_status optim_empty(fx *f) { return optim_bad(f, f->empty, NULL, ADJ_OPTIM_ADAM); }
static adj_status optim_null_cfg(fx *f) { adj_status s; ck_assert_ptr_null(adj_optim_new(f->p32, NULL, &s)); return s; }
static adj_status optim_lr(fx *f) { return optim_bad(f, f->p32, oe_lr, ADJ_OPTIM_SGD); }
static adj_status optim_lr_nan(fx *f) { return optim_bad(f, f->p32, oe_lr_nan, ADJ_OPTIM_ADAM); }
static adj_status optim_nesterov(fx *f) { return optim_bad(f, f->p32, oe_nesterov, ADJ_OPTIM_SGD); }
static adj_status optim_nesterov_damp(fx *f) { return optim_bad(f, f->p32, oe_nesterov_damp, ADJ_OPTIM_SGD); }
static adj_status optim_beta1(fx *f) { return optim_bad(f, f->p32, oe_beta1, ADJ_OPTIM_ADAM); }
static adj_status optim_beta2(fx *f) { return optim_bad(f, f->p32, oe_beta2, ADJ_OPTIM_ADAMW); }
static adj_status optim_alpha(fx *f) { return optim_bad(f, f->p32, oe_alpha, ADJ_OPTIM_RMSPROP); }
static adj_status optim_kind(fx *f) { return optim_bad(f, f->p32, oe_kind, ADJ_OPTIM_SGD); }
static adj_status optim_eps(fx *f) { return optim_bad(f, f->p32, oe_eps, ADJ_OPTIM_ADAGRAD); }
static adj_status optim_wd(fx *f) { return optim_bad(f, f->p32, oe_wd, ADJ_OPTIM_SGD); }
static adj_status optim_parse_bad(fx *f) { adj_optim_kind k; (void)f; return adj_optim_parse("lbfgs", &k); }
static adj_status optim_step_null(fx *f) { (void)f; return adj_optim_step(NULL); }
static adj_status optim_grown(fx *f)
{
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_ADAM);
    adj_optim *o = adj_optim_new_with(f->p32, &c, &f->al, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_ge(adj_params_add(f->p32, "late", 1, (int64_t[]){4}), 0);
    adj_status s = adj_optim_step(o);
    ck_assert_int_eq(adj_optim_steps(o), 0); /* nothing was updated */
    adj_optim_free(o);
    return s;
}

/* IDX */
static adj_status idx_bytes(fx *f, const void *b, size_t n)
{
    adj_error e;
    adj_idx *a = (adj_idx *)&e; /* must be set to NULL */
    adj_status s = adj_idx_parse(b, n, "t.idx", &a, &e);
    ck_assert_ptr_null(a);
    return from_err(f, s, &e);
}
static adj_status idx_null_bytes(fx *f) { return idx_bytes(f, NULL, 12); }
static adj_status idx_short(fx *f) { return idx_bytes(f, "\0\0\x08", 3); }
static adj_status idx_magic(fx *f) { return idx_bytes(f, "\1\0\x08\1\0\0\0\0", 8); }
static adj_status idx_type(fx *f) { return idx_bytes(f, "\0\0\x07\1\0\0\0\0", 8); }
static adj_status idx_ndim0(fx *f) { return idx_bytes(f, "\0\0\x08\0", 4); }
static adj_status idx_ndim9(fx *f) { return idx_bytes(f, "\0\0\x08\x09", 4); }
static adj_status idx_header(fx *f) { return idx_bytes(f, "\0\0\x08\x02\0\0\0\1", 8); }
static adj_status idx_data(fx *f) { return idx_bytes(f, "\0\0\x08\x01\0\0\0\x05\1\2", 10); }
static adj_status idx_trailing(fx *f) { return idx_bytes(f, "\0\0\x08\x01\0\0\0\x01\1\2", 10); }
static adj_status idx_overflow(fx *f)
{
    return idx_bytes(f, "\0\0\x0e\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16);
}
static adj_status idx_no_out(fx *f) { adj_error e; return from_err(f, adj_idx_parse("\0\0\x08\x01\0\0\0\0", 8, "x", NULL, &e), &e); }
static adj_status idx_null_path(fx *f) { adj_error e; adj_idx *a; return from_err(f, adj_idx_read(NULL, &a, &e), &e); }
static adj_status idx_missing(fx *f)
{
    adj_error e;
    adj_idx *a;
    snprintf(f->path, sizeof f->path, "%s/nothing.idx", f->dir);
    return from_err(f, adj_idx_read(f->path, &a, &e), &e);
}
static adj_status idx_bad_gzip(fx *f)
{
    adj_error e;
    adj_idx *a;
    /* a gzip header followed by garbage */
    const char *p = fx_file(f, "bad.gz", "\x1f\x8b\x08\0\0\0\0\0\0\x03\xff\xff\xff\xff\x01\x02", 16);
    return from_err(f, adj_idx_read(p, &a, &e), &e);
}
static adj_status idx_gzip_truncated(fx *f)
{
    /* a valid gzip stream cut in half */
    unsigned char raw[64], gz[128];
    memset(raw, 7, sizeof raw);
    memcpy(raw, "\0\0\x08\x01\0\0\0\x3c", 8);
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = raw;
    z.avail_in = sizeof raw;
    z.next_out = gz;
    z.avail_out = sizeof gz;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = sizeof gz - z.avail_out;
    deflateEnd(&z);
    adj_error e;
    adj_idx *a;
    const char *p = fx_file(f, "cut.gz", gz, n / 2);
    return from_err(f, adj_idx_read(p, &a, &e), &e);
}
static adj_status idxw(fx *f, adj_idx_type type, int ndim, const int64_t *dims, const void *data,
                       const char *path)
{
    adj_error e;
    if (!path) {
        snprintf(f->path, sizeof f->path, "%s/w.idx", f->dir);
        path = f->path;
    }
    return from_err(f, adj_idx_write(path, type, ndim, dims, data, 0, &e), &e);
}
static adj_status idxw_type(fx *f) { return idxw(f, (adj_idx_type)3, 1, (int64_t[]){1}, "a", NULL); }
static adj_status idxw_ndim(fx *f) { return idxw(f, ADJ_IDX_U8, 0, (int64_t[]){1}, "a", NULL); }
static adj_status idxw_dim(fx *f) { return idxw(f, ADJ_IDX_U8, 2, (int64_t[]){1, -1}, "a", NULL); }
static adj_status idxw_data(fx *f) { return idxw(f, ADJ_IDX_U8, 1, (int64_t[]){3}, NULL, NULL); }
static adj_status idxw_dir(fx *f) { return idxw(f, ADJ_IDX_U8, 1, (int64_t[]){1}, "a", "/nonexistent-dir/x.idx"); }

/* data sets from IDX pairs */
static adj_status ds_pair(fx *f, adj_idx_type lt, int lnd, const int64_t *ld, const void *lab)
{
    char im[300], lb[300];
    adj_error e;
    snprintf(im, sizeof im, "%s/im.idx", f->dir);
    snprintf(lb, sizeof lb, "%s/lb.idx", f->dir);
    static const uint8_t pix[12] = {0};
    ck_assert_int_eq(adj_idx_write(im, ADJ_IDX_U8, 3, (int64_t[]){3, 2, 2}, pix, 0, &e), ADJ_OK);
    ck_assert_int_eq(adj_idx_write(lb, lt, lnd, ld, lab, 1, &e), ADJ_OK);
    adj_dataset *d = (adj_dataset *)&e;
    adj_status s = adj_dataset_from_idx(im, lb, &d, &e);
    ck_assert_ptr_null(d);
    return from_err(f, s, &e);
}
static adj_status ds_count(fx *f) { return ds_pair(f, ADJ_IDX_U8, 1, (int64_t[]){2}, (uint8_t[]){0, 1}); }
static adj_status ds_2d(fx *f) { return ds_pair(f, ADJ_IDX_U8, 2, (int64_t[]){3, 1}, (uint8_t[]){0, 1, 2}); }
static adj_status ds_fraction(fx *f) { return ds_pair(f, ADJ_IDX_F64, 1, (int64_t[]){3}, (double[]){0, 1.5, 2}); }
static adj_status ds_negative(fx *f) { return ds_pair(f, ADJ_IDX_I8, 1, (int64_t[]){3}, (int8_t[]){0, -1, 2}); }
static adj_status ds_nan(fx *f) { return ds_pair(f, ADJ_IDX_F32, 1, (int64_t[]){3}, (float[]){0, NAN, 2}); }
static adj_status ds_load_null(fx *f) { adj_error e; adj_dataset *d; return from_err(f, adj_dataset_load_idx(NULL, "train", &d, &e), &e); }
static adj_status ds_load_missing(fx *f) { adj_error e; adj_dataset *d; return from_err(f, adj_dataset_load_idx(f->dir, "train", &d, &e), &e); }
static adj_status ds_split_frac(fx *f)
{
    adj_dataset *d = adj_dataset_new(4, 2), *a, *b;
    adj_error e;
    adj_status s = adj_dataset_split(d, 1.5, 1, &a, &b, &e);
    ck_assert_ptr_null(a);
    ck_assert_ptr_null(b);
    adj_dataset_free(d);
    return from_err(f, s, &e);
}
static adj_status ds_split_null(fx *f) { adj_error e; adj_dataset *a, *b; return from_err(f, adj_dataset_split(NULL, 0.5, 1, &a, &b, &e), &e); }
static adj_status ds_new_overflow(fx *f) { (void)f; return adj_dataset_new(SIZE_MAX / 2, 4) ? ADJ_OK : ADJ_ENOMEM; }
static adj_status batcher_zero(fx *f)
{
    adj_dataset *d = adj_dataset_new(4, 2);
    adj_batcher *b = adj_batcher_new(d, 0, 1, 1);
    adj_dataset_free(d);
    (void)f;
    return b ? ADJ_OK : ADJ_EINVAL;
}
static adj_status batcher_empty(fx *f)
{
    adj_dataset *d = adj_dataset_new(0, 2);
    adj_batcher *b = adj_batcher_new(d, 8, 1, 1);
    adj_dataset_free(d);
    (void)f;
    return b ? ADJ_OK : ADJ_EINVAL;
}

/* CSV */
static adj_status csv(fx *f, const char *text, const char *label)
{
    adj_error e;
    adj_dataset *d = (adj_dataset *)&e;
    adj_status s = adj_csv_read(fx_text(f, "t.csv", text), label, &d, &e);
    ck_assert_ptr_null(d);
    return from_err(f, s, &e);
}
static adj_status csv_empty(fx *f) { return csv(f, "", NULL); }
static adj_status csv_blank(fx *f) { return csv(f, "\n \n\t\r\n", NULL); }
static adj_status csv_one_col(fx *f) { return csv(f, "label\n1\n", NULL); }
static adj_status csv_no_rows(fx *f) { return csv(f, "a,b\n\n", NULL); }
static adj_status csv_fewer(fx *f) { return csv(f, "a,b,c\n1,2,3\n4,5\n", NULL); }
static adj_status csv_more(fx *f) { return csv(f, "a,b\n1,2\n4,5,6\n", NULL); }
static adj_status csv_word(fx *f) { return csv(f, "a,b\n1,abc\n", "a"); }
static adj_status csv_inf(fx *f) { return csv(f, "a,b\ninf,1\n", NULL); }
static adj_status csv_empty_field(fx *f) { return csv(f, "a,b\n,1\n", NULL); }
static adj_status csv_label_neg(fx *f) { return csv(f, "a,y\n1,-1\n", NULL); }
static adj_status csv_label_frac(fx *f) { return csv(f, "a,y\n1,0.5\n", NULL); }
static adj_status csv_label_big(fx *f) { return csv(f, "a,y\n1,1e9\n", NULL); }
static adj_status csv_label_name(fx *f) { return csv(f, "a,y\n1,1\n", "zz"); }
static adj_status csv_label_index(fx *f) { return csv(f, "a,y\n1,1\n", "2"); }
static adj_status csv_nul(fx *f)
{
    adj_error e;
    adj_dataset *d;
    return from_err(f, adj_csv_read(fx_file(f, "n.csv", "a,b\n1,\0\n", 8), NULL, &d, &e), &e);
}
static adj_status csv_missing(fx *f) { adj_error e; adj_dataset *d; return from_err(f, adj_csv_read("/nonexistent/x.csv", NULL, &d, &e), &e); }
static adj_status csv_null_path(fx *f) { adj_error e; adj_dataset *d; return from_err(f, adj_csv_read(NULL, NULL, &d, &e), &e); }
static adj_status csv_null_out(fx *f) { adj_error e; return from_err(f, adj_csv_read(f->model, NULL, NULL, &e), &e); }
static adj_status csv_wide(fx *f)
{
    /* more columns than the reader accepts (100000) */
    size_t n = 2 * 100001 + 2;
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n - 1; i += 2) {
        s[i] = 'a';
        s[i + 1] = ',';
    }
    s[n - 2] = 'a';
    s[n - 1] = '\n';
    s[n] = '\0';
    adj_status st = csv(f, s, NULL);
    free(s);
    return st;
}

/* model files */
static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    rewind(fp);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return b;
}
static adj_status model_edit(fx *f, void (*edit)(unsigned char *b, size_t *n))
{
    size_t n;
    unsigned char *b = read_all(f->model, &n);
    unsigned char *c = malloc(n + 16);
    memcpy(c, b, n);
    edit(c, &n);
    const char *p = fx_file(f, "edited.adj", c, n);
    free(b);
    free(c);
    adj_error e;
    adj_mlp *m = (adj_mlp *)&e;
    adj_status s = adj_model_load_with(p, &f->al, &m, &e);
    ck_assert_ptr_null(m);
    /* loading into the fixture model fails the same way */
    adj_error e2;
    ck_assert_int_eq(adj_model_load_into(f->mlp, p, &e2), s);
    return from_err(f, s, &e);
}
static void me_magic(unsigned char *b, size_t *n) { (void)n; b[0] = 'X'; }
static void me_version(unsigned char *b, size_t *n) { (void)n; b[8] = 2; }
static void me_crc(unsigned char *b, size_t *n) { b[*n / 2] ^= 0x40; }
static void me_truncate(unsigned char *b, size_t *n) { (void)b; *n -= 9; }
static void me_header(unsigned char *b, size_t *n) { (void)b; *n = 14; }
static void me_empty(unsigned char *b, size_t *n) { (void)b; *n = 0; }
static void me_trailing(unsigned char *b, size_t *n) { memcpy(b + *n, "abcd", 4); *n += 4; }
static void me_length(unsigned char *b, size_t *n) { (void)n; b[12] ^= 1; }
/* a valid envelope around a payload whose layer size is 2^24: the
 * architecture needs far more bytes than the file holds */
static void me_huge(unsigned char *b, size_t *n)
{
    /* payload starts at 20: dtype u32, n_sizes u32, sizes u64... */
    uint64_t big = (uint64_t)1 << 24;
    for (int k = 0; k < 8; k++) {
        b[28 + k] = (unsigned char)(big >> (8 * k));
        b[36 + k] = (unsigned char)(big >> (8 * k));
    }
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(*n - 4));
    for (int k = 0; k < 4; k++)
        b[*n - 4 + k] = (unsigned char)(crc >> (8 * k));
}
static adj_status model_magic(fx *f) { return model_edit(f, me_magic); }
static adj_status model_version(fx *f) { return model_edit(f, me_version); }
static adj_status model_crc(fx *f) { return model_edit(f, me_crc); }
static adj_status model_truncated(fx *f) { return model_edit(f, me_truncate); }
static adj_status model_header(fx *f) { return model_edit(f, me_header); }
static adj_status model_empty(fx *f) { return model_edit(f, me_empty); }
static adj_status model_trailing(fx *f) { return model_edit(f, me_trailing); }
static adj_status model_length(fx *f) { return model_edit(f, me_length); }
static adj_status model_huge(fx *f) { return model_edit(f, me_huge); }
static adj_status model_missing(fx *f) { adj_error e; adj_mlp *m; return from_err(f, adj_model_load("/nonexistent/m.adj", &m, &e), &e); }
static adj_status model_null_out(fx *f) { adj_error e; return from_err(f, adj_model_load(f->model, NULL, &e), &e); }
static adj_status model_null_path(fx *f) { adj_error e; adj_mlp *m; return from_err(f, adj_model_load(NULL, &m, &e), &e); }
static adj_status model_into_null(fx *f) { adj_error e; return from_err(f, adj_model_load_into(NULL, f->model, &e), &e); }
static adj_status model_into_arch(fx *f)
{
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    adj_mlp_config_set_sizes(&c, 3, (int64_t[]){3, 5, 2}, ADJ_ACT_TANH);
    adj_error e;
    adj_mlp *m = adj_mlp_new_with(&c, &f->rng, &f->al, &e);
    adj_status s = adj_model_load_into(m, f->model, &e);
    adj_mlp_free(m);
    return from_err(f, s, &e);
}
static adj_status model_into_dtype(fx *f)
{
    adj_mlp_config c = adj_mlp_config_default();
    c.batchnorm = 1;
    adj_mlp_config_set_sizes(&c, 3, (int64_t[]){3, 4, 2}, ADJ_ACT_TANH);
    adj_error e;
    adj_mlp *m = adj_mlp_new_with(&c, &f->rng, &f->al, &e);
    adj_status s = adj_model_load_into(m, f->model, &e);
    adj_mlp_free(m);
    return from_err(f, s, &e);
}
static adj_status save_null(fx *f) { adj_error e; return from_err(f, adj_model_save(NULL, f->model, &e), &e); }
static adj_status save_null_path(fx *f) { adj_error e; return from_err(f, adj_model_save(f->mlp, NULL, &e), &e); }
static adj_status save_no_dir(fx *f) { adj_error e; return from_err(f, adj_model_save(f->mlp, "/nonexistent-dir/m.adj", &e), &e); }
static adj_status save_onto_dir(fx *f)
{
    adj_error e;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", f->dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    fx_text(f, "sub/x", "keep"); /* a directory that is not empty */
    adj_status s = adj_model_save(f->mlp, sub, &e);
    /* no temporary file is left behind */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 2", f->dir);
    ck_assert_int_eq(system(cmd), 0);
    return from_err(f, s, &e);
}

/* gradient checks and forward mode */
static adj_var *gc_sum(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t, (void)n, (void)user;
    return adj_sum(adj_square(in[0]));
}
static adj_var *gc_bad(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)n, (void)user;
    return adj_add(in[0], adj_tensor_f64(t, 1, ((int64_t[]){5}), NULL));
}
static adj_var *gc_null(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t, (void)in, (void)n, (void)user;
    return NULL;
}
static adj_var *gc_vector(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t, (void)n, (void)user;
    return adj_exp(in[0]);
}
static const double gc_x[3] = {0.5, -1, 2};
static adj_status gc_run(fx *f, adj_gradcheck_fn fn, int n, const adj_gradcheck_input *in,
                         const adj_gradcheck_opts *o)
{
    adj_gradcheck_report r;
    adj_status s = adj_gradcheck(fn, NULL, n, in, o, &r);
    ck_assert_int_eq(r.status, s);
    if (s != ADJ_OK)
        ck_assert(!r.passed);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return s;
}
static const adj_gradcheck_input gc_in = {1, {3}, gc_x};
static adj_status gc_no_fn(fx *f) { return gc_run(f, NULL, 1, &gc_in, NULL); }
static adj_status gc_many(fx *f) { return gc_run(f, gc_sum, ADJ_GRADCHECK_MAX_INPUTS + 1, &gc_in, NULL); }
static adj_status gc_zero(fx *f) { return gc_run(f, gc_sum, 0, &gc_in, NULL); }
static adj_status gc_no_in(fx *f) { return gc_run(f, gc_sum, 1, NULL, NULL); }
static adj_status gc_shape(fx *f)
{
    adj_gradcheck_input in = {2, {3, -1}, gc_x};
    return gc_run(f, gc_sum, 1, &in, NULL);
}
static adj_status gc_no_data(fx *f)
{
    adj_gradcheck_input in = {1, {3}, NULL};
    return gc_run(f, gc_sum, 1, &in, NULL);
}
static adj_status gc_fails(fx *f) { return gc_run(f, gc_bad, 1, &gc_in, NULL); }
static adj_status gc_returns_null(fx *f) { return gc_run(f, gc_null, 1, &gc_in, NULL); }
static adj_status gc_not_scalar(fx *f) { return gc_run(f, gc_vector, 1, &gc_in, NULL); }
static adj_status gc_dtype(fx *f)
{
    adj_gradcheck_opts o = {.dtype = (adj_dtype)9};
    return gc_run(f, gc_sum, 1, &gc_in, &o);
}
static adj_status gc_no_report(fx *f) { (void)f; return adj_gradcheck(gc_sum, NULL, 1, &gc_in, NULL, NULL); }
static adj_status gcop_op(fx *f)
{
    adj_gradcheck_report r;
    adj_status s = adj_gradcheck_op(ADJ_OP_COUNT, ADJ_F64, 0, 1, &r, NULL, 0);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return s;
}
static adj_status gcop_case(fx *f)
{
    adj_gradcheck_report r;
    adj_status s = adj_gradcheck_op(ADJ_OP_EXP, ADJ_F64, 99, 1, &r, NULL, 0);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return s;
}
static adj_status gcop_null(fx *f) { (void)f; return adj_gradcheck_op(ADJ_OP_EXP, ADJ_F64, 0, 1, NULL, NULL, 0); }
static adj_status jvpcheck_op(fx *f)
{
    adj_jvpcheck_report r;
    adj_status s = adj_jvpcheck_op((adj_op)-1, ADJ_F64, 0, 1, &r);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return s;
}
static adj_status jvp_null(fx *f) { double o; (void)f; return adj_jvp(NULL, 0, NULL, NULL, &o); }
static adj_status jvp_foreign(fx *f)
{
    double o[6], v[6] = {0};
    const double *vs[1] = {v};
    adj_var *y = adj_exp(f->x23d);
    adj_jvp(y, 1, &f->foreign, vs, o);
    return from_tape(f);
}
static adj_status jvp_stale(fx *f)
{
    double o, v = 1;
    const double *vs[1] = {&v};
    adj_jvp(adj_exp(f->s), 1, &f->stale, vs, &o);
    return from_tape(f);
}
static adj_status jvp_no_out(fx *f) { adj_jvp(adj_exp(f->s), 0, NULL, NULL, NULL); return from_tape(f); }
static adj_status jvp_negative(fx *f) { double o; adj_jvp(adj_exp(f->s), -1, NULL, NULL, &o); return from_tape(f); }
static adj_status jvp_no_dir(fx *f)
{
    double o;
    const double *vs[1] = {NULL};
    adj_jvp(adj_exp(f->s), 1, &f->s, vs, &o);
    return from_tape(f);
}
static adj_status jvp_sticky(fx *f)
{
    double o, v = 1;
    const double *vs[1] = {&v};
    adj_var *y = adj_exp(f->s);
    adj_add(f->x23d, adj_tensor_f64(f->t, 1, ((int64_t[]){5}), NULL)); /* a shape error first */
    adj_status s = adj_jvp(y, 1, &f->s, vs, &o);
    ck_assert_int_eq(s, from_tape(f));
    return s;
}
static adj_status jvp_item_foreign(fx *f)
{
    double d = adj_jvp_item(adj_exp(f->s), adj_scalar(f->other, 1.0), 1.0);
    ck_assert(isnan(d));
    return from_tape(f);
}
static adj_status jvp_item_shape(fx *f)
{
    double d = adj_jvp_item(adj_exp(f->s), f->x23d, 1.0);
    ck_assert(isnan(d));
    return from_tape(f);
}
static adj_status leaf_dtype(fx *f)
{
    adj_leaf_at(f->t, (adj_dtype)9, 1, (int64_t[]){2}, NULL, 1, "here.c", 7);
    return from_tape(f);
}
static adj_status leaf_empty_ops(fx *f)
{
    /* empty tensors flow through ops: sum of nothing is 0, its gradient empty */
    adj_var *e = adj_tensor_f64(f->t, 2, ((int64_t[]){0, 3}), NULL);
    adj_var *y = adj_sum(adj_tanh(adj_mul(e, e)));
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    ck_assert_double_eq(adj_item(y), 0.0);
    ck_assert_uint_eq(adj_numel(e), 0);
    /* and its mean is NaN (0/0), as docs/reliability.md says */
    adj_var *m = adj_mean(e);
    ck_assert_int_eq(adj_tape_status(f->t), ADJ_OK);
    ck_assert_msg(isnan(adj_item(m)), "mean of a (0, 3) tensor: %g, want NaN", adj_item(m));
    return from_tape(f);
}

/* teaching */
static adj_status print_null(fx *f) { (void)f; return adj_tape_print(NULL, stdout); }
static adj_status print_no_file(fx *f) { return adj_tape_print(f->t, NULL); }
static adj_status dot_null(fx *f) { return adj_tape_dot(f->t, NULL); }
static adj_status json_null(fx *f) { (void)f; return adj_tape_json(NULL, 1, stdout); }
static adj_status explain_null(fx *f) { (void)f; return adj_backward_explain(NULL, stdout); }
static adj_status explain_no_file(fx *f) { return adj_backward_explain(adj_exp(f->s), NULL); }
static adj_status teach_full(fx *f, int which)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full)
        return ADJ_EIO; /* no /dev/full here: nothing to check */
    adj_var *y = adj_var_set_name(adj_exp(f->s), "y");
    adj_status s = which == 0 ? adj_tape_print(f->t, full)
                 : which == 1 ? adj_tape_dot(f->t, full)
                 : which == 2 ? adj_tape_json(f->t, 1, full)
                              : adj_backward_explain(y, full);
    fclose(full);
    return s;
}
static adj_status print_full(fx *f) { return teach_full(f, 0); }
static adj_status dot_full(fx *f) { return teach_full(f, 1); }
static adj_status json_full(fx *f) { return teach_full(f, 2); }
static adj_status explain_full(fx *f) { return teach_full(f, 3); }
static adj_status example_null(fx *f)
{
    ck_assert_ptr_null(adj_example_build(adj_example_at(0), NULL, NULL)); /* no tape to report on */
    adj_example_build(NULL, f->t, NULL);
    return from_tape(f);
}
static adj_status example_unknown(fx *f) { (void)f; return adj_example_find("e99") || adj_example_find(NULL) || adj_example_at(-1) || adj_example_at(adj_example_count()) ? ADJ_OK : ADJ_EINVAL; }
static adj_status knob_unknown(fx *f) { (void)f; return adj_example_knob_index(adj_example_at(0), "nope") < 0 && adj_example_knob_index(NULL, "x") < 0 ? ADJ_EINVAL : ADJ_OK; }
static adj_status name_inert(fx *f)
{
    adj_var *bad = adj_add(f->x23d, adj_tensor_f64(f->t, 1, ((int64_t[]){5}), NULL));
    ck_assert_ptr_eq(adj_var_set_name(bad, "z"), bad);
    ck_assert_ptr_null(adj_var_name(bad));
    ck_assert_ptr_null(adj_var_set_name(NULL, "z"));
    return from_tape(f);
}

typedef struct api_case {
    const char *name;
    case_fn fn;
    adj_status want;
    const char *words[3]; /* each must appear in the message */
} api_case;

static const api_case cases[] = {
    /* parameter store */
    {"params ndim 9", params_ndim, ADJ_EINVAL, {"adj_params_add", "dimensions 9", "'w'"}},
    {"params NULL shape", params_null_shape, ADJ_EINVAL, {"adj_params_add", "NULL shape", "'w'"}},
    {"params negative", params_negative, ADJ_EINVAL, {"invalid shape", "(3,-1)", "'w'"}},
    {"params overflow", params_overflow, ADJ_EINVAL, {"invalid shape", "(1048576,", "'w'"}},
    {"params huge", params_huge, ADJ_ENOMEM, {"out of memory", "'w'", "(1099511627776,1024)"}},
    {"params dtype", params_dtype, ADJ_EINVAL, {NULL}},
    {"param index", param_index, ADJ_EINVAL, {"adj_param", "no parameter", "test_api.c:"}},
    {"param -1", param_negative, ADJ_EINVAL, {"adj_param", "no parameter", NULL}},
    {"param dtype mix", param_mixed, ADJ_EDTYPE, {"adj_add", "f32", "f64"}},
    {"param empty store", param_empty_store, ADJ_EINVAL, {"adj_param", NULL}},
    /* layers */
    {"activation unknown", act_unknown, ADJ_EINVAL, {"adj_activate", "99", NULL}},
    {"activation parse", act_parse, ADJ_EINVAL, {NULL}},
    {"activation parse NULL", act_parse_null, ADJ_EINVAL, {NULL}},
    {"init index", init_index, ADJ_EINVAL, {NULL}},
    {"init kind", init_kind, ADJ_EINVAL, {NULL}},
    {"init rng", init_no_rng, ADJ_EINVAL, {NULL}},
    {"init NULL", init_null, ADJ_EINVAL, {NULL}},
    {"dense in 0", dense_zero, ADJ_EINVAL, {NULL}},
    {"dense out -2", dense_negative, ADJ_EINVAL, {NULL}},
    {"dense NULL layer", dense_null, ADJ_EINVAL, {NULL}},
    {"dense width", dense_width, ADJ_ESHAPE, {"adj_linear", "(2,5)", "(2,3)"}},
    {"dense dtype", dense_dtype, ADJ_EDTYPE, {"adj_linear", "f64", "f32"}},
    {"dense stale", dense_stale, ADJ_ETAPE, {"adj_dense_forward", "before adj_tape_reset", NULL}},
    {"dense no layer", dense_no_layer, ADJ_EINVAL, {"adj_dense_forward", "NULL layer", NULL}},
    {"dense no store", dense_no_store, ADJ_EINVAL, {"adj_dense_forward", "NULL parameter store", NULL}},
    {"dense 3-D input", dense_3d, ADJ_ESHAPE, {"adj_linear", "(2,2,2)", NULL}},
    {"dropout 1", dropout_one, ADJ_EINVAL, {"adj_dropout", "1", "[0, 1)"}},
    {"dropout NaN", dropout_nan, ADJ_EINVAL, {"adj_dropout", "nan", NULL}},
    {"dropout -0.5 eval", dropout_negative, ADJ_EINVAL, {"adj_dropout", "-0.5", NULL}},
    {"dropout no rng", dropout_no_rng, ADJ_EINVAL, {"adj_dropout", "rng", NULL}},
    {"dropout stale", dropout_stale, ADJ_ETAPE, {"before adj_tape_reset", NULL}},
    {"dropout mask NULL", mask_null, ADJ_EINVAL, {"adj_dropout_mask", "NULL mask", NULL}},
    {"dropout mask prob", mask_prob, ADJ_EINVAL, {"adj_dropout_mask", "keep probability", NULL}},
    {"batchnorm no store", bn_no_store, ADJ_EINVAL, {"adj_batchnorm_new", "NULL", NULL}},
    {"batchnorm 0 features", bn_features, ADJ_EINVAL, {"adj_batchnorm_new", "features", NULL}},
    {"batchnorm width", bn_width, ADJ_ESHAPE, {"adj_batchnorm_forward", "(2,5)", "3 features"}},
    {"batchnorm 1-D", bn_1d, ADJ_ESHAPE, {"adj_batchnorm_forward", "(3)", "2-D"}},
    {"batchnorm one row", bn_one_row, ADJ_ESHAPE, {"adj_batchnorm_forward", "(1,3)", "more than 1 row"}},
    {"batchnorm momentum 1.5", bn_momentum_big, ADJ_EINVAL, {"adj_batchnorm_new", "momentum 1.5", "[0, 1]"}},
    {"batchnorm momentum -0.5", bn_momentum_neg, ADJ_EINVAL, {"adj_batchnorm_new", "momentum -0.5", NULL}},
    {"batchnorm momentum NaN", bn_momentum_nan, ADJ_EINVAL, {"adj_batchnorm_new", "momentum", NULL}},
    {"batchnorm eps inf", bn_eps_inf, ADJ_EINVAL, {"adj_batchnorm_new", "eps inf", NULL}},
    {"batchnorm NULL", bn_null, ADJ_EINVAL, {"adj_batchnorm_forward", "NULL", NULL}},
    {"batchnorm dtype", bn_dtype, ADJ_EDTYPE, {"f32", "f64", NULL}},
    {"batchnorm stale", bn_stale, ADJ_ETAPE, {"before adj_tape_reset", NULL}},
    {"batchnorm stale eval", bn_stale_eval, ADJ_ETAPE, {"before adj_tape_reset", NULL}},
    /* models */
    {"config 1 size", cfg_count, ADJ_EINVAL, {NULL}},
    {"config size 0", cfg_size, ADJ_EINVAL, {NULL}},
    {"mlp 18 sizes", mlp_layers, ADJ_EINVAL, {"adj_mlp_new", "18 layer sizes", NULL}},
    {"mlp 1 size", mlp_one, ADJ_EINVAL, {"adj_mlp_new", "1 layer sizes", NULL}},
    {"mlp size -3", mlp_negative, ADJ_EINVAL, {"adj_mlp_new", "size 1 is -3", NULL}},
    {"mlp size 2^25", mlp_huge, ADJ_EINVAL, {"adj_mlp_new", "33554432", NULL}},
    {"mlp activation", mlp_act, ADJ_EINVAL, {"adj_mlp_new", "activation 99", NULL}},
    {"mlp init", mlp_init, ADJ_EINVAL, {"adj_mlp_new", "initialiser 99", NULL}},
    {"mlp dropout 1", mlp_dropout, ADJ_EINVAL, {"adj_mlp_new", "dropout 1", NULL}},
    {"mlp dropout NaN", mlp_dropout_nan, ADJ_EINVAL, {"adj_mlp_new", "dropout nan", NULL}},
    {"mlp dtype", mlp_dtype, ADJ_EINVAL, {"adj_mlp_new", "dtype 5", NULL}},
    {"mlp NULL rng", mlp_rng, ADJ_EINVAL, {"adj_mlp_new", "NULL rng", NULL}},
    {"mlp NULL config", mlp_null_cfg, ADJ_EINVAL, {"adj_mlp_new", "NULL config", NULL}},
    {"mlp forward NULL", mlp_fwd_null, ADJ_EINVAL, {"adj_mlp_forward", "NULL model", NULL}},
    {"mlp forward width", mlp_fwd_width, ADJ_ESHAPE, {"adj_linear", "(2,5)", NULL}},
    {"mlp forward dtype", mlp_fwd_dtype, ADJ_EDTYPE, {"adj_linear", "f32", "f64"}},
    {"mlp forward stale", mlp_fwd_stale, ADJ_ETAPE, {"before adj_tape_reset", NULL}},
    {"mlp forward other tape", mlp_fwd_foreign, ADJ_OK, {NULL}},
    {"predict NULL model", predict_null, ADJ_EINVAL, {NULL}},
    {"predict NULL tape", predict_no_tape, ADJ_EINVAL, {NULL}},
    {"predict NULL out", predict_no_out, ADJ_EINVAL, {NULL}},
    {"transform NULL", transform_null, ADJ_EINVAL, {NULL}},
    {"argmax 3-D", argmax_3d, ADJ_EINVAL, {NULL}},
    {"argmax NULL", argmax_null, ADJ_EINVAL, {NULL}},
    {"argmax no columns", argmax_empty, ADJ_EINVAL, {NULL}},
    {"confusion 0 classes", confusion_classes, ADJ_EINVAL, {NULL}},
    {"confusion label", confusion_label, ADJ_EINVAL, {NULL}},
    /* optimizers */
    {"optim NULL store", optim_null_store, ADJ_EINVAL, {NULL}},
    {"optim empty store", optim_empty, ADJ_EINVAL, {NULL}},
    {"optim NULL config", optim_null_cfg, ADJ_EINVAL, {NULL}},
    {"optim lr -1", optim_lr, ADJ_EINVAL, {NULL}},
    {"optim lr NaN", optim_lr_nan, ADJ_EINVAL, {NULL}},
    {"optim nesterov", optim_nesterov, ADJ_EINVAL, {NULL}},
    {"optim nesterov damp", optim_nesterov_damp, ADJ_EINVAL, {NULL}},
    {"optim beta1 1", optim_beta1, ADJ_EINVAL, {NULL}},
    {"optim beta2 -0.1", optim_beta2, ADJ_EINVAL, {NULL}},
    {"optim alpha 1", optim_alpha, ADJ_EINVAL, {NULL}},
    {"optim kind", optim_kind, ADJ_EINVAL, {NULL}},
    {"optim eps", optim_eps, ADJ_EINVAL, {NULL}},
    {"optim weight decay", optim_wd, ADJ_EINVAL, {NULL}},
    {"optim parse", optim_parse_bad, ADJ_EINVAL, {NULL}},
    {"optim step NULL", optim_step_null, ADJ_EINVAL, {NULL}},
    {"optim store grew", optim_grown, ADJ_ESTATE, {NULL}},
    /* IDX */
    {"idx NULL bytes", idx_null_bytes, ADJ_EINVAL, {"t.idx", "NULL", NULL}},
    {"idx 3 bytes", idx_short, ADJ_EFORMAT, {"t.idx", "truncated", "3 bytes"}},
    {"idx magic", idx_magic, ADJ_EFORMAT, {"t.idx", "not an IDX file", "01 00 08 01"}},
    {"idx type", idx_type, ADJ_EFORMAT, {"t.idx", "element type 0x07", NULL}},
    {"idx 0 dims", idx_ndim0, ADJ_EFORMAT, {"t.idx", "0 dimensions", NULL}},
    {"idx 9 dims", idx_ndim9, ADJ_EFORMAT, {"t.idx", "9 dimensions", NULL}},
    {"idx header", idx_header, ADJ_EFORMAT, {"t.idx", "truncated header", NULL}},
    {"idx data", idx_data, ADJ_EFORMAT, {"t.idx", "truncated", "promises 5"}},
    {"idx trailing", idx_trailing, ADJ_EFORMAT, {"t.idx", "trailing bytes", NULL}},
    {"idx overflow", idx_overflow, ADJ_EFORMAT, {"t.idx", "overflow", NULL}},
    {"idx NULL out", idx_no_out, ADJ_EINVAL, {"NULL output", NULL}},
    {"idx NULL path", idx_null_path, ADJ_EINVAL, {"NULL path", NULL}},
    {"idx missing", idx_missing, ADJ_EIO, {"nothing.idx", "cannot open", NULL}},
    {"idx bad gzip", idx_bad_gzip, ADJ_EFORMAT, {"bad.gz", "gzip", NULL}},
    {"idx cut gzip", idx_gzip_truncated, ADJ_EFORMAT, {"cut.gz", "gzip", NULL}},
    {"idx write type", idxw_type, ADJ_EINVAL, {"adj_idx_write", NULL}},
    {"idx write ndim", idxw_ndim, ADJ_EINVAL, {"adj_idx_write", NULL}},
    {"idx write dim", idxw_dim, ADJ_EINVAL, {"adj_idx_write", "dimension 1 is -1", NULL}},
    {"idx write data", idxw_data, ADJ_EINVAL, {"adj_idx_write", "NULL data", NULL}},
    {"idx write dir", idxw_dir, ADJ_EIO, {"/nonexistent-dir/x.idx", "cannot create", NULL}},
    {"dataset count", ds_count, ADJ_EFORMAT, {"lb.idx", "2 labels", "3 images"}},
    {"dataset 2-D labels", ds_2d, ADJ_EFORMAT, {"lb.idx", "2-D", NULL}},
    {"dataset label 1.5", ds_fraction, ADJ_EFORMAT, {"lb.idx", "label 1 is 1.5", NULL}},
    {"dataset label -1", ds_negative, ADJ_EFORMAT, {"lb.idx", "label 1 is -1", NULL}},
    {"dataset label NaN", ds_nan, ADJ_EFORMAT, {"lb.idx", "label 1 is nan", NULL}},
    {"dataset NULL dir", ds_load_null, ADJ_EINVAL, {"adj_dataset_load_idx", "NULL", NULL}},
    {"dataset missing", ds_load_missing, ADJ_EIO, {"train-images-idx3-ubyte", "cannot open", NULL}},
    {"split fraction", ds_split_frac, ADJ_EINVAL, {"adj_dataset_split", "fraction", NULL}},
    {"split NULL", ds_split_null, ADJ_EINVAL, {"adj_dataset_split", "NULL", NULL}},
    {"dataset overflow", ds_new_overflow, ADJ_ENOMEM, {NULL}},
    {"batcher 0", batcher_zero, ADJ_EINVAL, {NULL}},
    {"batcher empty", batcher_empty, ADJ_EINVAL, {NULL}},
    /* CSV */
    {"csv empty", csv_empty, ADJ_EFORMAT, {"t.csv", "empty", NULL}},
    {"csv blank", csv_blank, ADJ_EFORMAT, {"t.csv", "empty", NULL}},
    {"csv 1 column", csv_one_col, ADJ_EFORMAT, {"t.csv", "fewer than 2", NULL}},
    {"csv no rows", csv_no_rows, ADJ_EFORMAT, {"t.csv", "no data rows", NULL}},
    {"csv fewer", csv_fewer, ADJ_EFORMAT, {"t.csv:3", "fewer fields", "3"}},
    {"csv more", csv_more, ADJ_EFORMAT, {"t.csv:3", "more fields", NULL}},
    {"csv word", csv_word, ADJ_EFORMAT, {"t.csv:2", "'abc' is not a number", "column 2"}},
    {"csv inf", csv_inf, ADJ_EFORMAT, {"t.csv:2", "'inf'", NULL}},
    {"csv empty field", csv_empty_field, ADJ_EFORMAT, {"t.csv:2", "column 1", NULL}},
    {"csv label -1", csv_label_neg, ADJ_EFORMAT, {"t.csv:2", "label '-1'", NULL}},
    {"csv label 0.5", csv_label_frac, ADJ_EFORMAT, {"t.csv:2", "label '0.5'", NULL}},
    {"csv label 1e9", csv_label_big, ADJ_EFORMAT, {"t.csv:2", "label '1e9'", NULL}},
    {"csv label name", csv_label_name, ADJ_EINVAL, {"t.csv", "'zz'", NULL}},
    {"csv label index", csv_label_index, ADJ_EINVAL, {"t.csv", "'2'", "below 2"}},
    {"csv NUL", csv_nul, ADJ_EFORMAT, {"n.csv", "NUL", NULL}},
    {"csv missing", csv_missing, ADJ_EIO, {"/nonexistent/x.csv", "cannot open", NULL}},
    {"csv NULL path", csv_null_path, ADJ_EINVAL, {"NULL path", NULL}},
    {"csv NULL out", csv_null_out, ADJ_EINVAL, {"NULL output", NULL}},
    {"csv too wide", csv_wide, ADJ_EFORMAT, {"t.csv", "too many", NULL}},
    /* model files */
    {"model magic", model_magic, ADJ_EFORMAT, {"edited.adj", "bad magic", NULL}},
    {"model version", model_version, ADJ_EFORMAT, {"edited.adj", "version 2", NULL}},
    {"model checksum", model_crc, ADJ_EFORMAT, {"edited.adj", "checksum", NULL}},
    {"model truncated", model_truncated, ADJ_EFORMAT, {"edited.adj", "truncated", NULL}},
    {"model header only", model_header, ADJ_EFORMAT, {"edited.adj", "truncated", NULL}},
    {"model empty", model_empty, ADJ_EFORMAT, {"edited.adj", "bad magic", NULL}},
    {"model trailing", model_trailing, ADJ_EFORMAT, {"edited.adj", "trailing", NULL}},
    {"model length", model_length, ADJ_EFORMAT, {"edited.adj", "payload bytes", NULL}},
    {"model huge layers", model_huge, ADJ_EFORMAT, {"edited.adj", "truncated", "needs"}},
    {"model missing", model_missing, ADJ_EIO, {"/nonexistent/m.adj", "cannot open", NULL}},
    {"model NULL out", model_null_out, ADJ_EINVAL, {"NULL output", NULL}},
    {"model NULL path", model_null_path, ADJ_EINVAL, {"NULL path", NULL}},
    {"load into NULL", model_into_null, ADJ_EINVAL, {"NULL model", NULL}},
    {"load into sizes", model_into_arch, ADJ_EFORMAT, {"architecture mismatch", "3-4-2", "3-5-2"}},
    {"load into dtype", model_into_dtype, ADJ_EFORMAT, {"architecture mismatch", "f64", "f32"}},
    {"save NULL model", save_null, ADJ_EINVAL, {"adj_model_save", "NULL model", NULL}},
    {"save NULL path", save_null_path, ADJ_EINVAL, {"adj_model_save", "NULL path", NULL}},
    {"save no dir", save_no_dir, ADJ_EIO, {"/nonexistent-dir/m.adj", "temporary", NULL}},
    {"save onto dir", save_onto_dir, ADJ_EIO, {"sub", "is a directory", NULL}},
    /* gradient checks and forward mode */
    {"gradcheck NULL fn", gc_no_fn, ADJ_EINVAL, {"adj_gradcheck", NULL}},
    {"gradcheck 9 inputs", gc_many, ADJ_EINVAL, {"adj_gradcheck", "1..8", NULL}},
    {"gradcheck 0 inputs", gc_zero, ADJ_EINVAL, {"adj_gradcheck", NULL}},
    {"gradcheck NULL inputs", gc_no_in, ADJ_EINVAL, {"adj_gradcheck", NULL}},
    {"gradcheck shape", gc_shape, ADJ_EINVAL, {"invalid shape", NULL}},
    {"gradcheck NULL data", gc_no_data, ADJ_EINVAL, {"no data", NULL}},
    {"gradcheck fn fails", gc_fails, ADJ_ESHAPE, {"the function failed", "adj_add", "test_api.c:"}},
    {"gradcheck fn NULL", gc_returns_null, ADJ_EINVAL, {"returned NULL", NULL}},
    {"gradcheck not scalar", gc_not_scalar, ADJ_ESHAPE, {"backward", "one element", NULL}},
    {"gradcheck dtype", gc_dtype, ADJ_EINVAL, {NULL}},
    {"gradcheck NULL report", gc_no_report, ADJ_EINVAL, {NULL}},
    {"gradcheck_op op", gcop_op, ADJ_EINVAL, {NULL}},
    {"gradcheck_op case", gcop_case, ADJ_EINVAL, {NULL}},
    {"gradcheck_op NULL report", gcop_null, ADJ_EINVAL, {NULL}},
    {"jvpcheck op", jvpcheck_op, ADJ_EINVAL, {NULL}},
    {"jvp NULL", jvp_null, ADJ_EINVAL, {NULL}},
    {"jvp other tape", jvp_foreign, ADJ_ETAPE, {"adj_jvp", "seeded var 0", NULL}},
    {"jvp stale", jvp_stale, ADJ_ETAPE, {"adj_jvp", "seeded var 0", NULL}},
    {"jvp NULL out", jvp_no_out, ADJ_EINVAL, {"adj_jvp", "out", NULL}},
    {"jvp n -1", jvp_negative, ADJ_EINVAL, {"adj_jvp", "-1", NULL}},
    {"jvp NULL direction", jvp_no_dir, ADJ_EINVAL, {"adj_jvp", "direction 0", NULL}},
    {"jvp sticky", jvp_sticky, ADJ_ESHAPE, {"adj_add", NULL}},
    {"jvp_item other tape", jvp_item_foreign, ADJ_ETAPE, {"adj_jvp", "seeded var 0", NULL}},
    {"jvp_item tensor", jvp_item_shape, ADJ_ESHAPE, {"adj_jvp_item", "one element", "6"}},
    {"leaf dtype", leaf_dtype, ADJ_EINVAL, {"invalid dtype 9", "here.c:7", NULL}},
    {"empty tensors", leaf_empty_ops, ADJ_OK, {NULL}},
    /* teaching */
    {"print NULL tape", print_null, ADJ_EINVAL, {NULL}},
    {"print NULL file", print_no_file, ADJ_EINVAL, {NULL}},
    {"dot NULL file", dot_null, ADJ_EINVAL, {NULL}},
    {"json NULL tape", json_null, ADJ_EINVAL, {NULL}},
    {"explain NULL", explain_null, ADJ_EINVAL, {NULL}},
    {"explain NULL file", explain_no_file, ADJ_EINVAL, {NULL}},
    {"print /dev/full", print_full, ADJ_EIO, {NULL}},
    {"dot /dev/full", dot_full, ADJ_EIO, {NULL}},
    {"json /dev/full", json_full, ADJ_EIO, {NULL}},
    {"explain /dev/full", explain_full, ADJ_EIO, {NULL}},
    {"example NULL", example_null, ADJ_EINVAL, {"adj_example_build", "NULL", NULL}},
    {"example unknown", example_unknown, ADJ_EINVAL, {NULL}},
    {"knob unknown", knob_unknown, ADJ_EINVAL, {NULL}},
    {"name inert", name_inert, ADJ_ESHAPE, {"adj_add", NULL}},
};

#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(misuse_is_reported)
{
    const api_case *c = &cases[_i];
    fx f;
    fx_init(&f);
    adj_status s = c->fn(&f);
    ck_assert_msg(s == c->want, "%s: status %d (%s), want %d (%s): %s", c->name, s,
                  adj_status_string(s), c->want, adj_status_string(c->want), f.msg);
    for (int k = 0; k < 3; k++)
        if (c->words[k])
            ck_assert_msg(strstr(f.msg, c->words[k]), "%s: '%s' not in: %s", c->name, c->words[k],
                          f.msg);
    /* the objects still work: reset the tape and take a training step */
    adj_tape_reset(f.t);
    adj_mlp_set_training(f.mlp, 1);
    adj_var *x = adj_constant_f64(f.t, 2, ((int64_t[]){2, 3}), ((double[]){1, 2, 3, -1, 0, 2}));
    adj_var *loss = adj_softmax_cross_entropy(adj_mlp_forward(f.mlp, x), ((int32_t[]){0, 1}));
    adj_params_zero_grad(adj_mlp_params(f.mlp));
    ck_assert_msg(adj_backward(loss) == ADJ_OK, "%s: afterwards: %s", c->name, adj_tape_message(f.t));
    ck_assert(isfinite(adj_item(loss)));
    /* and the model file on disk is intact */
    adj_error e;
    ck_assert_msg(adj_model_load_into(f.mlp, f.model, &e) == ADJ_OK, "%s: %s", c->name, e.message);
    fx_free(&f);
}
END_TEST

/* Every case above names a different call; this counts them for the
 * reliability report. */
START_TEST(case_count)
{
    ck_assert_int_ge(NCASES, 150);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("misuse");
    tcase_add_loop_test(tc, misuse_is_reported, 0, NCASES);
    tcase_add_test(tc, case_count);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
