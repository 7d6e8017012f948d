/*
 * Data-parallel training over MPI: a handle on a communicator, the
 * parameter broadcast, the gradient all-reduce and the agreement calls.
 * Built on the public API of the core library only.
 */
#include <adjoint/dist.h>

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct adj_dist {
    MPI_Comm comm;
    int rank, size;
    int finalize;   /* adj_dist_init called MPI_Init_thread */
    adj_status status;
    char message[256];
    adj_dist_stats stats;
};

static void err_set(adj_error *err, adj_status s, const char *fmt, ...)
{
    if (!err)
        return;
    err->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* Record the first failure on the handle (sticky) and return it. */
static adj_status fail(adj_dist *d, adj_status s, const char *fmt, ...)
{
    if (d->status != ADJ_OK)
        return d->status;
    d->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
    return s;
}

/* An MPI return code -> ADJ_OK, or a sticky ADJ_EIO naming the call. */
static adj_status check(adj_dist *d, int rc, const char *fn, const char *call)
{
    if (rc == MPI_SUCCESS)
        return ADJ_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    return fail(d, ADJ_EIO, "%s: %s failed on rank %d of %d: %s", fn, call, d->rank, d->size,
                text);
}

int adj_dist_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

static adj_dist *wrap(MPI_Comm comm, int finalize, adj_error *err)
{
    adj_dist *d = calloc(1, sizeof *d);
    if (!d) {
        err_set(err, ADJ_ENOMEM, "adj_dist: out of memory");
        return NULL;
    }
    d->comm = MPI_COMM_NULL;
    d->finalize = finalize;
    int rc = MPI_Comm_dup(comm, &d->comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_rank(d->comm, &d->rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(d->comm, &d->size);
    if (rc != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;
        if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
            snprintf(text, sizeof text, "error %d", rc);
        err_set(err, ADJ_EIO, "adj_dist: cannot set up the communicator: %s", text);
        d->finalize = 0; /* leave MPI as it is; the caller decides */
        adj_dist_free(d);
        return NULL;
    }
    err_set(err, ADJ_OK, "%s", "");
    return d;
}

adj_dist *adj_dist_init(int *argc, char ***argv, adj_error *err)
{
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized) {
        err_set(err, ADJ_ESTATE, "adj_dist_init: MPI was already finalised");
        return NULL;
    }
    if (!inited) {
        int provided = 0;
        /* the default error handler of MPI_COMM_WORLD would abort on a
         * failed init in some implementations; Open MPI returns an error */
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            err_set(err, ADJ_EIO, "adj_dist_init: MPI_Init_thread failed");
            return NULL;
        }
    }
    return wrap(MPI_COMM_WORLD, !inited, err);
}

adj_dist *adj_dist_from_comm(MPI_Comm comm, adj_error *err)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited || comm == MPI_COMM_NULL) {
        err_set(err, ADJ_ESTATE, "adj_dist_from_comm: %s",
                inited ? "MPI_COMM_NULL" : "MPI is not initialised");
        return NULL;
    }
    return wrap(comm, 0, err);
}

void adj_dist_free(adj_dist *d)
{
    if (!d)
        return;
    if (d->comm != MPI_COMM_NULL)
        MPI_Comm_free(&d->comm);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (d->finalize && !finalized)
        MPI_Finalize();
    free(d);
}

int adj_dist_rank(const adj_dist *d) { return d ? d->rank : 0; }
int adj_dist_size(const adj_dist *d) { return d ? d->size : 1; }
MPI_Comm adj_dist_comm(const adj_dist *d) { return d ? d->comm : MPI_COMM_NULL; }
adj_status adj_dist_status(const adj_dist *d) { return d ? d->status : ADJ_EINVAL; }
const char *adj_dist_message(const adj_dist *d) { return d ? d->message : "NULL handle"; }

void adj_dist_get_stats(const adj_dist *d, adj_dist_stats *out)
{
    if (!out)
        return;
    if (d)
        *out = d->stats;
    else
        memset(out, 0, sizeof *out);
}

static MPI_Datatype mpi_type(adj_dtype t) { return t == ADJ_F64 ? MPI_DOUBLE : MPI_FLOAT; }

static size_t dtype_size(adj_dtype t) { return t == ADJ_F64 ? sizeof(double) : sizeof(float); }

/* Common entry checks of a collective: a usable handle, a store. */
static adj_status enter(adj_dist *d, const void *obj, const char *fn)
{
    if (!d)
        return ADJ_EINVAL;
    if (d->status != ADJ_OK)
        return d->status;
    if (!obj)
        return fail(d, ADJ_EINVAL, "%s: NULL argument", fn);
    return ADJ_OK;
}

adj_status adj_dist_agree(adj_dist *d, adj_status mine, int *rank)
{
    if (rank)
        *rank = -1;
    if (!d)
        return ADJ_EINVAL;
    if (d->status != ADJ_OK)
        return d->status;
    /* MAXLOC on (status, rank): the largest status and, among the ranks
     * that passed it, the lowest rank */
    struct {
        int value, rank;
    } in = {(int)mine, d->rank}, out = {0, 0};
    adj_status st = check(d, MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, d->comm),
                          "adj_dist_agree", "MPI_Allreduce");
    if (st != ADJ_OK)
        return st;
    if (out.value != ADJ_OK && rank)
        *rank = out.rank;
    return (adj_status)out.value;
}

static adj_status reduce_doubles(adj_dist *d, double *x, size_t n, const char *fn)
{
    adj_status st = enter(d, x, fn);
    if (st != ADJ_OK)
        return st;
    while (n > 0 && st == ADJ_OK) {
        int c = n > INT_MAX ? INT_MAX : (int)n;
        st = check(d, MPI_Allreduce(MPI_IN_PLACE, x, c, MPI_DOUBLE, MPI_SUM, d->comm), fn,
                   "MPI_Allreduce");
        x += c;
        n -= (size_t)c;
    }
    return st;
}

adj_status adj_dist_sum(adj_dist *d, double *x, size_t n)
{
    return reduce_doubles(d, x, n, "adj_dist_sum");
}

adj_status adj_dist_average(adj_dist *d, double *x, size_t n)
{
    adj_status st = reduce_doubles(d, x, n, "adj_dist_average");
    if (st == ADJ_OK)
        for (size_t i = 0; i < n; i++)
            x[i] /= (double)d->size;
    return st;
}

adj_status adj_dist_same(adj_dist *d, uint64_t value, int *same)
{
    if (same)
        *same = 0;
    adj_status st = enter(d, same, "adj_dist_same");
    if (st != ADJ_OK)
        return st;
    /* max(v) and max(~v) = ~min(v) in one call: equal everywhere iff max == min */
    uint64_t v[2] = {value, ~value};
    st = check(d, MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, d->comm),
               "adj_dist_same", "MPI_Allreduce");
    if (st == ADJ_OK)
        *same = v[0] == ~v[1];
    return st;
}

uint64_t adj_dist_hash(const void *data, size_t bytes, uint64_t h)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < bytes; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

adj_status adj_dist_params_same(adj_dist *d, adj_params *p, int *same)
{
    if (same)
        *same = 0;
    adj_status st = enter(d, p, "adj_dist_params_same");
    if (st != ADJ_OK)
        return st;
    size_t bytes = adj_params_numel(p) * dtype_size(adj_params_dtype(p));
    uint64_t h = adj_dist_hash(adj_params_values(p), bytes, ADJ_DIST_HASH_INIT);
    h = adj_dist_hash(&bytes, sizeof bytes, h);
    return adj_dist_same(d, h, same);
}

adj_status adj_dist_broadcast_params(adj_dist *d, adj_params *p, int root)
{
    adj_status st = enter(d, p, "adj_dist_broadcast_params");
    if (st != ADJ_OK)
        return st;
    if (root < 0 || root >= d->size)
        return fail(d, ADJ_EINVAL, "adj_dist_broadcast_params: root %d is not a rank of %d", root,
                    d->size);
    /* the stores must match before any rank sends a block of its size */
    size_t n = adj_params_numel(p);
    int same = 0;
    st = adj_dist_same(d, (uint64_t)n * 2 + (uint64_t)adj_params_dtype(p), &same);
    if (st != ADJ_OK)
        return st;
    if (!same)
        return fail(d, ADJ_ESHAPE,
                    "adj_dist_broadcast_params: the ranks' stores differ (rank %d: %zu %s "
                    "values)",
                    d->rank, n, adj_dtype_name(adj_params_dtype(p)));
    char *v = adj_params_values(p);
    size_t esz = dtype_size(adj_params_dtype(p));
    while (n > 0 && st == ADJ_OK) {
        int c = n > INT_MAX ? INT_MAX : (int)n;
        st = check(d, MPI_Bcast(v, c, mpi_type(adj_params_dtype(p)), root, d->comm),
                   "adj_dist_broadcast_params", "MPI_Bcast");
        v += (size_t)c * esz;
        n -= (size_t)c;
    }
    return st;
}

adj_status adj_dist_average_grads(adj_dist *d, adj_params *p)
{
    adj_status st = enter(d, p, "adj_dist_average_grads");
    if (st != ADJ_OK)
        return st;
    adj_dtype dt = adj_params_dtype(p);
    size_t n = adj_params_numel(p);
    char *g = adj_params_grads(p);
    double t0 = MPI_Wtime();
    for (size_t done = 0; done < n && st == ADJ_OK;) {
        int c = n - done > INT_MAX ? INT_MAX : (int)(n - done);
        st = check(d,
                   MPI_Allreduce(MPI_IN_PLACE, g + done * dtype_size(dt), c, mpi_type(dt),
                                 MPI_SUM, d->comm),
                   "adj_dist_average_grads", "MPI_Allreduce");
        done += (size_t)c;
    }
    double dt_s = MPI_Wtime() - t0;
    d->stats.grad_allreduces++;
    d->stats.grad_seconds += dt_s;
    d->stats.grad_last_seconds = dt_s;
    d->stats.grad_bytes = n * dtype_size(dt);
    if (st != ADJ_OK || d->size == 1)
        return st;
    /* divide rather than multiply by 1/size: correctly rounded for any size */
    if (dt == ADJ_F64) {
        double *x = (double *)(void *)g, s = (double)d->size;
        for (size_t i = 0; i < n; i++)
            x[i] /= s;
    } else {
        float *x = (float *)(void *)g, s = (float)d->size;
        for (size_t i = 0; i < n; i++)
            x[i] /= s;
    }
    return ADJ_OK;
}

adj_status adj_dist_average_batchnorm(adj_dist *d, adj_mlp *m)
{
    adj_status st = enter(d, m, "adj_dist_average_batchnorm");
    for (int k = 0; k < adj_mlp_layers(m) && st == ADJ_OK; k++) {
        adj_batchnorm *bn = adj_mlp_batchnorm(m, k);
        if (!bn)
            continue;
        size_t f = (size_t)adj_batchnorm_features(bn);
        st = adj_dist_average(d, adj_batchnorm_running_mean(bn), f);
        if (st == ADJ_OK)
            st = adj_dist_average(d, adj_batchnorm_running_var(bn), f);
    }
    return st;
}

/* ------------------------------------------------------------- trainer */

static int comm_grads(void *ctx, adj_params *p) { return adj_dist_average_grads(ctx, p) != ADJ_OK; }

static int comm_sum(void *ctx, double *x, size_t n) { return adj_dist_sum(ctx, x, n) != ADJ_OK; }

static int comm_agree(void *ctx, int failed, const char *what)
{
    (void)what;
    return adj_dist_agree(ctx, failed ? ADJ_EINVAL : ADJ_OK, NULL) != ADJ_OK;
}

static int comm_buffers(void *ctx, adj_model *m)
{
    adj_mlp *mlp = adj_model_mlp(m);
    return mlp && adj_dist_average_batchnorm(ctx, mlp) != ADJ_OK;
}

adj_status adj_dist_train_comm(adj_dist *d, adj_train_comm *out)
{
    if (!d || !out)
        return ADJ_EINVAL;
    *out = (adj_train_comm){adj_dist_rank(d), adj_dist_size(d), d, comm_grads, comm_sum,
                            comm_agree, comm_buffers};
    return ADJ_OK;
}
