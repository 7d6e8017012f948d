/*
 * Separate objects in separate threads: each thread trains its own model
 * (batch norm, dropout, Adam, matrix products through BLIS) on its own
 * tape, checks a gradient, runs forward mode, saves and reloads its model
 * and reads a shared CSV file.  The results must be bit for bit those of
 * the same work done sequentially.  tools/bootstrap.sh also runs this
 * suite under ThreadSanitizer, which reports any data race between them.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NTHREADS = 4, STEPS = 8, PARAMS_MAX = 512 };

typedef struct work {
    int id;
    const char *dir, *csv;
    /* results */
    adj_status status;
    char where[64];
    size_t nparams;
    float params[PARAMS_MAX];
    double loss, gc_err, jvp, csv_sum;
    int reload_equal;
} work;

static adj_var *cube_sum(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t, (void)n, (void)user;
    return adj_sum(adj_mul(adj_square(in[0]), adj_tanh(in[0])));
}

static int failed(work *w, const char *where, adj_status s)
{
    if (s == ADJ_OK)
        return 0;
    w->status = s;
    snprintf(w->where, sizeof w->where, "%s", where);
    return 1;
}

static void *run(void *arg)
{
    work *w = arg;
    adj_error err;
    adj_rng rng;
    adj_rng_seed(&rng, 100 + (uint64_t)w->id);
    adj_mlp_config c = adj_mlp_config_default();
    c.batchnorm = 1;
    c.dropout = 0.2;
    adj_mlp_config_set_sizes(&c, 4, (int64_t[]){6, 12, 8, 3}, ADJ_ACT_RELU);
    adj_mlp *m = adj_mlp_new(&c, &rng, &err);
    adj_mlp_seed_dropout(m, 7 + (uint64_t)w->id);
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = 0.01;
    adj_optim *o = adj_optim_new(adj_mlp_params(m), &oc, NULL);
    adj_tape *t = adj_tape_new();
    float x[16 * 6];
    int32_t y[16];
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < 16 * 6; i++)
            x[i] = (float)sin(0.37 * i + step + w->id);
        for (int i = 0; i < 16; i++)
            y[i] = (i + w->id) % 3;
        adj_tape_reset(t);
        adj_var *xv = adj_constant_f32(t, 2, ((int64_t[]){16, 6}), x);
        adj_var *loss = adj_softmax_cross_entropy(adj_mlp_forward(m, xv), y);
        adj_params_zero_grad(adj_mlp_params(m));
        if (failed(w, "backward", adj_backward(loss)) || failed(w, "step", adj_optim_step(o)))
            goto done;
        w->loss = adj_item(loss);
    }
    w->nparams = adj_params_numel(adj_mlp_params(m));
    memcpy(w->params, adj_params_values(adj_mlp_params(m)), w->nparams * sizeof(float));

    /* gradient check and forward mode on the same tape */
    double gx[3] = {0.3 + w->id, -0.7, 1.1};
    adj_gradcheck_input in = {1, {3}, gx};
    adj_gradcheck_report rep;
    if (failed(w, "gradcheck", adj_gradcheck(cube_sum, NULL, 1, &in, NULL, &rep)))
        goto done;
    w->gc_err = rep.passed ? rep.max_rel_err : INFINITY;
    adj_tape_reset(t);
    adj_var *s = adj_scalar(t, 0.5 + w->id);
    w->jvp = adj_jvp_item(adj_exp(adj_mul(s, adj_sin(s))), s, 1.0);

    /* a model file of its own, and a CSV file shared by every thread */
    char path[256];
    snprintf(path, sizeof path, "%s/model-%d.adj", w->dir, w->id);
    adj_mlp *back = NULL;
    if (failed(w, "save", adj_model_save(m, path, &err)) ||
        failed(w, "load", adj_model_load(path, &back, &err)))
        goto done;
    w->reload_equal = memcmp(adj_params_values(adj_mlp_params(back)), w->params,
                             w->nparams * sizeof(float)) == 0;
    adj_mlp_free(back);
    adj_dataset *d;
    if (failed(w, "csv", adj_csv_read(w->csv, NULL, &d, &err)))
        goto done;
    for (size_t i = 0; i < d->rows * d->cols; i++)
        w->csv_sum += d->x[i] * (double)(d->y[i / d->cols] + 1);
    adj_dataset_free(d);
done:
    adj_tape_free(t);
    adj_optim_free(o);
    adj_mlp_free(m);
    return NULL;
}

START_TEST(threads_match_sequential)
{
    char dir[] = "/tmp/adj-threads-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char csv[128];
    snprintf(csv, sizeof csv, "%s/data.csv", dir);
    FILE *f = fopen(csv, "w");
    ck_assert_ptr_nonnull(f);
    fputs("a,b,label\n", f);
    for (int i = 0; i < 200; i++)
        fprintf(f, "%d.25,%d,%d\n", i, -i, i % 4);
    fclose(f);

    static work par[NTHREADS], seq[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        par[i] = (work){.id = i, .dir = dir, .csv = csv};
        seq[i] = par[i];
    }
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, run, &par[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        run(&seq[i]);

    /* the CSV sum by hand: sum over rows of (i + 0.25 - i) * (i % 4 + 1) */
    double csv_sum = 0;
    for (int i = 0; i < 200; i++)
        csv_sum += ((double)(float)(i + 0.25) + (double)(float)(-i)) * (i % 4 + 1);
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_msg(par[i].status == ADJ_OK, "thread %d: %s failed", i, par[i].where);
        ck_assert_msg(seq[i].status == ADJ_OK, "sequential %d: %s failed", i, seq[i].where);
        ck_assert_uint_eq(par[i].nparams, seq[i].nparams);
        ck_assert_msg(memcmp(par[i].params, seq[i].params, par[i].nparams * sizeof(float)) == 0,
                      "thread %d: parameters differ from the sequential run", i);
        ck_assert(par[i].loss == seq[i].loss && isfinite(par[i].loss));
        ck_assert(par[i].gc_err == seq[i].gc_err && par[i].gc_err < 1e-5);
        ck_assert(par[i].jvp == seq[i].jvp);
        /* d/ds exp(s sin s) = exp(s sin s) (sin s + s cos s) */
        double s = 0.5 + i;
        ck_assert_double_eq_tol(par[i].jvp, exp(s * sin(s)) * (sin(s) + s * cos(s)),
                                1e-12 * fabs(par[i].jvp));
        ck_assert(par[i].reload_equal && seq[i].reload_equal);
        ck_assert_double_eq(par[i].csv_sum, csv_sum);
        ck_assert_double_eq(seq[i].csv_sum, csv_sum);
        /* different seeds gave different models */
        if (i > 0)
            ck_assert(memcmp(par[i].params, par[0].params, par[i].nparams * sizeof(float)) != 0);
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_add_test(tc, threads_match_sequential);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(suite)
