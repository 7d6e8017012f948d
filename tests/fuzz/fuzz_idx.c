/*
 * libFuzzer target: the IDX reader.  Every input goes through
 * adj_idx_parse (bytes in memory) and adj_idx_read (a file, plain or
 * gzip); both must agree, and an accepted array must survive a write and
 * a read back bit for bit, and read as images (with generated labels)
 * give finite features or a clear refusal.
 */
#include <adjoint.h>

#include <math.h>

#include "fuzz_util.h"

static fuzz_file in_file, out_file, labels_file;

/* The accepted array (written at `images`) as images with dims[0] labels
 * 0, 1, 2, ...: a data set of finite features, or a clear refusal. */
static void as_dataset(const char *images, const adj_idx *a)
{
    if (a->dims[0] > 4096)
        return;
    uint8_t lab[4096 + 12] = {0, 0, 0x08, 1};
    uint32_t n = (uint32_t)a->dims[0];
    for (int k = 0; k < 4; k++)
        lab[4 + k] = (uint8_t)(n >> (24 - 8 * k));
    for (uint32_t i = 0; i < n; i++)
        lab[8 + i] = (uint8_t)(i % 7);
    const char *lp = fuzz_write(fuzz_scratch(&labels_file, "idx-labels"), lab, 8 + n);
    adj_dataset *d = NULL;
    adj_error err;
    adj_status s = adj_dataset_from_idx(images, lp, &d, &err);
    if (s != ADJ_OK) {
        if (d || err.status != s || !err.message[0])
            abort();
        return;
    }
    if (d->rows != n || d->rows * d->cols != a->numel || (n && d->classes != (n < 7 ? (int)n : 7)))
        abort();
    for (size_t i = 0; i < a->numel; i++)
        if (!isfinite(d->x[i]))
            abort();
    adj_dataset_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    adj_error err;
    adj_idx *a = NULL, *b = NULL, *c = NULL;
    adj_status s1 = adj_idx_parse(data, size, "fuzz", &a, &err);
    if (s1 != ADJ_OK && (a || err.status != s1 || !err.message[0]))
        abort(); /* failure must leave *out NULL and say why */
    const char *path = fuzz_write(fuzz_scratch(&in_file, "idx"), data, size);
    adj_status s2 = adj_idx_read(path, &b, &err);
    if (s2 != ADJ_OK && (b || !err.message[0]))
        abort();
    /* a plain (non-gzip) file reads exactly as the bytes parse */
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz && s1 != s2)
        abort();
    adj_idx *ok = a ? a : b;
    if (ok) {
        size_t numel = 1;
        for (int i = 0; i < ok->ndim; i++)
            numel *= (size_t)ok->dims[i];
        if (numel != ok->numel || ok->ndim < 1 || ok->ndim > ADJ_IDX_MAX_DIMS)
            abort();
        for (size_t i = 0; i < ok->numel && i < 64; i++)
            (void)adj_idx_get(ok, i);
        const char *op = fuzz_scratch(&out_file, "idx-out")->path;
        if (adj_idx_write(op, ok->type, ok->ndim, ok->dims, ok->data, (int)(size & 1), &err) != ADJ_OK)
            abort();
        if (adj_idx_read(op, &c, &err) != ADJ_OK)
            abort();
        as_dataset(op, ok);
        size_t es = ok->numel ? 0 : 1;
        if (ok->numel)
            switch (ok->type) {
            case ADJ_IDX_U8: case ADJ_IDX_I8: es = 1; break;
            case ADJ_IDX_I16: es = 2; break;
            case ADJ_IDX_I32: case ADJ_IDX_F32: es = 4; break;
            default: es = 8; break;
            }
        if (c->type != ok->type || c->ndim != ok->ndim || c->numel != ok->numel ||
            memcmp(c->dims, ok->dims, sizeof c->dims) != 0 ||
            (ok->numel && memcmp(c->data, ok->data, ok->numel * es) != 0))
            abort();
    }
    adj_idx_free(a);
    adj_idx_free(b);
    adj_idx_free(c);
    return 0;
}
