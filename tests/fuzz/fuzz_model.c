/*
 * libFuzzer target: the model-file loader.  The checksum would stop
 * almost every mutation at the envelope, so when the first byte is odd
 * the rest is taken as a payload and wrapped in a valid envelope (magic,
 * version, length, CRC-32); when it is even the rest is the whole file.
 * An accepted model must save and load back bit for bit.
 */
#include <adjoint.h>

#include <zlib.h>

#include "fuzz_util.h"

static fuzz_file in_file, out_file;

static void put_le(uint8_t *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void same_model(adj_mlp *a, adj_mlp *b)
{
    adj_params *pa = adj_mlp_params(a), *pb = adj_mlp_params(b);
    size_t es = adj_params_dtype(pa) == ADJ_F64 ? 8 : 4;
    if (adj_params_count(pa) != adj_params_count(pb) || adj_params_numel(pa) != adj_params_numel(pb))
        abort();
    for (int i = 0; i < adj_params_count(pa); i++)
        if (memcmp(adj_params_value(pa, i), adj_params_value(pb, i),
                   adj_params_tensor_numel(pa, i) * es) != 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *file = NULL;
    size_t n = size - 1;
    if (data[0] & 1) {
        n = 20 + (size - 1) + 4;
        file = malloc(n);
        if (!file)
            return 0;
        memcpy(file, "ADJMODEL", 8);
        put_le(file + 8, ADJ_MODEL_VERSION, 4);
        put_le(file + 12, size - 1, 8);
        memcpy(file + 20, data + 1, size - 1);
        put_le(file + n - 4, crc32(0L, file, (uInt)(n - 4)), 4);
    }
    const char *path = fuzz_write(fuzz_scratch(&in_file, "model"), file ? file : data + 1, n);
    free(file);
    adj_mlp *m = NULL, *back = NULL;
    adj_error err;
    adj_status s = adj_model_load(path, &m, &err);
    if (s != ADJ_OK) {
        if (m || err.status != s || !err.message[0])
            abort();
        return 0;
    }
    /* loading into the model just built must succeed too */
    if (adj_model_load_into(m, path, &err) != ADJ_OK)
        abort();
    const char *op = fuzz_scratch(&out_file, "model-out")->path;
    if (adj_model_save(m, op, &err) != ADJ_OK || adj_model_load(op, &back, &err) != ADJ_OK)
        abort();
    same_model(m, back);
    adj_mlp_free(back);
    adj_mlp_free(m);
    return 0;
}
