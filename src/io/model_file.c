/*
 * Model files of any architecture as safetensors (include/adjoint/model.h):
 * parameters under their PyTorch names in the model's dtype, buffers in
 * F64, the architecture, dtype and configuration in __metadata__ with the
 * CRC-32 of the data section.  Older MLP files (io.h) still load.
 */
#include "io/io_internal.h"
#include "io/st_internal.h"
#include "nn/model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

/* The writer of m's file, crc32 still to be set. */
static adj_status fill(adj_model *m, adj_st_writer *w, adj_model_buf *bufs, adj_error *err)
{
    adj_status s = adj_st_writer_meta(w, "format", "pt", err);
    if (s == ADJ_OK)
        s = adj_st_writer_meta(w, "arch", m->arch->name, err);
    if (s == ADJ_OK)
        s = adj_st_writer_meta(w, "dtype", m->dtype == ADJ_F64 ? "F64" : "F32", err);
    for (int i = 0; s == ADJ_OK && i < m->nconf; i++) {
        char key[128];
        snprintf(key, sizeof key, "config.%s", m->keys[i]);
        s = adj_st_writer_meta(w, key, m->values[i], err);
    }
    adj_params *p = m->p;
    for (int i = 0; s == ADJ_OK && i < adj_params_count(p); i++)
        s = adj_st_writer_add(w, m->pnames[i], m->dtype == ADJ_F64 ? ADJ_ST_F64 : ADJ_ST_F32,
                              adj_params_tensor_ndim(p, i), adj_params_tensor_shape(p, i),
                              adj_params_value(p, i), err);
    int nb = m->arch->buffers ? m->arch->buffers(m, bufs) : 0;
    for (int i = 0; s == ADJ_OK && i < nb; i++)
        s = adj_st_writer_add(w, bufs[i].name, ADJ_ST_F64, bufs[i].ndim, bufs[i].shape, bufs[i].data,
                              err);
    return s;
}

adj_status adj_model_to_bytes(adj_model *m, void **bytes, size_t *n, adj_error *err)
{
    if (!m || !bytes || !n)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_to_bytes: NULL %s", !m ? "model" : !bytes ? "bytes" : "n");
    *bytes = NULL;
    *n = 0;
    adj_st_writer *w = adj_st_writer_new();
    adj_model_buf *bufs = calloc(ADJ_MODEL_MAX_BUFS, sizeof *bufs);
    if (!w || !bufs) {
        adj_st_writer_free(w);
        free(bufs);
        return adj_err_set(err, ADJ_ENOMEM, "adj_model_to_bytes: out of memory");
    }
    /* the checksum has a fixed width, so the data sits at the same place
     * with the placeholder as with the value */
    adj_status s = fill(m, w, bufs, err);
    if (s == ADJ_OK)
        s = adj_st_writer_meta(w, "crc32", "00000000", err);
    void *b = NULL;
    size_t len = 0;
    if (s == ADJ_OK)
        s = adj_st_writer_encode(w, &b, &len, err);
    if (s == ADJ_OK) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--)
            hl = hl << 8 | ((unsigned char *)b)[i];
        char crc[16];
        snprintf(crc, sizeof crc, "%08x", (unsigned)crc_of((unsigned char *)b + 8 + hl, len - 8 - hl));
        free(b);
        b = NULL;
        s = adj_st_writer_meta(w, "crc32", crc, err);
        if (s == ADJ_OK)
            s = adj_st_writer_encode(w, &b, &len, err);
    }
    adj_st_writer_free(w);
    free(bufs);
    if (s != ADJ_OK) {
        free(b);
        return s;
    }
    *bytes = b;
    *n = len;
    adj_err_clear(err);
    return ADJ_OK;
}

adj_status adj_model_write(adj_model *m, const char *path, adj_error *err)
{
    if (!m)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_write: NULL model");
    adj_status s = adj_io_path_ok("adj_model_write", "path", path, err);
    if (s != ADJ_OK)
        return s;
    void *b;
    size_t n;
    if ((s = adj_model_to_bytes(m, &b, &n, err)) != ADJ_OK)
        return s;
    s = adj_file_write(path, b, n, err);
    free(b);
    return s;
}

/* ------------------------------------------------------------- reading */

adj_status adj_io_st_take(const adj_safetensors *f, unsigned char *used, const char *path,
                       const char *name, int ndim, const int64_t *shape, adj_dtype dtype, void *dst,
                       adj_error *err)
{
    const adj_st_tensor *t = adj_st_find(f, name);
    if (!t)
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%s\" is missing", path, name);
    int same = t->ndim == ndim;
    for (int k = 0; same && k < ndim; k++)
        same = t->shape[k] == shape[k];
    if (!same) {
        char want[96] = "", got[96] = "", d[24];
        for (int k = 0; k < ndim; k++) {
            snprintf(d, sizeof d, "%s%lld", k ? ", " : "", (long long)shape[k]);
            strncat(want, d, sizeof want - strlen(want) - 1);
        }
        for (int k = 0; k < t->ndim; k++) {
            snprintf(d, sizeof d, "%s%lld", k ? ", " : "", (long long)t->shape[k]);
            strncat(got, d, sizeof got - strlen(got) - 1);
        }
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%s\" has shape (%s), the model needs (%s)",
                           path, name, got, want);
    }
    if (adj_st_convert(t, dtype, dst, NULL) != ADJ_OK)
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%s\" is %s, not a floating-point dtype",
                           path, name, adj_st_dtype_name(t->dtype));
    used[t - adj_st_tensor_at(f, 0)] = 1;
    return ADJ_OK;
}

static adj_status from_st(const char *path, const adj_safetensors *f, adj_model **out, adj_error *err)
{
    const char *arch = adj_st_meta(f, "arch"), *crc = adj_st_meta(f, "crc32");
    if (!arch)
        return adj_err_set(err, ADJ_EFORMAT, "%s: no \"arch\" in __metadata__: not a model file", path);
    const adj_arch *a = adj_arch_find(arch);
    if (!a)
        return adj_err_set(err, ADJ_EFORMAT, "%s: unknown architecture \"%.64s\"", path, arch);
    if (crc) {
        char have[16];
        snprintf(have, sizeof have, "%08x", (unsigned)crc_of(f->bytes, f->data_len));
        if (strcmp(have, crc) != 0)
            return adj_err_set(err, ADJ_EFORMAT, "%s: checksum mismatch (file says %.16s, data gives %s)",
                               path, crc, have);
    }
    const char *dt = adj_st_meta(f, "dtype");
    adj_dtype dtype = ADJ_F32;
    if (dt ? strcmp(dt, "F64") == 0 : adj_st_count(f) > 0 && adj_st_tensor_at(f, 0)->dtype == ADJ_ST_F64)
        dtype = ADJ_F64;
    /* the configuration: every "config.KEY" */
    int nm = adj_st_meta_count(f), n = 0;
    const char **kv = calloc(2 * (size_t)nm + 2, sizeof *kv);
    unsigned char *used = calloc((size_t)adj_st_count(f) + 1, 1);
    adj_model_buf *bufs = calloc(ADJ_MODEL_MAX_BUFS, sizeof *bufs);
    adj_model *m = NULL;
    adj_status s = kv && used && bufs ? ADJ_OK : adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    for (int i = 0; s == ADJ_OK && i < nm; i++)
        if (strncmp(adj_st_meta_key(f, i), "config.", 7) == 0) {
            kv[2 * n] = adj_st_meta_key(f, i) + 7;
            kv[2 * n + 1] = adj_st_meta_value(f, i);
            n++;
        }
    if (s == ADJ_OK && !(m = adj_model_alloc(a, n, kv, dtype, err))) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err ? err->message : "bad configuration");
        s = adj_err_set(err, ADJ_EFORMAT, "%s: %s", path, why);
    }
    /* what the configuration would allocate is bounded by the file: no
     * more elements than it has bytes of data (each takes 2 or more) */
    uint64_t need = 0;
    if (s == ADJ_OK && a->count && a->count(m, &need, err) != ADJ_OK) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err ? err->message : "bad configuration");
        s = adj_err_set(err, ADJ_EFORMAT, "%s: %s", path, why);
    }
    if (s == ADJ_OK && need > f->data_len)
        s = adj_err_set(err, ADJ_EFORMAT,
                        "%s: the configuration makes %llu parameters, more than the %zu bytes of data hold",
                        path, (unsigned long long)need, f->data_len);
    if (s == ADJ_OK) {
        adj_rng rng;
        adj_rng_seed(&rng, 0); /* the values are replaced by the file's */
        if (a->build(m, &rng, err) != ADJ_OK) {
            char why[sizeof err->message];
            snprintf(why, sizeof why, "%s", err ? err->message : "bad configuration");
            s = adj_err_set(err, ADJ_EFORMAT, "%s: %s", path, why);
        }
    }
    adj_params *p = m ? m->p : NULL;
    for (int i = 0; s == ADJ_OK && i < adj_params_count(p); i++)
        s = adj_io_st_take(f, used, path, m->pnames[i], adj_params_tensor_ndim(p, i),
                 adj_params_tensor_shape(p, i), dtype, adj_params_value(p, i), err);
    int nb = s == ADJ_OK && a->buffers ? a->buffers(m, bufs) : 0;
    for (int i = 0; s == ADJ_OK && i < nb; i++)
        s = adj_io_st_take(f, used, path, bufs[i].name, bufs[i].ndim, bufs[i].shape, ADJ_F64,
                           bufs[i].data, err);
    if (s == ADJ_OK && a->load_extra)
        s = a->load_extra(m, f, used, path, err);
    for (int i = 0; s == ADJ_OK && i < adj_st_count(f); i++)
        if (!used[i])
            s = adj_err_set(err, ADJ_EFORMAT, "%s: unexpected tensor \"%.64s\" for a \"%s\" model", path,
                            adj_st_tensor_at(f, i)->name, a->name);
    free(kv);
    free(used);
    free(bufs);
    if (s != ADJ_OK) {
        adj_model_free(m);
        return s;
    }
    *out = m;
    return ADJ_OK;
}

adj_status adj_model_read(const char *path, adj_model **out, adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_model_read: NULL out");
    *out = NULL;
    adj_status s = adj_io_path_ok("adj_model_read", "path", path, err);
    if (s != ADJ_OK)
        return s;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return adj_err_set(err, ADJ_EIO, "%s: cannot open", path);
    unsigned char magic[9] = {0};
    size_t got = fread(magic, 1, 9, fp);
    fclose(fp);
    if (got < 9 || (memcmp(magic, "ADJMODEL", 8) != 0 && magic[8] != '{'))
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: not an adjoint model file (neither safetensors nor an MLP file)", path);
    if (memcmp(magic, "ADJMODEL", 8) == 0) {
        adj_mlp *mlp = NULL;
        if ((s = adj_model_load(path, &mlp, err)) != ADJ_OK)
            return s;
        *out = adj_model_from_mlp(mlp, err);
        return *out ? ADJ_OK : (err ? err->status : ADJ_ENOMEM);
    }
    adj_safetensors *f = NULL;
    if ((s = adj_st_read(path, &f, err)) != ADJ_OK)
        return s;
    s = from_st(path, f, out, err);
    adj_st_free(f);
    if (s == ADJ_OK)
        adj_err_clear(err);
    return s;
}
