/*
 * Faults from outside: allocation failures in the parameter store, the
 * optimizer, models, model save and load (tapes are covered in
 * test_errors.c), and a process killed while it saves a model.
 *
 * Allocation failures: a program that builds a model, trains it, saves
 * it and loads it back is run once to count its allocations, then once
 * for each n with the n-th allocation failing (and once more with every
 * allocation from the n-th on failing).  Each run must report ADJ_ENOMEM
 * through the API that failed, or route around the failure and give
 * exactly the undisturbed result, and must give back every byte.
 *
 * Kill during save: a child process saves two models alternately to one
 * path, over and over; the parent SIGKILLs it after a random delay.  The
 * file must then load and equal one of the two models, every time.
 */
#include <adjoint.h>

#include <check.h>
#include "check_util.h"
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Figures for docs/reliability.md, printed at the end. */
static long faults_injected;

/* ------------------------------------------------- the faulted program */

typedef struct outcome {
    adj_status status;
    const char *where; /* the call that reported it */
    char message[256];
    double loss;       /* loss after training */
    double checksum;   /* sum of the loaded model's parameters */
} outcome;

static int fail_at(outcome *o, const char *where, adj_status s, const char *msg)
{
    if (s == ADJ_OK)
        return 0;
    o->status = s;
    o->where = where;
    snprintf(o->message, sizeof o->message, "%s", msg ? msg : "");
    return 1;
}

static double sum_params(adj_mlp *m)
{
    adj_params *p = adj_mlp_params(m);
    const double *v = adj_params_values(p);
    double s = 0;
    for (size_t i = 0; i < adj_params_numel(p); i++)
        s += v[i];
    return s;
}

/* Build an f64 4-6-3 MLP with batch norm and an input transform, train it
 * 3 steps with Adam, save it, load it back; every byte from `al`. */
static void program(const adj_allocator *al, const char *path, outcome *o)
{
    memset(o, 0, sizeof *o);
    adj_tape *t = NULL;
    adj_mlp *m = NULL, *back = NULL;
    adj_optim *opt = NULL;
    adj_error err;
    adj_rng rng;
    adj_rng_seed(&rng, 3);
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    c.batchnorm = 1;
    adj_mlp_config_set_sizes(&c, 3, (int64_t[]){4, 6, 3}, ADJ_ACT_TANH);

    t = adj_tape_new_with(al);
    if (!t) {
        fail_at(o, "adj_tape_new_with", ADJ_ENOMEM, "");
        goto done;
    }
    m = adj_mlp_new_with(&c, &rng, al, &err);
    if (!m) {
        fail_at(o, "adj_mlp_new_with", err.status, err.message);
        goto done;
    }
    const double shift[4] = {0.1, 0.2, 0.3, 0.4}, scale[4] = {1, 2, 3, 4};
    if (fail_at(o, "adj_mlp_set_input_transform", adj_mlp_set_input_transform(m, shift, scale), ""))
        goto done;
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = 0.05;
    adj_status os;
    opt = adj_optim_new_with(adj_mlp_params(m), &oc, al, &os);
    if (!opt) {
        fail_at(o, "adj_optim_new_with", os, "");
        goto done;
    }
    for (int step = 0; step < 3; step++) {
        adj_tape_reset(t);
        double x[5 * 4];
        for (int i = 0; i < 20; i++)
            x[i] = sin(1.0 + i * 0.7 + step);
        adj_var *xv = adj_constant_f64(t, 2, ((int64_t[]){5, 4}), x);
        adj_var *loss = adj_softmax_cross_entropy(adj_mlp_forward(m, xv), ((int32_t[]){0, 1, 2, 1, 0}));
        adj_params_zero_grad(adj_mlp_params(m));
        if (fail_at(o, "adj_backward", adj_backward(loss), adj_tape_message(t)))
            goto done;
        o->loss = adj_item(loss);
        if (fail_at(o, "adj_optim_step", adj_optim_step(opt), ""))
            goto done;
    }
    if (fail_at(o, "adj_model_save", adj_model_save(m, path, &err), err.message))
        goto done;
    if (fail_at(o, "adj_model_load_with", adj_model_load_with(path, al, &back, &err), err.message))
        goto done;
    if (fail_at(o, "adj_model_load_into", adj_model_load_into(back, path, &err), err.message))
        goto done;
    o->checksum = sum_params(back);
    const double *sh, *sc;
    if (!adj_mlp_input_transform(back, &sh, &sc) || sc[3] != 4)
        fail_at(o, "input transform", ADJ_EFORMAT, "lost in the file");
done:
    adj_mlp_free(back);
    adj_optim_free(opt);
    adj_mlp_free(m);
    adj_tape_free(t);
}

static char *scratch_dir(void)
{
    static const char tmpl[] = "/tmp/adj-faults-XXXXXX";
    char *d = malloc(sizeof tmpl);
    memcpy(d, tmpl, sizeof tmpl);
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void remove_dir(char *d)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
    free(d);
}

/* Entries in dir (a leftover temporary file would show here). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(every_allocation_fails_once)
{
    char *dir = scratch_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/model.adj", dir);
    test_alloc f;
    adj_allocator al = test_alloc_init(&f);
    outcome want, got;
    test_alloc_arm(&f, -1, 0);
    program(&al, path, &want);
    ck_assert_msg(want.status == ADJ_OK, "%s: %s", want.where, want.message);
    ck_assert_uint_eq(f.live, 0);
    long total = (long)f.calls;
    ck_assert_int_gt(total, 20);
    ck_assert(isfinite(want.loss) && want.loss > 0);
    int reported = 0, routed = 0;
    for (int sticky = 0; sticky <= 1; sticky++) {
        for (long n = 0; n < total; n++) {
            remove(path);
            test_alloc_arm(&f, n, sticky);
            program(&al, path, &got);
            faults_injected++;
            ck_assert_msg(f.failed, "allocation %ld was never made", n);
            ck_assert_msg(f.live == 0, "failing allocation %ld (%s) leaked %zu bytes", n,
                          sticky ? "and all after" : "alone", f.live);
            if (got.status == ADJ_OK) {
                /* routed around it: then the result is exactly the same */
                ck_assert_msg(!sticky, "allocation %ld and after failed, yet all went well", n);
                ck_assert_msg(got.loss == want.loss && got.checksum == want.checksum,
                              "allocation %ld failed silently: loss %.17g vs %.17g", n, got.loss,
                              want.loss);
                routed++;
                continue;
            }
            ck_assert_msg(got.status == ADJ_ENOMEM, "allocation %ld: %s returned %s: %s", n,
                          got.where, adj_status_string(got.status), got.message);
            if (strcmp(got.where, "adj_tape_new_with") != 0 &&
                strcmp(got.where, "adj_optim_new_with") != 0 &&
                strcmp(got.where, "adj_mlp_set_input_transform") != 0)
                ck_assert_msg(strstr(got.message, "out of memory"), "allocation %ld: %s: '%s'", n,
                              got.where, got.message);
            reported++;
            /* a failed save leaves no temporary file behind */
            ck_assert_int_le(count_entries(dir), 1);
        }
    }
    ck_assert_int_gt(reported, total);
    printf("faults: %ld allocations per run, %d failures reported, %d routed around\n", total,
           reported, routed);
    remove_dir(dir);
}
END_TEST

/* A save that runs out of memory leaves the previous file as it was. */
START_TEST(failed_save_keeps_old_file)
{
    char *dir = scratch_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/model.adj", dir);
    test_alloc f;
    adj_allocator al = test_alloc_init(&f);
    test_alloc_arm(&f, -1, 0);
    adj_rng rng;
    adj_rng_seed(&rng, 9);
    adj_mlp_config c = adj_mlp_config_default();
    adj_mlp_config_set_sizes(&c, 3, (int64_t[]){30, 40, 5}, ADJ_ACT_RELU);
    adj_error err;
    adj_mlp *m = adj_mlp_new_with(&c, &rng, &al, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(adj_model_save(m, path, &err), ADJ_OK);
    double before = 0;
    {
        adj_mlp *old;
        ck_assert_int_eq(adj_model_load(path, &old, &err), ADJ_OK);
        const float *v = adj_params_values(adj_mlp_params(old));
        for (size_t i = 0; i < adj_params_numel(adj_mlp_params(old)); i++)
            before += v[i];
        adj_mlp_free(old);
    }
    /* change the model, then fail each allocation of the save in turn */
    float *v = adj_params_values(adj_mlp_params(m));
    for (size_t i = 0; i < adj_params_numel(adj_mlp_params(m)); i++)
        v[i] += 1.0f;
    size_t live = f.live;
    f.countdown = -1;
    f.calls = 0;
    ck_assert_int_eq(adj_model_save(m, "/dev/null/x", &err), ADJ_EIO); /* count the calls */
    long calls = (long)f.calls + 1;
    for (long n = 0; n < calls + 2; n++) {
        f.countdown = n;
        f.failed = 0;
        adj_status s = adj_model_save(m, path, &err);
        faults_injected++;
        if (!f.failed) {
            ck_assert_int_eq(s, ADJ_OK);
            break;
        }
        ck_assert_int_eq(s, ADJ_ENOMEM);
        ck_assert_ptr_nonnull(strstr(err.message, "out of memory"));
        ck_assert_uint_eq(f.live, live);
        ck_assert_int_eq(count_entries(dir), 1);
        adj_mlp *old;
        ck_assert_int_eq(adj_model_load(path, &old, &err), ADJ_OK);
        const float *w = adj_params_values(adj_mlp_params(old));
        double sum = 0;
        for (size_t i = 0; i < adj_params_numel(adj_mlp_params(old)); i++)
            sum += w[i];
        ck_assert_double_eq(sum, before);
        adj_mlp_free(old);
    }
    adj_mlp_free(m);
    ck_assert_uint_eq(f.live, 0);
    remove_dir(dir);
}
END_TEST

/* Parameter stores and optimizers of every kind, alone. */
START_TEST(store_and_optimizers)
{
    test_alloc f;
    adj_allocator al = test_alloc_init(&f);
    for (int kind = 0; kind < ADJ_OPTIM_COUNT; kind++) {
        adj_optim_config oc = adj_optim_defaults((adj_optim_kind)kind);
        oc.momentum = 0.9;
        oc.centered = 1;
        for (long n = 0;; n++) {
            test_alloc_arm(&f, n, 0);
            adj_params *p = adj_params_new_with(ADJ_F32, &al);
            int ok = p != NULL;
            for (int i = 0; ok && i < 20; i++) { /* enough tensors to grow every block */
                char name[16];
                snprintf(name, sizeof name, "t%d", i);
                int idx = adj_params_add(p, name, 2, (int64_t[]){i + 1, 7});
                if (idx < 0) {
                    ck_assert_int_eq(adj_params_status(p), ADJ_ENOMEM);
                    ck_assert_ptr_nonnull(strstr(adj_params_message(p), "out of memory"));
                    ck_assert_ptr_nonnull(strstr(adj_params_message(p), name));
                    ok = 0;
                } else {
                    ck_assert_int_eq(idx, i);
                }
            }
            adj_optim *o = NULL;
            if (ok) {
                adj_status s;
                o = adj_optim_new_with(p, &oc, &al, &s);
                ck_assert_int_eq(s, o ? ADJ_OK : ADJ_ENOMEM);
                if (o)
                    ck_assert_int_eq(adj_optim_step(o), ADJ_OK);
            }
            int failed = f.failed;
            adj_optim_free(o);
            adj_params_free(p);
            faults_injected += failed;
            ck_assert_msg(f.live == 0, "%s, allocation %ld: leaked %zu", adj_optim_name((adj_optim_kind)kind),
                          n, f.live);
            if (!failed) {
                ck_assert(o != NULL);
                break;
            }
        }
    }
}
END_TEST

/* ------------------------------------------------------ kill during save */

static adj_mlp *kill_model(float value)
{
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_mlp_config c = adj_mlp_config_default();
    adj_mlp_config_set_sizes(&c, 3, (int64_t[]){256, 256, 10}, ADJ_ACT_RELU);
    adj_mlp *m = adj_mlp_new(&c, &rng, NULL);
    float *v = adj_params_values(adj_mlp_params(m));
    for (size_t i = 0; i < adj_params_numel(adj_mlp_params(m)); i++)
        v[i] = value + (float)(i % 97);
    return m;
}

/* 0 if the file's model is a, 1 if b, -1 if neither (or unreadable). */
static int which_model(const char *path, adj_mlp *a, adj_mlp *b, char *why, size_t size)
{
    adj_mlp *m;
    adj_error err;
    if (adj_model_load(path, &m, &err) != ADJ_OK) {
        snprintf(why, size, "%s", err.message);
        return -1;
    }
    size_t n = adj_params_numel(adj_mlp_params(m)) * sizeof(float);
    int r = -1;
    if (memcmp(adj_params_values(adj_mlp_params(m)), adj_params_values(adj_mlp_params(a)), n) == 0)
        r = 0;
    else if (memcmp(adj_params_values(adj_mlp_params(m)), adj_params_values(adj_mlp_params(b)), n) == 0)
        r = 1;
    else
        snprintf(why, size, "the file loads but equals neither model");
    adj_mlp_free(m);
    return r;
}

START_TEST(kill_during_save)
{
    enum { ROUNDS = 200 };
    char *dir = scratch_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/model.adj", dir);
    adj_mlp *a = kill_model(0.5f), *b = kill_model(-3.25f);
    adj_error err;
    ck_assert_int_eq(adj_model_save(a, path, &err), ADJ_OK);
    srand(12345);
    int seen[2] = {0, 0}, torn = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            /* the child saves b, a, b, a... until it is killed */
            for (unsigned k = 0;; k++)
                if (adj_model_save(k % 2 ? a : b, path, NULL) != ADJ_OK)
                    _exit(3);
        }
        /* kill after 0 to 30 ms: a save of this model takes a few ms */
        struct timespec ts = {0, (long)(rand() % 30000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFSIGNALED(st), "the saving child stopped by itself (status %d)", st);
        char why[300] = "";
        int w = which_model(path, a, b, why, sizeof why);
        ck_assert_msg(w >= 0, "round %d: %s", round, why);
        seen[w]++;
        /* a kill in the middle of a save leaves its temporary file (never
         * the target) half written; clear them for the next round */
        DIR *d = opendir(dir);
        struct dirent *e;
        while ((e = readdir(d)))
            if (strstr(e->d_name, ".tmp.")) {
                char p[400];
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                remove(p);
                torn++;
            }
        closedir(d);
    }
    ck_assert_int_eq(seen[0] + seen[1], ROUNDS);
    printf("kill during save: %d rounds, file held model a %d times and b %d times; "
           "%d kills left a partial temporary file\n", ROUNDS, seen[0], seen[1], torn);
    adj_mlp_free(a);
    adj_mlp_free(b);
    remove_dir(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tm = tcase_create("memory");
    tcase_add_test(tm, every_allocation_fails_once);
    tcase_add_test(tm, failed_save_keeps_old_file);
    tcase_add_test(tm, store_and_optimizers);
    suite_add_tcase(s, tm);
    TCase *tk = tcase_create("kill");
    tcase_add_test(tk, kill_during_save);
    suite_add_tcase(s, tk);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_set_fork_status(sr, CK_NOFORK); /* one process, so the figures add up */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("faults: %ld allocation failures injected in total\n", faults_injected);
    return failed ? 1 : 0;
}
