/*
 * libFuzzer target: the safetensors reader, from a file (adj_st_read) and
 * from memory (adj_st_parse), which must agree.  An accepted file must
 * convert every floating-point tensor, and write and read back to the
 * same names, dtypes, shapes, bytes and metadata.  The same bytes go to
 * the model loader (adj_model_read): a model it accepts must save and load
 * back with the same parameters.
 */
#include <adjoint.h>

#include "fuzz_util.h"

static fuzz_file in_file, out_file;

static void same(const adj_safetensors *a, const adj_safetensors *b)
{
    if (adj_st_count(a) != adj_st_count(b) || adj_st_meta_count(a) != adj_st_meta_count(b))
        abort();
    for (int i = 0; i < adj_st_meta_count(a); i++) {
        const char *v = adj_st_meta(b, adj_st_meta_key(a, i));
        if (!v || strcmp(v, adj_st_meta_value(a, i)) != 0)
            abort();
    }
    for (int i = 0; i < adj_st_count(a); i++) {
        const adj_st_tensor *x = adj_st_tensor_at(a, i), *y = adj_st_find(b, x->name);
        if (!y || y->dtype != x->dtype || y->ndim != x->ndim || y->nbytes != x->nbytes ||
            y->numel != x->numel || memcmp(x->shape, y->shape, sizeof x->shape) != 0 ||
            (x->nbytes && memcmp(x->data, y->data, x->nbytes) != 0))
            abort();
    }
}

/* The model loader on the same file. */
static void model(const char *path)
{
    adj_model *m = NULL, *back = NULL;
    adj_error err;
    adj_status s = adj_model_read(path, &m, &err);
    if (s != ADJ_OK) {
        if (m || err.status != s || !err.message[0])
            abort();
        return;
    }
    void *bytes = NULL;
    size_t n = 0;
    if (adj_model_to_bytes(m, &bytes, &n, &err) != ADJ_OK)
        abort();
    const char *op = fuzz_write(fuzz_scratch(&out_file, "model-st"), bytes, n);
    free(bytes);
    if (adj_model_read(op, &back, &err) != ADJ_OK)
        abort();
    adj_params *pa = adj_model_params(m), *pb = adj_model_params(back);
    size_t es = adj_model_dtype(m) == ADJ_F64 ? 8 : 4;
    if (adj_params_count(pa) != adj_params_count(pb))
        abort();
    for (int i = 0; i < adj_params_count(pa); i++)
        if (memcmp(adj_params_value(pa, i), adj_params_value(pb, i), adj_params_tensor_numel(pa, i) * es))
            abort();
    adj_model_free(back);
    adj_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(fuzz_scratch(&in_file, "safetensors"), data, size);
    model(path);
    adj_safetensors *f = NULL, *g = NULL, *back = NULL;
    adj_error err;
    adj_status s = adj_st_read(path, &f, &err);
    adj_status s2 = adj_st_parse(data, size, "mem", &g, &err);
    if (s != s2)
        abort();
    if (s != ADJ_OK) {
        if (f || g || err.status != s || !err.message[0])
            abort();
        return 0;
    }
    same(f, g);
    adj_st_writer *w = adj_st_writer_new();
    if (!w)
        abort();
    for (int i = 0; i < adj_st_count(f); i++) {
        const adj_st_tensor *t = adj_st_tensor_at(f, i);
        double *v = malloc(t->numel * sizeof *v + 1);
        if (!v)
            abort();
        adj_status c = adj_st_convert(t, ADJ_F64, v, &err);
        int fp = t->dtype == ADJ_ST_F16 || t->dtype == ADJ_ST_BF16 || t->dtype == ADJ_ST_F32 ||
                 t->dtype == ADJ_ST_F64;
        if ((c == ADJ_OK) != fp)
            abort();
        free(v);
        if (adj_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, &err) != ADJ_OK)
            abort();
    }
    for (int i = 0; i < adj_st_meta_count(f); i++)
        if (adj_st_writer_meta(w, adj_st_meta_key(f, i), adj_st_meta_value(f, i), &err) != ADJ_OK)
            abort();
    void *bytes = NULL;
    size_t n = 0;
    if (adj_st_writer_encode(w, &bytes, &n, &err) != ADJ_OK ||
        adj_st_parse(bytes, n, "back", &back, &err) != ADJ_OK)
        abort();
    same(f, back);
    free(bytes);
    adj_st_writer_free(w);
    adj_st_free(back);
    adj_st_free(g);
    adj_st_free(f);
    return 0;
}
