/*
 * Model files: an MLP's configuration, parameters and batch-norm running
 * statistics, little-endian, with a CRC-32, written atomically
 * (src/io/file.c).  The layout is in include/adjoint/io.h.
 */
#include "io/io_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char MAGIC[8] = {'A', 'D', 'J', 'M', 'O', 'D', 'E', 'L'};
#define HEAD_BYTES 20u /* magic, version, payload length */
#define MODEL_MAX_BYTES ((size_t)1 << 34)

/* ------------------------------------------------------------ writing */

typedef struct wbuf {
    const adj_allocator *al;
    unsigned char *b;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->oom)
        return;
    if (w->cap - w->n < n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->n < n)
            cap *= 2;
        unsigned char *nb = w->al->alloc(w->al->ctx, cap);
        if (!nb) {
            w->oom = 1;
            return;
        }
        if (w->b) {
            memcpy(nb, w->b, w->n);
            w->al->free(w->al->ctx, w->b, w->cap);
        }
        w->b = nb;
        w->cap = cap;
    }
    memcpy(w->b + w->n, src, n);
    w->n += n;
}

static void put_le(wbuf *w, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(w, b, (size_t)bytes);
}
static void put_u32(wbuf *w, uint32_t v) { put_le(w, v, 4); }
static void put_u64(wbuf *w, uint64_t v) { put_le(w, v, 8); }
static void put_f64(wbuf *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_le(w, v, 8);
}
static void put_f32(wbuf *w, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_le(w, v, 4);
}

static uint32_t crc_of(const unsigned char *b, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, k);
        b += k;
        n -= k;
    }
    return (uint32_t)c;
}

static void put_payload(wbuf *w, adj_mlp *m)
{
    const adj_mlp_config *c = adj_mlp_get_config(m);
    adj_params *p = adj_mlp_params(m);
    put_u32(w, (uint32_t)c->dtype);
    put_u32(w, (uint32_t)c->n_sizes);
    for (int i = 0; i < c->n_sizes; i++)
        put_u64(w, (uint64_t)c->sizes[i]);
    for (int k = 0; k < c->n_sizes - 1; k++)
        put_u32(w, (uint32_t)c->act[k]);
    put_u32(w, (uint32_t)c->init);
    put_f64(w, c->dropout);
    put_u32(w, (uint32_t)(c->batchnorm != 0));
    int nt = adj_params_count(p);
    put_u32(w, (uint32_t)nt);
    for (int i = 0; i < nt; i++) {
        const char *name = adj_params_tensor_name(p, i);
        size_t nl = strlen(name);
        put_u32(w, (uint32_t)nl);
        put(w, name, nl);
        int nd = adj_params_tensor_ndim(p, i);
        put_u32(w, (uint32_t)nd);
        for (int k = 0; k < nd; k++)
            put_u64(w, (uint64_t)adj_params_tensor_shape(p, i)[k]);
        size_t n = adj_params_tensor_numel(p, i);
        const void *v = adj_params_value(p, i);
        for (size_t k = 0; k < n; k++) {
            if (c->dtype == ADJ_F64)
                put_f64(w, ((const double *)v)[k]);
            else
                put_f32(w, ((const float *)v)[k]);
        }
    }
    for (int k = 0; k < c->n_sizes - 1; k++) {
        adj_batchnorm *bn = adj_mlp_batchnorm(m, k);
        if (!bn)
            continue;
        int64_t f = adj_batchnorm_features(bn);
        put_u64(w, (uint64_t)f);
        for (int64_t j = 0; j < f; j++)
            put_f64(w, adj_batchnorm_running_mean(bn)[j]);
        for (int64_t j = 0; j < f; j++)
            put_f64(w, adj_batchnorm_running_var(bn)[j]);
    }
    const double *shift, *scale;
    int has = adj_mlp_input_transform(m, &shift, &scale);
    put_u32(w, (uint32_t)has);
    for (int64_t j = 0; has && j < c->sizes[0]; j++)
        put_f64(w, shift[j]);
    for (int64_t j = 0; has && j < c->sizes[0]; j++)
        put_f64(w, scale[j]);
}

/* The whole file in w (from the model's allocator): ADJ_OK or ADJ_ENOMEM. */
static adj_status encode(adj_mlp *m, wbuf *w)
{
    put(w, MAGIC, 8);
    put_u32(w, ADJ_MODEL_VERSION);
    put_u64(w, 0); /* payload length, patched below */
    put_payload(w, m);
    if (!w->oom) {
        uint64_t plen = w->n - HEAD_BYTES;
        for (int i = 0; i < 8; i++)
            w->b[12 + i] = (unsigned char)(plen >> (8 * i));
        put_u32(w, crc_of(w->b, w->n));
    }
    if (w->oom) {
        if (w->b)
            w->al->free(w->al->ctx, w->b, w->cap);
        w->b = NULL;
        return ADJ_ENOMEM;
    }
    return ADJ_OK;
}

adj_status adj_model_save(adj_mlp *m, const char *path, adj_error *err)
{
    if (!m)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_save: NULL model");
    if (adj_io_path_ok("adj_model_save", "path", path, err) != ADJ_OK)
        return ADJ_EINVAL;
    /* refuse a directory or a device before the work of encoding */
    adj_status st = adj_io_check_target(path, err);
    if (st != ADJ_OK)
        return st;
    wbuf w = {adj_mlp_allocator(m), NULL, 0, 0, 0};
    if (encode(m, &w) != ADJ_OK)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    const void *bytes = w.b;
    st = adj_io_write_files(1, &path, &bytes, &w.n, w.al, err);
    w.al->free(w.al->ctx, w.b, w.cap);
    if (st == ADJ_OK)
        adj_err_clear(err);
    return st;
}

adj_status adj_model_encode(adj_mlp *m, void **bytes, size_t *n, adj_error *err)
{
    if (bytes)
        *bytes = NULL;
    if (n)
        *n = 0;
    if (!m || !bytes || !n)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_encode: NULL %s", !m ? "model" : "output");
    wbuf w = {&adj_default_allocator, NULL, 0, 0, 0};
    if (encode(m, &w) != ADJ_OK)
        return adj_err_set(err, ADJ_ENOMEM, "adj_model_encode: out of memory");
    *bytes = w.b; /* the default allocator is malloc */
    *n = w.n;
    adj_err_clear(err);
    return ADJ_OK;
}
/* ------------------------------------------------------------ reading */

typedef struct rbuf {
    const unsigned char *b;
    size_t n, pos;
    int short_read;
} rbuf;

static uint64_t get_le(rbuf *r, int bytes)
{
    if (r->n - r->pos < (size_t)bytes) {
        r->short_read = 1;
        r->pos = r->n;
        return 0;
    }
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | r->b[r->pos + (size_t)i];
    r->pos += (size_t)bytes;
    return v;
}
static uint32_t get_u32(rbuf *r) { return (uint32_t)get_le(r, 4); }
static uint64_t get_u64(rbuf *r) { return get_le(r, 8); }
static double get_f64(rbuf *r)
{
    uint64_t v = get_le(r, 8);
    double d;
    memcpy(&d, &v, 8);
    return d;
}
static float get_f32(rbuf *r)
{
    uint32_t v = (uint32_t)get_le(r, 4);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* Check the envelope (magic, version, length, CRC); on success r covers
 * the payload. */
static adj_status open_envelope(const char *path, const unsigned char *b, size_t n, rbuf *r,
                                adj_error *err)
{
    if (n < 8 || memcmp(b, MAGIC, 8) != 0)
        return adj_err_set(err, ADJ_EFORMAT, "%s: not an adjoint model file (bad magic)", path);
    if (n < HEAD_BYTES + 4)
        return adj_err_set(err, ADJ_EFORMAT, "%s: truncated: %zu bytes, the header alone needs %u",
                           path, n, HEAD_BYTES + 4);
    rbuf h = {b, n, 8, 0};
    uint32_t version = get_u32(&h);
    if (version != ADJ_MODEL_VERSION)
        return adj_err_set(err, ADJ_EFORMAT, "%s: model format version %u, this library reads %u",
                           path, version, ADJ_MODEL_VERSION);
    uint64_t plen = get_u64(&h);
    if (plen != (uint64_t)(n - HEAD_BYTES - 4))
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: %s: the header says %llu payload bytes, the file has %zu", path,
                           plen > n - HEAD_BYTES - 4 ? "truncated" : "trailing bytes",
                           (unsigned long long)plen, n - HEAD_BYTES - 4);
    rbuf t = {b, n, n - 4, 0};
    uint32_t want = get_u32(&t), got = crc_of(b, n - 4);
    if (want != got)
        return adj_err_set(
            err, ADJ_EFORMAT,
            "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt", path, want,
            got);
    r->b = b;
    r->n = n - 4;
    r->pos = HEAD_BYTES;
    r->short_read = 0;
    return ADJ_OK;
}

static adj_status read_config(const char *path, rbuf *r, adj_mlp_config *c, adj_error *err)
{
    *c = adj_mlp_config_default();
    uint32_t dt = get_u32(r), ns = get_u32(r);
    if (dt > 1 || ns < 2 || ns > ADJ_MLP_MAX_LAYERS + 1)
        return adj_err_set(err, ADJ_EFORMAT, "%s: invalid architecture (dtype %u, %u layer sizes)",
                           path, dt, ns);
    c->dtype = (adj_dtype)dt;
    c->n_sizes = (int)ns;
    for (uint32_t i = 0; i < ns; i++) {
        uint64_t s = get_u64(r);
        if (s < 1 || s > (1u << 24))
            return adj_err_set(err, ADJ_EFORMAT, "%s: invalid layer size %llu", path,
                               (unsigned long long)s);
        c->sizes[i] = (int64_t)s;
    }
    for (uint32_t k = 0; k + 1 < ns; k++) {
        uint32_t a = get_u32(r);
        if (a >= ADJ_ACT_COUNT)
            return adj_err_set(err, ADJ_EFORMAT, "%s: unknown activation %u", path, a);
        c->act[k] = (adj_activation)a;
    }
    uint32_t init = get_u32(r);
    c->init = init < ADJ_INIT_COUNT ? (adj_init)init : ADJ_INIT_HE_NORMAL;
    c->dropout = get_f64(r);
    c->batchnorm = (int)get_u32(r);
    if (r->short_read)
        return adj_err_set(err, ADJ_EFORMAT, "%s: truncated architecture", path);
    if (!(c->dropout >= 0 && c->dropout < 1) || c->batchnorm > 1)
        return adj_err_set(err, ADJ_EFORMAT, "%s: invalid dropout or batch-norm flag", path);
    return ADJ_OK;
}

static adj_status same_arch(const char *path, const adj_mlp_config *f, const adj_mlp_config *m,
                            adj_error *err)
{
    char a[160] = "", b[160] = "";
    size_t la = 0, lb = 0;
    for (int i = 0; i < f->n_sizes && la < sizeof a - 24; i++)
        la +=
            (size_t)snprintf(a + la, sizeof a - la, "%s%lld", i ? "-" : "", (long long)f->sizes[i]);
    for (int i = 0; i < m->n_sizes && lb < sizeof b - 24; i++)
        lb +=
            (size_t)snprintf(b + lb, sizeof b - lb, "%s%lld", i ? "-" : "", (long long)m->sizes[i]);
    if (f->n_sizes != m->n_sizes || strcmp(a, b) != 0)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: architecture mismatch: the file holds %s, the model is %s", path, a,
                           b);
    if (f->dtype != m->dtype)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: architecture mismatch: the file holds %s, the model is %s", path,
                           adj_dtype_name(f->dtype), adj_dtype_name(m->dtype));
    for (int k = 0; k < f->n_sizes - 1; k++)
        if (f->act[k] != m->act[k])
            return adj_err_set(
                err, ADJ_EFORMAT,
                "%s: architecture mismatch: layer %d activation is %s in the file, %s in the model",
                path, k, adj_activation_name(f->act[k]), adj_activation_name(m->act[k]));
    if ((f->batchnorm != 0) != (m->batchnorm != 0))
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: architecture mismatch: batch norm %s in the file, %s in the model",
                           path, f->batchnorm ? "on" : "off", m->batchnorm ? "on" : "off");
    return ADJ_OK;
}

/* Read the tensors and statistics of the payload into m (whose
 * architecture equals the file's). */
static adj_status read_values(const char *path, rbuf *r, adj_mlp *m, adj_error *err)
{
    adj_params *p = adj_mlp_params(m);
    const adj_mlp_config *c = adj_mlp_get_config(m);
    uint32_t nt = get_u32(r);
    if ((int)nt != adj_params_count(p))
        return adj_err_set(err, ADJ_EFORMAT, "%s: %s: %u tensors, the architecture has %d", path,
                           r->short_read ? "truncated" : "architecture mismatch", nt,
                           adj_params_count(p));
    for (int i = 0; i < (int)nt; i++) {
        uint32_t nl = get_u32(r);
        if (nl > 255 || r->n - r->pos < nl)
            return adj_err_set(err, ADJ_EFORMAT, "%s: truncated or corrupt tensor name", path);
        r->pos += nl;
        uint32_t nd = get_u32(r);
        int ok = (int)nd == adj_params_tensor_ndim(p, i);
        for (uint32_t k = 0; k < nd && k < ADJ_MAX_DIMS; k++)
            ok &= (int64_t)get_u64(r) == adj_params_tensor_shape(p, i)[k];
        if (r->short_read)
            return adj_err_set(err, ADJ_EFORMAT, "%s: truncated", path);
        if (!ok)
            return adj_err_set(err, ADJ_EFORMAT,
                               "%s: architecture mismatch: tensor %d ('%s') has another shape",
                               path, i, adj_params_tensor_name(p, i));
        size_t n = adj_params_tensor_numel(p, i), es = adj_dsize(c->dtype);
        if ((r->n - r->pos) / es < n)
            return adj_err_set(err, ADJ_EFORMAT, "%s: truncated in tensor '%s'", path,
                               adj_params_tensor_name(p, i));
        void *v = adj_params_value(p, i);
        for (size_t k = 0; k < n; k++) {
            if (c->dtype == ADJ_F64)
                ((double *)v)[k] = get_f64(r);
            else
                ((float *)v)[k] = get_f32(r);
        }
    }
    for (int k = 0; k < c->n_sizes - 1; k++) {
        adj_batchnorm *bn = adj_mlp_batchnorm(m, k);
        if (!bn)
            continue;
        int64_t f = adj_batchnorm_features(bn);
        if ((int64_t)get_u64(r) != f || (r->n - r->pos) / 16 < (size_t)f)
            return adj_err_set(err, ADJ_EFORMAT, "%s: truncated or corrupt batch-norm statistics",
                               path);
        for (int64_t j = 0; j < f; j++)
            adj_batchnorm_running_mean(bn)[j] = get_f64(r);
        for (int64_t j = 0; j < f; j++)
            adj_batchnorm_running_var(bn)[j] = get_f64(r);
    }
    uint32_t has = get_u32(r);
    size_t in = (size_t)c->sizes[0];
    if (has > 1 || (has && (r->n - r->pos) / 16 < in))
        return adj_err_set(err, ADJ_EFORMAT, "%s: truncated or corrupt input transform", path);
    if (has) {
        const adj_allocator *al = adj_mlp_allocator(m);
        double *buf = al->alloc(al->ctx, 2 * in * sizeof(double));
        if (!buf)
            return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
        for (size_t j = 0; j < 2 * in; j++)
            buf[j] = get_f64(r);
        adj_status st = adj_mlp_set_input_transform(m, buf, buf + in);
        al->free(al->ctx, buf, 2 * in * sizeof(double));
        if (st != ADJ_OK)
            return adj_err_set(err, st, "%s: out of memory", path);
    }
    if (r->short_read)
        return adj_err_set(err, ADJ_EFORMAT, "%s: truncated", path);
    if (r->pos != r->n)
        return adj_err_set(err, ADJ_EFORMAT, "%s: %zu unexpected bytes after the parameters", path,
                           r->n - r->pos);
    return ADJ_OK;
}

/* The fewest payload bytes the values of architecture c take: parameters
 * and batch-norm statistics.  Checked before the model is built, so a
 * header never makes the loader allocate more than the file holds. */
static uint64_t values_bytes(const adj_mlp_config *c)
{
    uint64_t es = c->dtype == ADJ_F64 ? 8 : 4, n = 0;
    for (int k = 0; k + 1 < c->n_sizes; k++) {
        n += ((uint64_t)c->sizes[k] + 1) * (uint64_t)c->sizes[k + 1] * es;
        if (c->batchnorm && k + 2 < c->n_sizes)
            n += (uint64_t)c->sizes[k + 1] * (2 * es + 16);
    }
    return n;
}

/* Read a model file in two steps: the 20-byte head (magic, version,
 * payload length) is checked first, then exactly the payload and CRC it
 * declares are read, into a buffer that grows only as data arrives.  A
 * foreign file (/dev/zero, a data set) costs 20 bytes of reading. */
static adj_status read_file(const char *path, const adj_allocator *al, unsigned char **b,
                            size_t *n, size_t *cap, adj_error *err)
{
    adj_io_in in;
    adj_status st = adj_io_open(&in, path, err);
    if (st != ADJ_OK)
        return st;
    unsigned char head[HEAD_BYTES];
    size_t got;
    st = adj_io_read(&in, head, HEAD_BYTES, &got, err);
    if (st == ADJ_OK && (got < 8 || memcmp(head, MAGIC, 8) != 0))
        st = adj_err_set(err, ADJ_EFORMAT, "%s: not an adjoint model file (bad magic)", path);
    if (st == ADJ_OK && got < HEAD_BYTES)
        st = adj_err_set(err, ADJ_EFORMAT, "%s: truncated: %zu bytes, the header alone needs %u",
                         path, got, HEAD_BYTES + 4);
    uint64_t plen = 0;
    if (st == ADJ_OK) {
        rbuf h = {head, HEAD_BYTES, 8, 0};
        uint32_t version = get_u32(&h);
        plen = get_u64(&h);
        if (version != ADJ_MODEL_VERSION)
            st = adj_err_set(err, ADJ_EFORMAT, "%s: model format version %u, this library reads %u",
                             path, version, ADJ_MODEL_VERSION);
        else if (plen > MODEL_MAX_BYTES)
            st = adj_err_set(err, ADJ_EFORMAT,
                             "%s: the header declares %llu payload bytes, more than the %zu this "
                             "library reads",
                             path, (unsigned long long)plen, MODEL_MAX_BYTES);
    }
    int more = 0;
    if (st == ADJ_OK)
        st = adj_io_read_upto(&in, head, HEAD_BYTES, (size_t)plen + 4, al, b, n, cap, &more, err);
    adj_io_close(&in);
    if (st != ADJ_OK)
        return st;
    if (*n < HEAD_BYTES + plen + 4 || more) {
        if (more)
            st = adj_err_set(err, ADJ_EFORMAT,
                             "%s: trailing bytes: the header says %llu payload bytes, the file "
                             "has more",
                             path, (unsigned long long)plen);
        else
            st = adj_err_set(err, ADJ_EFORMAT,
                             "%s: truncated: the header says %llu payload bytes, the file has %zu",
                             path, (unsigned long long)plen,
                             *n >= HEAD_BYTES + 4 ? *n - HEAD_BYTES - 4 : 0);
        al->free(al->ctx, *b, *cap);
        *b = NULL;
    }
    return st;
}

static adj_status load(const char *path, const adj_allocator *al, adj_mlp *into, adj_mlp **out,
                       adj_error *err)
{
    unsigned char *b;
    size_t n, cap;
    if (into)
        al = adj_mlp_allocator(into);
    else if (!al || !al->alloc || !al->free)
        al = &adj_default_allocator;
    adj_status st = read_file(path, al, &b, &n, &cap, err);
    if (st != ADJ_OK)
        return st;
    rbuf r = {NULL, 0, 0, 0};
    adj_mlp_config c;
    adj_mlp *m = into;
    st = open_envelope(path, b, n, &r, err);
    if (st == ADJ_OK)
        st = read_config(path, &r, &c, err);
    if (st == ADJ_OK && values_bytes(&c) > r.n - r.pos)
        st = adj_err_set(err, ADJ_EFORMAT,
                         "%s: truncated: the architecture needs %llu bytes of values, %zu remain",
                         path, (unsigned long long)values_bytes(&c), r.n - r.pos);
    if (st == ADJ_OK) {
        /* never build more than the file can fill */
        size_t need = adj_mlp_count_params(c.n_sizes, c.sizes) * adj_dsize(c.dtype);
        if (need > r.n - r.pos)
            st = adj_err_set(err, ADJ_EFORMAT,
                             "%s: truncated: the architecture needs %zu parameter bytes, the file "
                             "holds %zu",
                             path, need, r.n - r.pos);
    }
    if (st == ADJ_OK && into)
        st = same_arch(path, &c, adj_mlp_get_config(into), err);
    if (st == ADJ_OK && !into) {
        adj_rng rng;
        adj_rng_seed(&rng, 0);
        adj_error e;
        m = adj_mlp_new_with(&c, &rng, al, &e);
        if (!m) /* a configuration the file holds but the library refuses is a format error */
            st = adj_err_set(err, e.status == ADJ_ENOMEM ? ADJ_ENOMEM : ADJ_EFORMAT, "%s: %s", path,
                             e.message);
    }
    if (st == ADJ_OK)
        st = read_values(path, &r, m, err);
    al->free(al->ctx, b, cap);
    if (st != ADJ_OK) {
        if (!into)
            adj_mlp_free(m);
        return st;
    }
    if (out)
        *out = m;
    adj_err_clear(err);
    return ADJ_OK;
}

adj_status adj_model_load(const char *path, adj_mlp **out, adj_error *err)
{
    return adj_model_load_with(path, NULL, out, err);
}

adj_status adj_model_load_with(const char *path, const adj_allocator *a, adj_mlp **out,
                               adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_load: NULL output");
    *out = NULL;
    if (adj_io_path_ok("adj_model_load", "path", path, err) != ADJ_OK)
        return ADJ_EINVAL;
    return load(path, a, NULL, out, err);
}

adj_status adj_model_load_into(adj_mlp *m, const char *path, adj_error *err)
{
    if (!m)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_load_into: NULL model");
    if (adj_io_path_ok("adj_model_load_into", "path", path, err) != ADJ_OK)
        return ADJ_EINVAL;
    return load(path, NULL, m, NULL, err);
}
