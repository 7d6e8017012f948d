/*
 * Writing safetensors files, and converting the floating-point tensors
 * of a file that was read to the library's dtypes
 * (include/adjoint/safetensors.h).  The header is built with cJSON.
 */
#include "io/st_internal.h"
#include "adjoint/io.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ convert */

/* IEEE half -> float, exactly (subnormals, infinities, NaN kept). */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31u, m = h & 1023u, bits;
    if (e == 31)
        bits = sign | 0x7F800000u | m << 13;
    else if (e)
        bits = sign | (e + 112) << 23 | m << 13;
    else if (m) { /* subnormal: m * 2^-24 */
        float v = (float)m * 5.9604644775390625e-8f;
        return sign ? -v : v;
    } else
        bits = sign;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint64_t rd_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static double elem(const unsigned char *p, adj_st_dtype d)
{
    switch (d) {
    case ADJ_ST_F16:
        return half_to_float((uint16_t)rd_le(p, 2));
    case ADJ_ST_BF16: {
        uint32_t bits = (uint32_t)rd_le(p, 2) << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    case ADJ_ST_F32: {
        uint32_t bits = (uint32_t)rd_le(p, 4);
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    default: {
        uint64_t bits = rd_le(p, 8);
        double x;
        memcpy(&x, &bits, 8);
        return x;
    }
    }
}

adj_status adj_st_convert(const adj_st_tensor *t, adj_dtype to, void *out, adj_error *err)
{
    if (!t || (!out && t->numel))
        return adj_err_set(err, ADJ_EINVAL, "adj_st_convert: NULL %s", t ? "out" : "tensor");
    if (to != ADJ_F32 && to != ADJ_F64)
        return adj_err_set(err, ADJ_EINVAL, "adj_st_convert: tensor \"%.64s\": cannot convert to %s",
                           t->name ? t->name : "?", adj_dtype_name(to));
    adj_st_dtype d = t->dtype;
    if (d != ADJ_ST_F16 && d != ADJ_ST_BF16 && d != ADJ_ST_F32 && d != ADJ_ST_F64)
        return adj_err_set(err, ADJ_EDTYPE,
                           "adj_st_convert: tensor \"%.64s\" is %s, not a floating-point dtype",
                           t->name ? t->name : "?", adj_st_dtype_name(d));
    const unsigned char *p = t->data;
    size_t es = adj_st_dtype_size(d);
    for (size_t i = 0; i < t->numel; i++, p += es) {
        double v = elem(p, d);
        if (to == ADJ_F64)
            ((double *)out)[i] = v;
        else
            ((float *)out)[i] = (float)v;
    }
    adj_err_clear(err);
    return ADJ_OK;
}

/* ------------------------------------------------------------- writer */

typedef struct entry {
    char *name;
    adj_st_dtype dtype;
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    size_t nbytes;
    const void *data;
} entry;

struct adj_st_writer {
    entry *e;
    int n, cap;
    char **keys, **values;
    int nmeta, metacap;
};

adj_st_writer *adj_st_writer_new(void) { return calloc(1, sizeof(adj_st_writer)); }

void adj_st_writer_free(adj_st_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++)
        free(w->e[i].name);
    for (int i = 0; i < w->nmeta; i++) {
        free(w->keys[i]);
        free(w->values[i]);
    }
    free(w->e);
    free(w->keys);
    free(w->values);
    free(w);
}

adj_status adj_st_writer_add(adj_st_writer *w, const char *name, adj_st_dtype dtype, int ndim,
                             const int64_t *shape, const void *data, adj_error *err)
{
    static const char *fn = "adj_st_writer_add";
    if (!w || !name)
        return adj_err_set(err, ADJ_EINVAL, "%s: NULL %s", fn, w ? "name" : "writer");
    /* any JSON string names a tensor, "" too (a reader takes it); the one
     * member that is not a tensor is the metadata */
    if (strcmp(name, "__metadata__") == 0)
        return adj_err_set(err, ADJ_EINVAL, "%s: tensor name \"%s\" is not allowed", fn, name);
    if ((unsigned)dtype >= ADJ_ST_DTYPE_COUNT)
        return adj_err_set(err, ADJ_EINVAL, "%s: \"%.64s\": bad dtype %d", fn, name, (int)dtype);
    if (ndim > 0 && ndim <= ADJ_MAX_DIMS && !shape)
        return adj_err_set(err, ADJ_EINVAL, "%s: \"%.64s\": NULL shape", fn, name);
    if (ndim < 0 || ndim > ADJ_MAX_DIMS)
        return adj_err_set(err, ADJ_EINVAL, "%s: \"%.64s\": ndim %d (0..%d, with a shape)", fn, name,
                           ndim, ADJ_MAX_DIMS);
    size_t es = adj_st_dtype_size(dtype), numel = 1;
    int big = 0;
    for (int k = 0; k < ndim; k++) {
        if (shape[k] < 0)
            return adj_err_set(err, ADJ_EINVAL, "%s: \"%.64s\": dimension %d is %lld", fn, name, k,
                               (long long)shape[k]);
        if (shape[k] && numel > (SIZE_MAX / es) / (uint64_t)shape[k])
            big = 1;
        numel *= (size_t)shape[k];
    }
    for (int k = 0; k < ndim; k++)
        if (shape[k] == 0)
            big = 0, numel = 0;
    if (big)
        return adj_err_set(err, ADJ_EINVAL, "%s: \"%.64s\": the shape's size overflows", fn, name);
    if (numel && !data)
        return adj_err_set(err, ADJ_EINVAL, "%s: \"%.64s\": NULL data", fn, name);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0)
            return adj_err_set(err, ADJ_EINVAL, "%s: \"%.64s\" added twice", fn, name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        entry *ne = realloc(w->e, (size_t)cap * sizeof *ne);
        if (!ne)
            return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", fn);
        w->e = ne;
        w->cap = cap;
    }
    entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name)))
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", fn);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int k = 0; k < ndim; k++)
        e->shape[k] = shape[k];
    e->nbytes = numel * es;
    e->data = data;
    w->n++;
    adj_err_clear(err);
    return ADJ_OK;
}

adj_status adj_st_writer_meta(adj_st_writer *w, const char *key, const char *value, adj_error *err)
{
    if (!w || !key || !value)
        return adj_err_set(err, ADJ_EINVAL, "adj_st_writer_meta: NULL %s",
                           !w ? "writer" : !key ? "key" : "value");
    char *v = strdup(value);
    if (!v)
        return adj_err_set(err, ADJ_ENOMEM, "adj_st_writer_meta: out of memory");
    for (int i = 0; i < w->nmeta; i++)
        if (strcmp(w->keys[i], key) == 0) {
            free(w->values[i]);
            w->values[i] = v;
            adj_err_clear(err);
            return ADJ_OK;
        }
    if (w->nmeta == w->metacap) {
        int cap = w->metacap ? 2 * w->metacap : 8;
        char **nk = realloc(w->keys, (size_t)cap * sizeof *nk);
        if (nk)
            w->keys = nk;
        char **nv = nk ? realloc(w->values, (size_t)cap * sizeof *nv) : NULL;
        if (nv)
            w->values = nv;
        if (!nk || !nv) {
            free(v);
            return adj_err_set(err, ADJ_ENOMEM, "adj_st_writer_meta: out of memory");
        }
        w->metacap = cap;
    }
    if (!(w->keys[w->nmeta] = strdup(key))) {
        free(v);
        return adj_err_set(err, ADJ_ENOMEM, "adj_st_writer_meta: out of memory");
    }
    w->values[w->nmeta++] = v;
    adj_err_clear(err);
    return ADJ_OK;
}

/* The JSON header (unpadded), from cJSON's allocator. */
static char *header_json(const adj_st_writer *w)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && w->nmeta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < w->nmeta; i++)
            ok = cJSON_AddStringToObject(m, w->keys[i], w->values[i]) != NULL;
    }
    size_t at = 0;
    for (int i = 0; ok && i < w->n; i++) {
        const entry *e = &w->e[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        cJSON *sh = t ? cJSON_AddArrayToObject(t, "shape") : NULL;
        cJSON *of = sh && cJSON_AddStringToObject(t, "dtype", adj_st_dtype_name(e->dtype))
                        ? cJSON_AddArrayToObject(t, "data_offsets")
                        : NULL;
        ok = of != NULL;
        for (int k = 0; ok && k < e->ndim; k++)
            ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e->shape[k]));
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)at)) &&
             cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(at + e->nbytes)));
        at += e->nbytes;
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

static int host_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

adj_status adj_st_writer_encode(const adj_st_writer *w, void **bytes, size_t *n, adj_error *err)
{
    static const char *fn = "adj_st_writer_encode";
    if (!w || !bytes || !n)
        return adj_err_set(err, ADJ_EINVAL, "%s: NULL %s", fn, !w ? "writer" : !bytes ? "bytes" : "n");
    *bytes = NULL;
    *n = 0;
    /* shapes hold at most 2^53 elements exactly as JSON numbers */
    size_t data = 0;
    for (int i = 0; i < w->n; i++) {
        if (w->e[i].nbytes > ((uint64_t)1 << 53) - data)
            return adj_err_set(err, ADJ_EINVAL, "%s: more than 2^53 bytes of data", fn);
        data += w->e[i].nbytes;
    }
    char *json = header_json(w);
    if (!json)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for the header", fn);
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8;
    if (data > SIZE_MAX - 8 - hl) {
        cJSON_free(json);
        return adj_err_set(err, ADJ_ENOMEM, "%s: the file would not fit in memory", fn);
    }
    unsigned char *b = malloc(8 + hl + data);
    if (!b) {
        cJSON_free(json);
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %zu bytes", fn, 8 + hl + data);
    }
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, jl);
    memset(b + 8 + jl, ' ', hl - jl);
    cJSON_free(json);
    unsigned char *p = b + 8 + hl;
    int le = host_le();
    for (int i = 0; i < w->n; i++) {
        const entry *e = &w->e[i];
        size_t es = adj_st_dtype_size(e->dtype);
        if (e->nbytes)
            memcpy(p, e->data, e->nbytes);
        if (!le && es > 1) /* elements in host order -> little-endian */
            for (size_t j = 0; j < e->nbytes; j += es)
                for (size_t a = 0, z = es - 1; a < z; a++, z--) {
                    unsigned char c = p[j + a];
                    p[j + a] = p[j + z];
                    p[j + z] = c;
                }
        p += e->nbytes;
    }
    *bytes = b;
    *n = 8 + hl + data;
    adj_err_clear(err);
    return ADJ_OK;
}

adj_status adj_st_writer_save(const adj_st_writer *w, const char *path, adj_error *err)
{
    if (!w)
        return adj_err_set(err, ADJ_EINVAL, "adj_st_writer_save: NULL writer");
    if (!path || !*path)
        return adj_err_set(err, ADJ_EINVAL, "adj_st_writer_save: %s path", path ? "empty" : "NULL");
    void *b = NULL;
    size_t n = 0;
    adj_status s = adj_st_writer_encode(w, &b, &n, err);
    if (s == ADJ_OK)
        s = adj_file_write(path, b, n, err);
    free(b);
    return s;
}
