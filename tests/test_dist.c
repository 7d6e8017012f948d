/*
 * Data-parallel training over MPI (adjoint/dist.h).  Run under
 * `mpirun -np 2` (or more): every rank runs every test, in the same order.
 *
 * The oracles are independent of the all-reduce: hand-computed means of
 * known per-rank values, models built locally from the root's seed, and,
 * for training, the same model trained by this process alone on the whole
 * global batch.  Each test makes all its collective calls before its
 * assertions, so a failing assertion on one rank cannot leave the others
 * waiting in a collective.
 */
#include <adjoint.h>
#include <adjoint/dist.h>

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int g_rank, g_size;

static adj_dist *dist(void)
{
    adj_error err;
    adj_dist *d = adj_dist_from_comm(MPI_COMM_WORLD, &err);
    ck_assert_msg(d != NULL, "%s", err.message);
    return d;
}

static adj_mlp *mlp(adj_dtype dt, uint64_t seed, adj_activation act)
{
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = dt;
    int64_t sizes[] = {5, 8, 6, 3};
    adj_mlp_config_set_sizes(&c, 4, sizes, act);
    c.init = ADJ_INIT_XAVIER_UNIFORM;
    adj_rng r;
    adj_rng_seed(&r, seed);
    adj_mlp *m = adj_mlp_new(&c, &r, NULL);
    ck_assert_ptr_nonnull(m);
    return m;
}

static size_t block_bytes(adj_params *p)
{
    return adj_params_numel(p) * (adj_params_dtype(p) == ADJ_F64 ? sizeof(double) : sizeof(float));
}

START_TEST(handle)
{
    adj_dist *d = dist();
    ck_assert_int_eq(adj_dist_size(d), g_size);
    ck_assert_int_eq(adj_dist_rank(d), g_rank);
    ck_assert_int_eq(adj_dist_status(d), ADJ_OK);
    ck_assert_str_eq(adj_dist_message(d), "");
    /* MPI is initialised: adj_dist_init must reuse it and not finalise it */
    adj_error err;
    adj_dist *e = adj_dist_init(NULL, NULL, &err);
    ck_assert_msg(e != NULL, "%s", err.message);
    ck_assert_int_eq(adj_dist_size(e), g_size);
    adj_dist_free(e);
    int finalized = 1;
    MPI_Finalized(&finalized);
    ck_assert_int_eq(finalized, 0);
    adj_dist_free(d);
    /* a NULL handle is one process */
    ck_assert_int_eq(adj_dist_rank(NULL), 0);
    ck_assert_int_eq(adj_dist_size(NULL), 1);
}
END_TEST

/* After the broadcast every rank holds the model that the root's seed gives. */
static void broadcast_case(adj_dtype dt, int root)
{
    adj_dist *d = dist();
    adj_mlp *m = mlp(dt, 100 + (uint64_t)g_rank, ADJ_ACT_TANH);
    adj_status st = adj_dist_broadcast_params(d, adj_mlp_params(m), root);
    adj_mlp *expect = mlp(dt, 100 + (uint64_t)root, ADJ_ACT_TANH);
    ck_assert_int_eq(st, ADJ_OK);
    ck_assert_mem_eq(adj_params_values(adj_mlp_params(m)),
                     adj_params_values(adj_mlp_params(expect)), block_bytes(adj_mlp_params(m)));
    adj_mlp_free(expect);
    adj_mlp_free(m);
    adj_dist_free(d);
}

START_TEST(broadcast)
{
    broadcast_case(ADJ_F32, 0);
    broadcast_case(ADJ_F64, 0);
    broadcast_case(ADJ_F64, g_size - 1);
}
END_TEST

/* Stores of different sizes: every rank gets ADJ_ESHAPE, none waits. */
START_TEST(broadcast_mismatch)
{
    adj_dist *d = dist();
    adj_params *p = adj_params_new(ADJ_F32);
    adj_params_add(p, "w", 1, (int64_t[]){g_rank == 0 ? 4 : 5});
    adj_status st = adj_dist_broadcast_params(d, p, 0);
    adj_status again = adj_dist_average_grads(d, p); /* sticky: no communication */
    adj_status bad_root = adj_dist_broadcast_params(NULL, p, 0);
    ck_assert_int_eq(st, ADJ_ESHAPE);
    ck_assert_int_eq(again, ADJ_ESHAPE);
    ck_assert_int_eq(bad_root, ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(adj_dist_message(d), "stores differ"));
    adj_params_free(p);
    adj_dist_free(d);
}
END_TEST

/* Rank r sets g_i = (r + 1) (i + 1) / 4; the mean over ranks is
 * (size + 1) / 2 (i + 1) / 4, exact in binary for these sizes. */
static void average_case(adj_dtype dt)
{
    adj_dist *d = dist();
    adj_params *p = adj_params_new(dt);
    adj_params_add(p, "a", 2, (int64_t[]){3, 4});
    adj_params_add(p, "b", 1, (int64_t[]){5});
    size_t n = adj_params_numel(p);
    for (size_t i = 0; i < n; i++) {
        double v = (g_rank + 1) * (double)(i + 1) / 4;
        if (dt == ADJ_F64)
            ((double *)adj_params_grads(p))[i] = v;
        else
            ((float *)adj_params_grads(p))[i] = (float)v;
    }
    adj_status st = adj_dist_average_grads(d, p);
    adj_dist_stats s;
    adj_dist_get_stats(d, &s);
    ck_assert_int_eq(st, ADJ_OK);
    ck_assert_int_eq(s.grad_allreduces, 1);
    ck_assert_uint_eq(s.grad_bytes, n * (dt == ADJ_F64 ? 8 : 4));
    ck_assert(s.grad_seconds >= 0 && s.grad_last_seconds == s.grad_seconds);
    for (size_t i = 0; i < n; i++) {
        double want = (g_size + 1) / 2.0 * (double)(i + 1) / 4;
        double got = dt == ADJ_F64 ? ((double *)adj_params_grads(p))[i]
                                   : ((float *)adj_params_grads(p))[i];
        ck_assert_double_eq_tol(got, want, 1e-6 * want);
    }
    adj_params_free(p);
    adj_dist_free(d);
}

START_TEST(average_grads)
{
    average_case(ADJ_F32);
    average_case(ADJ_F64);
}
END_TEST

START_TEST(sums_and_agreement)
{
    adj_dist *d = dist();
    double x[3] = {1, g_rank, 0.5 * g_rank};
    adj_status s1 = adj_dist_sum(d, x, 3);
    double y[2] = {2.0 * g_rank, 4};
    adj_status s2 = adj_dist_average(d, y, 2);
    int who_ok = 7, who_bad = 7, who_two = 7;
    adj_status all_ok = adj_dist_agree(d, ADJ_OK, &who_ok);
    adj_status one_bad = adj_dist_agree(d, g_rank == g_size - 1 ? ADJ_EIO : ADJ_OK, &who_bad);
    /* two failures: the larger status wins */
    adj_status two = adj_dist_agree(d, g_rank == 0 ? ADJ_EINVAL : ADJ_EFORMAT, &who_two);
    int same_yes = -1, same_no = -1;
    adj_status s3 = adj_dist_same(d, 42, &same_yes);
    adj_status s4 = adj_dist_same(d, (uint64_t)g_rank, &same_no);

    double sr = g_size * (g_size - 1) / 2.0;
    ck_assert_int_eq(s1, ADJ_OK);
    ck_assert_double_eq(x[0], g_size);
    ck_assert_double_eq(x[1], sr);
    ck_assert_double_eq(x[2], 0.5 * sr);
    ck_assert_int_eq(s2, ADJ_OK);
    ck_assert_double_eq(y[0], g_size - 1.0);
    ck_assert_double_eq(y[1], 4);
    ck_assert_int_eq(all_ok, ADJ_OK);
    ck_assert_int_eq(who_ok, -1);
    ck_assert_int_eq(one_bad, ADJ_EIO);
    ck_assert_int_eq(who_bad, g_size - 1);
    ck_assert_int_eq(two, ADJ_EFORMAT);
    ck_assert_int_eq(who_two, 1);
    ck_assert_int_eq(s3, ADJ_OK);
    ck_assert_int_eq(same_yes, 1);
    ck_assert_int_eq(s4, ADJ_OK);
    ck_assert_int_eq(same_no, 0);
    adj_dist_free(d);
}
END_TEST

/* ------------------------------------------------------------ training */

enum { COLS = 5, CLASSES = 3, STEPS = 12 };

/* Features uniform in [-1, 1); label = argmax of a fixed linear map. */
static void make_data(size_t rows, double *x, float *xf, int32_t *y)
{
    adj_rng r;
    adj_rng_seed(&r, 2024);
    static const double w[CLASSES][COLS] = {
        {1, -1, 0.5, 0, 0.2}, {-0.5, 1, 1, -1, 0}, {0, 0.3, -1, 1, 1}};
    for (size_t i = 0; i < rows; i++) {
        double best = -1e300;
        for (size_t j = 0; j < COLS; j++) {
            x[i * COLS + j] = adj_rng_uniform_range(&r, -1, 1);
            xf[i * COLS + j] = (float)x[i * COLS + j];
        }
        for (int k = 0; k < CLASSES; k++) {
            double s = 0;
            for (size_t j = 0; j < COLS; j++)
                s += w[k][j] * x[i * COLS + j];
            if (s > best) {
                best = s;
                y[i] = k;
            }
        }
    }
}

/* STEPS optimizer steps over consecutive batches of `batch` rows.  With d,
 * this rank back-propagates rows [batch r / size, batch (r + 1) / size)
 * of each batch, weights the gradient by its share and averages it over
 * the ranks; without d, the whole batch (the single-process oracle). */
static adj_status train(adj_mlp *m, adj_dist *d, adj_optim_kind kind, size_t batch,
                        const void *x, const int32_t *y)
{
    adj_params *p = adj_mlp_params(m);
    adj_optim_config oc = adj_optim_defaults(kind);
    oc.lr = kind == ADJ_OPTIM_SGD ? 0.1 : 0.01;
    oc.momentum = kind == ADJ_OPTIM_SGD ? 0.9 : 0.0;
    adj_optim *o = adj_optim_new(p, &oc, NULL);
    adj_tape *t = adj_tape_new();
    adj_dtype dt = adj_params_dtype(p);
    size_t esz = dt == ADJ_F64 ? sizeof(double) : sizeof(float);
    size_t size = (size_t)adj_dist_size(d), rank = (size_t)adj_dist_rank(d);
    adj_status st = ADJ_OK;
    for (int s = 0; s < STEPS && st == ADJ_OK; s++) {
        size_t first = (size_t)s * batch;
        size_t lo = batch * rank / size, hi = batch * (rank + 1) / size, nl = hi - lo;
        adj_tape_reset(t);
        int64_t shape[2] = {(int64_t)nl, COLS};
        adj_var *xv = adj_leaf_at(t, dt, 2, shape, (const char *)x + (first + lo) * COLS * esz,
                                  0, __FILE__, __LINE__);
        adj_var *loss = adj_softmax_cross_entropy(adj_mlp_forward(m, xv), y + first + lo);
        adj_params_zero_grad(p);
        st = adj_backward(loss);
        if (d && st == ADJ_OK) {
            double w = (double)(nl * size) / (double)batch;
            size_t n = adj_params_numel(p);
            for (size_t i = 0; i < n && w != 1.0; i++) {
                if (dt == ADJ_F64)
                    ((double *)adj_params_grads(p))[i] *= w;
                else
                    ((float *)adj_params_grads(p))[i] *= (float)w;
            }
            st = adj_dist_average_grads(d, p);
        }
        if (st == ADJ_OK)
            st = adj_optim_step(o);
    }
    adj_tape_free(t);
    adj_optim_free(o);
    return st;
}

/* Bytes of rank 0's value block == this rank's, via a gather independent
 * of the library; every rank gets the verdict. */
static int identical_to_rank0(adj_params *p)
{
    size_t bytes = block_bytes(p);
    unsigned char *all = malloc(bytes * (size_t)g_size);
    MPI_Gather(adj_params_values(p), (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, 0,
               MPI_COMM_WORLD);
    int same = 1;
    if (g_rank == 0)
        for (int r = 1; r < g_size; r++)
            same &= memcmp(all, all + (size_t)r * bytes, bytes) == 0;
    MPI_Bcast(&same, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(all);
    return same;
}

static void train_case(adj_dtype dt, adj_optim_kind kind, size_t batch, double rtol)
{
    size_t rows = (size_t)STEPS * batch;
    double *x = malloc(rows * COLS * sizeof *x);
    float *xf = malloc(rows * COLS * sizeof *xf);
    int32_t *y = malloc(rows * sizeof *y);
    make_data(rows, x, xf, y);
    const void *xd = dt == ADJ_F64 ? (const void *)x : (const void *)xf;

    adj_dist *d = dist();
    /* different seeds per rank: the broadcast must make them identical */
    adj_mlp *m = mlp(dt, 7 + (uint64_t)g_rank, ADJ_ACT_TANH);
    adj_status sb = adj_dist_broadcast_params(d, adj_mlp_params(m), 0);
    adj_status st = train(m, d, kind, batch, xd, y);
    int same = identical_to_rank0(adj_mlp_params(m));
    int lib_same = -1;
    adj_status ss = adj_dist_params_same(d, adj_mlp_params(m), &lib_same);

    /* the oracle: this process alone, the whole batch, rank 0's seed */
    adj_mlp *one = mlp(dt, 7, ADJ_ACT_TANH);
    adj_status so = train(one, NULL, kind, batch, xd, y);

    ck_assert_int_eq(sb, ADJ_OK);
    ck_assert_int_eq(st, ADJ_OK);
    ck_assert_int_eq(so, ADJ_OK);
    ck_assert_int_eq(ss, ADJ_OK);
    ck_assert_msg(same, "ranks' parameters differ after %d steps", STEPS);
    ck_assert_int_eq(lib_same, 1);
    adj_params *pm = adj_mlp_params(m), *po = adj_mlp_params(one);
    size_t n = adj_params_numel(pm);
    for (size_t i = 0; i < n; i++) {
        double a, b;
        if (dt == ADJ_F64) {
            a = ((double *)adj_params_values(pm))[i];
            b = ((double *)adj_params_values(po))[i];
        } else {
            a = ((float *)adj_params_values(pm))[i];
            b = ((float *)adj_params_values(po))[i];
        }
        ck_assert_msg(fabs(a - b) <= rtol * (1 + fabs(b)),
                      "%s %s batch %zu: parameter %zu: %d ranks %.17g, one process %.17g",
                      adj_dtype_name(dt), adj_optim_name(kind), batch, i, g_size, a, b);
    }
    /* training did something: the oracle moved away from the initial values */
    adj_mlp *init = mlp(dt, 7, ADJ_ACT_TANH);
    ck_assert_int_ne(memcmp(adj_params_values(po), adj_params_values(adj_mlp_params(init)),
                            block_bytes(po)),
                     0);
    adj_mlp_free(init);
    adj_mlp_free(one);
    adj_mlp_free(m);
    adj_dist_free(d);
    free(x);
    free(xf);
    free(y);
}

/* Two (or more) ranks on a batch of 2B equal one process on 2B, to
 * floating-point reduction tolerance, and the ranks stay bit-identical. */
START_TEST(train_equal_shards)
{
    size_t b = 8 * (size_t)g_size;
    train_case(ADJ_F64, ADJ_OPTIM_SGD, b, 1e-12);
    train_case(ADJ_F32, ADJ_OPTIM_SGD, b, 2e-5);
    train_case(ADJ_F64, ADJ_OPTIM_ADAM, b, 1e-11);
    train_case(ADJ_F32, ADJ_OPTIM_ADAM, b, 1e-4);
}
END_TEST

/* A batch that does not split evenly: shards weighted by their rows. */
START_TEST(train_unequal_shards)
{
    size_t b = 8 * (size_t)g_size + 1;
    train_case(ADJ_F64, ADJ_OPTIM_SGD, b, 1e-12);
    train_case(ADJ_F32, ADJ_OPTIM_SGD, b, 2e-5);
}
END_TEST

/* adj_train over the ranks (adj_dist_train_comm) on batches of 2B + 1
 * rows equals adj_train in this process alone to reduction tolerance,
 * and the ranks stay bit-identical. */
START_TEST(trainer_over_ranks)
{
    size_t rows = 6 * (8 * (size_t)g_size + 1);
    double *x = malloc(rows * COLS * sizeof *x);
    float *xf = malloc(rows * COLS * sizeof *xf);
    int32_t *y = malloc(rows * sizeof *y);
    make_data(rows, x, xf, y);
    adj_dataset *ds = adj_dataset_new(rows, COLS);
    ck_assert_ptr_nonnull(ds);
    memcpy(ds->x, xf, rows * COLS * sizeof *xf);
    memcpy(ds->y, y, rows * sizeof *y);
    ds->classes = 3;
    adj_dist *d = dist();
    adj_train_comm comm;
    adj_status sc = adj_dist_train_comm(d, &comm);
    adj_model *m = adj_model_from_mlp(mlp(ADJ_F64, 7, ADJ_ACT_TANH), NULL);
    adj_model *one = adj_model_from_mlp(mlp(ADJ_F64, 7, ADJ_ACT_TANH), NULL);
    adj_train_config c = adj_train_defaults();
    c.optim = adj_optim_defaults(ADJ_OPTIM_SGD);
    c.optim.lr = 0.1;
    c.batch = 8 * g_size + 1;
    c.epochs = 2;
    c.comm = &comm;
    adj_train_data td = {.train = ds, .val = ds};
    adj_train_result r, r1;
    adj_error err;
    adj_status st = adj_train(m, &td, &c, &r, &err);
    int same = identical_to_rank0(adj_model_params(m));
    c.comm = NULL;
    adj_status so = adj_train(one, &td, &c, &r1, NULL);

    ck_assert_int_eq(sc, ADJ_OK);
    ck_assert_msg(st == ADJ_OK, "%s", err.message);
    ck_assert_int_eq(so, ADJ_OK);
    ck_assert_msg(same, "ranks' parameters differ");
    ck_assert_int_eq(r.steps, 12);
    ck_assert(g_rank == 0 ? !isnan(r.val) : isnan(r.val));
    ck_assert_double_eq_tol(r.train_loss, r1.train_loss, 1e-12);
    adj_params *pm = adj_model_params(m), *po = adj_model_params(one);
    for (size_t i = 0; i < adj_params_numel(pm); i++) {
        double a = ((double *)adj_params_values(pm))[i], b = ((double *)adj_params_values(po))[i];
        ck_assert_msg(fabs(a - b) <= 1e-12 * (1 + fabs(b)), "parameter %zu: %.17g vs %.17g", i, a, b);
    }
    adj_model_free(m);
    adj_model_free(one);
    adj_dist_free(d);
    adj_dataset_free(ds);
    free(x);
    free(xf);
    free(y);
}
END_TEST

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    adj_set_threads(1);
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("dist");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, handle);
    tcase_add_test(tc, broadcast);
    tcase_add_test(tc, broadcast_mismatch);
    tcase_add_test(tc, average_grads);
    tcase_add_test(tc, sums_and_agreement);
    tcase_add_test(tc, train_equal_shards);
    tcase_add_test(tc, train_unequal_shards);
    tcase_add_test(tc, trainer_over_ranks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    /* no fork: MPI state does not survive fork() */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (g_size < 2 && g_rank == 0)
        fprintf(stderr, "test_dist: run under mpirun -np 2 or more\n");
    MPI_Finalize();
    return failed == 0 && g_size >= 2 ? 0 : 1;
}
