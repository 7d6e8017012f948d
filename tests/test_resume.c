/*
 * Checkpoints that resume exactly (adjoint/train.h, optim.h): training N
 * steps, writing a checkpoint and resuming from it for M steps gives the
 * parameters of N + M steps in one go bit for bit, for SGD (plain and
 * with momentum), Adam and AdamW, in f64 and f32, cut inside an epoch or
 * at its end, for rows and for a corpus (a GPT with dropout: the dropout
 * generator is restored too).  Without the state file the moments start
 * anew and the parameters differ (which shows the state matters).  The
 * optimizer's state file is refused when it does not fit.  Data-parallel
 * ranks draw different dropout masks, the same for a given seed and rank.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* n rows of 2 features in 3 noisy clusters, label = cluster. */
static adj_dataset *clusters(size_t n, uint64_t seed)
{
    adj_dataset *d = adj_dataset_new(n, 2);
    ck_assert_ptr_nonnull(d);
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 3);
        double a = 2 * 3.14159265358979323846 * c / 3;
        d->x[2 * i] = (float)(2 * cos(a) + adj_rng_uniform_range(&rng, -1, 1));
        d->x[2 * i + 1] = (float)(2 * sin(a) + adj_rng_uniform_range(&rng, -1, 1));
        d->y[i] = c;
    }
    d->classes = 3;
    return d;
}

static adj_model *mlp(uint64_t seed, adj_dtype dtype)
{
    const char *kv[] = {"sizes", "2,6,3"};
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    adj_error err;
    adj_model *m = adj_model_new("mlp", 1, kv, dtype, &rng, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    return m;
}

static int same_params(adj_model *a, adj_model *b)
{
    adj_params *p = adj_model_params(a), *q = adj_model_params(b);
    size_t n = adj_params_numel(p) * (adj_params_dtype(p) == ADJ_F64 ? 8 : 4);
    return adj_params_numel(p) == adj_params_numel(q) &&
           adj_params_dtype(p) == adj_params_dtype(q) &&
           memcmp(adj_params_values(p), adj_params_values(q), n) == 0;
}

typedef struct tmp {
    char dir[64], path[96], state[128];
} tmp;

static void tmp_make(tmp *t)
{
    strcpy(t->dir, "/tmp/adj-resume-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/ck.safetensors", t->dir);
    ck_assert_int_eq(adj_train_state_path(t->path, t->state, sizeof t->state), ADJ_OK);
}

static void tmp_remove(tmp *t)
{
    unlink(t->path);
    unlink(t->state);
    rmdir(t->dir);
}

/* 100 rows in batches of 30: 4 steps an epoch, 3 epochs.  One run of 12
 * steps against n steps, a checkpoint, and a resumed run to the end. */
static void rows_case(adj_optim_kind kind, double momentum, adj_dtype dt, int64_t n)
{
    tmp t;
    tmp_make(&t);
    adj_dataset *tr = clusters(100, 1);
    adj_train_data d = {.train = tr};
    adj_train_config c = adj_train_defaults();
    c.optim = adj_optim_defaults(kind);
    c.optim.lr = kind == ADJ_OPTIM_SGD ? 0.1 : 0.02;
    c.optim.momentum = momentum;
    c.schedule.kind = ADJ_LR_COSINE;
    c.schedule.total = 12;
    c.batch = 30;
    c.epochs = 3;
    adj_model *whole = mlp(9, dt), *part = mlp(9, dt);
    adj_error err;
    ck_assert_msg(adj_train(whole, &d, &c, NULL, &err) == ADJ_OK, "%s", err.message);
    c.max_steps = n;
    c.checkpoint = t.path;
    adj_train_result r;
    ck_assert_msg(adj_train(part, &d, &c, &r, &err) == ADJ_OK, "%s", err.message);
    ck_assert_int_eq(r.steps, n);
    ck_assert_int_eq(access(t.state, R_OK), 0);
    adj_model *ck = NULL;
    ck_assert_int_eq(adj_model_read(t.path, &ck, NULL), ADJ_OK);
    ck_assert(same_params(ck, part));
    ck_assert(!same_params(ck, whole));
    c.max_steps = 0;
    c.checkpoint = NULL;
    c.resume = t.path;
    ck_assert_msg(adj_train(ck, &d, &c, &r, &err) == ADJ_OK, "%s", err.message);
    ck_assert_int_eq(r.resumed, 1);
    ck_assert_int_eq(r.steps, 12);
    ck_assert_int_eq(r.epochs, 3);
    ck_assert_msg(same_params(ck, whole), "%s momentum %g %s cut at %lld: the resumed run differs",
                  adj_optim_name(kind), momentum, adj_dtype_name(dt), (long long)n);
    /* without the state file: the moments start anew (SGD without
     * momentum has none, and still agrees when cut at an epoch's end) */
    adj_model_free(ck);
    ck_assert_int_eq(adj_model_read(t.path, &ck, NULL), ADJ_OK);
    unlink(t.state);
    c.start_epoch = n / 4;
    c.start_step = n;
    ck_assert_msg(adj_train(ck, &d, &c, &r, &err) == ADJ_OK, "%s", err.message);
    ck_assert_int_eq(r.resumed, 0);
    if (kind != ADJ_OPTIM_SGD || momentum != 0)
        ck_assert_msg(!same_params(ck, whole), "%s: the state made no difference",
                      adj_optim_name(kind));
    else if (n % 4 == 0)
        ck_assert(same_params(ck, whole));
    adj_model_free(ck);
    adj_model_free(whole);
    adj_model_free(part);
    adj_dataset_free(tr);
    tmp_remove(&t);
}

START_TEST(resume_sgd)
{
    rows_case(ADJ_OPTIM_SGD, 0, ADJ_F64, 4);
    rows_case(ADJ_OPTIM_SGD, 0, ADJ_F64, 6);
    rows_case(ADJ_OPTIM_SGD, 0.9, ADJ_F64, 4);
    rows_case(ADJ_OPTIM_SGD, 0.9, ADJ_F32, 7);
}
END_TEST

START_TEST(resume_adam)
{
    rows_case(ADJ_OPTIM_ADAM, 0, ADJ_F64, 4);
    rows_case(ADJ_OPTIM_ADAM, 0, ADJ_F64, 5);
    rows_case(ADJ_OPTIM_ADAM, 0, ADJ_F32, 9);
    rows_case(ADJ_OPTIM_ADAMW, 0, ADJ_F32, 6);
}
END_TEST

/* A GPT with dropout on a corpus: 3 epochs of 10 steps against 13 steps,
 * a checkpoint and the rest; the windows and the dropout masks go on. */
START_TEST(resume_gpt_dropout)
{
    tmp t;
    tmp_make(&t);
    char text[] = "/tmp/adj-resume-text-XXXXXX";
    int fd = mkstemp(text);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 300; i++)
        fputs(i % 3 ? "abcd" : "dcab", f);
    fclose(f);
    adj_corpus *cp = NULL;
    ck_assert_int_eq(adj_corpus_text(text, 0.2, 1, &cp, NULL), ADJ_OK);
    const char *kv[] = {"vocab_size", "4", "n_positions", "8", "n_embd", "8", "n_layer", "1",
                        "n_head", "2", "dropout", "0.3", "chars", "61626364"};
    adj_model *m[2];
    for (int i = 0; i < 2; i++) {
        adj_rng rng;
        adj_rng_seed(&rng, 5);
        m[i] = adj_model_new("gpt", 7, kv, ADJ_F32, &rng, NULL);
        ck_assert_ptr_nonnull(m[i]);
    }
    adj_train_data d = {.corpus = cp, .seq = 8};
    adj_train_config c = adj_train_defaults();
    c.optim.lr = 0.01;
    c.batch = 4;
    c.epochs = 3;
    c.epoch_steps = 10;
    c.eval_windows = 2;
    adj_error err;
    ck_assert_msg(adj_train(m[0], &d, &c, NULL, &err) == ADJ_OK, "%s", err.message);
    c.max_steps = 13;
    c.checkpoint = t.path;
    ck_assert_msg(adj_train(m[1], &d, &c, NULL, &err) == ADJ_OK, "%s", err.message);
    adj_model *ck = NULL;
    ck_assert_int_eq(adj_model_read(t.path, &ck, NULL), ADJ_OK);
    c.max_steps = 0;
    c.checkpoint = NULL;
    c.resume = t.path;
    adj_train_result r;
    ck_assert_msg(adj_train(ck, &d, &c, &r, &err) == ADJ_OK, "%s", err.message);
    ck_assert_int_eq(r.resumed, 1);
    ck_assert_int_eq(r.steps, 30);
    ck_assert_msg(same_params(ck, m[0]), "the resumed GPT differs from the whole run");
    /* another seed would shuffle differently: refused */
    c.seed = 2;
    ck_assert_int_eq(adj_train(ck, &d, &c, &r, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "seed"));
    adj_model_free(ck);
    adj_model_free(m[0]);
    adj_model_free(m[1]);
    adj_corpus_free(cp);
    unlink(text);
    tmp_remove(&t);
}
END_TEST

START_TEST(state_path)
{
    char b[64];
    ck_assert_int_eq(adj_train_state_path("run/ck.safetensors", b, sizeof b), ADJ_OK);
    ck_assert_str_eq(b, "run/ck.optim.safetensors");
    ck_assert_int_eq(adj_train_state_path("run/model", b, sizeof b), ADJ_OK);
    ck_assert_str_eq(b, "run/model.optim.safetensors");
    ck_assert_int_eq(adj_train_state_path(".safetensors", b, sizeof b), ADJ_OK);
    ck_assert_str_eq(b, ".optim.safetensors");
    ck_assert_int_eq(adj_train_state_path("abc", b, 22), ADJ_OK); /* 21 chars and NUL */
    ck_assert_int_eq(adj_train_state_path("abc", b, 21), ADJ_EINVAL);
    ck_assert_str_eq(b, "");
    ck_assert_int_eq(adj_train_state_path("", b, sizeof b), ADJ_EINVAL);
    ck_assert_int_eq(adj_train_state_path(NULL, b, sizeof b), ADJ_EINVAL);
    ck_assert_int_eq(adj_train_state_path("x", NULL, 8), ADJ_EINVAL);
}
END_TEST

/* adj_optim_state_write/read: the names, a round trip into a fresh
 * optimizer (the next step agrees), and the refusals. */
START_TEST(optim_state_file)
{
    adj_params *p = adj_params_new(ADJ_F64);
    adj_params_add(p, "w", 2, (int64_t[]){2, 3});
    adj_params_add(p, "b", 1, (int64_t[]){3});
    adj_params *q = adj_params_new(ADJ_F64);
    adj_params_add(q, "w", 2, (int64_t[]){2, 3});
    adj_params_add(q, "b", 1, (int64_t[]){3});
    size_t n = adj_params_numel(p);
    adj_optim_config cfg = adj_optim_defaults(ADJ_OPTIM_ADAM);
    adj_optim *a = adj_optim_new(p, &cfg, NULL), *b = adj_optim_new(q, &cfg, NULL);
    double *g = adj_params_grads(p), *w = adj_params_values(p);
    memset(g, 0, n * sizeof *g); /* the padding between tensors too */
    memset(w, 0, n * sizeof *w);
    for (int k = 0; k < 2; k++)
        for (size_t j = 0, o = adj_params_offset(p, k); j < adj_params_tensor_numel(p, k); j++) {
            size_t i = o + j;
            w[i] = 0.1 * (double)i, g[i] = 0.5 - 0.07 * (double)i;
        }
    for (int s = 0; s < 3; s++)
        ck_assert_int_eq(adj_optim_step(a), ADJ_OK);
    adj_st_writer *wr = adj_st_writer_new();
    adj_error err;
    ck_assert_int_eq(adj_optim_state_write(a, wr, &err), ADJ_OK);
    void *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(adj_st_writer_encode(wr, &bytes, &len, &err), ADJ_OK);
    adj_safetensors *f = NULL;
    ck_assert_int_eq(adj_st_parse(bytes, len, "state", &f, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_count(f), 4);
    ck_assert_str_eq(adj_st_meta(f, "optim.kind"), "adam");
    ck_assert_str_eq(adj_st_meta(f, "optim.steps"), "3");
    const adj_st_tensor *m = adj_st_find(f, "optim.w.exp_avg");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(adj_st_find(f, "optim.b.exp_avg_sq"));
    /* exp_avg after three steps of the same gradient: (1 - 0.9^3) g */
    double m0;
    memcpy(&m0, m->data, sizeof m0);
    ck_assert_double_eq_tol(m0, (1 - 0.729) * 0.5, 1e-15);
    ck_assert_int_eq(adj_optim_state_read(b, f, "state", &err), ADJ_OK);
    ck_assert_int_eq(adj_optim_steps(b), 3);
    memcpy(adj_params_values(q), w, n * sizeof *w);
    memcpy(adj_params_grads(q), g, n * sizeof *g);
    ck_assert_int_eq(adj_optim_step(a), ADJ_OK);
    ck_assert_int_eq(adj_optim_step(b), ADJ_OK);
    ck_assert(memcmp(adj_params_values(p), adj_params_values(q), n * sizeof(double)) == 0);
    /* another kind, another store, a missing entry: refused, b unchanged */
    adj_optim_config sgd = adj_optim_defaults(ADJ_OPTIM_SGD);
    sgd.momentum = 0.5;
    adj_optim *s = adj_optim_new(q, &sgd, NULL);
    ck_assert_int_eq(adj_optim_state_read(s, f, "state", &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "holds the state of adam, the optimizer is sgd"));
    adj_params *r = adj_params_new(ADJ_F64);
    adj_params_add(r, "w", 2, (int64_t[]){3, 2});
    adj_params_add(r, "b", 1, (int64_t[]){3});
    adj_optim *c = adj_optim_new(r, &cfg, NULL);
    ck_assert_int_eq(adj_optim_state_read(c, f, "state", &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "optim.w.exp_avg"));
    ck_assert_int_eq(adj_optim_steps(c), 0);
    adj_st_writer *w2 = adj_st_writer_new();
    ck_assert_int_eq(adj_st_writer_meta(w2, "optim.kind", "adam", &err), ADJ_OK);
    void *b2 = NULL;
    size_t l2 = 0;
    adj_safetensors *f2 = NULL;
    ck_assert_int_eq(adj_st_writer_encode(w2, &b2, &l2, &err), ADJ_OK);
    ck_assert_int_eq(adj_st_parse(b2, l2, "x", &f2, &err), ADJ_OK);
    ck_assert_int_eq(adj_optim_state_read(b, f2, "x", &err), ADJ_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "optim.steps"));
    ck_assert_int_eq(adj_optim_steps(b), 4);
    ck_assert_int_eq(adj_optim_state_read(NULL, f, NULL, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_optim_state_write(a, NULL, &err), ADJ_EINVAL);
    adj_st_free(f);
    adj_st_free(f2);
    free(bytes);
    free(b2);
    adj_st_writer_free(wr);
    adj_st_writer_free(w2);
    adj_optim_free(a);
    adj_optim_free(b);
    adj_optim_free(s);
    adj_optim_free(c);
    adj_params_free(p);
    adj_params_free(q);
    adj_params_free(r);
}
END_TEST

/* Pretend ranks (no communication): two identical rows, a batch of 2,
 * so rank 0 and rank 1 each train on the same row; only the dropout
 * masks can make their parameters differ. */
static int no_grads(void *ctx, adj_params *p)
{
    (void)ctx, (void)p;
    return 0;
}
static int no_sum(void *ctx, double *x, size_t n)
{
    (void)ctx, (void)x, (void)n;
    return 0;
}
static int no_agree(void *ctx, int failed, const char *what)
{
    (void)ctx, (void)what;
    return failed;
}

static adj_model *rank_run(int rank, int size, const char *dropout, int cnn)
{
    const char *kv[] = {"input", "1,4,4", "channels", "2", "dense", "6", "dropout", dropout,
                        "classes", "2"};
    const char *kv_mlp[] = {"sizes", "16,8,2", "dropout", dropout};
    adj_rng rng;
    adj_rng_seed(&rng, 3);
    adj_model *m = cnn ? adj_model_new("cnn", 5, kv, ADJ_F64, &rng, NULL)
                       : adj_model_new("mlp", 2, kv_mlp, ADJ_F64, &rng, NULL);
    ck_assert_ptr_nonnull(m);
    adj_dataset *tr = adj_dataset_new(2, 16);
    for (int i = 0; i < 16; i++)
        tr->x[i] = tr->x[16 + i] = (float)((i * 7) % 5) / 4.0f;
    tr->y[0] = tr->y[1] = 1;
    tr->classes = 2;
    adj_train_comm comm = {rank, size, NULL, no_grads, no_sum, no_agree, NULL};
    adj_train_config c = adj_train_defaults();
    c.optim = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.optim.lr = 0.5;
    c.batch = 2;
    c.epochs = 4;
    c.comm = &comm;
    adj_train_data d = {.train = tr, .ndim = cnn ? 3 : 0, .shape = {1, 4, 4}};
    adj_error err;
    ck_assert_msg(adj_train(m, &d, &c, NULL, &err) == ADJ_OK, "%s", err.message);
    adj_dataset_free(tr);
    return m;
}

START_TEST(rank_dropout)
{
    int cnn = _i; /* 1: cnn, 0: mlp */
    adj_model *r0 = rank_run(0, 2, "0.5", cnn), *r1 = rank_run(1, 2, "0.5", cnn),
              *r1b = rank_run(1, 2, "0.5", cnn);
    ck_assert_msg(!same_params(r0, r1), "ranks 0 and 1 drew the same dropout masks");
    ck_assert_msg(same_params(r1, r1b), "rank 1 is not reproducible");
    adj_model *s0 = rank_run(0, 2, "0", cnn), *s1 = rank_run(1, 2, "0", cnn);
    ck_assert_msg(same_params(s0, s1), "without dropout the ranks agree");
    adj_model_free(r0);
    adj_model_free(r1);
    adj_model_free(r1b);
    adj_model_free(s0);
    adj_model_free(s1);
}
END_TEST

static Suite *resume_suite(void)
{
    Suite *s = suite_create("resume");
    TCase *tc = tcase_create("resume");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, resume_sgd);
    tcase_add_test(tc, resume_adam);
    tcase_add_test(tc, resume_gpt_dropout);
    tcase_add_test(tc, state_path);
    tcase_add_test(tc, optim_state_file);
    tcase_add_loop_test(tc, rank_dropout, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(resume_suite)
